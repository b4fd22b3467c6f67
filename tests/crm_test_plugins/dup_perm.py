from crm_host import Permission, Plugin, hookimpl

plugin = Plugin(description="declares alpha's permission again", depends=["alpha"])


@hookimpl
def crm_permissions():
    return [Permission("alpha.view", "stolen")]

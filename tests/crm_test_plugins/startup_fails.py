from crm_host import Plugin, hookimpl

plugin = Plugin(description="crm_startup raises")


@hookimpl
def crm_startup(app):
    raise RuntimeError("cannot start: missing licence file")

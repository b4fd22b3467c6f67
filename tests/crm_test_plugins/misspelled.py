from crm_host import Plugin, hookimpl

plugin = Plugin(description="implements a hook that does not exist")


@hookimpl
def crm_menu_itemz():
    return []

from crm_host import MenuItem, Plugin, hookimpl

plugin = Plugin(description="a dashboard widget hook that raises")


@hookimpl
def crm_menu_items():
    return [MenuItem("widget_raises", "Widget raises", "web.dashboard", order=90)]


@hookimpl
def crm_dashboard_widgets(user):
    raise ZeroDivisionError("division by zero in widget")


@hookimpl(optionalhook=True)
def crm_alpha_badges(item):
    return ["widget_raises badge"]

"""Depends on alpha; contributes a menu item and a widget."""

from flask import Blueprint

from crm_host import DashboardWidget, MenuItem, Permission, Plugin, hookimpl

plugin = Plugin(description="Beta test module", depends=["alpha"])
bp = Blueprint("beta", __name__, url_prefix="/beta")
ORDER: list = []


@bp.get("/")
def index():
    return "beta page"


@hookimpl
def crm_blueprints():
    return [bp]


@hookimpl
def crm_menu_items():
    return [MenuItem("beta", "Beta board", "beta.index", order=30, icon="kanban")]


@hookimpl
def crm_permissions():
    return [Permission("beta.view", "See beta")]


@hookimpl
def crm_dashboard_widgets(user):
    return [DashboardWidget("beta.hello", "Beta", lambda: "<p>beta</p>")]


@hookimpl
def crm_alpha_badges(item):
    return [f"beta:{item}"]

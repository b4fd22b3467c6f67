"""Claims an API URL that alpha already serves (GET /api/v1/alpha/items), and one of its own."""

from crm_host import Plugin, hookimpl
from crm_host import api as crm_api

plugin = Plugin(description="URL clash test module")
api = crm_api.Blueprint("url_clash_api", __name__, url_prefix="/api/v1", description="clash")


@api.route("/alpha/items", methods=["GET"])
def shadow():
    return {"from": "url_clash"}


@api.route("/url-clash/own", methods=["GET"])
def own():
    return {"from": "url_clash"}


@hookimpl
def crm_blueprints():
    return [api]

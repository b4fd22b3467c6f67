"""A test plugin keeping a competitor catalogue (as the knowledge module does)."""

from crm_host import Plugin, hookimpl

plugin = Plugin(description="pipeline test probe (tests only)")
CATALOG = [
    {"key": "probe:1", "name": "鼎新電腦", "url": "/kb/competitors/1", "summary": "ERP"},
    {"key": "probe:2", "name": "Acme Systems", "url": "/kb/competitors/2", "summary": None},
]


@hookimpl(optionalhook=True)
def crm_competitor_catalog(session, query, limit):
    return [c for c in CATALOG if query.lower() in c["name"].lower()][:limit]

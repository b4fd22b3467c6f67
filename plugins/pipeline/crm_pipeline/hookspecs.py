"""Hooks the pipeline module publishes for other modules.

Implement them with ``@hookimpl(optionalhook=True)`` when pipeline is optional for your plugin
(the knowledge module does: competitors are part of the knowledge base, deals only refer to them).
"""

from crm_host import hookspec


@hookspec
def crm_competitor_catalog(session, query, limit):
    """Known competitors kept by another module (KB-4), offered when a competitor is added to
    a deal, so sales people pick a maintained profile instead of retyping a name.

    :param query: what the user typed (may be empty: return the first ``limit`` by name).
    :returns: a list of dicts ``{"key": str, "name": str, "url": str | None,
        "summary": str | None}``. ``key`` is stable and namespaced by the module
        (``"knowledge:12"``); the deal stores it with the name, so the link survives renames.
    """

"""Hooks the service module publishes for other modules.

Implement them with ``@hookimpl(optionalhook=True)`` when service is optional for you (the
knowledge module answers ``crm_service_answers`` from its Q&A bank).
"""

from crm_host import hookspec


@hookspec
def crm_service_answers(query, user, limit, locale):
    """Standard answers for a support agent (SVC-2) from another module's Q&A bank.
    :returns: a list of dicts {"id": str, "title": str, "answer": str (Markdown),
        "url": str, "snippet": str (plain text)}, best match first, at most ``limit``;
        only what ``user`` may read. Results of several implementers are concatenated."""

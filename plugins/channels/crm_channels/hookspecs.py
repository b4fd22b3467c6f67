"""Hooks the channels module publishes for other modules.

Implement them with ``@hookimpl(optionalhook=True)`` so your module works with or without
channels; you never need to import ``crm_channels``: answers are plain dicts (or any object
with the same attributes).
"""

from crm_host import hookspec


@hookspec
def crm_calendar_events(user, start, end):
    """Events of ``user`` for the personal calendar and its iCalendar feed (CH-7).

    :param user: the :class:`crm_host.models.User` whose calendar is shown (the feed is read
        without a login: use this argument, never ``current_user``).
    :param start: timezone-aware UTC ``datetime``, inclusive.
    :param end: timezone-aware UTC ``datetime``, exclusive.
    :returns: a list of dicts overlapping ``[start, end)``::

            {"uid": "pipeline-appointment-42",   # stable and globally unique
             "title": "Visit Acme",
             "start": datetime(..., tzinfo=timezone.utc),
             "end": datetime(...) or None,
             "all_day": False,
             "url": "/pipeline/deals/42" or None,
             "kind": "appointment",             # "reminder", "meeting" ...
             "description": "optional text"}

        Events that break these rules are skipped (and logged).
    """


@hookspec
def crm_mailing_audiences(user):
    """Audiences a batch mailing can be sent to (CH-6).

    :param user: the user preparing or sending the mailing (their record scope applies; a
        scheduled mailing is expanded later, outside a request, with its creator as ``user``).
    :returns: a list of dicts (or objects) with ``name`` (unique, e.g.
        ``"customers.filter"``), ``label``, ``recipients(session, user, params)`` yielding
        ``{"customer_id", "contact_id", "email", "name", "fields": {merge field: value}}``
        (a generator over a ``yield_per`` query: audiences may be large), and optionally
        ``count(session, user, params)`` → int, ``fields`` → ``{merge field: label}`` and
        ``params`` → ``{name: label}`` or ``{name: {"label": ..., "choices": {value: label}}}``
        (the inputs the mailing page offers).
        ``params`` is the JSON object the sender filled in (for customers: the list's
        filters). Raise ``ValueError`` for parameters that make no sense.
    """

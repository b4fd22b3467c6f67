"""Demo data (``crm demo``)."""


def fill(session, users, locale):
    return None

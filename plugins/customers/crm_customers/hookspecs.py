"""Hooks the customers module publishes for other modules (pipeline, service, channels...).

Implement them in your plugin (declare ``depends=["customers"]``, or mark the
implementation ``@hookimpl(optionalhook=True)`` when customers is optional for you).
"""

from crm_host import hookspec


@hookspec
def crm_customer_panels(customer, user):
    """Panels for the customer 360° page (deals, tickets, messages ...).

    :param customer: the :class:`crm_customers.models.Customer` shown (within the user's scope).
    :param user: the signed-in user.
    :returns: a list of :class:`crm_host.Panel`.
    """


@hookspec
def crm_customer_revenue(session, since, until):
    """Revenue per customer for ABC grading (CUS-5).

    :param since: a ``date`` (inclusive) or None for all time.
    :param until: a ``date`` (exclusive) or None.
    :returns: a mapping ``{customer_id: Decimal}``; answers of several plugins are added up.
    """


@hookspec
def crm_customer_timeline(customer, user, limit):
    """Extra timeline entries from another module for the 360° page.

    :returns: a list of dicts ``{"at": datetime, "kind": str, "title": str, "body": str,
        "url": str | None}``; the page merges them with the module's own entries by time.
    """


@hookspec
def crm_customers_merged(session, source_id, target_id, user):
    """``source_id`` was merged into ``target_id``: repoint your records now (same
    transaction). The source customer is deleted afterwards."""


@hookspec
def crm_customers_handed_over(session, customer_ids, from_owner_ids, to_owner_id, user):
    """Customers moved to ``to_owner_id`` (CUS-10): move your open records with them.

    :param from_owner_ids: ``{customer_id: previous owner id}``.
    """

"""A test plugin standing in for pipeline: reports revenue, records merges and handovers."""

from crm_host import Panel, Plugin, hookimpl

plugin = Plugin(description="revenue probe (tests only)", depends=["customers"])
REVENUE: dict = {}
EVENTS: list = []


@hookimpl
def crm_customer_revenue(session, since, until):
    return dict(REVENUE)


@hookimpl
def crm_customers_merged(session, source_id, target_id, user):
    EVENTS.append(("merged", source_id, target_id))


@hookimpl
def crm_customers_handed_over(session, customer_ids, from_owner_ids, to_owner_id, user):
    EVENTS.append(("handover", sorted(customer_ids), to_owner_id))


@hookimpl
def crm_customer_panels(customer, user):
    return [
        Panel(
            "probe.deals",
            "Deals (probe)",
            lambda: f"<p id='probe-panel'>deals of {customer.code}</p>",
        )
    ]

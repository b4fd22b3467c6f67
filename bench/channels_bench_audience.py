"""A mailing audience for bench/channels_bench.py: ``N`` generated recipients, streamed (a
generator, nothing held in memory), like the customers filter's ``yield_per`` query."""

from crm_host import Plugin, hookimpl

plugin = Plugin(description="benchmark audience (bench only)")
N = 10_000


def _recipients(session, user, params):
    for i in range(N):
        yield {
            "customer_id": i + 1,
            "contact_id": None,
            "email": f"buyer{i}@bench.example",
            "name": f"Buyer {i}",
            "fields": {"company": f"Company {i % 997}"},
        }


def _count(session, user, params):
    return N


@hookimpl(optionalhook=True)
def crm_mailing_audiences(user):
    return [
        {
            "name": "bench.generated",
            "label": "Generated recipients",
            "recipients": _recipients,
            "count": _count,
            "fields": {"company": "Company"},
        }
    ]

"""A test-only plugin answering the service module's ``crm_service_answers`` hook, the way the
knowledge module does (optional hook: it must not break when service is off)."""

from crm_host import Plugin, hookimpl

plugin = Plugin(description="Test Q&A bank for the service tests", depends=("service",))

ANSWERS = [
    {
        "id": "qa-1",
        "title": "How do I reset the administrator password?",
        "answer": "1. Open **Settings → Users**.\n2. Choose *Reset password*.",
        "url": "/kb/qa-1",
        "snippet": "Open Settings, Users, Reset password.",
    },
    {
        "id": "qa-2",
        "title": "印表機無法列印怎麼辦？",
        "answer": "請先確認**電源**與連線，再重新安裝驅動程式。",
        "url": "/kb/qa-2",
        "snippet": "確認電源與連線，重新安裝驅動程式。",
    },
]
CALLS = []


@hookimpl(optionalhook=True)
def crm_service_answers(query, user, limit, locale):
    CALLS.append({"query": query, "user": user.id, "limit": limit, "locale": locale})
    q = query.lower()
    words = [w for w in q.replace("？", " ").split() if len(w) > 2] or [q]
    hits = [a for a in ANSWERS if any(w in (a["title"] + a["answer"]).lower() for w in words)]
    return hits[:limit]

"""Helpers shared by the service tests (a module of its own, never imported from conftest)."""

from datetime import datetime, timedelta, timezone


def new_customer(client, name="海宇科技有限公司", email="lin@haiyu.example", **fields):
    r = client.post("/api/v1/customers", json={"name": name, **fields})
    assert r.status_code == 201, r.get_json()
    c = r.get_json()
    if email:
        r = client.post(
            f"/api/v1/customers/{c['id']}/contacts",
            json={"name": "林小姐", "email": email, "is_primary": True},
        )
        assert r.status_code == 201, r.get_json()
    return c


def category(client, kind, code):
    cats = client.get("/api/v1/service/categories").get_json()
    return next(c for c in cats if c["kind"] == kind and c["code"] == code)


def new_ticket(client, **fields):
    body = {"kind": "complaint", "title": "外殼破損", "severity": "normal", **fields}
    r = client.post("/api/v1/tickets", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def step(client, ticket_id, to, comment=None, **extra):
    body = {"to": to, **extra}
    if comment is not None:
        body["comment"] = comment
    return client.post(f"/api/v1/tickets/{ticket_id}/transitions", json=body)


def backdate(crm_app, ticket_id, days):
    """Move a ticket's opening (and its deadlines) ``days`` into the past."""
    from crm_service import services
    from crm_service.models import Ticket

    with crm_app.test_request_context():
        with crm_app.extensions["crm"].db.session_scope() as s:
            t = s.get(Ticket, ticket_id)
            t.created_at = datetime.now(timezone.utc) - timedelta(days=days)
            services._set_due(s, t)
            services._rewatch(t)

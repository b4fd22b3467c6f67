"""Two workers on PostgreSQL share the outbox (lease + SKIP LOCKED): every committed message
is delivered exactly once."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select

from crm_host.models import DeliveryAttempt, OutboxMessage, User
from crm_host.notify import notify, run_once

pytestmark = pytest.mark.postgres


@pytest.mark.skipif(
    not (os.environ.get("CRM_TEST_DATABASE_URL") or "").startswith("postgresql"),
    reason="needs PostgreSQL (CRM_TEST_DATABASE_URL)",
)
def test_two_workers_deliver_each_message_exactly_once(channels, make_user, crm_db):
    from crm_channels.models import InboxMessage

    users = [make_user("sales") for _ in range(4)]
    app = channels
    with app.extensions["crm"].db.session_scope() as s:
        with app.app_context():
            for i in range(60):
                notify(
                    s,
                    "probe.urge",
                    f"m{i}",
                    users=[s.get(User, u.id) for u in users],
                    channels=["inbox"],
                    runtime=app.extensions["crm"].runtime(),
                )
    barrier = threading.Barrier(2)
    results = []

    def work(name):
        barrier.wait()
        results.append(run_once(app, batch=7, worker=name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r["sent"] for r in results) == 240
    assert all(r["sent"] > 0 for r in results), results  # both took a share
    assert crm_db.scalar(select(func.count()).select_from(InboxMessage)) == 240
    assert crm_db.scalar(select(func.count()).select_from(DeliveryAttempt)) == 240
    assert (
        crm_db.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
        == 0
    )

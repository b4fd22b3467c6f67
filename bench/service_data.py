#!/usr/bin/env python
"""A large ticket book for the service benchmarks (not a test fixture).

    python bench/service_data.py --db sqlite   --tickets 2000000
    python bench/service_data.py --db postgres --tickets 2000000
    python bench/service_data.py --db sqlite   --tickets 20000 --customers 5000   # smoke

Builds the organisation of ``bench/customers_data.py`` (50 people in 10 teams under 5
regional departments with their leaders, an HQ director, an admin), ``--customers``
customers (default 200,000) and ``--tickets`` tickets on them, owned by the customer's
owner: complaints 40 %, support requests 45 %, after-sales visits 15 %; 85 % closed (opened
over the last three years, responded, resolved and closed, late ones escalated), the rest open
at every step of their workflow over the last 60 days (5 % waiting for the customer; every
open ticket whose deadline passed is escalated already) except ``--breaches`` tickets
(default 2,000) whose deadlines passed and have not been escalated yet: the work the
escalation job finds. A quarter of the closed tickets have a survey, four in five answered.
Deadlines are wall-clock approximations of the default targets (the data generator does
not run the business-hours calendar); ``watch_at`` and ``open_due_at`` follow the module's
rule (``crm_service.services.watch_values``).

The schema comes from the real migrations (``modules.enable(app, "service")``). Rows are
written in bulk: ``executemany`` on a raw sqlite3 connection, ``COPY`` on PostgreSQL; the
secondary indexes are dropped during the load and created again from their own definitions,
then ``ANALYZE`` / ``VACUUM (ANALYZE)``.

SQLite: ``bench/out/service-<tickets>.db`` (gitignored). PostgreSQL: schema
``bench_service`` in ``postgresql+psycopg://postgres@127.0.0.1:5432/test``. A ``bench_meta``
table records what was generated; a later run reuses data of the right size
(``--regenerate`` forces). Seeded: two runs make the same data.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import benchdb  # noqa: E402  (bulk writes, fresh databases)
import customers_data as cdata  # noqa: E402  (organisation, passwords, app factory)
import pipeline_data as pdata  # noqa: E402  (customer rows, bulk writer)

GEN_VERSION = "1"
SEED = 20261124
PG_BASE = cdata.PG_BASE
PG_SCHEMA = "bench_service"
ADMIN_EMAIL = cdata.ADMIN_EMAIL
LEADER_EMAIL = cdata.LEADER_EMAIL
AGENT_EMAIL = "sales01@bench.test"
TABLES = ("customers_customer", "service_ticket", "service_survey")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
# wall-clock hours standing in for the default business-minute targets
TARGET_HOURS = {"urgent": (1.5, 24), "high": (6, 48), "normal": (16, 120), "low": (40, 240)}
SEVERITIES = ["low"] * 20 + ["normal"] * 50 + ["high"] * 22 + ["urgent"] * 8
KINDS = ["complaint"] * 40 + ["support"] * 45 + ["visit"] * 15
FLOWS = {
    "complaint": [
        "received",
        "triage",
        "assigned",
        "proposed",
        "approval",
        "implementation",
        "summary",
    ],
    "support": ["received", "assigned", "escalated", "answered"],
    "visit": ["received", "scheduled", "visited"],
}
RESOLVED_AT = {"complaint": "summary", "support": "answered", "visit": "visited"}
TITLES = {
    "complaint": ["外殼破損要求換貨", "帳單金額與報價不符", "送货延误五天", "Refund not received"],
    "support": ["如何重設密碼", "VPN 连接中断", "Excel export garbled", "扫描仪无法识别"],
    "visit": ["年度保養", "上门安装", "Mainboard replacement", "网络设备检修"],
}


def _log(msg: str) -> None:
    print(f"[data {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sqlite_path(tickets: int) -> Path:
    return OUT / f"service-{tickets}.db"


def database_url(db: str, tickets: int) -> str:
    if db == "sqlite":
        return f"sqlite:///{sqlite_path(tickets)}"
    return f"{PG_BASE}?options=-csearch_path%3D{PG_SCHEMA}"


def read_meta(db: str, tickets: int) -> dict | None:
    from sqlalchemy import create_engine, text

    if db == "sqlite" and not sqlite_path(tickets).exists():
        return None
    engine = create_engine(database_url(db, tickets))
    try:
        with engine.connect() as conn:
            return {
                k: json.loads(v) for k, v in conn.execute(text("SELECT key, value FROM bench_meta"))
            }
    except Exception:
        return None
    finally:
        engine.dispose()


TICKET_COLS = (
    "code",
    "kind",
    "status",
    "title",
    "severity",
    "category_id",
    "customer_id",
    "customer_name",
    "owner_id",
    "department_id",
    "escalated",
    "response_due_at",
    "resolution_due_at",
    "responded_at",
    "resolved_at",
    "closed_at",
    "waiting_since",
    "paused_minutes",
    "response_escalated_at",
    "resolution_escalated_at",
    "watch_at",
    "open_due_at",
    "version",
    "created_at",
    "updated_at",
)
SURVEY_COLS = (
    "ticket_id",
    "nonce",
    "email",
    "sent_at",
    "answered_at",
    "score",
    "comment",
    "agent_id",
    "department_id",
    "category_id",
)


def ticket_rows(n, n_customers, breaches, cust_owner, user_dept, cats, surveys, sqlite):
    """The ticket tuples; fills ``surveys`` with the survey tuples on the way."""
    rng = random.Random(SEED)
    ts = (
        (lambda d: None if d is None else d.strftime("%Y-%m-%d %H:%M:%S.%f"))
        if sqlite
        else (lambda d: d)
    )
    hour = timedelta(hours=1)
    fresh = 0  # breaches made so far
    comments = ["很快，謝謝", "还可以", "Very helpful", None, None]
    for i in range(1, n + 1):
        kind = KINDS[int(rng.random() * 100)]
        sev = SEVERITIES[int(rng.random() * 100)]
        cat_id, _approval = cats[kind][int(rng.random() * len(cats[kind]))]
        cid = int(rng.random() * n_customers) + 1
        owner = cust_owner(cid)
        dept = user_dept[owner]
        resp_h, res_h = TARGET_HOURS[sev]
        r = rng.random()
        responded = resolved = closed = waiting = None
        is_fresh = False
        if r < 0.85:
            status = "closed"
            created = NOW - timedelta(days=2 + rng.random() * 1093)
            responded = created + hour * (0.1 + rng.random() * resp_h * 1.6)
            resolved = created + hour * (1 + rng.random() * res_h * 1.5)
            closed = resolved + hour * rng.random() * 48
        else:
            flow = FLOWS[kind]
            is_fresh = fresh < breaches
            if is_fresh:  # a breach the job has not seen yet: received or one step on
                fresh += 1
                status = flow[int(rng.random() * 2)]
                created = NOW - timedelta(hours=res_h + 1 + rng.random() * 72)
            else:
                status = flow[int(rng.random() * len(flow))]
                created = NOW - timedelta(days=rng.random() * 60)
            if status != "received":
                responded = created + hour * rng.random() * resp_h * 1.6
            if flow.index(status) >= flow.index(RESOLVED_AT[kind]):
                resolved = created + hour * rng.random() * res_h * 1.2
            if not is_fresh and rng.random() < 0.05:
                waiting = created + hour * rng.random() * 4
        resp_due = created + hour * resp_h
        res_due = created + hour * res_h
        resp_esc = res_esc = None
        if not is_fresh:  # every earlier breach was escalated by earlier runs
            if (responded or NOW) > resp_due:
                resp_esc = min(NOW, resp_due + timedelta(minutes=5))
            if (resolved or NOW) > res_due:
                res_esc = min(NOW, res_due + timedelta(minutes=5))
        running = status != "closed" and waiting is None
        pending = []
        if running and responded is None and resp_esc is None:
            pending.append(resp_due)
        if running and resolved is None and res_esc is None:
            pending.append(res_due)
        watch = min(pending) if pending else None
        open_due = res_due if running and resolved is None else None
        updated = closed or resolved or responded or created
        yield (
            f"BT{i:08d}",
            kind,
            status,
            TITLES[kind][i % 4],
            sev,
            cat_id,
            cid,
            f"Bench customer {cid:06d} 科技有限公司",
            owner,
            dept,
            kind == "support" and status in ("escalated", "answered", "closed") and i % 5 == 0,
            ts(resp_due),
            ts(res_due),
            ts(responded),
            ts(resolved),
            ts(closed),
            ts(waiting),
            0,
            ts(resp_esc),
            ts(res_esc),
            ts(watch),
            ts(open_due),
            1,
            ts(created),
            ts(updated),
        )
        if status == "closed" and rng.random() < 0.25:
            answered = closed + hour * (1 + rng.random() * 72) if rng.random() < 0.8 else None
            score = (1, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5)[int(rng.random() * 11)] if answered else None
            surveys.append(
                (
                    i,
                    f"{i:016x}",
                    f"c{cid}@bench.test",
                    ts(closed),
                    ts(answered),
                    score,
                    comments[i % 5] if answered else None,
                    owner,
                    dept,
                    cat_id,
                )
            )


def _secondary_indexes(conn, dialect) -> list[tuple[str, str]]:
    names = ", ".join(f"'{t}'" for t in TABLES)
    if dialect == "sqlite":
        sql = (
            f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({names})"
        )
    else:
        sql = (
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            f"AND i.tablename IN ({names}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname AND c.connamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"
        )
    return [tuple(r) for r in conn.exec_driver_sql(sql)]


def generate(db: str, tickets: int, customers: int, breaches: int) -> dict:
    from sqlalchemy import select

    from crm_host import modules

    t_all = time.perf_counter()
    url = database_url(db, tickets)
    benchdb.fresh_database(db, sqlite_path(tickets), PG_BASE, PG_SCHEMA)
    instance = Path(tempfile.mkdtemp(prefix="service-bench-"))
    try:
        app = cdata.make_app(url, instance, auto_migrate=True)
        with app.app_context():
            crm = app.extensions["crm"]
            crm.ensure_ready()
            modules.enable(app, "service", with_deps=True, actor="bench")
            from crm_service import services
            from crm_service.models import ServiceCategory

            with crm.db.session_scope() as s:
                org = cdata.create_org(s)
                services.ensure_defaults(s)
            with crm.db.session_scope() as s:
                cats: dict = {}
                for c in s.scalars(select(ServiceCategory)):
                    cats.setdefault(c.kind, []).append((c.id, c.needs_approval))
            sales = [u for key in org.sales for u in org.sales[key]]
            user_dept = org.user_dept
            engine = crm.db.engine
            dialect = engine.dialect.name
            sqlite = dialect == "sqlite"

            def cust_owner(cid: int) -> int:
                return sales[cid % len(sales)]

            with engine.begin() as conn:
                idx = _secondary_indexes(conn, dialect)
                for name, _sql in idx:
                    conn.exec_driver_sql(f"DROP INDEX {name}")
            raw = engine.raw_connection()
            if sqlite:
                raw.execute("PRAGMA synchronous=OFF")
            t0 = time.perf_counter()
            _log(f"customers: {customers:,}")
            nc = pdata._bulk(
                raw,
                dialect,
                "customers_customer",
                pdata.CUSTOMER_COLS,
                pdata.customer_rows(customers, sales, user_dept, sqlite),
            )
            t_customers = time.perf_counter() - t0
            t0 = time.perf_counter()
            _log(f"tickets: {tickets:,}")
            surveys: list = []
            nt = pdata._bulk(
                raw,
                dialect,
                "service_ticket",
                TICKET_COLS,
                ticket_rows(
                    tickets, customers, breaches, cust_owner, user_dept, cats, surveys, sqlite
                ),
            )
            t_tickets = time.perf_counter() - t0
            t0 = time.perf_counter()
            _log(f"surveys: {len(surveys):,}")
            ns = pdata._bulk(raw, dialect, "service_survey", SURVEY_COLS, surveys)
            t_surveys = time.perf_counter() - t0
            raw.close()
            t0 = time.perf_counter()
            _log(f"indexes: {len(idx)}")
            with engine.begin() as conn:
                for _name, sql in idx:
                    conn.exec_driver_sql(sql)
            if sqlite:
                with engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            else:
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM (ANALYZE)")
            t_index = time.perf_counter() - t0
            with engine.connect() as conn:
                due = conn.exec_driver_sql(
                    "SELECT count(*) FROM service_ticket WHERE watch_at <= "
                    + ("?" if sqlite else "%s"),
                    (NOW.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else NOW,),
                ).scalar()
                open_n = conn.exec_driver_sql(
                    "SELECT count(*) FROM service_ticket WHERE status <> 'closed'"
                ).scalar()
            meta = {
                "gen_version": GEN_VERSION,
                "counts": {
                    "customers": nc,
                    "tickets": nt,
                    "open": open_n,
                    "breaches_due": due,
                    "surveys": ns,
                    "people": len(sales),
                    "breaches": breaches,
                },
                "seconds": {
                    "customers": round(t_customers, 1),
                    "tickets": round(t_tickets, 1),
                    "surveys": round(t_surveys, 1),
                    "indexes_analyze": round(t_index, 1),
                    "total": round(time.perf_counter() - t_all, 1),
                },
                "now": NOW.isoformat(),
            }
            with engine.begin() as conn:
                cdata._write_meta(conn, meta)
            crm.db.dispose()
        return meta
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def ensure(db: str, tickets: int, customers: int, breaches: int, regenerate=False):
    meta = read_meta(db, tickets)
    want = {"tickets": tickets, "customers": customers, "breaches": breaches}
    if (
        not regenerate
        and meta
        and meta.get("gen_version") == GEN_VERSION
        and all(meta["counts"].get(k) == v for k, v in want.items())
    ):
        return meta, False
    return generate(db, tickets, customers, breaches), True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--tickets", type=int, default=2_000_000)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--breaches", type=int, default=2_000)
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args(argv)
    meta, made = ensure(args.db, args.tickets, args.customers, args.breaches, args.regenerate)
    print(json.dumps(meta, indent=2, ensure_ascii=False))
    print("generated" if made else "reused")


if __name__ == "__main__":
    main()

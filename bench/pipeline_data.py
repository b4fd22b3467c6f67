#!/usr/bin/env python
"""A large sales pipeline for the pipeline benchmarks (not a test fixture).

    python bench/pipeline_data.py --db sqlite   --deals 1000000 --activities 5000000
    python bench/pipeline_data.py --db postgres --deals 1000000 --activities 5000000
    python bench/pipeline_data.py --db sqlite   --deals 20000 --activities 100000   # smoke

Builds the organisation of ``bench/customers_data.py`` (50 sales people in 10 teams under 5
regional departments, their leaders, an HQ director, an admin), ``--customers`` customers
(default 200,000) spread over the sales people, ``--deals`` deals (tracking 55 %, won 20 %,
completed 10 %, lost 15 %; the four default stages; amounts, expected close dates over the
next year and the last half year, won dates over the last two years, created over three
years), ``--activities`` activities on those customers by their owners (90 % done, over the
last two years, the rest planned), and monthly and quarterly targets for everyone.

The schema comes from the real migrations (``create_app`` + ``modules.enable(app,
"pipeline")``, which enables customers first). Rows are written in bulk: ``executemany`` on
a raw sqlite3 connection, ``COPY`` on PostgreSQL; the secondary indexes of the pipeline
tables are dropped during the load and created again from their own definitions afterwards,
then ``ANALYZE`` (SQLite) or ``VACUUM (ANALYZE)`` (PostgreSQL).

SQLite: ``bench/out/pipeline-<deals>.db`` (gitignored). PostgreSQL: schema ``bench_pipeline``
in ``postgresql+psycopg://postgres@127.0.0.1:5432/test``. A ``bench_meta`` table records what
was generated; a later run reuses the data when it has the right size (``--regenerate``
forces). Seeded: two runs make the same data.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import benchdb  # noqa: E402  (bulk writes)
import customers_data as cdata  # noqa: E402  (organisation, passwords, app factory)

GEN_VERSION = "1"
SEED = 20261125
PG_BASE = cdata.PG_BASE
PG_SCHEMA = "bench_pipeline"
PASSWORD = cdata.PASSWORD
ADMIN_EMAIL = cdata.ADMIN_EMAIL
LEADER_EMAIL = cdata.LEADER_EMAIL
SALES_EMAIL = "sales01@bench.test"
CHUNK = 20_000
TABLES = ("pipeline_deal", "pipeline_activity", "pipeline_target")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
TODAY = NOW.date()


def _log(msg: str) -> None:
    print(f"[data {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sqlite_path(deals: int) -> Path:
    return OUT / f"pipeline-{deals}.db"


def database_url(db: str, deals: int) -> str:
    if db == "sqlite":
        return f"sqlite:///{sqlite_path(deals)}"
    return f"{PG_BASE}?options=-csearch_path%3D{PG_SCHEMA}"


def read_meta(db: str, deals: int) -> dict | None:
    from sqlalchemy import create_engine, text

    if db == "sqlite" and not sqlite_path(deals).exists():
        return None
    engine = create_engine(database_url(db, deals))
    try:
        with engine.connect() as conn:
            return {
                k: json.loads(v) for k, v in conn.execute(text("SELECT key, value FROM bench_meta"))
            }
    except Exception:
        return None
    finally:
        engine.dispose()


# --- rows --------------------------------------------------------------------------------


def _ts(dt: datetime, sqlite: bool):
    """What SQLAlchemy's UTCDateTime writes: a naive 'YYYY-MM-DD HH:MM:SS.ffffff' on SQLite."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else dt


def _d(d: date | None, sqlite: bool):
    if d is None:
        return None
    return d.isoformat() if sqlite else d


def customer_rows(n: int, sales: list[int], user_dept: dict, sqlite: bool):
    rng = random.Random(SEED)
    grades = ["A"] * 10 + ["B"] * 25 + ["C"] * 55 + [None] * 10
    for i in range(1, n + 1):
        owner = sales[i % len(sales)]
        created = NOW - timedelta(days=rng.randint(30, 1500))
        yield (
            f"BC{i:08d}",
            f"Bench customer {i:06d} 科技有限公司",
            f"客户{i}",
            rng.choice(grades),
            "repeat",
            owner,
            user_dept[owner],
            0,
            "",
            1,
            _ts(created, sqlite),
            _ts(created, sqlite),
        )


CUSTOMER_COLS = (
    "code",
    "name",
    "short_name",
    "grade",
    "lifecycle",
    "owner_id",
    "department_id",
    "revenue",
    "search_text",
    "version",
    "created_at",
    "updated_at",
)
DEAL_COLS = (
    "code",
    "name",
    "customer_id",
    "customer_name",
    "owner_id",
    "department_id",
    "amount",
    "expected_close",
    "probability",
    "source",
    "status",
    "stage_id",
    "lost_reason",
    "won_on",
    "closed_on",
    "version",
    "created_at",
    "updated_at",
)
ACTIVITY_COLS = (
    "customer_id",
    "deal_id",
    "owner_id",
    "kind",
    "status",
    "subject",
    "planned_at",
    "done_at",
    "result",
    "version",
    "created_at",
    "updated_at",
)


def deal_rows(n: int, n_customers: int, cust_owner, user_dept: dict, stages: list, sqlite: bool):
    rng = random.Random(SEED + 1)
    statuses = ["tracking"] * 55 + ["won"] * 20 + ["completed"] * 10 + ["lost"] * 15
    for i in range(1, n + 1):
        cid = rng.randint(1, n_customers)
        owner = cust_owner(cid)
        status = rng.choice(statuses)
        stage_id, prob = stages[rng.randrange(len(stages))]
        created = NOW - timedelta(days=rng.randint(0, 1095), seconds=rng.randint(0, 86399))
        won_on = closed_on = None
        lost_reason = None
        if status in ("won", "completed"):
            won_on = TODAY - timedelta(days=rng.randint(0, 730))
            prob = 100
            if status == "completed":
                closed_on = won_on + timedelta(days=rng.randint(10, 90))
        elif status == "lost":
            prob = 0
            closed_on = TODAY - timedelta(days=rng.randint(0, 730))
            lost_reason = rng.choice(["价格太高", "选择了竞争对手", "预算冻结", "No decision"])
        close = TODAY + timedelta(days=rng.randint(-180, 365))
        amount = rng.choice((5, 10, 20, 50, 100, 200, 500)) * 1000 + rng.randint(0, 999)
        yield (
            f"BD{i:08d}",
            f"Deal {i} 系统项目",
            cid,
            f"Bench customer {cid:06d} 科技有限公司",
            owner,
            user_dept[owner],
            amount,
            _d(close, sqlite),
            prob,
            "Web",
            status,
            stage_id,
            lost_reason,
            _d(won_on, sqlite),
            _d(closed_on, sqlite),
            1,
            _ts(created, sqlite),
            _ts(created, sqlite),
        )


def activity_rows(n: int, n_customers: int, n_deals: int, cust_owner, sqlite: bool):
    rng = random.Random(SEED + 2)
    kinds = ("call", "call", "email", "visit", "meeting")
    subjects = {"call": "电话跟进", "email": "发送报价", "visit": "拜访客户", "meeting": "需求会议"}
    for _i in range(n):
        cid = rng.randint(1, n_customers)
        kind = rng.choice(kinds)
        owner = cust_owner(cid)
        deal = rng.randint(1, n_deals) if rng.random() < 0.3 else None
        if rng.random() < 0.9:
            done = NOW - timedelta(days=rng.randint(0, 730), seconds=rng.randint(0, 86399))
            planned, status, result = None, "done", "客户有兴趣"
            created = done
        else:
            planned = NOW + timedelta(days=rng.randint(-10, 60), seconds=rng.randint(0, 86399))
            done, status, result = None, "planned", None
            created = planned - timedelta(days=7)
        yield (
            cid,
            deal,
            owner,
            kind,
            status,
            subjects[kind],
            _ts(planned, sqlite) if planned else None,
            _ts(done, sqlite) if done else None,
            result,
            1,
            _ts(created, sqlite),
            _ts(created, sqlite),
        )


# --- writing -----------------------------------------------------------------------------


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


def _bulk(raw, dialect: str, table: str, cols: tuple, rows) -> int:
    return benchdb.bulk_insert(
        raw, dialect, table, cols, rows, chunk=CHUNK, log_every=500_000, log=_log
    )


def generate(db: str, deals: int, activities: int, customers: int) -> dict:
    from crm_pipeline.models import Stage
    from sqlalchemy import select

    from crm_host import modules
    from crm_host.models import Department

    t_all = time.perf_counter()
    url = database_url(db, deals)
    benchdb.fresh_database(db, sqlite_path(deals), PG_BASE, PG_SCHEMA)
    instance = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    try:
        app = cdata.make_app(url, instance, auto_migrate=True)
        with app.app_context():
            crm = app.extensions["crm"]
            crm.ensure_ready()
            modules.enable(app, "pipeline", with_deps=True, actor="bench")
            with crm.db.session_scope() as s:
                org = cdata.create_org(s)
            with crm.db.session_scope() as s:
                stages = [
                    (st.id, st.probability)
                    for st in s.scalars(select(Stage).order_by(Stage.position))
                ]
                dept_ids = [d.id for d in s.scalars(select(Department))]
            sales = [u for key in org.sales for u in org.sales[key]]
            user_dept = org.user_dept
            engine = crm.db.engine
            dialect = engine.dialect.name
            sqlite = dialect == "sqlite"

            def cust_owner(cid: int) -> int:
                return sales[cid % len(sales)]

            t0 = time.perf_counter()
            with engine.begin() as conn:
                idx = _secondary_indexes(conn, dialect)
                for name, _sql in idx:
                    conn.exec_driver_sql(f"DROP INDEX {name}")
            raw = engine.raw_connection()
            if sqlite:
                raw.execute("PRAGMA synchronous=OFF")
            _log(f"customers: {customers:,}")
            nc = _bulk(
                raw,
                dialect,
                "customers_customer",
                CUSTOMER_COLS,
                customer_rows(customers, sales, user_dept, sqlite),
            )
            t_customers = time.perf_counter() - t0
            t0 = time.perf_counter()
            _log(f"deals: {deals:,}")
            nd = _bulk(
                raw,
                dialect,
                "pipeline_deal",
                DEAL_COLS,
                deal_rows(deals, customers, cust_owner, user_dept, stages, sqlite),
            )
            t_deals = time.perf_counter() - t0
            t0 = time.perf_counter()
            _log(f"activities: {activities:,}")
            na = _bulk(
                raw,
                dialect,
                "pipeline_activity",
                ACTIVITY_COLS,
                activity_rows(activities, customers, deals, cust_owner, sqlite),
            )
            t_acts = time.perf_counter() - t0
            # targets: this year, every month and quarter, every sales person and department
            trows = []
            for m in range(1, 13):
                for kind, start in (("month", date(TODAY.year, m, 1)),) + (
                    (("quarter", date(TODAY.year, m, 1)),) if m % 3 == 1 else ()
                ):
                    k = 1 if kind == "month" else 3
                    for u in sales:
                        trows.append(
                            (kind, _d(start, sqlite), u, None, 400_000 * k, _ts(NOW, sqlite))
                        )
                    for d in dept_ids:
                        trows.append(
                            (kind, _d(start, sqlite), None, d, 4_000_000 * k, _ts(NOW, sqlite))
                        )
            ntg = _bulk(
                raw,
                dialect,
                "pipeline_target",
                ("period_kind", "period_start", "user_id", "department_id", "amount", "updated_at"),
                trows,
            )
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
            meta = {
                "gen_version": GEN_VERSION,
                "counts": {
                    "customers": nc,
                    "deals": nd,
                    "activities": na,
                    "targets": ntg,
                    "sales": len(sales),
                },
                "seconds": {
                    "customers": round(t_customers, 1),
                    "deals": round(t_deals, 1),
                    "activities": round(t_acts, 1),
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


def ensure(
    db: str, deals: int, activities: int, customers: int, regenerate=False
) -> tuple[dict, bool]:
    meta = read_meta(db, deals)
    want = {"deals": deals, "activities": activities, "customers": customers}
    if (
        not regenerate
        and meta
        and meta.get("gen_version") == GEN_VERSION
        and all(meta["counts"].get(k) == v for k, v in want.items())
    ):
        return meta, False
    return generate(db, deals, activities, customers), True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--activities", type=int, default=5_000_000)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args(argv)
    meta, made = ensure(args.db, args.deals, args.activities, args.customers, args.regenerate)
    print(json.dumps(meta, indent=2, ensure_ascii=False))
    print("generated" if made else "reused")


if __name__ == "__main__":
    main()

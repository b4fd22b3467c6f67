#!/usr/bin/env python
"""Benchmarks of the customers module on a large customer book (not tests: nothing here
asserts a time).

    python bench/customers_bench.py --db sqlite   --customers 1000000
    python bench/customers_bench.py --db postgres --customers 1000000
    python bench/customers_bench.py --db sqlite   --customers 20000 --quick   # smoke run

The data comes from ``bench/customers_data.py`` (generated once, then reused; ``--regenerate``
forces a new one). Every request runs in-process through the Flask test client, logged in as
a sales *leader* (scope: their department tree, about a fifth of the book) and as an admin
(scope: everything). Each request is timed next to the bare SQL it needs: the statements the
request really ran on ``customers_*`` tables, captured with SQLAlchemy's
``before_cursor_execute`` event, replayed with the same parameters on a raw DBAPI connection
of the same engine (fetching every row). Requests and bare SQL take turns sample by sample.

Measured: the list (``GET /customers/`` and ``GET /api/v1/customers``) with no filter, with a
category + region filter, and with ``q`` searches (two Chinese characters, rare and frequent;
four characters; an English prefix; one character); the caller lookup; the 360° page; and,
when ``crm_customers.transfer`` has ``import_rows``, importing a 100,000-row CSV.

Writes ``bench/out/customers-<db>-<N>.md`` (tables) and ``…-sql.txt`` (every captured
statement with its time, and query plans of the slow ones). See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import os
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import customers_data as data  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

import crm_host  # noqa: E402
from crm_host import modules  # noqa: E402
from crm_host.models import User  # noqa: E402
from crm_host.security import create_token  # noqa: E402

perf = time.perf_counter
SLOW_MS = 100.0  # a request slower than this gets a query plan and (with --profile) a profile


# --- statistics and output (the style of host_bench.py) ------------------------------------


def summarize(samples):
    s = sorted(samples)
    p90 = s[max(0, math.ceil(0.9 * len(s)) - 1)]
    return statistics.median(s), p90, len(s)


def fmt_time(sec: float) -> str:
    if sec >= 1:
        return f"{sec:.2f} s"
    if sec >= 1e-3:
        return f"{sec * 1e3:.2f} ms"
    if sec >= 1e-6:
        return f"{sec * 1e6:.0f} µs"
    return f"{sec * 1e9:.0f} ns"


class Report:
    def __init__(self):
        self.parts: list[str] = []

    def text(self, line: str = ""):
        print(line, flush=True)
        self.parts.append(line)

    def table(self, title: str, header: list[str], rows: list[list[str]]):
        self.text(f"### {title}")
        self.text()
        self.text("| " + " | ".join(header) + " |")
        self.text("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
        for r in rows:
            self.text("| " + " | ".join(r) + " |")
        self.text()


class SqlLog:
    """Every statement the app's engine runs: text, parameters, seconds. ``capture`` keeps
    the statements; the SQL time of the current request is always summed."""

    def __init__(self, engine):
        self.capture = False
        self.statements: list[tuple[str, object, float]] = []
        self.sql_time = 0.0
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["_bench_t0"] = perf()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        dt = perf() - conn.info.pop("_bench_t0", perf())
        self.sql_time += dt
        self.count += 1
        if self.capture:
            self.statements.append((statement, parameters, dt))

    def reset(self):
        self.sql_time = 0.0
        self.count = 0

    def record(self, fn):
        self.statements = []
        self.capture = True
        self.reset()
        try:
            result = fn()
        finally:
            self.capture = False
        return result, list(self.statements)


def touches_customers(stmt: str) -> bool:
    return bool(re.search(r"\bcustomers_\w+", stmt))


class Bare:
    """Replays captured statements on one raw DBAPI connection of the app's engine (outside
    SQLAlchemy: no events, no ORM), fetching every row."""

    def __init__(self, engine):
        self.dialect = engine.dialect.name
        self.raw = engine.raw_connection()
        if self.dialect == "postgresql":
            pg = self.raw.driver_connection
            pg.autocommit = True  # one statement, one transaction
            # The app's sessions roll back at the end of every request, and psycopg then
            # forgets its prepared statements, so the app never runs server-side prepared
            # statements. Without this, psycopg would prepare ours after 5 runs and
            # PostgreSQL would switch to a generic plan (up to 5 x slower for a text search).
            pg.prepare_threshold = None

    def runner(self, statements):
        stmts = [(s, p) for s, p, _dt in statements]
        raw = self.raw

        def run():
            n = 0
            for s, p in stmts:
                cur = raw.cursor()
                cur.execute(s, p)
                n += len(cur.fetchall())
                cur.close()
            return n

        return run

    def explain(self, stmt, params) -> str:
        cur = self.raw.cursor()
        try:
            if self.dialect == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + stmt, params)
                rows = cur.fetchall()
                depth = {0: 0}
                out = []
                for node, parent, _nu, detail in rows:
                    depth[node] = depth.get(parent, 0) + 1
                    out.append("  " * (depth[node] - 1) + "-- " + detail)
                return "\n".join(out)
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)
            return "\n".join(r[0] for r in cur.fetchall())
        finally:
            cur.close()

    def close(self):
        if self.dialect == "postgresql":
            self.raw.driver_connection.autocommit = False
        self.raw.close()


def interleaved(fns: dict, samples: int, warm: int, log: SqlLog):
    """Per-call seconds (and SQL seconds seen by the app's engine) of each ``name: fn``, the
    functions taking turns sample by sample in a rotating order."""
    items = list(fns.items())
    for _name, fn in items:
        for _ in range(warm):
            fn()
    out = {name: [] for name, _ in items}
    sql = {name: [] for name, _ in items}
    nq = {name: [] for name, _ in items}
    for k in range(samples):
        for name, fn in items[k % len(items) :] + items[: k % len(items)]:
            log.reset()
            t = perf()
            fn()
            out[name].append(perf() - t)
            sql[name].append(log.sql_time)
            nq[name].append(log.count)
    return out, sql, nq


# --- the app and its users -----------------------------------------------------------------


def login_client(app, email: str):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    if not m:
        raise RuntimeError("no csrf-token meta on /login")
    resp = client.post(
        "/login", data={"email": email, "password": data.PASSWORD, "csrf_token": m.group(1)}
    )
    if resp.status_code != 302:
        raise RuntimeError(f"login failed for {email}: {resp.status_code}")
    return client


class Who:
    def __init__(self, app, email: str, label: str):
        db = app.extensions["crm"].db
        with app.app_context(), db.session_scope() as s:
            u = s.scalar(select(User).where(User.email == email))
            self.id = u.id
            self.department_id = u.department_id
            _tok, self.secret = create_token(s, u, "bench")
        self.email = email
        self.label = label
        self.html = login_client(app, email)
        self.api = app.test_client()
        self.auth = {"Authorization": f"Bearer {self.secret}"}


class ApiUser:
    """Someone calling the API with a personal token (pipeline, service benches)."""

    def __init__(self, app, email: str, label: str):
        db = app.extensions["crm"].db
        with app.app_context(), db.session_scope() as s:
            u = s.scalar(select(User).where(User.email == email))
            self.id = u.id
            _tok, secret = create_token(s, u, "bench")
        self.label = label
        self.client = app.test_client()
        self.auth = {"Authorization": f"Bearer {secret}"}

    def get(self, url):
        def run():
            r = self.client.get(url, headers=self.auth)
            if r.status_code != 200:
                raise RuntimeError(
                    f"{url} as {self.label}: {r.status_code} {r.get_data(as_text=True)[:300]}"
                )
            return r

        return run


EMPTY_TEAM_EMAIL = "leader.empty@bench.test"


def ensure_empty_team(app) -> str:
    """A leader whose department tree owns no customer (a new team): a small scope must stay
    as fast as a wide one (bench/RESULTS.md, slow spot 4). Created once, kept in the file."""
    from crm_host.models import Department, Role
    from crm_host.security import hash_password

    db = app.extensions["crm"].db
    with app.app_context(), db.session_scope() as s:
        if s.scalar(select(User.id).where(User.email == EMPTY_TEAM_EMAIL)) is None:
            dept = Department(name="新团队 New team (bench)")
            s.add(dept)
            s.flush()
            role = s.scalar(select(Role).where(Role.name == "leader"))
            s.add(User(email=EMPTY_TEAM_EMAIL, name="新团队 经理", department_id=dept.id,
                       password_hash=hash_password(data.PASSWORD), roles=[role]))  # fmt: skip
    return EMPTY_TEAM_EMAIL


def scope_share(app, who: Who) -> float:
    """The share of live customers the user may see (for the table titles)."""
    from crm_customers.models import Customer

    from crm_host.security import scope_filter

    with app.test_request_context("/"):
        from crm_host.db import session

        s = session()
        u = s.get(User, who.id)
        cond = scope_filter(u, Customer.owner_id, Customer.department_id)
        live = Customer.deleted_at.is_(None)
        total = s.scalar(select(func.count()).select_from(Customer).where(live))
        mine = (
            total
            if cond is None
            else s.scalar(select(func.count()).select_from(Customer).where(live, cond))
        )
    return mine / total if total else 0.0


# --- scenarios -------------------------------------------------------------------------------


class Case:
    def __init__(self, key, label, html=None, api=None, query=None):
        self.key, self.label = key, label
        self.html_path, self.api_path, self.query = html, api, query or {}


def cases(meta, category_id: int) -> list[Case]:
    branch = meta["plants"]["branch"]
    q = lambda s: {"q": s}  # noqa: E731
    return [
        Case("list", "list, no filter", "/customers/", "/api/v1/customers"),
        Case(
            "filter",
            "list, category + region (existing, 华东)",
            "/customers/",
            "/api/v1/customers",
            {"category_id": str(category_id), "region": "华东"},
        ),
        Case("q2", "q=海宇 (2 chars, rare)", "/customers/", "/api/v1/customers", q("海宇")),
        Case("q2f", "q=科技 (2 chars, frequent)", "/customers/", "/api/v1/customers", q("科技")),
        Case("q4", "q=北京海宇 (4 chars)", "/customers/", "/api/v1/customers", q("北京海宇")),
        Case("qen", "q=pac (English prefix)", "/customers/", "/api/v1/customers", q("pac")),
        Case("q1", "q=海 (1 char)", "/customers/", "/api/v1/customers", q("海")),
        Case(
            "lookup",
            f"caller lookup {data.LOOKUP_NUMBER}",
            "/customers/lookup",
            f"/api/v1/lookup/phone/{data.LOOKUP_NUMBER}",
            {"phone": data.LOOKUP_NUMBER},
        ),
        Case(
            "dups",
            "duplicate check before a create (name + phone + email)",
            None,
            "/api/v1/customers/duplicates",
            {
                "name": "北京海宇科技有限公司",
                "phone": "010 6212 3456",
                "email": "info@haiyu-tech.com.cn",
            },
        ),  # fmt: skip
        Case(
            "detail",
            f"360° page of customer {branch}",
            f"/customers/{branch}",
            f"/api/v1/customers/{branch}",
        ),
    ]


def request_fns(case: Case, who: Who):
    qs = dict(case.query)
    api_qs = {} if case.key == "lookup" else qs

    if case.html_path is None:
        html = None
    else:

        def html():
            r = who.html.get(case.html_path, query_string=qs)
            if r.status_code != 200:
                raise RuntimeError(f"{case.html_path} {qs}: {r.status_code}")
            return r

    def api():
        r = who.api.get(case.api_path, query_string=api_qs, headers=who.auth)
        if r.status_code != 200:
            raise RuntimeError(f"{case.api_path}: {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r

    return html, api


def describe_answer(case: Case, resp) -> str:
    js = resp.get_json()
    if isinstance(js, dict) and "total" in js:
        return f"{js['total']:,}{'' if js['total_is_exact'] else '+'} found"
    if isinstance(js, list):
        return f"{len(js)} found"
    if isinstance(js, dict) and "id" in js:
        return "1 record"
    return ""


def run_cases(app, log: SqlLog, bare: Bare, people: list[Who], rep: Report, args, sqlfile):
    crm = app.extensions["crm"]
    with app.app_context():
        from crm_customers.models import Category

        from crm_host.db import session

        cat = session().scalar(select(Category.id).where(Category.code == "existing"))
    all_cases = [c for c in cases(args.meta, cat) if not args.only or c.key in args.only]
    slow: list[tuple] = []
    results: dict = {}
    for who in people:
        share = scope_share(app, who)
        rows = []
        for case in all_cases:
            if case.key == "detail" and who.label == "empty-team leader":
                continue  # the sample customer is outside this scope: a 404 by design
            html, api = request_fns(case, who)
            st_html = log.record(html)[1] if html else []
            r_api, st_api = log.record(api)
            answer = describe_answer(case, r_api)
            b_html = [s for s in st_html if touches_customers(s[0])]
            b_api = [s for s in st_api if touches_customers(s[0])]
            fns = {"api": api, "bare_api": bare.runner(b_api)}
            if html:
                fns.update(html=html, bare_html=bare.runner(b_html))
            # Slow cases: fewer warm-up rounds (each one costs a second or more).
            probe = max(sum(s[2] for s in st_html), sum(s[2] for s in st_api))
            warm = 1 if probe > 0.5 else 2 if probe > 0.05 else args.warm
            t, sql, nq = interleaved(fns, args.samples, warm, log)
            res = {}
            for side, label in (("html", "HTML"), ("api", "JSON")):
                if side not in t:
                    continue
                med, p90, n = summarize(t[side])
                bmed, bp90, _ = summarize(t[f"bare_{side}"])
                smed = statistics.median(sql[side])
                q = statistics.median(nq[side])
                b = b_html if side == "html" else b_api
                path = case.html_path if side == "html" else case.api_path
                res[side] = (med, p90, bmed, bp90, smed, q)
                rows.append(
                    [
                        f"{case.label}: {label} `GET {path}`",
                        fmt_time(med),
                        fmt_time(p90),
                        fmt_time(smed),
                        f"{q:.0f}",
                        f"{len(b)}",
                        fmt_time(bmed),
                        fmt_time(bp90),
                        f"×{med / bmed:.1f}" if bmed else "n/a",
                        answer if side == "api" else "",
                    ]
                )
                if med * 1e3 > SLOW_MS or (bmed and med / bmed > 1.5 and bmed * 1e3 > 20):
                    slow.append((who.label, case, side, med, bmed, b))
            results[(who.label, case.key)] = res
            # Every statement, with its time in the capture run, for the SQL file.
            for side, st in (("HTML", st_html), ("JSON", st_api)):
                sqlfile.write(f"\n=== {who.label} / {case.label} / {side} ({len(st)} statements)\n")
                for s, p, dt in st:
                    mark = "*" if touches_customers(s) else " "
                    one = " ".join(s.split())
                    sqlfile.write(f"{mark} {dt * 1e3:8.2f} ms  {one[:900]}\n")
                    sqlfile.write(f"{'':14}params: {str(p)[:300]}\n")
            print(
                f"  [{who.label}] {case.key}: HTML {fmt_time(res['html'][0]) if 'html' in res else '-'}, "
                f"JSON {fmt_time(res['api'][0])}, bare {fmt_time(res['api'][2])} ({answer})",
                flush=True,
            )
        rep.table(
            f"{who.label} (scope sees {share:.0%} of the live customers): median and p90 of "
            f"{args.samples} requests each",
            [
                "request",
                "median",
                "p90",
                "SQL inside",
                "queries",
                "bare stmts",
                "bare SQL median",
                "bare p90",
                "ours / bare",
                "answer",
            ],
            rows,
        )
    crm  # noqa: B018
    return slow, results


def explain_slow(slow, bare: Bare, rep: Report, sqlfile, profile_targets, people_by_label):
    """Query plans of the slowest customers_* statements of every slow request."""
    seen = set()
    notes = []
    for who_label, case, side, _med, _bmed, stmts in slow:
        top = sorted(stmts, key=lambda s: -s[2])[:2]
        for s, p, dt in top:
            key = (" ".join(s.split()), str(p))
            if key in seen or dt < 0.005:
                continue
            seen.add(key)
            try:
                plan = bare.explain(s, p)
            except Exception as exc:  # never lose the run for a plan
                plan = f"(EXPLAIN failed: {exc!r})"
            sqlfile.write(
                f"\n### PLAN ({who_label} / {case.label} / {side}; statement took "
                f"{dt * 1e3:.1f} ms)\n{' '.join(s.split())}\nparams: {p}\n{plan}\n"
            )
            notes.append((who_label, case.label, side, dt, " ".join(s.split()), plan))
        profile_targets.append((who_label, case, side))
    if notes:
        rep.text("### Query plans of the slow requests' slowest statements")
        rep.text()
        for who_label, label, side, dt, s, plan in notes:
            short = s if len(s) < 700 else s[:700] + " …"
            rep.text(f"**{who_label} / {label} / {side}** — statement took {dt * 1e3:.1f} ms:")
            rep.text()
            rep.text("```sql")
            rep.text(short)
            rep.text("```")
            rep.text("```")
            rep.text(plan if len(plan) < 4000 else plan[:4000] + "\n…")
            rep.text("```")
            rep.text()


def profile_slow(targets, people_by_label, path: Path, count: int = 5):
    import cProfile
    import io as _io
    import pstats

    chunks = []
    done = set()
    for who_label, case, side in targets:
        if (who_label, case.key, side) in done:
            continue
        done.add((who_label, case.key, side))
        html, api = request_fns(case, people_by_label[who_label])
        fn = html if side == "html" and html else api
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(count):
            fn()
        pr.disable()
        buf = _io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(30)
        chunks.append(f"--- {count} x {who_label} / {case.label} / {side} ---\n{buf.getvalue()}")
    path.write_text("\n".join(chunks))
    print(f"profiles written to {path}")


# --- import ----------------------------------------------------------------------------------


DROPPABLE = ("website", "source", "province", "fax")  # dropped (in order) to fit MAX_BYTES


def import_csv(app, n_rows: int, seed: int, drop: tuple = ()) -> tuple[bytes, list[dict]]:
    """A customers CSV as people export it from another system (Chinese and English names,
    phones in every form, owners from the leader's department), and the same rows as
    dicts (for the bare-insert comparison)."""
    crm = app.extensions["crm"]
    with app.app_context(), crm.db.Session() as s:
        org = data.load_org(s)
        emails = dict(s.execute(select(User.id, User.email)).all())
        from crm_customers.models import Category

        cats = {c.id: c.code for c in s.scalars(select(Category))}
    gen = data._Gen(org, n_rows, seed)
    east = org.sales["east"] + [org.leaders["east"]]
    cols = ["name", "short_name", "category", "grade", "lifecycle", "industry", "region",
            "province", "city", "address", "postal_code", "phone", "fax", "email", "website",
            "source", "owner_email", "tags"]  # fmt: skip
    buf = io.StringIO()
    w = csv.writer(buf)
    keep = [i for i, c in enumerate(cols) if c not in drop]
    w.writerow([cols[i] for i in keep])
    rows = []
    for i in range(n_rows):
        row, _lang, _dom, _ac = gen.customer(i + 1)
        row["owner_id"] = gen.rng.choice(east)
        row["department_id"] = org.user_dept[row["owner_id"]]
        tags = sorted(set(gen.rng.sample(data.TAGS, gen.rng.randint(1, 2)))) if i % 4 == 0 else []
        cells = (
            [
                row["name"], row["short_name"] or "", cats[row["category_id"]], row["grade"] or "",
                row["lifecycle"], row["industry"] or "", row["region"], row["province"],
                row["city"], row["address"], row["postal_code"], row["phone"] or "",
                row["fax"] or "", row["email"] or "", row["website"] or "", row["source"] or "",
                emails[row["owner_id"]], ";".join(tags),
            ]
        )  # fmt: skip
        w.writerow([cells[i] for i in keep])
        for c in drop:
            row[c] = None
        row["tags"] = tags
        rows.append(row)
    return ("\ufeff" + buf.getvalue()).encode("utf-8"), rows


class Timed:
    """Wraps module functions to time them (the import's phases) without changing them."""

    def __init__(self, module, names):
        self.module, self.times, self.orig = module, {}, {}
        for n in names:
            f = getattr(module, n, None)
            if f is None:
                continue
            self.orig[n] = f

            def wrap(*a, _f=f, _n=n, **kw):
                t = perf()
                try:
                    return _f(*a, **kw)
                finally:
                    self.times[_n] = self.times.get(_n, 0.0) + perf() - t

            setattr(module, n, wrap)

    def restore(self):
        for n, f in self.orig.items():
            setattr(self.module, n, f)


def cleanup_after(app, max_id: int, max_phone: int) -> float:
    """Delete what an import added (customers above ``max_id`` and their rows) so the
    database keeps its size for the next run."""
    crm = app.extensions["crm"]
    t = perf()
    with crm.db.engine.begin() as conn:
        for tname in ("customers_customer_tag", "customers_timeline", "customers_contact"):
            conn.exec_driver_sql(f"DELETE FROM {tname} WHERE customer_id > {int(max_id)}")
        conn.exec_driver_sql(f"DELETE FROM customers_phone WHERE id > {int(max_phone)}")
        conn.exec_driver_sql(f"DELETE FROM customers_customer WHERE id > {int(max_id)}")
    return perf() - t


def sql_summary(statements, top: int = 12) -> list[str]:
    """Statements grouped by their first 120 characters: count and total seconds."""
    groups: dict[str, list] = {}
    for st, _p, dt in statements:
        key = " ".join(st.split())[:120]
        g = groups.setdefault(key, [0, 0.0])
        g[0] += 1
        g[1] += dt
    rows = sorted(groups.items(), key=lambda kv: -kv[1][1])[:top]
    return [f"{v[1]:8.2f} s {v[0]:7d} x  {k}" for k, v in rows]


def bench_import(app, who: Who, rep: Report, args, sqlfile, log: SqlLog | None = None):
    try:
        from crm_customers import transfer
    except ImportError:
        transfer = None
    if transfer is None or not hasattr(transfer, "import_rows") or not hasattr(transfer, "parse"):
        rep.text(
            "### Import\n\n`crm_customers/transfer.py` has no `import_rows`/`parse` yet: the "
            "import rate was not measured.\n"
        )
        return None
    crm = app.extensions["crm"]
    n_rows = args.import_rows
    t = perf()
    payload, rows = import_csv(app, n_rows, seed=777)
    full_size, dropped = len(payload), []
    limit = getattr(transfer, "MAX_BYTES", None)
    while limit and len(payload) > limit and len(dropped) < len(DROPPABLE):
        dropped.append(DROPPABLE[len(dropped)])
        payload, rows = import_csv(app, n_rows, seed=777, drop=tuple(dropped))
    t_csv = perf() - t
    size_note = (
        f"; with all 18 columns the file is {full_size / 2**20:.1f} MiB, over the "
        f"{limit / 2**20:.0f} MiB upload limit, so the column{'s' if len(dropped) > 1 else ''} {', '.join(dropped)} {'were' if len(dropped) > 1 else 'was'} left out"
        if dropped
        else ""
    )
    print(
        f"  import CSV: {n_rows:,} rows, {len(payload) / 2**20:.1f} MiB{size_note} ({t_csv:.1f} s)"
    )
    endpoint = any(r.rule == "/api/v1/customers/import" for r in app.url_map.iter_rules())

    def max_ids():
        with crm.db.engine.connect() as conn:
            return (
                conn.exec_driver_sql("SELECT max(id) FROM customers_customer").scalar(),
                conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM customers_phone").scalar(),
            )

    out_rows = []
    runs = []

    def settle():
        """Start every timed write from the same state (SQLite: an empty WAL)."""
        if crm.db.engine.dialect.name == "sqlite":
            with crm.db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    for run in range(args.import_runs):
        max_id, max_phone = max_ids()
        settle()
        timer = Timed(
            transfer, ["parse", "validate_rows", "_existing_keys", "_write_customers", "_audit"]
        )
        if log is not None:
            log.statements, log.capture = [], True
        try:
            t0 = perf()
            if endpoint:
                resp = who.api.post(
                    "/api/v1/customers/import",
                    data={
                        "file": (io.BytesIO(payload), "customers.csv"),
                        "kind": "customers",
                        "mode": "all",
                    },
                    headers=who.auth,
                    content_type="multipart/form-data",
                )
                total = perf() - t0
                body = resp.get_json() or {}
                if resp.status_code != 200:
                    raise RuntimeError(f"import: {resp.status_code} {str(body)[:800]}")
                imported, bad = body.get("imported"), body.get("bad")
                path = "POST /api/v1/customers/import (mode=all)"
            else:
                from flask import g

                with app.test_request_context("/"):
                    from crm_host.db import session

                    s = session()
                    g.crm_runtime = crm.runtime()
                    u = s.get(User, who.id)
                    table = transfer.parse(payload, "customers.csv")
                    report = transfer.import_rows(s, u, "customers", table, "all", source="bench")
                    if report.refused or report.errors:
                        raise RuntimeError(f"import refused: {report.errors[:5]}")
                    s.commit()
                    imported, bad = report.imported, len(report.errors)
                total = perf() - t0
                path = "transfer.parse + import_rows(mode=all) + commit"
        finally:
            timer.restore()
            if log is not None:
                log.capture = False
                sqlfile.write(
                    f"\n=== import run {run + 1}: statements grouped (seconds in execute)\n"
                )
                sqlfile.write("\n".join(sql_summary(log.statements)) + "\n")
                print("\n".join("    " + line for line in sql_summary(log.statements, 6)))
                log.statements = []
        with crm.db.engine.connect() as conn:
            added = conn.exec_driver_sql(
                f"SELECT count(*) FROM customers_customer WHERE id > {int(max_id)}"
            ).scalar()
        clean = cleanup_after(app, max_id, max_phone)
        if imported != n_rows or added != n_rows:
            raise RuntimeError(f"import wrote {imported} rows ({added} in the table), bad={bad}")
        runs.append((total, dict(timer.times)))
        print(
            f"  import run {run + 1}: {total:.1f} s ({n_rows / total:,.0f} rows/s); "
            f"phases { ({k: round(v, 1) for k, v in timer.times.items()}) }; cleanup {clean:.1f} s",
            flush=True,
        )

    # The floor: the same rows written with core INSERT executemany (search_text and phone
    # rows computed exactly like the import does), then removed again.
    from crm_customers import phones
    from crm_customers.models import Customer, Phone, customer_tags
    from sqlalchemy import insert

    from crm_host import textsearch

    bare_runs = []
    for _ in range(args.import_runs):
        max_id, max_phone = max_ids()
        settle()
        now = datetime.now(timezone.utc)
        t0 = perf()
        params, phone_rows, tag_rows = [], [], []
        for i, r in enumerate(rows):
            cid = max_id + 1 + i
            code = f"B{cid:09d}"
            e = phones.normalise(r["phone"])
            ef = phones.normalise(r["fax"])
            params.append(
                {
                    **{k: r[k] for k in data.CUSTOMER_COLS if k not in ("id", "code")},
                    "id": cid,
                    "code": code,
                    "revenue": 0,
                    "graded_at": None,
                    "deleted_at": None,
                    "created_at": now,
                    "updated_at": now,
                    "search_text": textsearch.index_text(
                        r["name"], r["short_name"], code, r["email"],
                        *((phones.national_digits(e),) if e else ()),
                    ),
                }
            )  # fmt: skip
            for kind, ee in (("phone", e), ("fax", ef)):
                if ee:
                    phone_rows.append(
                        {"customer_id": cid, "contact_id": None, "e164": ee,
                         "digits_rev": phones.reversed_digits(ee), "kind": kind}
                    )  # fmt: skip
            tag_rows += [{"customer_id": cid, "tag": tg} for tg in r["tags"]]
        t_prep = perf() - t0
        with crm.db.engine.begin() as conn:
            for k in range(0, len(params), 1000):
                conn.execute(insert(Customer.__table__), params[k : k + 1000])
            for k in range(0, len(phone_rows), 1000):
                conn.execute(insert(Phone.__table__), phone_rows[k : k + 1000])
            for k in range(0, len(tag_rows), 1000):
                conn.execute(insert(customer_tags), tag_rows[k : k + 1000])
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
                    "(SELECT max(id) FROM customers_customer))"
                )
        total = perf() - t0
        cleanup_after(app, max_id, max_phone)
        bare_runs.append((total, t_prep))
    imp = statistics.median(r[0] for r in runs)
    bare_t = statistics.median(r[0] for r in bare_runs)
    phases = runs[len(runs) // 2][1]
    out_rows.append(
        [
            f"import {n_rows:,} customers: {path}",
            fmt_time(imp),
            f"{n_rows / imp:,.0f} rows/s",
            f"×{imp / bare_t:.1f}",
        ]
    )
    for name in ("parse", "validate_rows", "_existing_keys", "_write_customers", "_audit"):
        if name in phases:
            label = {
                "parse": "… of which `transfer.parse` (CSV → table)",
                "validate_rows": "… of which `validate_rows` (schemas, references, duplicates)",
                "_existing_keys": "… … of which `_existing_keys` (the file's names, emails and phones looked up)",
                "_write_customers": "… of which `_write_customers` (INSERTs)",
                "_audit": "… of which `_audit`",
            }[name]
            out_rows.append([label, fmt_time(phases[name]), "", ""])
    rest = imp - sum(
        phases.get(k, 0) for k in ("parse", "validate_rows", "_write_customers", "_audit")
    )
    out_rows.append(["… rest (HTTP, JSON answer, commit)", fmt_time(rest), "", ""])
    out_rows.append(
        [
            "bare: the same rows with core INSERT executemany (search_text + phone rows "
            "computed in Python, no validation) + commit",
            fmt_time(bare_t),
            f"{n_rows / bare_t:,.0f} rows/s",
            "×1.0",
        ]
    )
    out_rows.append(
        [
            "… of which computing the rows in Python",
            fmt_time(statistics.median(r[1] for r in bare_runs)),
            "",
            "",
        ]
    )
    rep.table(
        f"Import of a {n_rows:,}-row customers CSV ({len(payload) / 2**20:.1f} MiB{size_note}) into the "
        f"{args.customers:,}-customer book, as the leader ({args.import_runs} run"
        f"{'s' if args.import_runs > 1 else ''}; the rows are deleted again after each run)",
        ["measure", "time", "rate", "ours / bare"],
        out_rows,
    )
    return runs


# --- main ------------------------------------------------------------------------------------


def environment(db: str, engine) -> list[str]:
    import importlib.metadata as md

    import sqlalchemy

    extra = f"SQLite {sqlite3.sqlite_version}"
    if db == "postgres":
        with engine.connect() as conn:
            v = conn.exec_driver_sql("SHOW server_version").scalar()
            sb = conn.exec_driver_sql("SHOW shared_buffers").scalar()
            wm = conn.exec_driver_sql("SHOW work_mem").scalar()
        extra = (
            f"PostgreSQL {v} (shared_buffers {sb}, work_mem {wm}), psycopg {md.version('psycopg')}"
        )
    try:
        load = os.getloadavg()
        load_s = f", load average {load[0]:.2f} at start"
    except OSError:
        load_s = ""
    return [
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.machine()}, nproc={os.cpu_count()}, {platform.platform()}{load_s}",
        f"- python {platform.python_version()}, {extra}, Flask {md.version('flask')}, "
        f"SQLAlchemy {sqlalchemy.__version__}, crm_host {crm_host.__version__}",
    ]


def data_lines(meta: dict, generated: bool) -> list[str]:
    c = meta["counts"]
    sec = meta["seconds"]
    size = (
        f"{meta['file_bytes'] / 1e9:.2f} GB file"
        if "file_bytes" in meta
        else f"{(meta.get('schema_bytes') or 0) / 1e9:.2f} GB in the schema (tables + indexes)"
    )
    steps = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in sec.items() if k != "total")
    return [
        f"- data: {c['customers_customer']:,} customers, {c['customers_contact']:,} contacts, "
        f"{c['customers_phone']:,} phone rows, {c['customers_customer_tag']:,} tags, "
        f"{c['customers_timeline']:,} timeline entries; {size}",
        f"- generation: {sec['total']:.0f} s ({steps}; {meta.get('workers', 2)} worker "
        f"processes) on {meta['generated_at']}" + ("" if generated else " — reused by this run"),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    ap.add_argument("--regenerate", action="store_true", help="generate the data again")
    ap.add_argument("--samples", type=int, help="requests per measure (default 30, quick 10)")
    ap.add_argument(
        "--only", nargs="*", help="case keys: list filter q2 q2f q4 qen q1 lookup dups detail"
    )
    ap.add_argument("--no-admin", action="store_true", help="only the leader")
    ap.add_argument("--empty-team", action="store_true",
                    help="also a leader whose team owns no customers")  # fmt: skip
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--import-rows", type=int, help="rows in the import file (default 100000)")
    ap.add_argument("--import-runs", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="cProfile the slow requests")
    ap.add_argument("--out", help="Markdown output (default bench/out/customers-<db>-<N>.md)")
    args = ap.parse_args(argv)
    args.samples = args.samples or (10 if args.quick else 30)
    args.warm = 3 if args.quick else 5
    args.import_rows = args.import_rows or (10_000 if args.quick else 100_000)

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("crm_host").setLevel(logging.ERROR)
    started = perf()
    meta, generated = data.ensure(args.db, args.customers, args.regenerate)
    args.meta = meta
    url = data.database_url(args.db, args.customers)
    out = Path(args.out or HERE / "out" / f"customers-{args.db}-{args.customers}.md")
    sql_path = out.with_name(out.stem + "-sql.txt")
    out.parent.mkdir(parents=True, exist_ok=True)
    instance = Path(tempfile.mkdtemp(prefix="crm-bench-cust-"))
    rep = Report()
    try:
        app = data.make_app(url, instance, auto_migrate=True)
        crm = app.extensions["crm"]
        with app.app_context():
            crm.ensure_ready()
            modules.enable(app, "customers", actor="bench")  # migrates if a revision is new
            crm.runtime()
        engine = crm.db.engine
        rep.text(
            f"## Customers at {args.customers:,} rows: {args.db} "
            f"({'quick' if args.quick else 'full'} run)"
        )
        rep.text()
        for line in environment(args.db, engine):
            rep.text(line)
        for line in data_lines(meta, generated):
            rep.text(line)
        cmd = f"python bench/customers_bench.py --db {args.db} --customers {args.customers}"
        rep.text(f"- command: `{cmd}{' --quick' if args.quick else ''}`")
        rep.text()
        # A run that died during the import may have left rows behind: the generated
        # customers have the ids 1..N and the phone rows 1..count.
        with engine.connect() as conn:
            top = conn.exec_driver_sql("SELECT max(id) FROM customers_customer").scalar()
        if top > args.customers:
            cleanup_after(app, args.customers, meta["counts"]["customers_phone"])
            print(f"  removed rows left by an interrupted import (ids {args.customers + 1}…{top})")
        log = SqlLog(engine)
        bare = Bare(engine)
        leader = Who(app, data.LEADER_EMAIL, "leader")
        people = [leader] if args.no_admin else [leader, Who(app, data.ADMIN_EMAIL, "admin")]
        if args.empty_team:
            people.append(Who(app, ensure_empty_team(app), "empty-team leader"))
        with open(sql_path, "w") as sqlfile:
            slow, _results = run_cases(app, log, bare, people, rep, args, sqlfile)
            targets: list = []
            explain_slow(slow, bare, rep, sqlfile, targets, {w.label: w for w in people})
            if args.profile and targets:
                profile_slow(targets, {w.label: w for w in people},
                             out.with_name(out.stem + "-profile.txt"))  # fmt: skip
            if not args.skip_import:
                try:
                    bench_import(app, leader, rep, args, sqlfile, log)
                except Exception as exc:  # report it; keep the tables measured so far
                    import traceback

                    traceback.print_exc()
                    rep.text(f"### Import\n\nThe import benchmark failed: `{exc!r}`\n")
        bare.close()
        with engine.connect() as conn:
            n = conn.exec_driver_sql("SELECT count(*) FROM customers_customer").scalar()
        if n != args.customers:
            rep.text(f"**warning**: the table now holds {n:,} customers, not {args.customers:,}")
        crm.db.dispose()
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    rep.text(
        f"_total bench time {perf() - started:.0f} s; statements and plans: `{sql_path.name}`_"
    )
    out.write_text("\n".join(rep.parts) + "\n")
    print(f"\nwritten to {out} and {sql_path}")


if __name__ == "__main__":
    main()

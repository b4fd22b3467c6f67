#!/usr/bin/env python
"""Benchmarks of the service module on a large ticket book (not tests: nothing here asserts
a time).

    python bench/service_bench.py --db sqlite   --tickets 2000000
    python bench/service_bench.py --db postgres --tickets 2000000
    python bench/service_bench.py --db sqlite   --tickets 20000 --customers 5000 --breaches 200 --quick

The data comes from ``bench/service_data.py`` (generated once, then reused; ``--regenerate``
forces). Two parts:

1. The service-level escalation job (``crm_service.services.escalate_breaches``), the
   scheduled job's own function, with the ``--breaches`` tickets due at the data's "now" and
   with nothing due (the usual run), each run rolled back so every sample sees the same
   work. Next to it, the bare SQL the job needs, set-based, in one rolled-back transaction:
   read the due tickets, write one timeline event and one outbox row per breach (to the
   department leader), mark them escalated.
2. Every report of the module through the API (Flask test client, API token) as a regional
   *leader* (their department tree: a fifth of the tickets) and as an *admin* (all), plus
   the overdue list and count; each next to the bare SQL it ran (statements on
   ``service_*`` / ``customers_*`` tables captured with SQLAlchemy's events and replayed on a
   raw DBAPI connection, fetching every row). App and bare SQL take turns sample by sample.

Writes ``bench/out/service-<db>-<tickets>.md`` and ``…-sql.txt`` (statements and plans).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import customers_bench as cb  # noqa: E402  (statistics, SQL capture, bare replay, report)
import service_data as data  # noqa: E402


def touches_ours(stmt: str) -> bool:
    return bool(re.search(r"\b(service|customers)_\w+", stmt))


Who = cb.ApiUser  # a personal-token API caller (shared with the other benches)


def job_runner(app, now):
    """The scheduled job's function on a session that is rolled back afterwards."""
    from crm_service import services

    db = app.extensions["crm"].db

    def run():
        with app.test_request_context():
            s = db.Session()
            try:
                return services.escalate_breaches(s, now)
            finally:
                s.rollback()
                s.close()

    return run


def bare_job(engine, now):
    """The set-based SQL the job needs, in one transaction rolled back afterwards."""
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    ph = "?" if sqlite else "%s"
    at = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    concat = "'Overdue ticket ' || t.code"
    stmts = [
        (
            "SELECT id, code, title, customer_name, department_id, owner_id, responded_at, "
            "resolved_at, response_due_at, resolution_due_at, response_escalated_at, "
            f"resolution_escalated_at FROM service_ticket WHERE watch_at <= {ph} "
            "ORDER BY watch_at, id",
            (at,),
            True,
        ),
        (
            "INSERT INTO service_ticket_event (ticket_id, at, kind, comment) "
            f"SELECT id, {ph}, 'sla', 'resolution' FROM service_ticket WHERE watch_at <= {ph}",
            (at, at),
            False,
        ),
        (
            "INSERT INTO host_outbox (kind, channel, recipient_id, subject, body, data, status, "
            "attempts, next_attempt_at, created_at) "
            f"SELECT 'service.sla_breach', 'inbox', COALESCE(d.leader_id, p.leader_id), {concat}, "
            f"'', '{{}}', 'pending', 0, {ph}, {ph} FROM service_ticket t "
            "LEFT JOIN host_department d ON d.id = t.department_id "
            "LEFT JOIN host_department p ON p.id = d.parent_id "
            f"WHERE t.watch_at <= {ph}",
            (at, at, at),
            False,
        ),
        (
            "UPDATE service_ticket SET "
            f"response_escalated_at = CASE WHEN responded_at IS NULL AND response_due_at <= {ph} "
            "THEN COALESCE(response_escalated_at, "
            f"{ph}) ELSE response_escalated_at END, "
            f"resolution_escalated_at = CASE WHEN resolved_at IS NULL AND resolution_due_at <= {ph} "
            f"THEN COALESCE(resolution_escalated_at, {ph}) ELSE resolution_escalated_at END, "
            f"watch_at = NULL WHERE watch_at <= {ph}",
            (at, at, at, at, at),
            False,
        ),
    ]

    def run():
        n = 0
        cur = raw.cursor()
        try:
            for sql, params, fetch in stmts:
                cur.execute(sql, params)
                if fetch:
                    n += len(cur.fetchall())
        finally:
            cur.close()
            raw.rollback()
        return n

    def close():
        raw.close()

    run.close = close
    run.sql = [s for s, _p, _f in stmts]
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--tickets", type=int, default=2_000_000)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--breaches", type=int, default=2_000)
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    ap.add_argument("--samples", type=int, default=None)
    args = ap.parse_args(argv)
    samples = args.samples or (5 if args.quick else 15)
    warm = 1 if args.quick else 2

    meta, generated = data.ensure(
        args.db, args.tickets, args.customers, args.breaches, args.regenerate
    )
    instance = Path(tempfile.mkdtemp(prefix="service-bench-"))
    rep = cb.Report()
    sql_lines: list[str] = []
    try:
        app = cb.data.make_app(
            data.database_url(args.db, args.tickets), instance, auto_migrate=False
        )
        with app.app_context():
            app.extensions["crm"].ensure_ready()
        engine = app.extensions["crm"].db.engine
        log = cb.SqlLog(engine)
        bare = cb.Bare(engine)
        c, sec = meta["counts"], meta["seconds"]
        rep.text(f"## Service at {c['tickets']:,} tickets ({args.db})")
        rep.text()
        for line in cb.environment(args.db, engine):
            rep.text(line)
        rep.text(
            f"- data: {c['customers']:,} customers, {c['tickets']:,} tickets ({c['open']:,} open, "
            f"{c['breaches_due']:,} breaches due), {c['surveys']:,} surveys; "
            f"{'generated now' if generated else 'reused'} (load {sec['total']} s: tickets "
            f"{sec['tickets']} s, indexes + analyze {sec['indexes_analyze']} s)"
        )
        rep.text(
            f"- {samples} samples per row after {warm} warm-up calls; app and bare SQL alternate"
        )
        rep.text()

        # 1. the escalation job
        job_rows = []
        now = data.NOW
        for label, at, n in (
            (f"{c['breaches_due']:,} breaches due", now, max(3, samples // 3)),
            ("nothing due (the usual run)", now - timedelta(hours=400), samples),
        ):
            app_fn = job_runner(app, at)
            bare_fn = bare_job(engine, at)
            escalated = app_fn()
            times, sqlt, nq = cb.interleaved({"app": app_fn, "bare": bare_fn}, n, 1, log)
            app_med = cb.summarize(times["app"])[0]
            bare_med = cb.summarize(times["bare"])[0]
            job_rows.append(
                [
                    label,
                    f"{escalated:,}",
                    cb.fmt_time(app_med),
                    cb.fmt_time(cb.summarize(sqlt["app"])[0]),
                    f"{int(cb.summarize(nq['app'])[0]):,}",
                    cb.fmt_time(bare_med),
                    f"×{app_med / bare_med:.2f}" if bare_med else "-",
                    cb.fmt_time(app_med / escalated) if escalated else "-",
                ]
            )
            sql_lines.append(f"### job, {label}: bare SQL")
            for s in bare_fn.sql:
                sql_lines.append(s + ";")
            sql_lines.append(
                bare.explain(
                    "SELECT id FROM service_ticket WHERE watch_at <= "
                    + ("?" if args.db == "sqlite" else "%s")
                    + " ORDER BY watch_at, id LIMIT 500",
                    (at.strftime("%Y-%m-%d %H:%M:%S.%f") if args.db == "sqlite" else at,),
                )
            )
            bare_fn.close()
            print(job_rows[-1], flush=True)
        rep.table(
            "Service-level escalation job (scheduled job function, rolled back per run)",
            [
                "run",
                "escalated",
                "median",
                "SQL inside",
                "statements",
                "bare set-based SQL",
                "ratio",
                "per breach",
            ],
            job_rows,
        )

        # 2. reports
        leader = Who(app, data.LEADER_EMAIL, "leader (east tree)")
        admin = Who(app, data.ADMIN_EMAIL, "admin (all)")
        cases = [
            ("baseline: categories (the host's fixed cost)", leader, "/api/v1/service/categories"),
            ("tickets by status", leader, "/api/v1/service/reports/status"),
            ("tickets by status", admin, "/api/v1/service/reports/status"),
            ("tickets by category", admin, "/api/v1/service/reports/category"),
            ("tickets by department (open, overdue)", admin, "/api/v1/service/reports/department"),
            ("open tickets by age", leader, "/api/v1/service/reports/age"),
            ("open tickets by age", admin, "/api/v1/service/reports/age"),
            ("resolution time by month", admin, "/api/v1/service/reports/resolution"),
            (
                "resolution time, this year",
                leader,
                "/api/v1/service/reports/resolution?since=2026-01-01",
            ),
            ("SLA compliance by month", admin, "/api/v1/service/reports/sla"),
            ("SLA compliance, this year", leader, "/api/v1/service/reports/sla?since=2026-01-01"),
            ("CSAT per agent", admin, "/api/v1/service/reports/satisfaction?group=agent"),
            ("CSAT per month", leader, "/api/v1/service/reports/satisfaction?group=month"),
            ("CSAT per category", admin, "/api/v1/service/reports/satisfaction?group=category"),
            ("overdue tickets (list page 1)", leader, "/api/v1/tickets?overdue=true"),
            ("overdue tickets (list page 1)", admin, "/api/v1/tickets?overdue=true"),
            ("ticket list page 1", leader, "/api/v1/tickets"),
        ]
        rows = []
        for label, who, url in cases:
            fn = who.get(url)
            _resp, stmts = log.record(fn)
            ours = [(s, p, dt) for s, p, dt in stmts if touches_ours(s)]
            bare_run = bare.runner(ours)
            times, sqlt, _nq = cb.interleaved({"app": fn, "bare": bare_run}, samples, warm, log)
            app_med, app_p90, _n = cb.summarize(times["app"])
            bare_med = cb.summarize(times["bare"])[0]
            rows.append(
                [
                    label,
                    who.label,
                    cb.fmt_time(app_med),
                    cb.fmt_time(app_p90),
                    cb.fmt_time(cb.summarize(sqlt["app"])[0]),
                    cb.fmt_time(bare_med),
                    f"{len(ours)}",
                    f"×{app_med / bare_med:.2f}" if bare_med else "-",
                ]
            )
            sql_lines.append(
                f"### {label} — {who.label}: app {cb.fmt_time(app_med)}, bare {cb.fmt_time(bare_med)}"
            )
            for s, p, dt in ours:
                sql_lines.append(f"-- {cb.fmt_time(dt)}  params={p!r}\n{s}")
                try:
                    sql_lines.append(bare.explain(s, p))
                except Exception as exc:  # a plan is a courtesy
                    sql_lines.append(f"(no plan: {exc})")
                sql_lines.append("")
            print(rows[-1], flush=True)
        rep.table(
            "Reports: median latency, request vs the bare SQL it needs",
            [
                "request",
                "as",
                "median",
                "p90",
                "SQL inside the request",
                "bare SQL (median)",
                "statements",
                "ratio",
            ],
            rows,
        )
        bare.close()
        outd = HERE / "out"
        outd.mkdir(exist_ok=True)
        (outd / f"service-{args.db}-{args.tickets}.md").write_text("\n".join(rep.parts) + "\n")
        (outd / f"service-{args.db}-{args.tickets}-sql.txt").write_text("\n".join(sql_lines) + "\n")
        app.extensions["crm"].db.dispose()
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()

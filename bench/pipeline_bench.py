#!/usr/bin/env python
"""Benchmarks of the pipeline module on a large pipeline (not tests: nothing here asserts a
time).

    python bench/pipeline_bench.py --db sqlite   --deals 1000000 --activities 5000000
    python bench/pipeline_bench.py --db postgres --deals 1000000 --activities 5000000
    python bench/pipeline_bench.py --db sqlite   --deals 20000 --activities 100000 --customers 5000 --quick

The data comes from ``bench/pipeline_data.py`` (generated once, then reused; ``--regenerate``
forces a new one). Every request runs in-process through the Flask test client with an API
token: the funnel report and the quarterly performance report as a regional *leader* (scope:
their department tree, a fifth of the deals) and as an *admin* (everything); the "customers
overdue for contact" list as a *sales person* (their own ~4,000 customers) and as the leader
looking at that sales person. Each request is timed next to the bare SQL it needs: the
statements the request ran on ``pipeline_*`` / ``customers_*`` tables, captured with
SQLAlchemy's ``before_cursor_execute`` event and replayed with the same parameters on a raw
DBAPI connection of the same engine (fetching every row). Requests and bare SQL take turns
sample by sample (``customers_bench.interleaved``).

Writes ``bench/out/pipeline-<db>-<deals>.md`` (tables) and ``…-sql.txt`` (every captured
statement with its query plan).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import customers_bench as cb  # noqa: E402  (statistics, SQL capture, bare replay, report)
import pipeline_data as data  # noqa: E402


def touches_ours(stmt: str) -> bool:
    return bool(re.search(r"\b(pipeline|customers)_\w+", stmt))


Who = cb.ApiUser  # a personal-token API caller (shared with the other benches)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--activities", type=int, default=5_000_000)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    ap.add_argument("--samples", type=int, default=None)
    args = ap.parse_args(argv)
    samples = args.samples or (5 if args.quick else 15)
    warm = 1 if args.quick else 2

    meta, generated = data.ensure(
        args.db, args.deals, args.activities, args.customers, args.regenerate
    )
    instance = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    rep = cb.Report()
    sql_lines: list[str] = []
    try:
        app = cb.data.make_app(data.database_url(args.db, args.deals), instance, auto_migrate=False)
        with app.app_context():
            app.extensions["crm"].ensure_ready()
        engine = app.extensions["crm"].db.engine
        log = cb.SqlLog(engine)
        bare = cb.Bare(engine)
        leader = Who(app, data.LEADER_EMAIL, "leader (east tree)")
        admin = Who(app, data.ADMIN_EMAIL, "admin (all)")
        sales = Who(app, data.SALES_EMAIL, "sales person (own)")
        rep.text(
            f"## Pipeline at {meta['counts']['deals']:,} deals / {meta['counts']['activities']:,} activities ({args.db})"
        )
        rep.text()
        for line in cb.environment(args.db, engine):
            rep.text(line)
        c, sec = meta["counts"], meta["seconds"]
        rep.text(
            f"- data: {c['customers']:,} customers, {c['deals']:,} deals, {c['activities']:,} activities, "
            f"{c['targets']:,} targets, {c['sales']} sales people; "
            f"{'generated now' if generated else 'reused'} (load {sec['total']} s: deals {sec['deals']} s, "
            f"activities {sec['activities']} s, indexes + analyze {sec['indexes_analyze']} s)"
        )
        rep.text(
            f"- {samples} samples per row after {warm} warm-up calls; request and bare SQL alternate"
        )
        rep.text()
        cases = [
            ("baseline: stage list (the host's fixed cost)", leader, "/api/v1/pipeline/stages"),
            ("funnel", leader, "/api/v1/reports/funnel"),
            ("funnel", admin, "/api/v1/reports/funnel"),
            ("funnel, opened this year", leader, "/api/v1/reports/funnel?since=2026-01-01"),
            (
                "performance, this quarter",
                leader,
                "/api/v1/reports/performance?period_kind=quarter",
            ),
            ("performance, this quarter", admin, "/api/v1/reports/performance?period_kind=quarter"),
            ("forecast, 6 months", leader, "/api/v1/reports/forecast"),
            ("overdue for contact", sales, "/api/v1/activities/overdue-customers"),
            (
                "overdue for contact (of sales01)",
                leader,
                f"/api/v1/activities/overdue-customers?owner_id={sales.id}",
            ),
            ("reports page (HTML)", leader, None),
        ]
        rows = []
        for label, who, url in cases:
            if url is None:
                client = cb.login_client(app, data.LEADER_EMAIL)

                def fn(client=client):
                    r = client.get("/pipeline/reports")
                    if r.status_code != 200:
                        raise RuntimeError(f"reports page: {r.status_code}")
                    return r
            else:
                fn = who.get(url)
            resp, stmts = log.record(fn)
            ours = [(s, p, dt) for s, p, dt in stmts if touches_ours(s)]
            bare_run = bare.runner(ours)
            times, sqlt, nq = cb.interleaved({"app": fn, "bare": bare_run}, samples, warm, log)
            app_med, app_p90, _n = cb.summarize(times["app"])
            bare_med, bare_p90, _n = cb.summarize(times["bare"])
            sql_med = cb.summarize(sqlt["app"])[0]
            rows.append(
                [
                    label,
                    who.label,
                    cb.fmt_time(app_med),
                    cb.fmt_time(app_p90),
                    cb.fmt_time(sql_med),
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
                except Exception as exc:  # explain is a courtesy
                    sql_lines.append(f"(no plan: {exc})")
                sql_lines.append("")
            print(rows[-1], flush=True)
        rep.table(
            "Median latency, request vs the bare SQL it needs",
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
        OUTD = HERE / "out"
        OUTD.mkdir(exist_ok=True)
        (OUTD / f"pipeline-{args.db}-{args.deals}.md").write_text("\n".join(rep.parts) + "\n")
        (OUTD / f"pipeline-{args.db}-{args.deals}-sql.txt").write_text("\n".join(sql_lines) + "\n")
        app.extensions["crm"].db.dispose()
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    _ = os


if __name__ == "__main__":
    main()

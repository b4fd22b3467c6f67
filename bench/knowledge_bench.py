#!/usr/bin/env python
"""Benchmark: knowledge-base search (KB-6) at 200,000 articles next to the bare full-text
SQL, and the public help center's page latency (KB-7).

    python bench/knowledge_data.py --db sqlite --articles 200000      # once (bench/out/)
    python bench/knowledge_bench.py --db sqlite   --articles 200000
    python bench/knowledge_bench.py --db postgres --articles 200000

For each query (Chinese two- and four-character words in Traditional and Simplified
characters, English words, common and rare) it reports the median of ``--repeat`` runs of:

* **bare**: the full-text query alone, best 20 by rank: on SQLite
  ``SELECT rowid FROM knowledge_article_fts WHERE knowledge_article_fts MATCH ? ORDER BY rank
  LIMIT 20``, on PostgreSQL ``SELECT id FROM knowledge_article WHERE search_vector @@ q ORDER
  BY ts_rank(search_vector, q, 1) DESC LIMIT 20``;
* **search**: ``crm_knowledge.services.search`` for a staff member (the Q&A bank hook and the
  global search box): the same ranked query with the visibility rule in SQL (published;
  internal or public, or restricted with a rule naming one of the person's roles or their
  department), top 20, articles loaded;
* **list page**: ``services.list_articles`` (what ``GET /api/v1/articles?q=`` runs): the page
  of 20 plus the total, exact up to ``CRM_COUNT_CAP`` (10,000);
* **API**: the whole HTTP request ``GET /api/v1/articles?q=…`` with a token (JSON, snippets,
  highlighting) through the WSGI test client;
* ratios search/bare and page/bare, and the number of matching articles.

Then the public help center, signed out, through the WSGI test client: the median of
``GET /kb/a/<id>?lang=en`` over 200 random public articles (rendering, a view count write),
of a repeated request answered 304 from its ETag, and of ``GET /kb/search?q=…``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import knowledge_data as kd  # noqa: E402

QUERIES = [
    ("zh_Hant 2 chars, common", "理賠"),
    ("zh_Hant 2 chars, rare", "竊盜"),
    ("zh_Hant 4 chars", "道路救援"),
    ("zh_Hans 2 chars", "理赔"),
    ("zh_Hans 3 chars", "医疗险"),
    ("en word, common", "claim"),
    ("en word, rare", "subrogation"),
    ("en two words", "roadside assistance"),
]


def _median_ms(fn, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(db: str, n: int, repeat: int) -> dict:
    from flask_login import login_user
    from sqlalchemy import select, text

    from crm_host import textsearch
    from crm_host.models import User
    from crm_host.security import create_token

    meta, _made = kd.ensure(db, n)
    instance = Path(tempfile.mkdtemp(prefix="knowledge-bench-run-"))
    app = kd.make_app(kd.database_url(db, n), instance)
    out = {"db": db, "articles": meta["counts"]["articles"], "queries": [], "public": {}}
    with app.app_context():
        crm = app.extensions["crm"]
        crm.ensure_ready()
        from crm_knowledge import services

        with crm.db.session_scope() as s:
            staff = s.scalar(select(User).where(User.email == kd.STAFF_EMAIL))
            _tok, secret = create_token(s, staff, "bench")
        pg = crm.db.engine.dialect.name == "postgresql"
        client = app.test_client()
        headers = {"Authorization": f"Bearer {secret}"}
        for label, q in QUERIES:
            with app.test_request_context(), crm.db.session_scope() as s:
                user = s.scalar(select(User).where(User.email == kd.STAFF_EMAIL))
                login_user(user)
                conn = s.connection()
                if pg:
                    tsq = textsearch.pg_tsquery(q)
                    bare_sql = text(
                        "SELECT id FROM knowledge_article WHERE search_vector @@ "
                        "to_tsquery('simple', :q) ORDER BY ts_rank(search_vector, "
                        "to_tsquery('simple', :q), 1) DESC LIMIT 20"
                    ).bindparams(q=tsq)
                    count_sql = text(
                        "SELECT count(*) FROM knowledge_article WHERE search_vector @@ "
                        "to_tsquery('simple', :q)"
                    ).bindparams(q=tsq)
                else:
                    m = textsearch.fts5_match(q)
                    bare_sql = text(
                        "SELECT rowid FROM knowledge_article_fts WHERE knowledge_article_fts "
                        "MATCH :m ORDER BY rank LIMIT 20"
                    ).bindparams(m=m)
                    count_sql = text(
                        "SELECT count(*) FROM knowledge_article_fts WHERE "
                        "knowledge_article_fts MATCH :m"
                    ).bindparams(m=m)
                matches = conn.execute(count_sql).scalar()
                bare = _median_ms(lambda c=conn, b=bare_sql: c.execute(b).all(), repeat)
                cond = services.visible_condition(user)

                def search(s=s, cond=cond, q=q):
                    s.expunge_all()
                    return services.search(s, cond, q, 20)

                found = len(search())
                srch = _median_ms(search, repeat)

                def page(s=s, user=user, q=q):
                    s.expunge_all()
                    return services.list_articles(s, user, services.Filters(q=q), 1, 20)

                page_ms = _median_ms(page, repeat)
            api_ms = _median_ms(
                lambda q=q: client.get(f"/api/v1/articles?q={q}", headers=headers),
                max(5, repeat // 2),
            )
            row = {
                "query": label,
                "q": q,
                "matches": matches,
                "returned": found,
                "bare_ms": round(bare, 2),
                "search_ms": round(srch, 2),
                "page_ms": round(page_ms, 2),
                "api_ms": round(api_ms, 2),
                "search_ratio": round(srch / bare, 2) if bare else None,
                "page_ratio": round(page_ms / bare, 2) if bare else None,
            }
            out["queries"].append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)

        # The public help center.
        with crm.db.session_scope() as s:
            order = "random()"
            ids = list(
                s.scalars(
                    text(
                        "SELECT id FROM knowledge_article WHERE status = 'published' AND "
                        f"visibility = 'public' ORDER BY {order} LIMIT 200"
                    )
                )
            )
        anon = app.test_client()
        times = []
        etag = None
        for aid in ids:
            t0 = time.perf_counter()
            r = anon.get(f"/kb/a/{aid}?lang=en")
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.status_code
            etag = r.headers["ETag"]
        out["public"]["article_ms"] = round(statistics.median(times), 2)
        out["public"]["article_304_ms"] = round(
            _median_ms(
                lambda: anon.get(f"/kb/a/{ids[-1]}?lang=en", headers={"If-None-Match": etag}),
                50,
            ),
            2,
        )
        for q in ("理賠", "claim"):
            out["public"][f"search_{q}_ms"] = round(
                _median_ms(lambda q=q: anon.get(f"/kb/search?q={q}&lang=en"), 20), 2
            )
        out["public"]["home_ms"] = round(_median_ms(lambda: anon.get("/kb/?lang=en"), 20), 2)
        print(json.dumps(out["public"], ensure_ascii=False), flush=True)
        crm.db.dispose()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--articles", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=15)
    a = ap.parse_args(argv)
    res = run(a.db, a.articles, a.repeat)
    print("\n| query | matches | bare ms | search ms (×) | list page ms (×) | API ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in res["queries"]:
        print(
            f"| {r['query']} `{r['q']}` | {r['matches']:,} | {r['bare_ms']} | "
            f"{r['search_ms']} ({r['search_ratio']}×) | {r['page_ms']} ({r['page_ratio']}×) | "
            f"{r['api_ms']} |"
        )
    print("\npublic:", json.dumps(res["public"], ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Benchmark: the cost of posting a forum topic when 10,000 people have interest profiles
(FOR-3), next to the bare SQL match that finds whom to tell.

    python bench/forum_bench.py                      # SQLite in a temp dir, 10,000 profiles
    python bench/forum_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/forum_bench.py --users 50000 --topics 30

Every user gets a profile: 30 % follow one of 8 categories, everyone has 3 keywords drawn
from 400 (200 Chinese, 200 English; the tokens are stored as rows by the forum's own
tokeniser), 70 % want notifications at once, 20 % a daily digest, 10 % nothing. Each
measured topic mentions 4 of the keywords, so a few hundred people match. Reported:

* **match**: ``crm_forum.services.match_profiles`` alone (one SQL statement: keyword token
  rows joined against the topic's tokens, union the category followers, minus the author,
  the people who switched it off and those who may not read the category);
* **post**: ``services.create_topic`` + commit, i.e. what a person waits for: the topic row,
  its search tokens, the follow, the audit entry, the match, one outbox row per person told
  at once (``crm_host.notify``) and the digest rows;
* **post, nobody matches**: the same for a topic no profile matches (the floor).

Medians over ``--topics`` topics (default 20) of each kind.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid

WORDS_ZH = [
    a + b
    for a in [
        "報價",
        "合約",
        "續約",
        "客訴",
        "展會",
        "折扣",
        "物流",
        "付款",
        "庫存",
        "培訓",
        "招標",
        "代理",
        "售後",
        "新品",
        "渠道",
        "回款",
        "品牌",
        "樣品",
        "交期",
        "退貨",
    ]
    for b in ["", "流程", "策略", "經驗", "問題", "方案", "進度", "規則", "案例", "成本"]
][:200]
WORDS_EN = [
    f"{a}{b}"
    for a in [
        "pricing",
        "renewal",
        "complaint",
        "tender",
        "discount",
        "logistics",
        "payment",
        "inventory",
        "training",
        "channel",
        "warranty",
        "sample",
        "delivery",
        "refund",
        "forecast",
        "quota",
        "margin",
        "rebate",
        "upsell",
        "onboarding",
    ]
    for b in ["", "s", "plan", "team", "rules", "case", "review", "policy", "model", "check"]
][:200]
VOCAB = WORDS_ZH + WORDS_EN


def setup(url: str, users: int, seed: int):
    from sqlalchemy import insert, select

    from crm_host import modules
    from crm_host.app import create_app
    from crm_host.models import Role, User, user_roles

    tmp = tempfile.mkdtemp(prefix="crm-forum-bench-")
    app = create_app(
        {
            "CRM_DATABASE_URL": url,
            "CRM_SECRET_KEY": "bench-" + "x" * 40,
            "CRM_AUTO_MIGRATE": True,
            "CRM_MODULE_POLL_SECONDS": 0.0,
            "CRM_PUBLIC_URL": "http://crm.bench",
        },
        instance_path=f"{tmp}/instance",
    )
    crm = app.extensions["crm"]
    rng = random.Random(seed)
    with app.app_context():
        crm.ensure_ready()
        modules.enable(app, "forum", with_deps=True, actor="bench")
    from crm_forum import services
    from crm_forum.models import (
        InterestCategory,
        InterestKeyword,
        InterestToken,
        Profile,
    )

    t0 = time.perf_counter()
    with app.test_request_context(), crm.db.session_scope() as s:
        admin_role = s.scalar(select(Role).where(Role.name == "admin"))
        sales_role = s.scalar(select(Role.id).where(Role.name == "sales"))
        admin = User(email="admin@bench.test", name="Admin", is_active=True)
        admin.roles = [admin_role]
        s.add(admin)
        s.flush()
        cats = [services.save_category(s, admin, {"name": f"Category {i}"}) for i in range(8)]
        cat_ids = [c.id for c in cats]
        author = User(email="author@bench.test", name="Author", is_active=True)
        author.roles = [admin_role]
        s.add(author)
        s.flush()
        author_id = author.id
        ids = s.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "email": f"u{i}@bench.test",
                    "name": f"User {i}",
                    "is_active": True,
                    "version": 1,
                    "session_epoch": 0,
                }
                for i in range(users)
            ],
        ).all()
        rows = [{"id": uid} for uid in ids]
        s.execute(insert(user_roles), [{"user_id": r["id"], "role_id": sales_role} for r in rows])
        profiles, interests, keywords, tokens = [], [], [], []
        kw_id = 1
        for r in rows:
            uid = r["id"]
            x = rng.random()
            profiles.append(
                {"user_id": uid, "mode": "instant" if x < 0.7 else "digest" if x < 0.9 else "off"}
            )
            if rng.random() < 0.3:
                interests.append({"user_id": uid, "category_id": rng.choice(cat_ids)})
            for word in rng.sample(VOCAB, 3):
                toks = sorted(set(services.keyword_tokens(word)))
                keywords.append({"id": kw_id, "user_id": uid, "keyword": word, "tokens": len(toks)})
                tokens.extend({"keyword_id": kw_id, "token": t, "user_id": uid} for t in toks)
                kw_id += 1
        s.execute(insert(Profile), profiles)
        s.execute(insert(InterestCategory), interests)
        s.execute(insert(InterestKeyword), keywords)
        s.execute(insert(InterestToken), tokens)
    if url.startswith("postgresql"):
        with crm.db.engine.connect() as c:
            c.exec_driver_sql("ANALYZE")
            c.commit()
    print(
        f"setup: {users:,} users, {len(keywords):,} keywords, {len(tokens):,} token rows, "
        f"{len(interests):,} category interests in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return app, crm, cat_ids, author_id


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--topics", type=int, default=20)
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()

    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='crm-forum-bench-')}/bench.db"
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"

    app, crm, cat_ids, author_id = setup(url, args.users, args.seed)
    from crm_forum import services
    from crm_forum.models import DigestItem, Topic
    from sqlalchemy import func, select

    from crm_host.models import OutboxMessage, User

    rng = random.Random(args.seed + 1)
    match_ms, post_ms, empty_ms, told, queued = [], [], [], [], []
    with app.test_request_context():
        for i in range(args.topics):
            words = rng.sample(VOCAB, 4)
            title = f"{words[0]} 與 {words[1]}：本週討论 #{i}"
            body = f"We need to talk about {words[2]} and {words[3]}.\n\n" + "細節如下。" * 20
            cat = rng.choice(cat_ids)
            with crm.db.session_scope() as s:
                probe = Topic(id=-1, category_id=cat, author_id=author_id, title=title, body=body)
                probe.category = s.get(services.Category, cat)
                t = time.perf_counter()
                n = len(s.execute(services.match_profiles(s, probe)).all())
                match_ms.append((time.perf_counter() - t) * 1000)
            with crm.db.session_scope() as s:
                before = s.scalar(select(func.count()).select_from(OutboxMessage))
                dig = s.scalar(select(func.count()).select_from(DigestItem))
                author = s.get(User, author_id)
                t = time.perf_counter()
                services.create_topic(s, author, {"category_id": cat, "title": title, "body": body})
                s.commit()
                post_ms.append((time.perf_counter() - t) * 1000)
                told.append(s.scalar(select(func.count()).select_from(OutboxMessage)) - before)
                queued.append(s.scalar(select(func.count()).select_from(DigestItem)) - dig)
            assert told[-1] + queued[-1] <= n
            with crm.db.session_scope() as s:
                author = s.get(User, author_id)
                t = time.perf_counter()
                services.create_topic(
                    s,
                    author,
                    {
                        "category_id": cat,
                        "title": f"Nothing anyone follows {i}",
                        "body": "xyzzy plugh " * 30,
                    },
                )
                s.commit()
                empty_ms.append((time.perf_counter() - t) * 1000)

    def med(xs):
        return statistics.median(xs)

    dialect = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"\n{dialect}, {args.users:,} profiles, medians over {args.topics} topics")
    print(
        f"  match (SQL only)          {med(match_ms):8.1f} ms   "
        f"(min {min(match_ms):.1f}, max {max(match_ms):.1f})"
    )
    print(
        f"  post a matching topic     {med(post_ms):8.1f} ms   "
        f"(min {min(post_ms):.1f}, max {max(post_ms):.1f})"
    )
    print(f"  post, nobody matches      {med(empty_ms):8.1f} ms")
    print(f"  people told at once       {med(told):8.0f}      (outbox rows, median)")
    print(f"  queued for the digest     {med(queued):8.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""A large knowledge base for the knowledge benchmarks (not a test fixture).

    python bench/knowledge_data.py --db sqlite   --articles 200000 [--regenerate]
    python bench/knowledge_data.py --db postgres --articles 200000 [--regenerate]

Builds N articles and Q&A in Traditional Chinese (45 %), Simplified Chinese (25 %) and
English (30 %) from an insurance / after-sales vocabulary whose words occur with a Zipf-like
frequency (common words in a third of the articles, rare ones in a few dozen), 60 categories
in a two-level tree, tags, an English translation on 10 % of the Chinese articles. Status and
visibility: 90 % published; 65 % internal, 25 % public, 10 % restricted to a role or a
department (rule rows).

The schema comes from the real migrations (``create_app`` + ``modules.enable(app,
"knowledge")``). Rows are written in bulk (executemany on SQLite, ``COPY`` on PostgreSQL);
``search_text`` is computed with ``crm_host.textsearch.index_text`` from the same parts as
``crm_knowledge.services.reindex`` (the title twice, the body, the tags, the translation;
bodies are plain text, so the Markdown step is skipped). The FTS5 triggers and the secondary
indexes are dropped during the load and made again afterwards (FTS5 ``'rebuild'``);
PostgreSQL gets ``VACUUM (ANALYZE)``.

SQLite: ``bench/out/knowledge-<N>.db`` (gitignored). PostgreSQL: schema ``bench_knowledge``
in ``postgresql+psycopg://postgres@127.0.0.1:5432/test``. Seeded: two runs make the same data.
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

import benchdb  # noqa: E402  (bulk writes)

from crm_host import textsearch  # noqa: E402

GEN_VERSION = "2"
SEED = 20261124
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_knowledge"
SECRET = "bench-secret-key-not-for-production-0123456789"
PASSWORD = "password123"
STAFF_EMAIL = "staff@bench.test"
CHUNK = 5000
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

ZH_HANT = (
    "理賠 保單 車險 壽險 醫療險 旅平險 保費 續保 退保 核保 保險金 受益人 要保人 被保險人 "
    "申請書 診斷證明 收據 事故證明 等待期 除外責任 免賠額 住院 手術 意外 身故 殘廢 "
    "繳費 信用卡 轉帳 發票 退費 保固 維修 安裝 退貨 換貨 客服 門市 會員 積分 優惠 "
    "合約 條款 規則 流程 文件 期限 審核 資格 年齡 職業 體檢 告知義務 契約撤銷 "
    "颱風 地震 火災 竊盜 玻璃 拖吊 道路救援 出險 估價 定損 代位求償"
).split()
ZH_HANS = (
    "理赔 保单 车险 寿险 医疗险 旅平险 保费 续保 退保 核保 保险金 受益人 投保人 被保险人 "
    "申请书 诊断证明 收据 事故证明 等待期 免责条款 免赔额 住院 手术 意外 身故 伤残 "
    "缴费 信用卡 转账 发票 退费 保修 维修 安装 退货 换货 客服 门店 会员 积分 优惠 "
    "合同 条款 规则 流程 文件 期限 审核 资格 年龄 职业 体检 告知义务 犹豫期 "
    "台风 地震 火灾 盗窃 玻璃 拖车 道路救援 出险 估价 定损 代位追偿"
).split()
EN = (
    "claim policy premium renewal cancellation underwriting beneficiary insured holder "
    "hospital surgery accident death disability waiting period exclusion deductible "
    "payment invoice refund warranty repair installation return exchange support store "
    "member points discount contract clause rule process document deadline review "
    "eligibility age occupation checkup disclosure cooling typhoon earthquake fire theft "
    "glass towing roadside assistance assessment estimate subrogation travel medical car "
    "life luggage delay coverage limit reimbursement receipt diagnosis form approval"
).split()
GLUE_HANT = "的 與 及 如何 需要 可以 是否 請 在 後 前 內 由 將 已".split()
GLUE_HANS = "的 与 及 如何 需要 可以 是否 请 在 后 前 内 由 将 已".split()
GLUE_EN = "the a of to and for how when what is can you your with after before within".split()


def _log(msg: str) -> None:
    print(f"[data {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sqlite_path(n: int) -> Path:
    return OUT / f"knowledge-{n}.db"


def database_url(db: str, n: int) -> str:
    if db == "sqlite":
        return f"sqlite:///{sqlite_path(n)}"
    return f"{PG_BASE}?options=-csearch_path%3D{PG_SCHEMA}"


def make_app(url: str, instance: Path):
    from crm_host.app import create_app

    return create_app(
        {
            "CRM_DATABASE_URL": url,
            "CRM_SECRET_KEY": SECRET,
            "CRM_DISCOVER_PLUGINS": True,
            "CRM_AUTO_MIGRATE": True,
        },
        instance_path=str(instance),
    )


def read_meta(db: str, n: int) -> dict | None:
    from sqlalchemy import create_engine, text

    if db == "sqlite" and not sqlite_path(n).exists():
        return None
    engine = create_engine(database_url(db, n))
    try:
        with engine.connect() as conn:
            return {
                k: json.loads(v) for k, v in conn.execute(text("SELECT key, value FROM bench_meta"))
            }
    except Exception:
        return None
    finally:
        engine.dispose()


# Everyday words around the domain terms: 3,000 two-character Chinese words from common
# characters (Traditional and Simplified pools) and 3,000 English-like words.
_HANT_CHARS = (
    "的一是不了人我在有他這中大來上國個到說們為子和你地出道也時年得就那要下以生會自著去之過"
    "家學對可她裡後小麼心多天而能好都然沒日於起還發成事只作當想看文無開手十用主行方又如前所本"
    "見經頭面公同三已老從動兩長知民樣現分將外但身些與高意進把法此實回二理美點月明其種聲全工己話"
    "兒者向情部正名定女問力機給等幾很業最間新什打便位因重被走電四第門相次東政海口使教西再平真聽"
)
_HANS_CHARS = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
    "家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本"
    "见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话"
    "儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听"
)
_SYL = "ba be bi bo bu ka ke ki ko ku ta te ti to tu ra re ri ro ru na ne ni no nu ma me mi mo mu".split()


def _pool(chars: str, rng: random.Random) -> list[str]:
    return sorted({rng.choice(chars) + rng.choice(chars) for _ in range(3000)})


_POOL_RNG = random.Random(7)
FILL_HANT = _pool(_HANT_CHARS, _POOL_RNG)
FILL_HANS = _pool(_HANS_CHARS, _POOL_RNG)
FILL_EN = sorted(
    {"".join(_POOL_RNG.choice(_SYL) for _ in range(_POOL_RNG.randint(2, 4))) for _ in range(3000)}
)


def _zipf_pick(rng: random.Random, words: list[str]) -> str:
    """A domain word, rank r with weight 1/(r+10): the first in about a third of the
    articles, the last in a few percent (as in a real insurance knowledge base)."""
    n = len(words)
    # Inverse of the cumulative weight: ln((r+10)/10) / ln((n+10)/10) is uniform.
    r = int(10 * ((n + 10) / 10) ** rng.random()) - 10
    return words[min(max(r, 0), n - 1)]


def _sentence(rng, words, glue, sep, n, fill=None, domain_share=1.0):
    out = []
    for _ in range(n):
        if fill is not None and rng.random() > domain_share:
            out.append(rng.choice(fill))
        else:
            out.append(_zipf_pick(rng, words))
        if rng.random() < 0.4:
            out.append(rng.choice(glue))
    return sep.join(out)


def _text(rng, lang: str, n_title: int, n_body: int) -> tuple[str, str]:
    """Titles are half domain words; in bodies one word in 12 is a domain word."""
    if lang == "en":
        title = _sentence(rng, EN, GLUE_EN, " ", n_title, FILL_EN, 0.5).capitalize() + "?"
        body = ". ".join(
            _sentence(rng, EN, GLUE_EN, " ", 12, FILL_EN, 1 / 12).capitalize()
            for _ in range(n_body)
        )
        return title, body + "."
    words, glue, fill = (
        (ZH_HANT, GLUE_HANT, FILL_HANT) if lang == "zh_Hant" else (ZH_HANS, GLUE_HANS, FILL_HANS)
    )
    title = _sentence(rng, words, glue, "", n_title, fill, 0.5) + "？"
    body = "。".join(_sentence(rng, words, glue, "", 10, fill, 1 / 12) for _ in range(n_body))
    return title, body + "。"


ARTICLE_COLS = (
    "id", "kind", "category_id", "title", "body", "body_html", "locale", "status",
    "visibility", "author_id", "published_at", "tags", "search_text", "view_count",
    "helpful_yes", "helpful_no", "version", "created_at", "updated_at",
)  # fmt: skip


def _ts(dt: datetime, sqlite: bool):
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else dt


def generate(db: str, n: int) -> dict:
    from sqlalchemy import select

    from crm_host import modules, people
    from crm_host.models import Department, Role

    t_all = time.perf_counter()
    url = database_url(db, n)
    benchdb.fresh_database(db, sqlite_path(n), PG_BASE, PG_SCHEMA)
    instance = Path(tempfile.mkdtemp(prefix="knowledge-bench-"))
    rng = random.Random(SEED)
    try:
        app = make_app(url, instance)
        with app.app_context():
            crm = app.extensions["crm"]
            crm.ensure_ready()
            modules.enable(app, "knowledge", actor="bench")
            from crm_knowledge.models import Category

            with crm.db.session_scope() as s:
                depts = []
                for name in ("理賠部 Claims", "業務部 Sales", "客服部 Service", "法務部 Legal"):
                    d = Department(name=name)
                    s.add(d)
                    depts.append(d)
                s.flush()
                dept_ids = [d.id for d in depts]
                role_ids = [r.id for r in s.scalars(select(Role))]
                editor = people.create_user(
                    s, "editor@bench.test", "Editor", PASSWORD, roles=("leader",)
                )
                people.create_user(
                    s, STAFF_EMAIL, "Staff", PASSWORD, roles=("staff",),
                    department_id=dept_ids[1],
                )  # fmt: skip
                s.flush()
                editor_id = editor.id
                top = []
                for i in range(12):
                    c = Category(name=f"{ZH_HANT[i]} {EN[i]}", names={"en": EN[i]}, position=i)
                    s.add(c)
                    top.append(c)
                s.flush()
                cats = [c.id for c in top]
                for i in range(48):
                    c = Category(
                        name=f"{ZH_HANT[12 + i % 40]} {EN[12 + i % 40]}",
                        names={},
                        parent_id=top[i % 12].id,
                        position=i,
                    )
                    s.add(c)
                    s.flush()
                    cats.append(c.id)
            engine = crm.db.engine
            dialect = engine.dialect.name
            sqlite = dialect == "sqlite"

            t0 = time.perf_counter()
            with engine.begin() as conn:
                idx = _secondary_indexes(conn, dialect)
                for name, _sql in idx:
                    conn.exec_driver_sql(f"DROP INDEX {name}")
                if sqlite:
                    for t in ("ai", "ad", "au"):
                        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS knowledge_article_fts_{t}")
            raw = engine.raw_connection()
            if sqlite:
                raw.execute("PRAGMA synchronous=OFF")

            translations, tags_rows, rules = [], [], []

            def rows():
                for i in range(1, n + 1):
                    r = rng.random()
                    lang = "zh_Hant" if r < 0.45 else ("zh_Hans" if r < 0.70 else "en")
                    title, body = _text(rng, lang, rng.randint(3, 6), rng.randint(4, 10))
                    tags = sorted(
                        {_zipf_pick(rng, EN if lang == "en" else ZH_HANT) for _ in range(2)}
                    )
                    status = "published" if rng.random() < 0.9 else "draft"
                    v = rng.random()
                    vis = "internal" if v < 0.65 else ("public" if v < 0.90 else "restricted")
                    parts = [title, title, body, " ".join(tags)]
                    if lang != "en" and rng.random() < 0.10:
                        t_title, t_body = _text(rng, "en", 4, 3)
                        translations.append((i, "en", t_title, t_body, f"<p>{t_body}</p>"))
                        parts += [t_title, t_title, t_body]
                    for t in tags:
                        tags_rows.append((i, t))
                    if vis == "restricted":
                        if rng.random() < 0.5:
                            rules.append((i, rng.choice(role_ids), None))
                        else:
                            rules.append((i, None, rng.choice(dept_ids)))
                    when = NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 900))
                    yield (
                        i,
                        "qa" if rng.random() < 0.6 else "article",
                        rng.choice(cats),
                        title,
                        body,
                        f"<p>{body}</p>",
                        lang,
                        status,
                        vis,
                        editor_id,
                        _ts(when, sqlite) if status == "published" else None,
                        "|".join(tags),
                        textsearch.index_text(*parts),
                        rng.randint(0, 5000),
                        rng.randint(0, 50),
                        rng.randint(0, 20),
                        1,
                        _ts(when, sqlite),
                        _ts(when, sqlite),
                    )

            _log(f"articles: {n:,}")
            na = _bulk(raw, dialect, "knowledge_article", ARTICLE_COLS, rows())
            _bulk(raw, dialect, "knowledge_translation",
                  ("article_id", "locale", "title", "body", "body_html"), translations)  # fmt: skip
            _bulk(raw, dialect, "knowledge_tag", ("article_id", "tag"), tags_rows)
            _bulk(raw, dialect, "knowledge_access_rule",
                  ("article_id", "role_id", "department_id"), rules)  # fmt: skip
            raw.close()
            t_load = time.perf_counter() - t0
            t0 = time.perf_counter()
            _log(f"indexes: {len(idx)} + full text")
            with engine.begin() as conn:
                for _name, sql in idx:
                    conn.exec_driver_sql(sql)
                if sqlite:
                    for stmt in textsearch._sqlite_objects("knowledge_article"):
                        conn.exec_driver_sql(stmt)
                else:
                    conn.exec_driver_sql(
                        "SELECT setval(pg_get_serial_sequence('knowledge_article', 'id'), "
                        "(SELECT max(id) FROM knowledge_article))"
                    )
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
                    "articles": na,
                    "translations": len(translations),
                    "tags": len(tags_rows),
                    "rules": len(rules),
                    "categories": len(cats),
                },
                "seconds": {
                    "load": round(t_load, 1),
                    "indexes": round(t_index, 1),
                    "total": round(time.perf_counter() - t_all, 1),
                },
            }
            with engine.begin() as conn:
                _write_meta(conn, meta)
            crm.db.dispose()
        return meta
    finally:
        shutil.rmtree(instance, ignore_errors=True)


TABLES = ("knowledge_article", "knowledge_tag", "knowledge_access_rule", "knowledge_translation")


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
        raw, dialect, table, cols, rows, chunk=CHUNK, log_every=50_000, log=_log
    )


def _write_meta(conn, meta: dict) -> None:
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS bench_meta (key VARCHAR(64) PRIMARY KEY, value TEXT)"
    )
    conn.exec_driver_sql("DELETE FROM bench_meta")
    for k, v in meta.items():
        conn.exec_driver_sql(
            "INSERT INTO bench_meta (key, value) VALUES (?, ?)"
            if conn.dialect.name == "sqlite"
            else "INSERT INTO bench_meta (key, value) VALUES (%s, %s)",
            (k, json.dumps(v)),
        )


def ensure(db: str, n: int, regenerate=False) -> tuple[dict, bool]:
    meta = read_meta(db, n)
    if (
        not regenerate
        and meta
        and meta.get("gen_version") == GEN_VERSION
        and meta["counts"].get("articles") == n
    ):
        return meta, False
    return generate(db, n), True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--articles", type=int, default=200_000)
    ap.add_argument("--regenerate", action="store_true")
    a = ap.parse_args(argv)
    meta, made = ensure(a.db, a.articles, a.regenerate)
    print(json.dumps({"generated": made, **meta}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

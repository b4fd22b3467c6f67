"""The pack format: reading, refusing malformed packs whole, installing idempotently and
upgrading without overwriting local edits."""

import pytest
from crm_knowledge import services
from crm_knowledge.models import Article, Category, PackInstall, Revision
from crm_knowledge.packs import KnowledgePack, PackError, install
from knowledge_testkit import ARTICLES, PACK_TOML, write_pack
from sqlalchemy import select


def test_reads_a_pack(tmp_path):
    pack = KnowledgePack.from_directory(write_pack(tmp_path / "p"))
    assert pack.name == "insurance-faq" and pack.version == "1.0.0"
    assert pack.label("en") == "Insurance FAQ" and pack.label("zh_Hans") == "保险常见问题"
    assert [c.key for c in pack.categories] == ["claims", "car"]
    assert pack.categories[1].parent == "claims"
    by = {a.slug: a for a in pack.articles}
    qa = by["car-claim-documents"]
    assert qa.kind == "qa" and qa.category == "car" and qa.tags == ("車險", "理賠")
    assert set(qa.translations) == {"en", "zh_Hans"}
    assert qa.translations["en"][0].startswith("Which documents")
    assert by["underwriting-rules"].visibility == "internal"


def test_reads_from_importlib_resources_traversable(tmp_path):
    from importlib.resources.readers import MultiplexedPath

    root = write_pack(tmp_path / "p")
    pack = KnowledgePack.from_directory(MultiplexedPath(str(root)))
    assert len(pack.articles) == 2


def _bad(tmp_path, articles=None, toml=None):
    with pytest.raises(PackError) as exc:
        KnowledgePack.from_directory(write_pack(tmp_path / "bad", articles=articles, toml=toml))
    return str(exc.value)


def _article(**front):
    lines = ["+++"] + [f"{k} = {v}" for k, v in front.items()] + ["+++", "Body text."]
    return "\n".join(lines) + "\n"


GOOD = dict(kind='"qa"', category='"claims"', title='"Q?"', visibility='"public"')


@pytest.mark.parametrize(
    "front,field",
    [
        ({**GOOD, "category": '"nope"'}, "category"),
        ({k: v for k, v in GOOD.items() if k != "title"}, "title"),
        ({**GOOD, "kind": '"faq"'}, "kind"),
        ({**GOOD, "visibility": '"secret"'}, "visibility"),
        ({**GOOD, "visiblity": '"public"'}, "visiblity"),
        ({**GOOD, "tags": '"not-a-list"'}, "tags"),
    ],
)
def test_malformed_article_named_with_file_and_field(tmp_path, front, field):
    msg = _bad(tmp_path, articles={**ARTICLES, "broken-one.md": _article(**front)})
    assert "articles/broken-one.md" in msg and f"'{field}'" in msg


def test_bad_toml_names_the_file(tmp_path):
    msg = _bad(tmp_path, articles={"x.md": "+++\nkind = qa\n+++\nbody\n"})
    assert "articles/x.md" in msg and "TOML" in msg
    msg = _bad(tmp_path, toml='name = "x\n')
    assert "pack.toml" in msg


def test_translation_without_source_and_unknown_locale(tmp_path):
    msg = _bad(tmp_path, articles={"lonely.en.md": '+++\ntitle = "Hi"\n+++\nbody\n'})
    assert "articles/lonely.en.md" in msg and "source" in msg
    msg = _bad(
        tmp_path,
        articles={**ARTICLES, "car-claim-documents.fr.md": '+++\ntitle = "Oui"\n+++\nbody\n'},
    )
    assert "articles/car-claim-documents.fr.md" in msg and "'locale'" in msg


def test_duplicate_slug_and_bad_manifest(tmp_path):
    msg = _bad(
        tmp_path,
        articles={**ARTICLES, "car-claim-documents.zh_Hant.md": '+++\ntitle = "再一次"\n+++\nb\n'},
    )
    assert "duplicate slug" in msg
    toml = PACK_TOML.format(name="Bad Name", version="1.0.0")
    assert "'name'" in _bad(tmp_path, toml=toml)
    toml = PACK_TOML.format(name="ok-name", version="one")
    assert "'version'" in _bad(tmp_path, toml=toml)
    toml = PACK_TOML.format(name="ok-name", version="1.0").replace(
        'parent = "claims"', 'parent = "x"'
    )
    assert "categories[1].parent" in _bad(tmp_path, toml=toml)
    toml = (
        PACK_TOML.format(name="ok-name", version="1.0")
        + '\n[[categories]]\nkey = "car"\nname = "Car"\n'
    )
    assert "duplicate category key" in _bad(tmp_path, toml=toml)
    toml = PACK_TOML.format(name="ok-name", version="1.0").replace(
        'en = "Insurance FAQ"', 'fr = "FAQ"'
    )
    assert "title.fr" in _bad(tmp_path, toml=toml)


def _articles(s):
    return {
        a.pack_key: a
        for a in s.scalars(select(Article).where(Article.pack_name == "insurance-faq"))
    }


def test_install_is_idempotent_and_upgrade_keeps_local_edits(
    knowledge, crm_db, tmp_path, make_user
):
    pack = KnowledgePack.from_directory(write_pack(tmp_path / "p"))
    r = install(crm_db, pack, actor="test")
    crm_db.commit()
    assert r.outcome == "installed" and len(r.created) == 2 and r.categories_created == 2
    arts = _articles(crm_db)
    qa = arts["car-claim-documents"]
    assert qa.status == "published" and qa.visibility == "public" and qa.locale == "zh_Hant"
    assert qa.translation("en").title.startswith("Which documents")
    assert qa.category.parent_id is not None

    # Installing again changes nothing.
    r = install(crm_db, pack, actor="test")
    assert r.outcome == "unchanged"
    assert crm_db.scalar(select(Category).where(Category.pack_key == "claims")) is not None
    assert len(list(crm_db.scalars(select(Category)))) == 2

    # Someone edits one article locally.
    editor = make_user("admin")
    with knowledge.test_request_context():
        from flask_login import login_user

        login_user(editor)
        services.update_article(
            crm_db, editor, qa, {"version": qa.version, "body": "我們公司的版本：另備身分證。"}
        )
    crm_db.commit()

    # A newer pack changes both articles.
    changed = dict(ARTICLES)
    changed["car-claim-documents.md"] = ARTICLES["car-claim-documents.md"].replace(
        "事故證明。", "事故證明與維修估價單。"
    )
    changed["underwriting-rules.md"] = ARTICLES["underwriting-rules.md"].replace(
        "加費標準", "加費標準（2027 年版）"
    )
    pack2 = KnowledgePack.from_directory(
        write_pack(tmp_path / "p", version="1.1.0", articles=changed)
    )
    with pytest.raises(PackError):
        install(crm_db, pack2)  # install refuses another version
    r = install(crm_db, pack2, actor="test", upgrade=True)
    crm_db.commit()
    assert r.outcome == "upgraded" and r.previous == "1.0.0"
    assert r.updated == ["underwriting-rules"]
    assert r.conflicts == [("car-claim-documents", qa.id)]
    crm_db.expire_all()
    arts = _articles(crm_db)
    assert arts["car-claim-documents"].body == "我們公司的版本：另備身分證。"  # local text kept
    assert "2027" in arts["underwriting-rules"].body
    revs = list(crm_db.scalars(select(Revision).where(Revision.article_id == qa.id)))
    pack_rev = [r for r in revs if "not applied" in r.note]
    assert pack_rev and "維修估價單" in pack_rev[0].body  # the pack's text is reachable
    assert crm_db.get(PackInstall, "insurance-faq").version == "1.1.0"
    assert any("conflict" in line for line in r.lines())

    # Same version again: nothing; an older one: refused.
    assert install(crm_db, pack2, upgrade=True).outcome == "unchanged"
    with pytest.raises(PackError):
        install(crm_db, pack, upgrade=True)


def test_upgrade_before_install_is_refused(knowledge, crm_db, tmp_path):
    pack = KnowledgePack.from_directory(write_pack(tmp_path / "p"))
    with pytest.raises(PackError):
        install(crm_db, pack, upgrade=True)


def test_migrations_match_models(knowledge, migration_drift):
    assert migration_drift("knowledge") == []

"""REST API of the knowledge module: thin endpoints over services and catalog."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_login import current_user

from crm_host import storage
from crm_host.api import Blueprint, abort, envelope, page_of, page_schema, refusals, require
from crm_host.db import session

from . import catalog, services
from .i18n import _
from .models import Category
from .schemas import (
    KbArticleFilter,
    KbArticleIn,
    KbArticleListItem,
    KbArticleOut,
    KbArticlePatch,
    KbAttachmentOut,
    KbCategoryIn,
    KbCategoryOut,
    KbCategoryPatch,
    KbCompetitorFilter,
    KbCompetitorIn,
    KbCompetitorOut,
    KbCompetitorPatch,
    KbDocumentFilter,
    KbDocumentOut,
    KbDocumentPatch,
    KbFeedbackIn,
    KbFeedbackOut,
    KbPackOut,
    KbPackReportOut,
    KbProductFilter,
    KbProductIn,
    KbProductOut,
    KbProductPatch,
    KbRestoreIn,
    KbRevisionOut,
)

blp = Blueprint(
    "Knowledge",
    __name__,
    url_prefix="/api/v1",
    description="Knowledge base: articles and Q&A, categories, products, competitors, "
    "documents, packs (knowledge module)",
)
Err = services.KnowledgeError


# --- Files -------------------------------------------------------------------------------


def file_storage():
    return storage.storage_for_app(current_app, "CRM_KNOWLEDGE_STORAGE_DIR", "knowledge-files")


def max_attachment() -> int:
    return int(current_app.config.get("CRM_KNOWLEDGE_MAX_UPLOAD") or 10 * 1024 * 1024)


def max_document() -> int:
    return int(current_app.config.get("CRM_KNOWLEDGE_MAX_DOCUMENT") or 20 * 1024 * 1024)


def read_upload(limit: int, field="file"):
    """The uploaded file within ``limit`` (413 from Content-Length before reading), its type
    sniffed from the bytes; ``(upload, filename)``, or None when none was sent."""
    envelope_ = limit + 64 * 1024
    if request.content_length is not None and request.content_length > envelope_:
        raise storage.UploadError(storage.too_large_message(limit), status=413)
    request.max_content_length = envelope_
    f = request.files.get(field)
    if f is None or not f.filename:
        return None
    return storage.accept_upload(f.stream, limit), f.filename


def attachment_dict(a, public=False):
    endpoint = "kb.attachment" if public else "knowledge.attachment"
    return {
        "id": a.id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "url": url_for(endpoint, attachment_id=a.id),
    }


# --- Articles ----------------------------------------------------------------------------


def _article(article_id):
    try:
        return services.get_article(session(), current_user, article_id)
    except Err:
        abort(404, message=_("No such article."))


def list_item(a, q=None):
    d = {
        k: getattr(a, k)
        for k in (
            "id",
            "kind",
            "title",
            "locale",
            "status",
            "visibility",
            "category",
            "tag_list",
            "author_id",
            "view_count",
            "helpful_yes",
            "helpful_no",
            "updated_at",
        )
    }
    text = services.snippet_text(a.body, q)
    d["snippet"] = text
    d["highlight"] = str(services.highlight(text, q or ""))
    return d


def article_out(a):
    s = session()
    d = list_item(a)
    d.update(
        body=a.body,
        body_html=a.body_html,
        version=a.version,
        published_at=a.published_at,
        created_at=a.created_at,
        roles=catalog.role_ids(a),
        departments=catalog.department_ids(a),
        translations=a.translations,
        attachments=[attachment_dict(x) for x in services.attachments_of(s, a)],
        pack_name=a.pack_name,
        pack_version=a.pack_version,
        my_vote=services.voted(s, a, f"u:{current_user.id}"),
    )
    return d


@blp.route("/articles", methods=["GET"])
@blp.arguments(KbArticleFilter, location="query")
@blp.response(200, page_schema(KbArticleListItem))
def list_articles(args):
    """Articles and Q&A you may read. ``q`` searches titles, bodies and translations
    (Chinese and English), best match first, with a highlighted ``snippet``; filters
    ``category_id`` (with its sub-categories), ``tag``, ``kind``, ``status``, ``visibility``,
    ``author_id``."""
    require("knowledge.view")
    f = services.Filters(
        q=args.get("q"),
        category_id=args.get("category_id"),
        tag=args.get("tag"),
        kind=args.get("kind"),
        status=args.get("status"),
        visibility=args.get("visibility"),
        author_id=args.get("author_id"),
    )
    items, total, exact = services.list_articles(
        session(), current_user, f, args["page"], args["per_page"]
    )
    q = args.get("q")
    return envelope([list_item(a, q) for a in items], args["page"], args["per_page"], total, exact)


@blp.route("/articles", methods=["POST"])
@blp.arguments(KbArticleIn)
@blp.response(201, KbArticleOut)
def create_article(args):
    """Write an article or Q&A (Markdown). Publishing needs ``knowledge.edit``; a
    ``restricted`` article needs ``roles`` and/or ``departments``."""
    require("knowledge.edit")
    s = session()
    with refusals(s, Err):
        a = services.create_article(s, current_user, args)
    s.commit()
    return article_out(a)


@blp.route("/articles/<int:article_id>", methods=["GET"])
@blp.response(200, KbArticleOut)
def get_article(article_id):
    require("knowledge.view")
    return article_out(_article(article_id))


@blp.route("/articles/<int:article_id>", methods=["PATCH"])
@blp.arguments(KbArticlePatch)
@blp.response(200, KbArticleOut)
def patch_article(args, article_id):
    """Edit; every save is a revision. Send the ``version`` you read (409 when stale)."""
    require("knowledge.view")
    s = session()
    a = _article(article_id)
    with refusals(s, Err):
        services.update_article(s, current_user, a, args)
    s.commit()
    return article_out(a)


@blp.route("/articles/<int:article_id>/revisions", methods=["GET"])
@blp.response(200, KbRevisionOut(many=True))
def article_revisions(article_id):
    """Every saved state, newest first (a pack's text not applied over a local edit is one
    of them, its ``note`` says so)."""
    require("knowledge.view")
    return services.revisions(session(), _article(article_id))


@blp.route("/articles/<int:article_id>/revisions/<int:number>/restore", methods=["POST"])
@blp.arguments(KbRestoreIn)
@blp.response(200, KbArticleOut)
def restore_revision(args, article_id, number):
    """Make revision ``number`` the current text again (a new revision)."""
    require("knowledge.edit")
    s = session()
    a = _article(article_id)
    with refusals(s, Err):
        services.restore(s, current_user, a, number, args["version"])
    s.commit()
    return article_out(a)


@blp.route("/articles/<int:article_id>/attachments", methods=["POST"])
@blp.response(201, KbAttachmentOut)
def upload_attachment(article_id):
    """Attach a file (multipart ``file``): PDF, Office, images, text, up to
    ``CRM_KNOWLEDGE_MAX_UPLOAD`` (10 MiB); the type is sniffed from the content."""
    require("knowledge.edit")
    s = session()
    a = _article(article_id)
    with refusals(s, Err, storage.UploadError):
        got = read_upload(max_attachment())
        if got is None:
            raise storage.UploadError(_("Choose a file to upload."))
        att = services.add_attachment(s, current_user, a, got[0], got[1], file_storage())
    s.commit()
    return attachment_dict(att)


@blp.route("/articles/<int:article_id>/attachments/<int:attachment_id>", methods=["DELETE"])
@blp.response(204)
def delete_attachment(article_id, attachment_id):
    require("knowledge.edit")
    s = session()
    a = _article(article_id)
    with refusals(s, Err):
        att = services.get_attachment(s, services.visible_condition(current_user), attachment_id)
        services.delete_attachment(s, current_user, a, att, file_storage())
    s.commit()


@blp.route("/articles/<int:article_id>/feedback", methods=["POST"])
@blp.arguments(KbFeedbackIn)
@blp.response(200, KbFeedbackOut)
def article_feedback(args, article_id):
    """ "Was this helpful?": one vote per person (a second vote replaces the first)."""
    require("knowledge.view")
    s = session()
    a = _article(article_id)
    services.vote(s, a, f"u:{current_user.id}", args["helpful"])
    s.commit()
    s.refresh(a)
    return {"helpful_yes": a.helpful_yes, "helpful_no": a.helpful_no, "my_vote": args["helpful"]}


# --- Categories --------------------------------------------------------------------------


@blp.route("/knowledge/categories", methods=["GET"])
@blp.response(200, KbCategoryOut(many=True))
def list_categories():
    """The category tree in order (parents before their children)."""
    require("knowledge.view")
    return [c for _d, c in services.category_tree(session())]


@blp.route("/knowledge/categories", methods=["POST"])
@blp.arguments(KbCategoryIn)
@blp.response(201, KbCategoryOut)
def create_category(args):
    require("knowledge.admin")
    s = session()
    with refusals(s, Err):
        c = services.save_category(s, current_user, args)
    s.commit()
    return c


def _category(category_id):
    c = session().get(Category, category_id)
    if c is None:
        abort(404, message="No such category.")
    return c


@blp.route("/knowledge/categories/<int:category_id>", methods=["PATCH"])
@blp.arguments(KbCategoryPatch)
@blp.response(200, KbCategoryOut)
def patch_category(args, category_id):
    require("knowledge.admin")
    s = session()
    c = _category(category_id)
    with refusals(s, Err):
        services.save_category(s, current_user, args, c)
    s.commit()
    return c


@blp.route("/knowledge/categories/<int:category_id>", methods=["DELETE"])
@blp.response(204)
def delete_category(category_id):
    """Only an empty category (no articles, no sub-categories) can go (else 409)."""
    require("knowledge.admin")
    s = session()
    c = _category(category_id)
    with refusals(s, Err):
        services.delete_category(s, current_user, c)
    s.commit()


# --- Products ----------------------------------------------------------------------------


@blp.route("/products", methods=["GET"])
@blp.arguments(KbProductFilter, location="query")
@blp.response(200, page_schema(KbProductOut))
def list_products(args):
    require("knowledge.view")
    from .models import Product

    stmt = catalog.product_query(args.get("q"), args.get("category"), args.get("active"))
    items, total, exact = page_of(
        session(), stmt, [Product.name, Product.id], args["page"], args["per_page"]
    )
    return envelope(items, args["page"], args["per_page"], total, exact)


@blp.route("/products", methods=["POST"])
@blp.arguments(KbProductIn)
@blp.response(201, KbProductOut)
def create_product(args):
    require("knowledge.edit")
    s = session()
    with refusals(s, Err):
        p = catalog.save_product(s, current_user, args)
    s.commit()
    return p


def _product(product_id):
    try:
        return catalog.get_product(session(), product_id)
    except Err:
        abort(404, message="No such product.")


@blp.route("/products/<int:product_id>", methods=["GET"])
@blp.response(200, KbProductOut)
def get_product(product_id):
    require("knowledge.view")
    return _product(product_id)


@blp.route("/products/<int:product_id>", methods=["PATCH"])
@blp.arguments(KbProductPatch)
@blp.response(200, KbProductOut)
def patch_product(args, product_id):
    require("knowledge.edit")
    s = session()
    p = _product(product_id)
    with refusals(s, Err):
        catalog.save_product(s, current_user, args, p)
    s.commit()
    return p


# --- Competitors -------------------------------------------------------------------------


@blp.route("/competitors", methods=["GET"])
@blp.arguments(KbCompetitorFilter, location="query")
@blp.response(200, page_schema(KbCompetitorOut))
def list_competitors(args):
    require("knowledge.view")
    from .models import Competitor

    stmt = catalog.competitor_query(args.get("q"))
    items, total, exact = page_of(
        session(), stmt, [Competitor.name, Competitor.id], args["page"], args["per_page"]
    )
    return envelope(items, args["page"], args["per_page"], total, exact)


@blp.route("/competitors", methods=["POST"])
@blp.arguments(KbCompetitorIn)
@blp.response(201, KbCompetitorOut)
def create_competitor(args):
    """A competitor with its ``products`` (each may name ``versus_product_id``, ours)."""
    require("knowledge.edit")
    s = session()
    with refusals(s, Err):
        c = catalog.save_competitor(s, current_user, args)
    s.commit()
    return c


def _competitor(competitor_id):
    try:
        return catalog.get_competitor(session(), competitor_id)
    except Err:
        abort(404, message="No such competitor.")


@blp.route("/competitors/<int:competitor_id>", methods=["GET"])
@blp.response(200, KbCompetitorOut)
def get_competitor(competitor_id):
    require("knowledge.view")
    return _competitor(competitor_id)


@blp.route("/competitors/<int:competitor_id>", methods=["PATCH"])
@blp.arguments(KbCompetitorPatch)
@blp.response(200, KbCompetitorOut)
def patch_competitor(args, competitor_id):
    require("knowledge.edit")
    s = session()
    c = _competitor(competitor_id)
    with refusals(s, Err):
        catalog.save_competitor(s, current_user, args, c)
    s.commit()
    return c


# --- Documents ---------------------------------------------------------------------------


def document_dict(d):
    return {
        "id": d.id,
        "title": d.title,
        "description": d.description,
        "filename": d.filename,
        "content_type": d.content_type,
        "size": d.size,
        "roles": catalog.role_ids(d),
        "departments": catalog.department_ids(d),
        "url": url_for("knowledge.document_file", document_id=d.id),
        "version": d.version,
        "created_at": d.created_at,
    }


@blp.route("/knowledge/documents", methods=["GET"])
@blp.arguments(KbDocumentFilter, location="query")
@blp.response(200, page_schema(KbDocumentOut))
def list_documents(args):
    """Standard documents you may see (rules by role and department)."""
    require("knowledge.view")
    from .models import Document

    stmt = catalog.document_query(current_user, args.get("q"))
    items, total, exact = page_of(
        session(), stmt, [Document.title, Document.id], args["page"], args["per_page"]
    )
    return envelope([document_dict(d) for d in items], args["page"], args["per_page"], total, exact)


def _int_list(name):
    out = []
    for v in request.form.getlist(name):
        for part in v.split(","):
            part = part.strip()
            if part:
                try:
                    out.append(int(part))
                except ValueError:
                    raise Err("Not a valid integer.", name) from None
    return out


@blp.route("/knowledge/documents", methods=["POST"])
@blp.response(201, KbDocumentOut)
def create_document(args=None):
    """Upload a document: multipart ``file``, ``title``, ``description``, ``roles`` and
    ``departments`` (ids; none: every reader). Up to ``CRM_KNOWLEDGE_MAX_DOCUMENT``
    (20 MiB), PDF, Office, images or text (sniffed from the content)."""
    require("knowledge.edit")
    s = session()
    with refusals(s, Err, storage.UploadError):
        got = read_upload(max_document())
        if got is None:
            raise storage.UploadError(_("Choose a file to upload."))
        data = {
            "title": request.form.get("title", ""),
            "description": request.form.get("description", ""),
            "roles": _int_list("roles"),
            "departments": _int_list("departments"),
        }
        d = catalog.add_document(s, current_user, data, got[0], got[1], file_storage())
    s.commit()
    return document_dict(d)


def _document(document_id):
    try:
        return catalog.get_document(session(), current_user, document_id)
    except Err:
        abort(404, message="No such document.")


@blp.route("/knowledge/documents/<int:document_id>", methods=["GET"])
@blp.response(200, KbDocumentOut)
def get_document(document_id):
    require("knowledge.view")
    return document_dict(_document(document_id))


@blp.route("/knowledge/documents/<int:document_id>", methods=["PATCH"])
@blp.arguments(KbDocumentPatch)
@blp.response(200, KbDocumentOut)
def patch_document(args, document_id):
    require("knowledge.edit")
    s = session()
    d = _document(document_id)
    with refusals(s, Err):
        catalog.update_document(s, current_user, d, args)
    s.commit()
    return document_dict(d)


@blp.route("/knowledge/documents/<int:document_id>", methods=["DELETE"])
@blp.response(204)
def delete_document(document_id):
    require("knowledge.edit")
    s = session()
    d = _document(document_id)
    with refusals(s, Err):
        catalog.delete_document(s, current_user, d, file_storage())
    s.commit()


# --- Packs -------------------------------------------------------------------------------


def pack_dict(pack, installed):
    from flask_babel import get_locale

    loc = str(get_locale() or "en")
    return {
        "name": pack.name,
        "version": pack.version,
        "title": pack.label(loc),
        "description": pack.summary(loc),
        "installed_version": installed,
        "articles": len(pack.articles),
        "categories": len(pack.categories),
    }


@blp.route("/knowledge/packs", methods=["GET"])
@blp.response(200, KbPackOut(many=True))
def list_packs():
    """Packs contributed by enabled plugins, with the version installed here."""
    require("knowledge.admin")
    from .models import PackInstall
    from .packs import available_packs

    s = session()
    installed = {p.name: p.version for p in s.query(PackInstall)}
    return [pack_dict(p, installed.get(n)) for n, p in sorted(available_packs().items())]


@blp.route("/knowledge/packs/<name>/<any(install, upgrade):action>", methods=["POST"])
@blp.response(200, KbPackReportOut)
def apply_pack(name, action):
    """Install or upgrade a pack. Installing twice changes nothing; an upgrade keeps
    articles edited here (reported in ``conflicts``, the pack's text stored as a revision)."""
    require("knowledge.admin")
    from .packs import PackError, available_packs, install

    pack = available_packs().get(name)
    if pack is None:
        abort(404, message="No such pack.")
    s = session()
    try:
        report = install(s, pack, actor=current_user, upgrade=action == "upgrade")
    except PackError as exc:
        s.rollback()
        abort(409, message=str(exc))
    s.commit()
    out = dict(report.__dict__)
    out["conflicts"] = [{"slug": slug, "article_id": aid} for slug, aid in report.conflicts]
    return out

"""Pages of the knowledge module: thin views over services and catalog."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from packaging.version import Version
from werkzeug.exceptions import Conflict

from crm_host import storage
from crm_host.api import page_of
from crm_host.db import session
from crm_host.models import Department, Role, User
from crm_host.security import has_permission, permission_required

from . import catalog, services
from .api import file_storage, max_attachment, max_document, read_upload
from .i18n import _
from .models import LOCALES, Category, Competitor, Document, PackInstall, Product

bp = Blueprint("knowledge", __name__, url_prefix="/knowledge", template_folder="templates")
#: Administration pages live outside /knowledge/ so the menu marks only one item as current.
admin_bp = Blueprint(
    "knowledge_admin", __name__, url_prefix="/admin/knowledge", template_folder="templates"
)
Err = services.KnowledgeError
PER_PAGE = 20
LANGUAGE_NAMES = {"en": "English", "zh_Hant": "繁體中文", "zh_Hans": "简体中文"}


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _page():
    return max(1, min(_int(request.args.get("page")) or 1, 100_000))


def _article_or_404(article_id):
    try:
        return services.get_article(session(), current_user, article_id)
    except Err:
        abort(404)


def _refuse(exc, s):
    s.rollback()
    if exc.status == 404:
        abort(404)
    if exc.status == 403:
        abort(403, description=str(exc))


def _ui_locale():
    from flask_babel import get_locale

    loc = get_locale()
    if loc is None:
        return "en"
    text = str(loc)
    return {"zh_Hant_TW": "zh_Hant", "zh_Hans_CN": "zh_Hans"}.get(text, text)


def _roles_departments():
    s = session()
    return (
        list(s.query(Role).order_by(Role.label)),
        list(s.query(Department).order_by(Department.name)),
    )


# --- Browse ------------------------------------------------------------------------------


@bp.get("/")
@permission_required("knowledge.view")
def home():
    return redirect(url_for("knowledge.index"))


#: Articles live under /knowledge/articles/ so the menu marks "Knowledge base" as current there
#: and "Products", "Competitors" or "Documents" on their own pages.
@bp.get("/articles/")
@permission_required("knowledge.view")
def index():
    s = session()
    args = request.args
    f = services.Filters(
        q=(args.get("q") or "").strip()[:200] or None,
        category_id=_int(args.get("category_id")),
        tag=(args.get("tag") or "").strip()[:60] or None,
        kind=args.get("kind") if args.get("kind") in ("qa", "article") else None,
        status=args.get("status") if args.get("status") in ("draft", "published") else None,
    )
    page = _page()
    items, total, exact = services.list_articles(s, current_user, f, page, PER_PAGE)
    loc = _ui_locale()
    rows = []
    for a in items:
        title, body, _h, _l = services.localized_match(a, loc, f.q)
        rows.append(
            {
                "a": a,
                "title": services.highlight(title, f.q or ""),
                "snippet": services.snippet(body, f.q),
            }
        )
    current = s.get(Category, f.category_id) if f.category_id else None
    return render_template(
        "crm_knowledge/index.html",
        rows=rows,
        total=total,
        exact=exact,
        page=page,
        has_next=page * PER_PAGE < total,
        filters=f,
        tree=services.category_tree(s),
        current=current,
        locale=loc,
        can_edit=services.can_edit(current_user),
        args={k: v for k, v in args.items() if k != "page" and v},
    )


@bp.get("/articles/insights")
@permission_required("knowledge.edit")
def insights():
    """Most-viewed and least-helpful articles, for editors."""
    s = session()
    return render_template(
        "crm_knowledge/insights.html",
        most_viewed=services.most_viewed(s, current_user, 15),
        least_helpful=services.least_helpful(s, current_user, 15),
    )


@bp.get("/articles/<int:article_id>")
@permission_required("knowledge.view")
def article(article_id):
    s = session()
    a = _article_or_404(article_id)
    languages = [a.locale] + [t.locale for t in a.translations]
    want = request.args.get("lang")
    loc = want if want in languages else (_ui_locale() if _ui_locale() in languages else a.locale)
    title, body, body_html, shown = services.localized(a, loc)
    services.count_view(s, a)
    s.commit()
    author = s.get(User, a.author_id) if a.author_id else None
    return render_template(
        "crm_knowledge/article.html",
        a=a,
        title=title,
        body_html=body_html,
        shown=shown,
        article_languages=languages,
        language_names=LANGUAGE_NAMES,
        author=author,
        attachments=services.attachments_of(s, a),
        my_vote=services.voted(s, a, f"u:{current_user.id}"),
        may_edit=services.may_edit(current_user, a),
        rules=_rule_labels(a),
        revision_count=len(services.revisions(s, a)),
    )


def _rule_labels(obj) -> list[str]:
    s = session()
    out = []
    for r in obj.rules:
        if r.role_id:
            role = s.get(Role, r.role_id)
            out.append(role.label if role else "?")
        if r.department_id:
            d = s.get(Department, r.department_id)
            out.append(d.name if d else "?")
    return out


@bp.post("/articles/<int:article_id>/feedback")
@permission_required("knowledge.view")
def feedback(article_id):
    s = session()
    a = _article_or_404(article_id)
    helpful = request.form.get("helpful")
    if helpful in ("yes", "no"):
        services.vote(s, a, f"u:{current_user.id}", helpful == "yes")
        s.commit()
        flash(_("Thank you for your feedback."), "success")
    return redirect(url_for("knowledge.article", article_id=a.id) + "#feedback", 303)


@bp.get("/attachments/<int:attachment_id>")
@permission_required("knowledge.view")
def attachment(attachment_id):
    try:
        att = services.get_attachment(
            session(), services.visible_condition(current_user), attachment_id
        )
    except Err:
        abort(404)
    return _send(att)


def _send(f):
    try:
        fh = file_storage().open(f.storage_key)
    except FileNotFoundError:
        abort(404)
    inline = f.content_type.startswith("image/") or f.content_type == "application/pdf"
    resp = send_file(
        fh, mimetype=f.content_type, as_attachment=not inline, download_name=f.filename
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return resp


# --- Write -------------------------------------------------------------------------------


def _form_data(a=None) -> dict:
    form = request.form
    data = {
        "kind": form.get("kind", "article"),
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "locale": form.get("locale", "en"),
        "status": form.get("status", "draft"),
        "visibility": form.get("visibility", "internal"),
        "category_id": _int(form.get("category_id")),
        "tags": [t.strip() for t in form.get("tags", "").replace("，", ",").split(",")],
        "roles": [i for i in (_int(v) for v in form.getlist("roles")) if i],
        "departments": [i for i in (_int(v) for v in form.getlist("departments")) if i],
        "translations": {},
    }
    for loc in LOCALES:
        t_title = form.get(f"tr_{loc}_title")
        if t_title is not None:
            data["translations"][loc] = {
                "title": t_title,
                "body": form.get(f"tr_{loc}_body", ""),
            }
    if a is not None:
        data["version"] = form.get("version")
    return data


def _render_form(a, data, errors, status=200):
    roles, departments = _roles_departments()
    return (
        render_template(
            "crm_knowledge/form.html",
            a=a,
            data=data,
            errors=errors,
            tree=services.category_tree(session()),
            roles=roles,
            departments=departments,
            locales=LOCALES,
            language_names=LANGUAGE_NAMES,
            max_upload_mb=max_attachment() // (1024 * 1024),
        ),
        status,
    )


def _data_of(a) -> dict:
    return {
        "kind": a.kind,
        "title": a.title,
        "body": a.body,
        "locale": a.locale,
        "status": a.status,
        "visibility": a.visibility,
        "category_id": a.category_id,
        "tags": a.tag_list,
        "roles": catalog.role_ids(a),
        "departments": catalog.department_ids(a),
        "translations": {t.locale: {"title": t.title, "body": t.body} for t in a.translations},
        "version": a.version,
    }


def _attach_from_form(s, a):
    got = read_upload(max_attachment())
    if got is not None:
        services.add_attachment(s, current_user, a, got[0], got[1], file_storage())


@bp.route("/articles/new", methods=["GET", "POST"])
@permission_required("knowledge.edit")
def new():
    if request.method == "GET":
        data = {
            "kind": request.args.get("kind", "article"),
            "locale": _ui_locale(),
            "status": "draft",
            "visibility": "internal",
            "category_id": _int(request.args.get("category_id")),
            "tags": [],
            "roles": [],
            "departments": [],
            "translations": {},
        }
        return _render_form(None, data, {})
    s = session()
    data = _form_data()
    try:
        a = services.create_article(s, current_user, data)
        _attach_from_form(s, a)
    except (Err, storage.UploadError) as exc:
        s.rollback()
        if isinstance(exc, Err) and exc.status in (403, 404):
            _refuse(exc, s)
        return _render_form(None, data, {getattr(exc, "field", None) or "_": str(exc)}, 422)
    s.commit()
    flash(_("Article saved."), "success")
    return redirect(url_for("knowledge.article", article_id=a.id), 303)


@bp.route("/articles/<int:article_id>/edit", methods=["GET", "POST"])
@permission_required("knowledge.view")
def edit(article_id):
    s = session()
    a = _article_or_404(article_id)
    if not services.may_edit(current_user, a):
        abort(403)
    if request.method == "GET":
        return _render_form(a, _data_of(a), {})
    data = _form_data(a)
    try:
        services.update_article(s, current_user, a, data)
        _attach_from_form(s, a)
    except (Err, storage.UploadError) as exc:
        s.rollback()
        if isinstance(exc, Err) and exc.status in (403, 404):
            _refuse(exc, s)
        return _render_form(a, data, {getattr(exc, "field", None) or "_": str(exc)}, 422)
    except Conflict as exc:
        s.rollback()
        return _render_form(a, data, {"_": exc.description}, 409)
    s.commit()
    flash(_("Article saved."), "success")
    return redirect(url_for("knowledge.article", article_id=a.id), 303)


@bp.post("/articles/<int:article_id>/attachments/<int:attachment_id>/delete")
@permission_required("knowledge.edit")
def delete_attachment(article_id, attachment_id):
    s = session()
    a = _article_or_404(article_id)
    try:
        att = services.get_attachment(s, services.visible_condition(current_user), attachment_id)
        services.delete_attachment(s, current_user, a, att, file_storage())
    except Err as exc:
        _refuse(exc, s)
    s.commit()
    flash(_("File removed."), "success")
    return redirect(url_for("knowledge.article", article_id=a.id), 303)


@bp.get("/articles/<int:article_id>/history")
@permission_required("knowledge.view")
def history(article_id):
    s = session()
    a = _article_or_404(article_id)
    revs = services.revisions(s, a)
    editors = {
        u.id: u.name
        for u in s.query(User).filter(User.id.in_({r.editor_id for r in revs if r.editor_id}))
    }
    number = _int(request.args.get("rev")) or (revs[0].number if revs else None)
    shown = next((r for r in revs if r.number == number), None)
    previous = None
    if shown is not None:
        previous = next((r for r in revs if r.number < shown.number), None)
    return render_template(
        "crm_knowledge/history.html",
        a=a,
        revs=revs,
        editors=editors,
        shown=shown,
        previous=previous,
        diff=services.diff(previous, shown) if shown else [],
        can_restore=services.can_edit(current_user),
    )


@bp.post("/articles/<int:article_id>/revisions/<int:number>/restore")
@permission_required("knowledge.edit")
def restore(article_id, number):
    s = session()
    a = _article_or_404(article_id)
    try:
        services.restore(s, current_user, a, number, request.form.get("version"))
    except Err as exc:
        _refuse(exc, s)
        flash(str(exc), "danger")
        return redirect(url_for("knowledge.history", article_id=a.id), 303)
    except Conflict as exc:
        s.rollback()
        flash(exc.description, "danger")
        return redirect(url_for("knowledge.history", article_id=a.id), 303)
    s.commit()
    flash(_("Revision %(n)s restored.", n=number), "success")
    return redirect(url_for("knowledge.article", article_id=a.id), 303)


# --- Products and competitors ------------------------------------------------------------


@bp.get("/products")
@permission_required("knowledge.view")
def products():
    s = session()
    q = (request.args.get("q") or "").strip()[:200]
    page = _page()
    items, total, _e = page_of(
        s, catalog.product_query(q or None), [Product.name, Product.id], page, PER_PAGE
    )
    return render_template(
        "crm_knowledge/products.html",
        items=items,
        q=q,
        page=page,
        total=total,
        has_next=page * PER_PAGE < total,
        can_edit=services.can_edit(current_user),
    )


@bp.route("/products/new", methods=["GET", "POST"])
@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@permission_required("knowledge.edit")
def product_form(product_id=None):
    s = session()
    p = None
    if product_id is not None:
        p = s.get(Product, product_id) or abort(404)
    fields = ("name", "number", "category", "model", "price", "description")
    if request.method == "GET":
        data = {k: getattr(p, k) if p else "" for k in fields}
        data["active"] = p.active if p else True
        return render_template("crm_knowledge/product_form.html", p=p, data=data, errors={})
    data = {k: request.form.get(k, "") for k in fields}
    data["active"] = request.form.get("active") == "on"
    data["price"] = data["price"].strip() or None
    if p is not None:
        data["version"] = request.form.get("version")
    try:
        p = catalog.save_product(s, current_user, data, p)
    except (Err, ArithmeticError, ValueError) as exc:
        s.rollback()
        field = getattr(exc, "field", None) or ("price" if not isinstance(exc, Err) else "_")
        msg = str(exc) if isinstance(exc, Err) else _("Not a valid amount.")
        return (
            render_template("crm_knowledge/product_form.html", p=p, data=data, errors={field: msg}),
            422,
        )
    except Conflict as exc:
        s.rollback()
        return (
            render_template(
                "crm_knowledge/product_form.html", p=p, data=data, errors={"_": exc.description}
            ),
            409,
        )
    s.commit()
    flash(_("Product saved."), "success")
    return redirect(url_for("knowledge.products"), 303)


@bp.get("/competitors")
@permission_required("knowledge.view")
def competitors():
    s = session()
    q = (request.args.get("q") or "").strip()[:200]
    page = _page()
    items, total, _e = page_of(
        s, catalog.competitor_query(q or None), [Competitor.name, Competitor.id], page, PER_PAGE
    )
    return render_template(
        "crm_knowledge/competitors.html",
        items=items,
        q=q,
        page=page,
        total=total,
        has_next=page * PER_PAGE < total,
        can_edit=services.can_edit(current_user),
    )


@bp.get("/competitors/<int:competitor_id>")
@permission_required("knowledge.view")
def competitor(competitor_id):
    s = session()
    c = s.get(Competitor, competitor_id) or abort(404)
    ours = {
        p.id: p
        for p in s.query(Product).filter(
            Product.id.in_({x.versus_product_id for x in c.products if x.versus_product_id})
        )
    }
    return render_template(
        "crm_knowledge/competitor.html",
        c=c,
        ours=ours,
        can_edit=services.can_edit(current_user),
    )


@bp.route("/competitors/new", methods=["GET", "POST"])
@bp.route("/competitors/<int:competitor_id>/edit", methods=["GET", "POST"])
@permission_required("knowledge.edit")
def competitor_form(competitor_id=None):
    s = session()
    c = None
    if competitor_id is not None:
        c = s.get(Competitor, competitor_id) or abort(404)
    fields = ("name", "website", "summary", "strengths", "weaknesses")
    products_ = list(s.query(Product).order_by(Product.name).limit(500))
    if request.method == "GET":
        data = {k: getattr(c, k) if c else "" for k in fields}
        data["products"] = [
            {
                "id": p.id,
                "name": p.name,
                "model": p.model,
                "price": p.price,
                "description": p.description,
                "versus_product_id": p.versus_product_id,
            }
            for p in (c.products if c else [])
        ]
        return render_template(
            "crm_knowledge/competitor_form.html", c=c, data=data, errors={}, ours=products_
        )
    form = request.form
    data = {k: form.get(k, "") for k in fields}
    items = []
    for i in range(60):
        name = form.get(f"p{i}_name")
        if name is None:
            break
        if not name.strip():
            continue
        items.append(
            {
                "id": _int(form.get(f"p{i}_id")),
                "name": name,
                "model": form.get(f"p{i}_model", ""),
                "price": (form.get(f"p{i}_price") or "").strip() or None,
                "description": form.get(f"p{i}_description", ""),
                "versus_product_id": _int(form.get(f"p{i}_versus")),
            }
        )
    data["products"] = items
    if c is not None:
        data["version"] = form.get("version")
    try:
        c = catalog.save_competitor(s, current_user, data, c)
    except (Err, ArithmeticError, ValueError) as exc:
        s.rollback()
        field = getattr(exc, "field", None) or "_"
        msg = str(exc) if isinstance(exc, Err) else _("Not a valid amount.")
        return (
            render_template(
                "crm_knowledge/competitor_form.html",
                c=c,
                data=data,
                errors={field: msg},
                ours=products_,
            ),
            422,
        )
    except Conflict as exc:
        s.rollback()
        return (
            render_template(
                "crm_knowledge/competitor_form.html",
                c=c,
                data=data,
                errors={"_": exc.description},
                ours=products_,
            ),
            409,
        )
    s.commit()
    flash(_("Competitor saved."), "success")
    return redirect(url_for("knowledge.competitor", competitor_id=c.id), 303)


# --- Documents ---------------------------------------------------------------------------


@bp.route("/documents", methods=["GET", "POST"])
@permission_required("knowledge.view")
def documents():
    s = session()
    errors = {}
    status = 200
    if request.method == "POST":
        if not services.can_edit(current_user):
            abort(403)
        data = {
            "title": request.form.get("title", ""),
            "description": request.form.get("description", ""),
            "roles": [i for i in (_int(v) for v in request.form.getlist("roles")) if i],
            "departments": [i for i in (_int(v) for v in request.form.getlist("departments")) if i],
        }
        try:
            got = read_upload(max_document())
            if got is None:
                raise storage.UploadError(_("Choose a file to upload."))
            catalog.add_document(s, current_user, data, got[0], got[1], file_storage())
            s.commit()
            flash(_("Document uploaded."), "success")
            return redirect(url_for("knowledge.documents"), 303)
        except (Err, storage.UploadError) as exc:
            s.rollback()
            errors = {getattr(exc, "field", None) or "file": str(exc)}
            status = getattr(exc, "status", 422) or 422
    q = (request.args.get("q") or "").strip()[:200]
    page = _page()
    items, total, _e = page_of(
        s,
        catalog.document_query(current_user, q or None),
        [Document.title, Document.id],
        page,
        PER_PAGE,
    )
    roles, departments = _roles_departments()
    return (
        render_template(
            "crm_knowledge/documents.html",
            items=items,
            q=q,
            page=page,
            total=total,
            has_next=page * PER_PAGE < total,
            can_edit=services.can_edit(current_user),
            errors=errors,
            roles=roles,
            departments=departments,
            rule_labels=_rule_labels,
            max_mb=max_document() // (1024 * 1024),
        ),
        status,
    )


@bp.get("/documents/<int:document_id>/file")
@permission_required("knowledge.view")
def document_file(document_id):
    try:
        d = catalog.get_document(session(), current_user, document_id)
    except Err:
        abort(404)
    return _send(d)


@bp.post("/documents/<int:document_id>/delete")
@permission_required("knowledge.edit")
def delete_document(document_id):
    s = session()
    try:
        d = catalog.get_document(s, current_user, document_id)
        catalog.delete_document(s, current_user, d, file_storage())
    except Err as exc:
        _refuse(exc, s)
    s.commit()
    flash(_("Document deleted."), "success")
    return redirect(url_for("knowledge.documents"), 303)


# --- Administration ----------------------------------------------------------------------


@admin_bp.route("/categories", methods=["GET", "POST"])
@permission_required("knowledge.admin")
def categories():
    s = session()
    errors = {}
    status = 200
    if request.method == "POST":
        cid = _int(request.form.get("id"))
        cat = s.get(Category, cid) if cid else None
        if cid and cat is None:
            abort(404)
        if request.form.get("delete") and cat is not None:
            try:
                services.delete_category(s, current_user, cat)
                s.commit()
                flash(_("Category deleted."), "success")
            except Err as exc:
                s.rollback()
                flash(str(exc), "danger")
            return redirect(url_for("knowledge_admin.categories"), 303)
        data = {
            "name": request.form.get("name", ""),
            "names": {
                loc: request.form.get(f"name_{loc}", "")
                for loc in LOCALES
                if request.form.get(f"name_{loc}") is not None
            },
            "parent_id": _int(request.form.get("parent_id")),
            "position": _int(request.form.get("position")) or 100,
        }
        if cat is not None:
            data["version"] = request.form.get("version")
        try:
            services.save_category(s, current_user, data, cat)
            s.commit()
            flash(_("Category saved."), "success")
            return redirect(url_for("knowledge_admin.categories"), 303)
        except Err as exc:
            s.rollback()
            errors = {exc.field or "_": str(exc)}
            status = 422
        except Conflict as exc:
            s.rollback()
            errors = {"_": exc.description}
            status = 409
    edit_id = _int(request.args.get("edit"))
    return (
        render_template(
            "crm_knowledge/categories.html",
            tree=services.category_tree(s),
            editing=s.get(Category, edit_id) if edit_id else None,
            errors=errors,
            locales=LOCALES,
            language_names=LANGUAGE_NAMES,
        ),
        status,
    )


@admin_bp.route("/packs", methods=["GET", "POST"])
@permission_required("knowledge.admin")
def packs():
    from .packs import PackError, install, load_packs

    s = session()
    found, refused = load_packs()
    report = None
    if request.method == "POST":
        name = request.form.get("name", "")
        pack = found.get(name) or abort(404)
        try:
            report = install(
                s, pack, actor=current_user, upgrade=request.form.get("action") == "upgrade"
            )
            s.commit()
        except PackError as exc:
            s.rollback()
            flash(str(exc), "danger")
    installed = {p.name: p.version for p in s.query(PackInstall)}
    loc = _ui_locale()
    conflict_titles = {}
    if report is not None and report.conflicts:
        for _slug, aid in report.conflicts:
            a = s.get(services.Article, aid)
            conflict_titles[aid] = a.title if a else str(aid)
    return render_template(
        "crm_knowledge/packs.html",
        packs=sorted(found.values(), key=lambda p: p.name),
        installed=installed,
        loc=loc,
        report=report,
        refused=refused,
        conflict_titles=conflict_titles,
        newer={
            p.name
            for p in found.values()
            if p.name in installed and p.parsed_version > Version(installed[p.name])
        },
    )


# --- Widgets -----------------------------------------------------------------------------


def popular_widget_html():
    s = session()
    return render_template(
        "crm_knowledge/_widget_popular.html",
        items=services.most_viewed(s, current_user, 6),
        has_permission=has_permission,
    )

"""Products (KB-3), competitors and their products (KB-4) and standard documents (KB-5).

Everyone holding ``knowledge.view`` reads products and competitors; ``knowledge.edit``
writes them. A document without rules is open to every reader; with rules, only to the
roles and departments named (and to editors' administrators: ``knowledge.admin``). The
uploader always sees their own documents. Rules are SQL (:func:`document_condition`).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import false, func, or_, select
from sqlalchemy.exc import IntegrityError

from crm_host.db import check_version
from crm_host.models import Department, Role

from .i18n import _l
from .models import Competitor, CompetitorProduct, Document, DocumentRule, Product
from .services import KnowledgeError, _clean, _ids, _rule_match, can_edit, can_view, is_admin


def _need_edit(user):
    if not can_edit(user):
        raise KnowledgeError(_l("You may not change the knowledge base."), status=403)


def _like(col, q: str):
    esc = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(col).like(f"%{esc}%", escape="\\")


def _price(v, field="price"):
    if v is None or v == "":
        return None
    v = Decimal(str(v))
    if v < 0 or v >= Decimal("1e12"):
        raise KnowledgeError(_l("Not a valid amount."), field)
    return v


# --- Products ----------------------------------------------------------------------------


def product_query(q=None, category=None, active=None):
    stmt = select(Product)
    if q and q.strip():
        stmt = stmt.where(
            or_(_like(Product.name, q), _like(Product.number, q), _like(Product.model, q))
        )
    if category:
        stmt = stmt.where(Product.category == category)
    if active is not None:
        stmt = stmt.where(Product.active.is_(bool(active)))
    return stmt


def save_product(session, user, data: dict, product: Product | None = None) -> Product:
    _need_edit(user)
    if product is not None:
        check_version(product, data.get("version"))
    p = product or Product()
    for key, n, req in (
        ("name", 200, True),
        ("number", 60, True),
        ("category", 120, False),
        ("model", 120, False),
        ("description", 20_000, False),
    ):
        if key in data or product is None:
            setattr(p, key, _clean(data.get(key, ""), key, n, required=req))
    if "price" in data:
        p.price = _price(data["price"])
    if "active" in data:
        p.active = bool(data["active"])
    clash = session.scalar(
        select(Product.id).where(Product.number == p.number, Product.id != (p.id or 0))
    )
    if clash:
        raise KnowledgeError(_l("This product number is taken."), "number")
    if product is None:
        session.add(p)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise KnowledgeError(_l("This product number is taken."), "number") from None
    return p


def get_product(session, product_id) -> Product:
    p = session.get(Product, product_id)
    if p is None:
        raise KnowledgeError(_l("No such product."), status=404)
    return p


# --- Competitors -------------------------------------------------------------------------


def competitor_query(q=None):
    stmt = select(Competitor)
    if q and q.strip():
        stmt = stmt.where(or_(_like(Competitor.name, q), _like(Competitor.summary, q)))
    return stmt


def get_competitor(session, competitor_id) -> Competitor:
    c = session.get(Competitor, competitor_id)
    if c is None:
        raise KnowledgeError(_l("No such competitor."), status=404)
    return c


def save_competitor(session, user, data: dict, comp: Competitor | None = None) -> Competitor:
    _need_edit(user)
    if comp is not None:
        check_version(comp, data.get("version"))
    c = comp or Competitor()
    for key, n, req in (
        ("name", 200, True),
        ("website", 300, False),
        ("summary", 1000, False),
        ("strengths", 20_000, False),
        ("weaknesses", 20_000, False),
    ):
        if key in data or comp is None:
            setattr(c, key, _clean(data.get(key, ""), key, n, required=req))
    if c.website and not c.website.startswith(("http://", "https://")):
        raise KnowledgeError(_l("A web address starts with http:// or https://."), "website")
    clash = session.scalar(
        select(Competitor.id).where(
            func.lower(Competitor.name) == c.name.lower(), Competitor.id != (c.id or 0)
        )
    )
    if clash:
        raise KnowledgeError(_l("A competitor with this name exists."), "name")
    if comp is None:
        session.add(c)
        session.flush()
    if "products" in data:
        by_id = {p.id: p for p in c.products}
        keep = []
        for i, item in enumerate(data.get("products") or []):
            p = by_id.get(item.get("id")) if item.get("id") else None
            if item.get("id") and p is None:
                raise KnowledgeError(_l("No such product."), f"products.{i}.id")
            p = p or CompetitorProduct()
            p.name = _clean(item.get("name"), f"products.{i}.name", 200)
            p.model = _clean(item.get("model", ""), f"products.{i}.model", 120, required=False)
            p.description = _clean(
                item.get("description", ""), f"products.{i}.description", 20_000, required=False
            )
            p.price = _price(item.get("price"), f"products.{i}.price")
            vs = item.get("versus_product_id")
            if vs is not None and session.get(Product, vs) is None:
                raise KnowledgeError(_l("No such product."), f"products.{i}.versus_product_id")
            p.versus_product_id = vs
            keep.append(p)
        c.products[:] = keep
    session.flush()
    return c


# --- Documents ---------------------------------------------------------------------------


def document_condition(user):
    """SQL: the documents ``user`` may see (None: all)."""
    if is_admin(user):
        return None
    if not can_view(user):
        return false()
    ruled = select(DocumentRule.document_id)
    allowed = _rule_match(DocumentRule, DocumentRule.document_id, user)
    conds = [Document.id.not_in(ruled), Document.uploader_id == user.id]
    if allowed is not None:
        conds.append(Document.id.in_(allowed))
    return or_(*conds)


def document_query(user, q=None):
    stmt = select(Document)
    cond = document_condition(user)
    if cond is not None:
        stmt = stmt.where(cond)
    if q and q.strip():
        stmt = stmt.where(or_(_like(Document.title, q), _like(Document.filename, q)))
    return stmt


def get_document(session, user, document_id) -> Document:
    stmt = select(Document).where(Document.id == document_id)
    cond = document_condition(user)
    if cond is not None:
        stmt = stmt.where(cond)
    d = session.scalar(stmt)
    if d is None:
        raise KnowledgeError(_l("No such document."), status=404)
    return d


def _document_rules(session, doc: Document, data: dict) -> None:
    if "roles" not in data and "departments" not in data:
        return
    roles = _ids(
        session, Role, data.get("roles", [r.role_id for r in doc.rules if r.role_id]), "roles"
    )
    depts = _ids(
        session,
        Department,
        data.get("departments", [r.department_id for r in doc.rules if r.department_id]),
        "departments",
    )
    doc.rules.clear()
    session.flush()
    doc.rules.extend(DocumentRule(role_id=r) for r in roles)
    doc.rules.extend(DocumentRule(department_id=d) for d in depts)


def add_document(session, user, data: dict, upload, filename: str, store) -> Document:
    _need_edit(user)
    title = _clean(data.get("title") or filename, "title", 200)
    name = (filename or "file").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or "file"
    doc = Document(
        title=title,
        description=_clean(data.get("description", ""), "description", 1000, required=False),
        filename=name,
        content_type=upload.content_type,
        size=upload.size,
        sha256=upload.sha256,
        storage_key="",
        uploader_id=user.id,
    )
    session.add(doc)
    session.flush()
    _document_rules(session, doc, data)
    doc.storage_key = store.save(upload.file)
    session.flush()
    return doc


def update_document(session, user, doc: Document, data: dict) -> Document:
    _need_edit(user)
    check_version(doc, data.get("version"))
    if "title" in data:
        doc.title = _clean(data["title"], "title", 200)
    if "description" in data:
        doc.description = _clean(data["description"], "description", 1000, required=False)
    _document_rules(session, doc, data)
    session.flush()
    return doc


def delete_document(session, user, doc: Document, store) -> None:
    _need_edit(user)
    key = doc.storage_key
    session.delete(doc)
    session.flush()
    store.delete(key)


def role_ids(doc_or_article) -> list[int]:
    return sorted(r.role_id for r in doc_or_article.rules if r.role_id is not None)


def department_ids(doc_or_article) -> list[int]:
    return sorted(r.department_id for r in doc_or_article.rules if r.department_id is not None)

"""REST API base every plugin reuses: flask-smorest blueprints, problem+json errors,
pagination and sort conventions.

A plugin's API::

    from crm_host.api import Blueprint, PageArgs, paginate
    blp = Blueprint("customers_api", __name__, url_prefix="/api/v1/customers")

    @blp.route("")
    @blp.arguments(CustomerFilter, location="query")
    @blp.response(200, page_schema(CustomerSchema))
    def list_customers(args):
        stmt = apply_scope(select(Customer), current_user, Customer.owner_id)
        return paginate(session(), stmt, args, sortable={"name": Customer.name})

Conventions: lists take ``page``, ``per_page`` (≤ 200) and ``sort`` (``name`` or ``-name``,
comma-separated) and answer ``{"items", "page", "per_page", "total", "total_is_exact"}``; the
total is exact up to ``CRM_COUNT_CAP`` rows (then a lower bound) so a list of a million rows
never counts them all. Errors are ``application/problem+json``.
"""

from __future__ import annotations

from contextlib import contextmanager

import flask_smorest
import marshmallow as ma
from flask import current_app, request
from flask_smorest import abort  # noqa: F401  (re-exported for plugins)
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from .i18n import gettext as _

PROBLEM = "application/problem+json"


class Blueprint(flask_smorest.Blueprint):
    """An API blueprint: registered on the REST API and documented in the OpenAPI document."""


def require(permission: str) -> None:
    """403 (problem+json) unless the current user holds ``permission``."""
    from flask_login import current_user

    from .security import has_permission

    if not has_permission(current_user, permission):
        abort(403, message=_("You need the permission '%(p)s'.", p=permission))


@contextmanager
def refusals(session, *errors: type[Exception]):
    """Turn a business rule's refusal into a clean answer and roll back.

    The exception's ``status`` (default 422) is the HTTP status; its ``field`` names the
    input at fault, so clients get ``errors: {field: [message]}``."""
    try:
        yield
    except errors as exc:
        session.rollback()
        status = getattr(exc, "status", 422) or 422
        field = getattr(exc, "field", None) or "_schema"
        if status == 422:
            abort(422, message=str(exc), errors={field: [str(exc)]})
        abort(status, message=str(exc))


def public(view):
    """Mark a view as reachable without login (health checks, token creation, surveys)."""
    view._crm_public = True
    return view


def csrf_exempt(view):
    """Mark a view whose POSTs are authorised by something else than the session cookie (a
    signed token in its URL, such as an unsubscribe link a mail client posts to), so the
    host does not ask for a CSRF token. Never use it on a view that acts as the signed-in
    user."""
    view._crm_csrf_exempt = True
    return view


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
):
    body = {"type": "about:blank", "status": status, "title": title}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    resp = current_app.response_class(current_app.json.dumps(body), status=status, mimetype=PROBLEM)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _flatten_errors(messages) -> dict:
    """webargs nests errors by location ({"json": {"field": [...]}}); clients want fields."""
    if not isinstance(messages, dict):
        return {"_schema": messages if isinstance(messages, list) else [str(messages)]}
    if set(messages) <= {"json", "query", "form", "files", "headers", "view_args", "path"}:
        flat: dict = {}
        for loc_errors in messages.values():
            if isinstance(loc_errors, dict):
                flat.update(loc_errors)
            else:
                flat.setdefault("_schema", []).extend(
                    loc_errors if isinstance(loc_errors, list) else [str(loc_errors)]
                )
        return flat
    return messages


def is_api_request() -> bool:
    return request.path.startswith("/api/")


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error of this API is answered."""

    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages per field, for bad input"},
    )


class Api(flask_smorest.Api):
    """flask-smorest's Api, answering errors as problem+json and documenting only the
    blueprints of modules that are enabled right now."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException):
        if not is_api_request():
            from .web import render_error_page

            return render_error_page(error)
        data = getattr(error, "data", None) or {}
        detail = data.get("message") or error.description
        errors = data.get("errors") or data.get("messages")
        if error.code == 422 and errors and not data.get("message"):
            detail = _("The request contains invalid fields.")
        elif error.code == 400 and errors:
            flat = _flatten_errors(errors)
            first = next(iter(flat.values()), None)
            detail = first[0] if isinstance(first, list) and first else str(first or detail)
        if error.code == 400 and isinstance(detail, str) and "CSRF" in detail:
            detail = f"{detail} Send the X-CSRFToken header, or use a Bearer token."
        headers = dict(data.get("headers") or {})
        if error.code == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="crm"')
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return problem(
            error.code or 500,
            error.name,
            detail,
            _flatten_errors(errors) if errors else None,
            headers,
        )

    def _openapi_json(self):
        spec = self.spec.to_dict()
        crm = current_app.extensions["crm"]
        hidden = crm.disabled_api_tags()
        if hidden:
            spec["paths"] = {
                p: ops
                for p, ops in spec.get("paths", {}).items()
                if not any(
                    t in hidden
                    for op in ops.values()
                    if isinstance(op, dict)
                    for t in op.get("tags", [])
                )
            }
            spec["tags"] = [t for t in spec.get("tags", []) if t.get("name") not in hidden]
        return current_app.response_class(
            current_app.json.dumps(spec, indent=2), mimetype="application/json"
        )


# --- Pagination and sorting --------------------------------------------------------------


class PageArgs(ma.Schema):
    """Query arguments every list endpoint accepts."""

    class Meta:
        unknown = ma.EXCLUDE

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=25, validate=ma.validate.Range(min=1, max=200))
    sort = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class PageMeta(ma.Schema):
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer(
        metadata={"description": "Exact up to the count cap, else a lower bound"}
    )
    total_is_exact = ma.fields.Boolean()


_page_schemas: dict = {}


def page_schema(item_schema):
    """A schema for ``{"items": [item...], page, per_page, total, total_is_exact}``."""
    cls = item_schema if isinstance(item_schema, type) else type(item_schema)
    if cls not in _page_schemas:
        _page_schemas[cls] = type(
            f"{cls.__name__.removesuffix('Schema')}PageSchema",
            (PageMeta,),
            {"items": ma.fields.List(ma.fields.Nested(cls))},
        )
    return _page_schemas[cls]


def count_capped(session, stmt, cap: int) -> tuple[int, bool]:
    sub = stmt.order_by(None).limit(cap + 1).subquery()
    n = session.scalar(select(func.count()).select_from(sub))
    return (cap, False) if n > cap else (n, True)


def parse_sort(sort: str | None, sortable: dict, default: list | None = None) -> list:
    """Turn ``"-amount,name"`` into ORDER BY clauses, refusing unknown fields (422)."""
    if not sort:
        return list(default or [])
    clauses = []
    for part in sort.split(","):
        part = part.strip()
        if not part:
            continue
        desc = part.startswith("-")
        key = part.lstrip("+-")
        col = sortable.get(key)
        if col is None:
            abort(
                422,
                message=_("Unknown sort field."),
                errors={
                    "sort": [
                        _(
                            "Cannot sort by '%(key)s'. Allowed: %(allowed)s.",
                            key=key,
                            allowed=", ".join(sorted(sortable)),
                        )
                    ]
                },
            )
        clauses.append(col.desc() if desc else col.asc())
    return clauses


def page_of(session, stmt, order, page: int, per_page: int, scalars: bool = True):
    """One page of a list and its total, exact up to ``CRM_COUNT_CAP``: ``(items, total,
    exact)``.

    ``stmt`` is a Select, or ``build(wide)`` returning one. With the builder, the count runs
    on ``build(False)`` and the page on ``build(wide=not exact)``: a count that hit the cap
    means many rows match, and a scoped query can then be told so
    (:func:`crm_host.security.scope_filter`'s ``wide``) to walk the sort order instead of
    gathering every match first. ``order`` may likewise be ``order(wide)``."""
    build = stmt if callable(stmt) else (lambda wide: stmt)
    total, exact = count_capped(session, build(False), current_app.config["CRM_COUNT_CAP"])
    clauses = order(not exact) if callable(order) else order
    q = build(not exact).order_by(*clauses).limit(per_page).offset((page - 1) * per_page)
    items = list(session.scalars(q)) if scalars else [r._mapping for r in session.execute(q)]
    return items, total, exact


def paginate(
    session,
    stmt,
    args: dict,
    sortable: dict | None = None,
    default_sort: list | None = None,
    tiebreak=None,
    scalars: bool = True,
) -> dict:
    """Run a list query the standard way and return the page envelope. ``stmt``: a Select,
    or ``build(wide)`` as in :func:`page_of`."""
    page, per_page = args.get("page", 1), args.get("per_page", 25)
    order = parse_sort(args.get("sort"), sortable or {}, default_sort)
    if tiebreak is not None:
        order.append(tiebreak)
    items, total, exact = page_of(session, stmt, order, page, per_page, scalars)
    return envelope(items, page, per_page, total, exact)


def envelope(items, page: int, per_page: int, total: int, exact: bool) -> dict:
    """The list answer every API shares (``page_schema`` describes it)."""
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "total_is_exact": exact,
    }

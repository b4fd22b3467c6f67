"""A small but complete test plugin: model + migration, page, API, menu, permissions,
widget, search, channel, job, demo data. Not a product module."""

import marshmallow as ma
from flask import Blueprint, render_template_string
from flask_login import current_user
from sqlalchemy import select

from crm_host import (
    Channel,
    DashboardWidget,
    Entity,
    Job,
    MenuItem,
    NotificationKind,
    Panel,
    Permission,
    Plugin,
    SearchResult,
    audit,
    hookimpl,
    numbering,
)
from crm_host import api as crm_api
from crm_host.db import check_version, session
from crm_host.security import apply_scope, get_scoped_or_404, permission_required

from . import hookspecs as alpha_hookspecs  # noqa: E402
from .models import Item

plugin = Plugin(description="Alpha test module", depends=[], hookspecs=[alpha_hookspecs])

SENT: list = []  # what the test channel delivered (tests read it)
CALLS: list = []
JOB_RUNS: list = []

bp = Blueprint("alpha", __name__, url_prefix="/alpha")


@bp.get("/")
@permission_required("alpha.view")
def index():
    items = (
        session()
        .scalars(
            apply_scope(select(Item), current_user, Item.owner_id, Item.department_id).order_by(
                Item.id
            )
        )
        .all()
    )
    return render_template_string(
        "{% extends 'crm/base.html' %}{% block title %}Alpha{% endblock %}"
        "{% block content %}<ul id='items'>{% for i in items %}<li>{{ i.name }}</li>{% endfor %}</ul>{% endblock %}",
        items=items,
    )


class ItemSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    owner_id = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class ItemPatch(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    version = ma.fields.Integer(required=True)


api = crm_api.Blueprint(
    "alpha_api", __name__, url_prefix="/api/v1/alpha/items", description="Alpha items (test)"
)


@api.route("", methods=["GET"])
@api.arguments(crm_api.PageArgs, location="query")
@api.response(200, crm_api.page_schema(ItemSchema))
def list_items(args):
    def build(wide):
        return apply_scope(select(Item), current_user, Item.owner_id, Item.department_id, wide=wide)

    return crm_api.paginate(
        session(), build, args, sortable={"name": Item.name, "id": Item.id}, default_sort=[Item.id]
    )


@api.route("", methods=["POST"])
@api.arguments(ItemSchema)
@api.response(201, ItemSchema)
def create_item(args):
    from crm_host.security import has_permission

    if not has_permission(current_user, "alpha.create"):
        crm_api.abort(403, message="You need the permission 'alpha.create'.")
    s = session()
    item = Item(
        name=args["name"],
        owner_id=current_user.id,
        department_id=current_user.department_id,
        code=numbering.next_code(s, "alpha_item", "A{yyyy}{seq:04}"),
    )
    s.add(item)
    audit.record(s, "alpha.item", item, "create")
    s.commit()
    return item


@api.route("/<int:item_id>", methods=["GET"])
@api.response(200, ItemSchema)
def get_item(item_id):
    return get_scoped_or_404(Item, item_id, current_user, "owner_id", "department_id")


@api.route("/<int:item_id>", methods=["PATCH"])
@api.arguments(ItemPatch)
@api.response(200, ItemSchema)
def patch_item(args, item_id):
    s = session()
    item = get_scoped_or_404(Item, item_id, current_user, "owner_id", "department_id")
    check_version(item, args["version"])
    before = audit.snapshot(item)
    if "name" in args:
        item.name = args["name"]
    audit.record(s, "alpha.item", item, "update", before=before)
    s.commit()
    return item


@hookimpl
def crm_entities():
    return [
        Entity(
            name="alpha.item",
            model=Item,
            label="Item",
            numbering_kind="alpha_item",
            default_number_pattern="A{yyyy}{seq:04}",
            department_attr="department_id",
            searchable=["name"],
        )
    ]


@hookimpl
def crm_blueprints():
    return [bp, api]


@hookimpl
def crm_menu_items():
    return [MenuItem("alpha", "Alpha items", "alpha.index", "alpha.view", order=20, icon="box")]


@hookimpl
def crm_permissions():
    return [
        Permission("alpha.view", "See alpha items", default_roles=["sales", "leader"]),
        Permission("alpha.create", "Create alpha items", default_roles=["sales"]),
    ]


@hookimpl
def crm_dashboard_widgets(user):
    CALLS.append(("widgets", "alpha"))
    return [
        DashboardWidget(
            "alpha.count",
            "Alpha count",
            lambda: "<b id='alpha-count'>42</b>",
            permission="alpha.view",
        )
    ]


@hookimpl
def crm_record_panels(entity, record, user):
    return [Panel("alpha.panel", "Alpha panel", lambda: "alpha")]


@hookimpl
def crm_search(query, user, limit):
    stmt = (
        apply_scope(select(Item), user, Item.owner_id, Item.department_id)
        .where(Item.name.contains(query))
        .limit(limit)
    )
    return [
        SearchResult(title=i.name, url=f"/alpha/#{i.id}", kind="Alpha")
        for i in session().scalars(stmt)
    ]


def _send(message):
    if message.data.get("fail"):
        raise RuntimeError("gateway said no")
    SENT.append(
        (
            message.id,
            message.kind,
            getattr(message.recipient, "email", None) or message.address,
            message.subject,
        )
    )


@hookimpl
def crm_notification_channels():
    return [Channel("alpha_chan", "Alpha channel", _send, max_attempts=3)]


@hookimpl
def crm_notification_kinds():
    return [NotificationKind("alpha.ping", "Alpha ping", default_channels=["alpha_chan"])]


def _job(s, now):
    JOB_RUNS.append(now)


@hookimpl
def crm_scheduled_jobs():
    return [Job("alpha.tick", 3600, _job, label="Alpha tick")]


@hookimpl
def crm_demo_data(session, users, locale):
    session.add(Item(code="A-DEMO-1", name="示範項目", owner_id=users["sales"].id))


@hookimpl
def crm_startup(app):
    app.add_template_filter(lambda v: f"{v}!".upper(), "alpha_shout")

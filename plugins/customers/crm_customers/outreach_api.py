"""REST API for mailing labels (CUS-6) and batch messages (CUS-7): thin endpoints over
``labels`` and ``outreach``."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_login import current_user
from marshmallow import fields, validate

import crm_host.api
from crm_host.api import abort, refusals, require
from crm_host.db import session

from . import outreach, services
from .i18n import _
from .labels import DEFAULT_LAYOUT, LAYOUTS, labels_pdf
from .schemas import CustomerFilter

api_blp = crm_host.api.Blueprint(
    "CustomersOutreach",
    __name__,
    url_prefix="/api/v1/customers",
    description="Mailing labels and batch messages to customers (customers module)",
)
Err = services.CustomerError


class OutreachFilter(CustomerFilter):
    """The list's filters (as on ``GET /api/v1/customers``), without paging."""

    class Meta:
        unknown = ma.RAISE
        exclude = ("page", "per_page", "sort", "trash")


class OutreachSelection(ma.Schema):
    """Which customers: ``ids`` (in your scope), or every customer matching ``filter``."""

    class Meta:
        unknown = ma.RAISE

    ids = fields.List(
        fields.Integer(),
        validate=validate.Length(min=1, max=outreach.MAX_CUSTOMERS),
        metadata={"description": "Customer ids; an id outside your scope is a 404"},
    )
    filter = fields.Nested(
        OutreachFilter,
        metadata={"description": "Instead of ids: every customer matching these filters"},
    )

    @ma.validates_schema
    def _one_of(self, data, **kwargs):
        if ("ids" in data) == ("filter" in data):
            raise ma.ValidationError(_("Send either 'ids' or 'filter'."), "_schema")


class LabelsIn(OutreachSelection):
    layout = fields.String(
        load_default=DEFAULT_LAYOUT,
        validate=validate.OneOf(list(LAYOUTS)),
        metadata={"description": ", ".join(f"{k}: {v.description}" for k, v in LAYOUTS.items())},
    )
    start_position = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1),
        metadata={"description": "First free label on the first sheet (1 = top left)"},
    )
    outlines = fields.Boolean(
        load_default=False, metadata={"description": "Draw label outlines (test prints)"}
    )
    locale = fields.String(
        load_default=None,
        validate=validate.Length(max=20),
        metadata={"description": "zh_Hant / zh_Hans: Chinese font when the text does not tell"},
    )


class MessageIn(OutreachSelection):
    subject = fields.String(
        required=True,
        validate=validate.Length(min=1, max=outreach.MAX_SUBJECT),
        metadata={"description": "May use merge fields: " + outreach.allowed_fields_text()},
    )
    body = fields.String(
        required=True,
        validate=validate.Length(min=1, max=outreach.MAX_BODY),
        metadata={"description": "May use merge fields: " + outreach.allowed_fields_text()},
    )
    channel = fields.String(
        load_default="email",
        validate=validate.OneOf(list(outreach.CUSTOMER_CHANNELS)),
        metadata={
            "description": "email → the contact's email, sms → mobile, fax → the "
            "customer's fax; must be enabled (409 otherwise)"
        },
    )
    to_all = fields.Boolean(
        load_default=False,
        metadata={"description": "Every contact with an address, not only the primary one"},
    )
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Only preview: queue nothing, return the first messages"},
    )


class MessageRecipient(ma.Schema):
    customer_id = fields.Integer()
    contact_id = fields.Integer(allow_none=True)
    name = fields.String()
    address = fields.String()


class MessageSkipped(ma.Schema):
    customer_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    reason = fields.String(metadata={"description": "no_contact or no_address"})
    detail = fields.String()


class MessagePreview(ma.Schema):
    customer_id = fields.Integer()
    contact_id = fields.Integer(allow_none=True)
    address = fields.String()
    subject = fields.String()
    body = fields.String()


class MessageSummary(ma.Schema):
    batch = fields.String(allow_none=True, metadata={"description": "Id of this batch"})
    channel = fields.String()
    queued = fields.Integer(metadata={"description": "Messages queued (0 for a dry run)"})
    customers = fields.Integer(metadata={"description": "Customers reached"})
    recipients = fields.List(fields.Nested(MessageRecipient))
    skipped = fields.List(fields.Nested(MessageSkipped))
    preview = fields.List(fields.Nested(MessagePreview))


def _customers(args):
    s = session()
    filters = services.Filters.from_args(args["filter"]) if "filter" in args else None
    try:
        return outreach.select_customers(s, current_user, ids=args.get("ids"), filters=filters)
    except Err as exc:
        if exc.status == 404:
            abort(404, message=str(exc))
        abort(422, message=str(exc), errors={exc.field or "_schema": [str(exc)]})


@api_blp.route("/labels", methods=["POST"])
@api_blp.arguments(LabelsIn)
@api_blp.response(
    200,
    {"type": "string", "format": "binary"},
    description="The labels as a PDF (labels.pdf)",
    content_type="application/pdf",
)
@api_blp.alt_response(404, description="A customer is missing or outside your scope")
def labels(args):
    """Mailing labels for customers, as a PDF on a standard label sheet.

    Each label: postal code, address, customer name, the primary contact's department and
    name. ``start_position`` skips the labels already used on a partly used sheet."""
    require(outreach.PERMISSION)
    customers = _customers(args)
    with refusals(session(), Err):
        pdf = labels_pdf(
            customers,
            args["layout"],
            args["start_position"],
            locale=args.get("locale"),
            outlines=args["outlines"],
        )
    resp = current_app.response_class(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = 'attachment; filename="labels.pdf"'
    return resp


@api_blp.route("/messages", methods=["POST"])
@api_blp.arguments(MessageIn)
@api_blp.response(200, MessageSummary)
@api_blp.alt_response(404, description="A customer is missing or outside your scope")
@api_blp.alt_response(409, description="The channel is not enabled on this installation")
def messages(args):
    """Send one message, personalised with merge fields, to many customers.

    Goes to each customer's primary contact (or every contact with an address, ``to_all``)
    on ``channel``, and is noted on each customer's timeline. Customers without an address
    for the channel are skipped and listed in ``skipped``; the rest are still queued.
    An unknown merge field is a 422 naming the allowed ones."""
    require(outreach.PERMISSION)
    s = session()
    customers = _customers(args)
    with refusals(s, Err):
        if args["dry_run"]:
            return outreach.dry_run(
                s,
                current_user,
                customers,
                args["subject"],
                args["body"],
                args["channel"],
                args["to_all"],
            )
        summary = outreach.send_batch(
            s,
            current_user,
            customers,
            args["subject"],
            args["body"],
            args["channel"],
            to_all=args["to_all"],
        )
    s.commit()
    return summary

"""REST API for importing and exporting customers and contacts (H-14): thin over
``transfer``."""

from __future__ import annotations

from pathlib import Path

import marshmallow as ma
from flask import Response, request, stream_with_context
from flask_login import current_user
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from crm_host.api import Blueprint, abort, require
from crm_host.db import session

from . import services, transfer
from .i18n import _
from .schemas import CustomerFilter

api_blp = Blueprint(
    "CustomersTransfer",
    __name__,
    url_prefix="/api/v1/customers",
    description="Import and export of customers and contacts, CSV and XLSX (customers module)",
)


class ExportArgs(CustomerFilter):
    """The list's filters (``q``, ``category_id``, ``region`` ...) plus what to export."""

    format = fields.String(load_default="csv", validate=validate.OneOf(transfer.FORMATS))
    kind = fields.String(load_default="customers", validate=validate.OneOf(transfer.KINDS))


class ImportForm(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    file = Upload(metadata={"description": "The CSV or XLSX file (at most 30 MB)"})
    kind = fields.String(load_default="customers", validate=validate.OneOf(transfer.KINDS))
    mode = fields.String(
        load_default="validate",
        validate=validate.OneOf(transfer.MODES),
        metadata={
            "description": "validate: check only; all: import nothing unless every row is "
            "good (422 otherwise); good: import the good rows, return the others"
        },
    )


class RowErrors(ma.Schema):
    row = fields.Integer(metadata={"description": "Spreadsheet row number (the header is 1)"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class RowWarnings(ma.Schema):
    row = fields.Integer()
    warnings = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ImportReport(ma.Schema):
    kind = fields.String()
    format = fields.String()
    encoding = fields.String(allow_none=True)
    mode = fields.String()
    rows = fields.Integer(metadata={"description": "Data rows in the file"})
    good = fields.Integer()
    bad = fields.Integer()
    imported = fields.Integer()
    columns = fields.List(fields.String())
    unknown_columns = fields.List(fields.String())
    errors = fields.List(fields.Nested(RowErrors))
    warnings = fields.List(fields.Nested(RowWarnings), metadata={"description": "Duplicates"})
    detail = fields.String()
    bad_rows_csv = fields.String(
        metadata={"description": "mode=good: the rows not imported, as CSV with an errors column"}
    )


@api_blp.route("/export", methods=["GET"])
@api_blp.arguments(ExportArgs, location="query")
@api_blp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="text/csv",
    description="CSV (UTF-8 with BOM) or XLSX, streamed",
)
def export(args):
    """Customers (or the contacts of the customers) in your scope, filtered like the list."""
    require("customers.export")
    fmt, kind = args.pop("format"), args.pop("kind")
    filters = services.Filters.from_args(args)
    s = session()
    try:
        exp = transfer.export(s, current_user, kind, filters, fmt)
    except transfer.TransferError as exc:
        abort(exc.status, message=str(exc))
    resp = Response(stream_with_context(transfer.closing(exp.chunks, s)), mimetype=exp.mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{exp.filename}"'
    return resp


@api_blp.route("/import", methods=["POST"])
@api_blp.arguments(ImportForm, location="form", content_type="multipart/form-data")
@api_blp.response(200, ImportReport)
@api_blp.alt_response(422, schema=ImportReport, description="mode=all and some rows are bad")
def import_file(form):
    """Import customers or contacts from a CSV or XLSX file: every row is checked first. 400
    for a file that is not CSV/XLSX (or none), 413 above 30 MB."""
    require("customers.import")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, message=_("Send the file as the multipart/form-data field 'file'."))
    data = upload.stream.read(transfer.MAX_BYTES + 1)
    s = session()
    try:
        table = transfer.parse(data, upload.filename)
        report = transfer.import_rows(
            s, current_user, form["kind"], table, form["mode"], source=Path(upload.filename).name
        )
    except transfer.TransferError as exc:
        s.rollback()
        abort(exc.status, message=str(exc))
    body = report.as_dict()
    if report.refused:
        s.rollback()
        body["detail"] = _("Nothing was imported: %(n)s rows have errors.", n=len(report.errors))
        return body, 422
    if form["mode"] == "validate":
        s.rollback()
        return body
    s.commit()
    if report.errors:
        body["bad_rows_csv"] = transfer.bad_rows_csv(report).decode("utf-8-sig")
    return body

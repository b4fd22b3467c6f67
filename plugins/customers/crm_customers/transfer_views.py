"""Pages for importing and exporting customers and contacts (H-14): thin views over
``transfer``.

The import is two steps: upload (the file is checked row by row and a report shown), then
"import all" or "import only the good rows". Between the two the file waits in the instance
folder (``uploads/``, a random name) and the page holds only a signed token naming it, bound
to the user, so a client can neither swap the file nor reach someone else's.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

import marshmallow as ma
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from crm_host.db import session
from crm_host.security import has_permission, permission_required

from . import services, transfer
from .schemas import CustomerFilter

bp = Blueprint(
    "customers_transfer", __name__, url_prefix="/customers/transfer", template_folder="templates"
)

TOKEN_MAX_AGE = 6 * 3600  # an upload waits this long for its "import" click
KEEP_FILES = 24 * 3600  # leftovers (abandoned previews, bad-rows files) are removed after
_NAME = re.compile(r"\A[0-9a-f]{32}\.(upload|csv)\Z")


# --- Files waiting between the steps -----------------------------------------------------


def _folder() -> Path:
    p = Path(current_app.instance_path) / "uploads"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="crm-customers-transfer")


def _sweep() -> None:
    """Remove files older than a day (abandoned previews, old bad-rows files)."""
    limit = time.time() - KEEP_FILES
    for p in _folder().iterdir():
        try:
            if _NAME.match(p.name) and p.stat().st_mtime < limit:
                p.unlink()
        except OSError:
            pass


def _store(data: bytes, suffix: str, **meta) -> str:
    _sweep()
    name = f"{secrets.token_hex(16)}.{suffix}"
    (_folder() / name).write_bytes(data)
    return _signer().dumps({"f": name, "u": current_user.id, **meta})


def _load(token: str | None, suffix: str) -> tuple[dict, Path] | None:
    """The file a token names, if the signature holds, it is this user's and it exists."""
    if not token:
        return None
    try:
        meta = _signer().loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:
        return None
    name = meta.get("f") if isinstance(meta, dict) else None
    if not name or not _NAME.match(name) or not name.endswith("." + suffix):
        return None
    if meta.get("u") != current_user.id:
        return None
    path = _folder() / name
    return (meta, path) if path.is_file() else None


def _download(chunks, filename: str, mimetype: str) -> Response:
    resp = Response(stream_with_context(chunks), mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- Pages -------------------------------------------------------------------------------


def _page(status: int = 200, **ctx):
    ctx.setdefault("kind", "customers")
    ctx.setdefault("report", None)
    ctx.setdefault("result", None)
    ctx.setdefault("error", None)
    ctx.setdefault("token", None)
    ctx.setdefault("bad_token", None)
    ctx.setdefault("filename", None)
    ctx.setdefault("shown", 1000)
    return render_template(
        "crm_customers/import.html",
        kinds=transfer.KINDS,
        columns=transfer.COLUMNS,
        max_mb=transfer.MAX_BYTES // (1024 * 1024),
        can_export=has_permission(current_user, "customers.export"),
        **ctx,
    ), status


@bp.route("/import", methods=["GET", "POST"])
@permission_required("customers.import")
def import_page():
    if request.method == "GET":
        kind = request.args.get("kind", "customers")
        return _page(kind=kind if kind in transfer.KINDS else "customers")
    if request.form.get("action") == "import":
        return _import()
    return _preview()


def _preview():
    s = session()
    kind = request.form.get("kind", "customers")
    if kind not in transfer.KINDS:
        return _page(400, error=_("Choose what the file holds: customers or contacts."))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(400, kind=kind, error=_("Choose a CSV or XLSX file."))
    data = upload.stream.read(transfer.MAX_BYTES + 1)
    filename = Path(upload.filename).name[:200]
    try:
        table = transfer.parse(data, filename)
        report = transfer.validate_rows(s, current_user, kind, table)
    except transfer.TransferError as exc:
        s.rollback()
        return _page(exc.status, kind=kind, error=str(exc), filename=filename)
    s.rollback()  # nothing was written; end the read transaction
    token = _store(data, "upload", k=kind, n=filename)
    bad_token = _store(transfer.bad_rows_csv(report), "csv") if report.errors else None
    return _page(kind=kind, report=report, token=token, bad_token=bad_token, filename=filename)


def _import():
    s = session()
    mode = request.form.get("mode")
    found = _load(request.form.get("token"), "upload")
    if found is None:
        return _page(
            400, error=_("The uploaded file is no longer available; upload it again, please.")
        )
    meta, path = found
    if mode not in ("all", "good"):
        return _page(400, kind=meta["k"], error=_("Choose how to import."))
    try:
        table = transfer.parse(path.read_bytes(), meta["n"])
        report = transfer.import_rows(s, current_user, meta["k"], table, mode, source=meta["n"])
    except transfer.TransferError as exc:
        s.rollback()
        return _page(exc.status, kind=meta["k"], error=str(exc))
    if report.refused:  # mode "all" and a row went bad since the preview
        s.rollback()
        bad_token = _store(transfer.bad_rows_csv(report), "csv")
        return _page(
            422,
            kind=meta["k"],
            report=report,
            token=request.form.get("token"),
            bad_token=bad_token,
            filename=meta["n"],
            error=_("Nothing was imported: %(n)s rows have errors.", n=len(report.errors)),
        )
    s.commit()
    path.unlink(missing_ok=True)
    bad_token = _store(transfer.bad_rows_csv(report), "csv") if report.errors else None
    return _page(kind=meta["k"], result=report, bad_token=bad_token, filename=meta["n"])


@bp.get("/import/bad-rows")
@permission_required("customers.import")
def bad_rows():
    found = _load(request.args.get("token"), "csv")
    if found is None:
        abort(404)
    _meta, path = found
    return _download(iter([path.read_bytes()]), "bad-rows.csv", transfer.CSV_MIME)


@bp.get("/template")
@permission_required("customers.import")
def template():
    kind, fmt = request.args.get("kind", "customers"), request.args.get("fmt", "csv")
    try:
        exp = transfer.template(kind, fmt)
    except transfer.TransferError as exc:
        abort(400, description=str(exc))
    return _download(exp.chunks, exp.filename, exp.mimetype)


@bp.get("/export")
@permission_required("customers.export")
def export():
    """The customers (or their contacts) in the list as filtered now, within the user's scope.

    ``kind`` and ``fmt``, or both at once as ``file=contacts.xlsx``: a button that submits
    the list's filter form here (``form="filters" formaction=...``) carries one value."""
    skip = ("fmt", "kind", "format", "file")
    args = {k: v for k, v in request.args.items() if v != "" and k not in skip}
    try:
        filters = services.Filters.from_args(CustomerFilter().load(args))
    except ma.ValidationError as exc:
        msg = _("Some filters were not understood: %(f)s", f=", ".join(exc.messages))
        abort(400, description=msg)
    kind = request.args.get("kind", "customers")
    fmt = request.args.get("fmt") or request.args.get("format") or "csv"
    if request.args.get("file"):
        kind, _dot, fmt = request.args["file"].partition(".")
    s = session()
    try:
        exp = transfer.export(s, current_user, kind, filters, fmt)
    except transfer.TransferError as exc:
        abort(400, description=str(exc))
    return _download(transfer.closing(exp.chunks, s), exp.filename, exp.mimetype)

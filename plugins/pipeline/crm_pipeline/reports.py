"""Reports as tables (headers + rows) and their CSV / XLSX export (REP-2). The figures come
from services (one GROUP BY each); this module only shapes and writes them."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response
from flask_babel import gettext as _

from . import services


def funnel_table(data: dict) -> tuple[list[str], list[list]]:
    headers = [_("Stage"), _("Open deals"), _("Open amount"), _("Reached"), _("Conversion to next")]
    rows = [
        [
            _(s["name"]),
            s["count"],
            s["amount"],
            s["reached"],
            "" if s["conversion"] is None else f"{s['conversion'] * 100:.1f}%",
        ]
        for s in data["stages"]
    ]
    rows.append([_("Won"), data["won"]["count"], data["won"]["amount"], data["won"]["count"], ""])
    rows.append([_("Lost"), data["lost"]["count"], data["lost"]["amount"], "", ""])
    return headers, rows


def performance_table(data: dict) -> tuple[list[str], list[list]]:
    headers = [
        _("Period"),
        _("Sales person / department"),
        _("Department"),
        _("Won deals"),
        _("Won amount"),
        _("Target"),
        _("Attainment"),
    ]
    rows = []
    for r in data["people"]:
        rows.append(
            [
                data["period"],
                r["name"],
                r["department"] or "",
                r["won_count"],
                r["won_amount"],
                "" if r["target"] is None else r["target"],
                "" if r["attainment"] is None else f"{r['attainment'] * 100:.1f}%",
            ]
        )
    for r in data["departments"]:
        rows.append(
            [
                data["period"],
                r["name"] or _("No department"),
                "",
                r["won_count"],
                r["won_amount"],
                "" if r["target"] is None else r["target"],
                "" if r["attainment"] is None else f"{r['attainment'] * 100:.1f}%",
            ]
        )
    return headers, rows


def forecast_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    headers = [_("Expected close month"), _("Open deals"), _("Amount"), _("Weighted amount")]
    return headers, [
        [
            _("Overdue") if r["month"] == "overdue" else r["month"],
            r["count"],
            r["amount"],
            r["weighted"],
        ]
        for r in rows
    ]


def export(name: str, fmt: str, headers: list[str], rows: list[list]) -> Response:
    """A download of the table as CSV (UTF-8 with BOM, so Excel reads Chinese) or XLSX."""
    stamp = date.today().isoformat()
    if fmt == "csv":
        buf = io.StringIO()
        buf.write("\ufeff")
        w = csv.writer(buf)
        w.writerow(headers)
        for r in rows:
            w.writerow([str(x) for x in r])
        return Response(
            buf.getvalue().encode("utf-8"),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
        )
    from decimal import Decimal

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(name[:31])
    ws.append(headers)
    for r in rows:
        ws.append([float(x) if isinstance(x, Decimal) else x for x in r])
    out = io.BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.xlsx"'},
    )


def funnel_export(session, user, fmt, **kw):
    return export("funnel", fmt, *funnel_table(services.funnel(session, user, **kw)))


def performance_export(session, user, fmt, **kw):
    return export("performance", fmt, *performance_table(services.performance(session, user, **kw)))


def forecast_export(session, user, fmt, **kw):
    return export("forecast", fmt, *forecast_table(services.forecast(session, user, **kw)))

"""Service reports as tables (headers + rows), charts and CSV / XLSX export (SVC-6, REP-1,
REP-2). The figures come from services (one GROUP BY each); this module only shapes them."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from flask import Response
from flask_babel import gettext as _

from crm_host.ui import chart

from . import services

COLORS = ["#2f6fed", "#20c997", "#ffc107", "#fd7e14", "#6f42c1", "#d63384", "#0dcaf0", "#6c757d"]


def _pct(v):
    return "" if v is None else f"{v * 100:.1f}%"


def collect(session, user, kind=None, since=None, until=None, group="agent") -> dict:
    kw = {"kind": kind, "since": since, "until": until}
    return {
        "status": services.by_status(session, user, **kw),
        "category": services.by_category(session, user, **kw),
        "department": services.by_department(session, user, **kw),
        "age": services.age_buckets(session, user, kind),
        "resolution": services.resolution_time(session, user, **kw),
        "sla": services.sla_compliance(session, user, **kw),
        "satisfaction": services.satisfaction(session, user, group, since, until),
    }


def _cat(name):
    return _(name) if name else _("No category")


def status_table(rows, labels):
    return [_("Kind"), _("Status"), _("Tickets")], [
        [
            labels["kind"].get(r["kind"], r["kind"]),
            labels["status"].get(r["status"], r["status"]),
            r["count"],
        ]
        for r in rows
    ]


def category_table(rows, labels):
    return [_("Category"), _("Kind"), _("Tickets"), _("Closed")], [
        [
            _cat(r["category"]),
            labels["kind"].get(r["kind"], "") if r["kind"] else "",
            r["count"],
            r["closed"],
        ]
        for r in rows
    ]


def department_table(rows, labels):
    return [_("Department"), _("Tickets"), _("Open tickets"), _("Overdue")], [
        [r["department"] or _("No department"), r["count"], r["open"], r["overdue"]] for r in rows
    ]


def age_table(rows, labels):
    return [_("Age of open tickets"), _("Tickets")], [
        [labels["age"][r["bucket"]], r["count"]] for r in rows
    ]


def resolution_table(rows, labels):
    return [_("Month resolved"), _("Resolved"), _("Average hours"), _("Longest hours")], [
        [r["month"], r["count"], r["avg_hours"], r["max_hours"]] for r in rows
    ]


def sla_table(rows, labels):
    return [
        _("Month opened"),
        _("Tickets"),
        _("Response within target"),
        _("Resolution within target"),
        _("Escalated"),
    ], [
        [
            r["month"],
            r["count"],
            _pct(r["response_rate"]),
            _pct(r["resolution_rate"]),
            r["escalated"],
        ]
        for r in rows
    ]


def satisfaction_table(rows, labels):
    return [_("Group"), _("Answers"), _("Average score"), _("Satisfied (4–5)")], [
        [r["name"] if r["name"] is not None else "—", r["answers"], r["average"], _pct(r["csat"])]
        for r in rows
    ]


TABLES = {
    "status": status_table,
    "category": category_table,
    "department": department_table,
    "age": age_table,
    "resolution": resolution_table,
    "sla": sla_table,
    "satisfaction": satisfaction_table,
}


def export(name: str, fmt: str, headers: list, rows: list) -> Response:
    """A download of the table as CSV (UTF-8 with BOM, so Excel reads Chinese) or XLSX."""
    stamp = date.today().isoformat()
    if fmt == "csv":
        buf = io.StringIO()
        buf.write("\ufeff")
        w = csv.writer(buf)
        w.writerow([str(h) for h in headers])
        for r in rows:
            w.writerow([str(x) for x in r])
        return Response(
            buf.getvalue().encode("utf-8"),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="service-{name}-{stamp}.csv"'},
        )
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(name[:31])
    ws.append([str(h) for h in headers])
    for r in rows:
        ws.append([float(x) if isinstance(x, Decimal) else x for x in r])
    out = io.BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="service-{name}-{stamp}.xlsx"'},
    )


def export_one(session, user, name, fmt, kind=None, since=None, until=None, group="agent"):
    from .views import labels

    kw = {"kind": kind, "since": since, "until": until}
    if name == "age":
        rows = services.age_buckets(session, user, kind)
    elif name == "satisfaction":
        rows = services.satisfaction(session, user, group, since, until)
    else:
        rows = {
            "status": services.by_status,
            "category": services.by_category,
            "department": services.by_department,
            "resolution": services.resolution_time,
            "sla": services.sla_compliance,
        }[name](session, user, **kw)
    return export(name, fmt, *TABLES[name](rows, labels()))


# --- Charts ------------------------------------------------------------------------------


def status_chart(rows, labels, height=260):
    """Stacked bars: open tickets per status, one series per kind."""
    statuses = []
    for r in rows:
        if r["status"] not in statuses:
            statuses.append(r["status"])
    series = []
    for i, kind in enumerate(services.WORKFLOWS):
        vals = {r["status"]: r["count"] for r in rows if r["kind"] == kind}
        if vals:
            series.append(
                {
                    "name": labels["kind"][kind],
                    "type": "bar",
                    "stack": "all",
                    "barMaxWidth": 48,
                    "data": [vals.get(s, 0) for s in statuses],
                    "itemStyle": {"color": COLORS[i]},
                }
            )
    return chart(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 40, "right": 10, "top": 34, "bottom": 10, "containLabel": True},
            "xAxis": {
                "type": "category",
                "data": [labels["status"].get(s, s) for s in statuses],
                "axisLabel": {"interval": 0, "rotate": 35},
            },
            "yAxis": {"type": "value", "minInterval": 1},
            "series": series,
        },
        height=height,
        label=_("Tickets by status"),
    )


def age_chart(rows, labels, height=200):
    return chart(
        {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 90, "right": 20, "top": 5, "bottom": 20},
            "xAxis": {"type": "value", "minInterval": 1},
            "yAxis": {
                "type": "category",
                "data": [labels["age"][r["bucket"]] for r in rows],
                "inverse": True,
            },
            "series": [
                {
                    "type": "bar",
                    "data": [
                        {
                            "value": r["count"],
                            "itemStyle": {
                                "color": COLORS[min(i, 4) if i < 3 else 3 if i == 3 else 5]
                            },
                        }
                        for i, r in enumerate(rows)
                    ],
                    "label": {"show": True, "position": "right"},
                }
            ],
        },
        height=height,
        label=_("Open tickets by age"),
    )


def pie_chart(rows, name_key, label, height=260):
    return chart(
        {
            "tooltip": {"trigger": "item"},
            "legend": {"type": "scroll", "bottom": 0},
            "series": [
                {
                    "type": "pie",
                    "radius": ["35%", "65%"],
                    "center": ["50%", "45%"],
                    "data": [{"name": name_key(r), "value": r["count"]} for r in rows],
                    "label": {"formatter": "{b}: {c}"},
                }
            ],
            "color": COLORS,
        },
        height=height,
        label=label,
    )


def sla_chart(rows, height=260):
    return chart(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"bottom": 0},
            "grid": {"left": 45, "right": 10, "top": 10, "bottom": 50},
            "xAxis": {"type": "category", "data": [r["month"] for r in rows]},
            "yAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
            "series": [
                {
                    "name": _("Response within target"),
                    "type": "line",
                    "data": [
                        None if r["response_rate"] is None else round(r["response_rate"] * 100, 1)
                        for r in rows
                    ],
                    "itemStyle": {"color": COLORS[0]},
                },
                {
                    "name": _("Resolution within target"),
                    "type": "line",
                    "data": [
                        None
                        if r["resolution_rate"] is None
                        else round(r["resolution_rate"] * 100, 1)
                        for r in rows
                    ],
                    "itemStyle": {"color": COLORS[1]},
                },
            ],
        },
        height=height,
        label=_("Service-level compliance"),
    )


def resolution_chart(rows, height=260):
    return chart(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"bottom": 0},
            "grid": {"left": 45, "right": 45, "top": 10, "bottom": 50},
            "xAxis": {"type": "category", "data": [r["month"] for r in rows]},
            "yAxis": [{"type": "value", "name": _("hours")}, {"type": "value", "minInterval": 1}],
            "series": [
                {
                    "name": _("Average hours"),
                    "type": "bar",
                    "data": [r["avg_hours"] for r in rows],
                    "itemStyle": {"color": COLORS[0]},
                },
                {
                    "name": _("Resolved"),
                    "type": "line",
                    "yAxisIndex": 1,
                    "data": [r["count"] for r in rows],
                    "itemStyle": {"color": COLORS[3]},
                },
            ],
        },
        height=height,
        label=_("Resolution time"),
    )


def csat_chart(rows, height=240):
    return chart(
        {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 40, "right": 10, "top": 10, "bottom": 25},
            "xAxis": {"type": "category", "data": [str(r["name"]) for r in rows]},
            "yAxis": {"type": "value", "min": 0, "max": 5},
            "series": [
                {
                    "name": _("Average score"),
                    "type": "bar",
                    "barMaxWidth": 48,
                    "data": [r["average"] for r in rows],
                    "itemStyle": {"color": COLORS[1]},
                    "label": {"show": True, "position": "top"},
                }
            ],
        },
        height=height,
        label=_("Customer satisfaction"),
    )


def charts(d: dict, labels: dict) -> dict:
    open_rows = [r for r in d["status"] if r["status"] != services.CLOSED]
    return {
        "status": status_chart(open_rows or d["status"], labels),
        "category": pie_chart(
            d["category"], lambda r: _cat(r["category"]), _("Tickets by category")
        ),
        "department": pie_chart(
            d["department"],
            lambda r: r["department"] or _("No department"),
            _("Tickets by department"),
        ),
        "age": age_chart(d["age"], labels),
        "resolution": resolution_chart(d["resolution"]),
        "sla": sla_chart(d["sla"]),
        "satisfaction": csat_chart(d["satisfaction"]),
    }

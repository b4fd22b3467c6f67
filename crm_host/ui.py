"""Small UI helpers plugins share: charts (Apache ECharts, served locally) and record panels."""

from __future__ import annotations

import json

from flask import g
from markupsafe import Markup, escape


def chart(option: dict, height: int = 260, label: str = "") -> Markup:
    """An ECharts chart. ``option`` is a plain ECharts option dict (JSON-serialisable);
    ``crm.js`` initialises every ``[data-chart]`` element on the page."""
    option = {"animationDuration": 300, **option}
    data = escape(json.dumps(option, ensure_ascii=False, default=str))
    return Markup(
        f'<div class="crm-chart" role="img" aria-label="{escape(label)}" '
        f'style="height:{int(height)}px" data-chart="{data}"></div>'
    )


def render_panels(panels) -> list:
    """Sort panels and render each; ``[(panel, html_or_None)]``. A panel whose render
    fails is logged and shown as unavailable, never breaking the page."""
    from flask import current_app

    out = []
    for p in sorted(panels, key=lambda p: (p.order, p.id)):
        try:
            out.append((p, Markup(p.render())))
        except Exception:
            current_app.logger.exception("panel %s failed", p.id)
            out.append((p, None))
    return out


def record_panels(entity: str, record, user) -> list:
    """Panels other plugins contribute to a record's detail page (``crm_record_panels``),
    sorted and rendered, as :func:`render_panels` returns them."""
    return render_panels(
        g.crm_runtime.collect("crm_record_panels", entity=entity, record=record, user=user)
    )

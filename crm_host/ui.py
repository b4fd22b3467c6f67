"""Small UI helpers plugins share: charts (Apache ECharts, served locally), record panels,
and running a form's change with its refusals flashed."""

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


def errors_text(messages) -> str:
    """marshmallow's ``{field: [messages]}`` as one line for a flash message."""
    if isinstance(messages, dict):
        return "; ".join(f"{k}: {errors_text(v)}" for k, v in messages.items())
    if isinstance(messages, list):
        return " ".join(errors_text(m) for m in messages)
    return str(messages)


def attempt(action, ok_message=None, refused: tuple[type[Exception], ...] = ()):
    """Run a page's change and commit it, flashing ``ok_message``; when it is refused (bad
    input, one of the module's ``refused`` errors, a stale version) roll back and flash why.
    Returns the action's result (``True`` for ``None``), or ``None`` when refused."""
    import marshmallow as ma
    from flask import flash
    from werkzeug.exceptions import Conflict

    from .db import session

    s = session()
    try:
        out = action()
        s.commit()
        if ok_message:
            flash(ok_message, "success")
        return out if out is not None else True
    except ma.ValidationError as exc:
        s.rollback()
        flash(errors_text(exc.messages), "danger")
    except Conflict as exc:
        s.rollback()
        flash(exc.description, "danger")
    except refused as exc:
        s.rollback()
        flash(str(exc), "danger")
    return None

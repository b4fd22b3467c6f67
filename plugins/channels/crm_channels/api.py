"""REST API of the channels module: thin endpoints over the services."""

from __future__ import annotations

from flask_login import current_user

from crm_host.api import Blueprint, PageArgs, abort, page_schema, paginate, refusals, require
from crm_host.db import session
from crm_host.notify import current_runtime

from . import agenda, mailings, services
from .models import InboxMessage
from .schemas import (
    AudienceOut,
    CalendarEventArgs,
    CalendarEventOut,
    ChannelsIn,
    CountOut,
    DefaultOut,
    EntryIn,
    EntryOut,
    FeedOut,
    InboxArgs,
    InboxOut,
    InboxPatch,
    MailingDetail,
    MailingIn,
    MailingOut,
    PreferenceOut,
    PreviewOut,
    RecipientArgs,
    RecipientOut,
)

blp = Blueprint(
    "Channels",
    __name__,
    url_prefix="/api/v1",
    description="Inbox, notification preferences, calendar and batch mailings (channels module)",
)
Err = services.ChannelsError


def _or_404(fn, *a):
    try:
        return fn(*a)
    except Err as exc:
        abort(exc.status, message=str(exc))


# --- Inbox -------------------------------------------------------------------------------


@blp.route("/inbox", methods=["GET"])
@blp.arguments(InboxArgs, location="query")
@blp.response(200, page_schema(InboxOut))
def list_inbox(args):
    """Your messages, newest first (``box``: ``inbox``, ``unread`` or ``archive``)."""
    require("channels.inbox")
    stmt = services.inbox_query(current_user, args["box"])
    return paginate(
        session(),
        stmt,
        args,
        sortable={"created_at": InboxMessage.created_at},
        default_sort=[InboxMessage.created_at.desc()],
        tiebreak=InboxMessage.id.desc(),
    )


@blp.route("/inbox/<int:message_id>", methods=["GET"])
@blp.response(200, InboxOut)
def get_inbox_message(message_id):
    """One of your messages (someone else's answers 404)."""
    require("channels.inbox")
    return _or_404(services.get_message, session(), current_user, message_id)


@blp.route("/inbox/<int:message_id>", methods=["PATCH"])
@blp.arguments(InboxPatch)
@blp.response(200, InboxOut)
def patch_inbox_message(args, message_id):
    """Mark read / unread, archive / restore."""
    require("channels.inbox")
    s = session()
    msg = _or_404(services.get_message, s, current_user, message_id)
    if "read" in args:
        services.set_read(msg, args["read"])
    if "archived" in args:
        services.set_archived(msg, args["archived"])
    s.commit()
    return msg


@blp.route("/inbox/read-all", methods=["POST"])
@blp.response(200, CountOut)
def read_all():
    """Mark every message in your inbox read."""
    require("channels.inbox")
    s = session()
    n = services.mark_all_read(s, current_user)
    s.commit()
    return {"unread": 0, "changed": n}


@blp.route("/inbox/unread", methods=["GET"])
@blp.response(200, CountOut)
def unread():
    """How many unread messages are in your inbox (the header badge)."""
    require("channels.inbox")
    return {"unread": services.unread_count(session(), current_user), "changed": 0}


# --- Preferences -------------------------------------------------------------------------


@blp.route("/notification-preferences", methods=["GET"])
@blp.response(200, PreferenceOut(many=True))
def list_preferences():
    """Every kind of notification and the channels it reaches you on."""
    return services.preferences(session(), current_runtime(), current_user)


@blp.route("/notification-preferences/<kind>", methods=["PUT"])
@blp.arguments(ChannelsIn)
@blp.response(200, PreferenceOut(many=True))
def put_preference(args, kind):
    """Route ``kind`` to exactly these channels (``null``: back to the default)."""
    s = session()
    with refusals(s, Err):
        services.set_preference(s, current_runtime(), current_user, kind, args["channels"])
    s.commit()
    return services.preferences(s, current_runtime(), current_user)


@blp.route("/notification-defaults", methods=["GET"])
@blp.response(200, DefaultOut(many=True))
def list_defaults():
    """The default channels of every kind (administrators)."""
    require("channels.manage")
    return services.defaults(session(), current_runtime())


@blp.route("/notification-defaults/<kind>", methods=["PUT"])
@blp.arguments(ChannelsIn)
@blp.response(200, DefaultOut(many=True))
def put_default(args, kind):
    """Set the default channels of ``kind`` for everybody who has not chosen
    (``null``: back to the kind's own default)."""
    require("channels.manage")
    s = session()
    with refusals(s, Err):
        services.set_default(s, current_runtime(), kind, args["channels"])
    s.commit()
    return services.defaults(s, current_runtime())


# --- Calendar ----------------------------------------------------------------------------


@blp.route("/calendar/events", methods=["GET"])
@blp.arguments(CalendarEventArgs, location="query")
@blp.response(200, CalendarEventOut(many=True))
def list_events(args):
    """Your events in ``[start, end)``: your own entries and those other modules add."""
    require("channels.calendar")
    with refusals(session(), Err):
        return agenda.events(session(), current_runtime(), current_user, args["start"], args["end"])


@blp.route("/calendar/entries", methods=["POST"])
@blp.arguments(EntryIn)
@blp.response(201, EntryOut)
def create_entry(args):
    """Add a meeting, reminder or appointment to your calendar."""
    require("channels.calendar")
    s = session()
    with refusals(s, Err):
        e = agenda.create_entry(s, current_user, args)
    s.commit()
    return e


@blp.route("/calendar/entries/<int:entry_id>", methods=["PUT"])
@blp.arguments(EntryIn)
@blp.response(200, EntryOut)
def update_entry(args, entry_id):
    """Replace one of your entries."""
    require("channels.calendar")
    s = session()
    e = _or_404(agenda.get_entry, s, current_user, entry_id)
    with refusals(s, Err):
        agenda.update_entry(s, current_user, e, args)
    s.commit()
    return e


@blp.route("/calendar/entries/<int:entry_id>", methods=["DELETE"])
@blp.response(204)
def delete_entry(entry_id):
    require("channels.calendar")
    s = session()
    e = _or_404(agenda.get_entry, s, current_user, entry_id)
    agenda.delete_entry(s, current_user, e)
    s.commit()


@blp.route("/calendar/feed", methods=["GET"])
@blp.response(200, FeedOut)
def get_feed():
    """Your secret iCalendar feed URL (created on first use)."""
    require("channels.calendar")
    s = session()
    token = agenda.feed_token(s, current_user)
    s.commit()
    return {"url": f"{mailings.base_url()}/channels/calendar/feed/{token}.ics"}


@blp.route("/calendar/feed/reset", methods=["POST"])
@blp.response(200, FeedOut)
def reset_feed():
    """A new secret feed URL; the old one stops working."""
    require("channels.calendar")
    s = session()
    token = agenda.reset_feed(s, current_user)
    s.commit()
    return {"url": f"{mailings.base_url()}/channels/calendar/feed/{token}.ics"}


# --- Mailings ----------------------------------------------------------------------------


@blp.route("/mailings/audiences", methods=["GET"])
@blp.response(200, AudienceOut(many=True))
def list_audiences():
    """Who a mailing can go to, with the merge fields each audience offers."""
    require("channels.mailing")
    return [
        {"name": a.name, "label": a.label, "fields_": mailings.merge_fields(a)}
        for a in mailings.audiences(current_runtime(), current_user).values()
    ]


@blp.route("/mailings", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(MailingOut))
def list_mailings(args):
    """Your mailings (every mailing with ``channels.manage``), newest first."""
    require("channels.mailing")
    return paginate(session(), mailings.list_query(current_user), args)


@blp.route("/mailings/preview", methods=["POST"])
@blp.arguments(MailingIn)
@blp.response(200, PreviewOut)
def preview_mailing(args):
    """The first merged messages and the audience size, without sending anything."""
    require("channels.mailing")
    with refusals(session(), Err):
        out = mailings.preview(session(), current_runtime(), current_user, args)
    return {"total": out["total"], "items": out["items"], "fields_": out["fields"]}


@blp.route("/mailings", methods=["POST"])
@blp.arguments(MailingIn)
@blp.response(201, MailingDetail)
def create_mailing(args):
    """Create a mailing: a draft, or with ``send: true`` scheduled at ``send_at`` (or now)."""
    require("channels.mailing")
    s = session()
    with refusals(s, Err):
        m = mailings.create(s, current_runtime(), current_user, args, send=args.get("send"))
    s.commit()
    m.totals = mailings.totals(s, m.id)
    return m


@blp.route("/mailings/<int:mailing_id>", methods=["GET"])
@blp.response(200, MailingDetail)
def get_mailing(mailing_id):
    """A mailing with its totals (queued, sent, failed, unsubscribed, invalid)."""
    require("channels.mailing")
    s = session()
    m = _or_404(mailings.visible, s, current_user, mailing_id)
    m.totals = mailings.totals(s, m.id)
    return m


@blp.route("/mailings/<int:mailing_id>/send", methods=["POST"])
@blp.response(200, MailingDetail)
def send_mailing(mailing_id):
    """Schedule a draft now."""
    require("channels.mailing")
    s = session()
    m = _or_404(mailings.visible, s, current_user, mailing_id)
    with refusals(s, Err):
        mailings.schedule(s, current_user, m)
    s.commit()
    m.totals = mailings.totals(s, m.id)
    return m


@blp.route("/mailings/<int:mailing_id>/cancel", methods=["POST"])
@blp.response(200, MailingDetail)
def cancel_mailing(mailing_id):
    """Cancel a draft or scheduled mailing."""
    require("channels.mailing")
    s = session()
    m = _or_404(mailings.visible, s, current_user, mailing_id)
    with refusals(s, Err):
        mailings.cancel(s, current_user, m)
    s.commit()
    m.totals = mailings.totals(s, m.id)
    return m


@blp.route("/mailings/<int:mailing_id>/recipients", methods=["GET"])
@blp.arguments(RecipientArgs, location="query")
@blp.response(200, page_schema(RecipientOut))
def list_recipients(args, mailing_id):
    """Each recipient's status: queued, sent, failed (with the error), unsubscribed, invalid."""
    require("channels.mailing")
    s = session()
    m = _or_404(mailings.visible, s, current_user, mailing_id)
    page, per = args["page"], args["per_page"]
    rows = mailings.recipients(s, m.id, args.get("status"), per, (page - 1) * per)
    totals = mailings.totals(s, m.id)
    total = totals[args["status"]] if args.get("status") else totals["total"]
    return {
        "items": [
            {
                "id": r.id,
                "email": r.email,
                "name": r.name,
                "customer_id": r.customer_id,
                "contact_id": r.contact_id,
                "status": state,
                "error": err or r.error,
                "attempts": attempts,
                "sent_at": sent_at,
            }
            for r, state, err, sent_at, attempts in rows
        ],
        "page": page,
        "per_page": per,
        "total": total,
        "total_is_exact": True,
    }

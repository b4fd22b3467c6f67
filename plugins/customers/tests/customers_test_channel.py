"""A test plugin standing in for the channels module: an "email" channel that records what
it is asked to send (tests only)."""

from crm_host import Channel, Plugin, hookimpl

plugin = Plugin(description="email channel recording sends (tests only)")
SENT: list = []


def _send(message) -> None:
    SENT.append(message)


@hookimpl
def crm_notification_channels():
    return [Channel("email", "Email (test)", _send)]

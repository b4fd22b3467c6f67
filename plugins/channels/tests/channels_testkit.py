"""Helpers shared by the channels tests (a module of its own: test files cannot import one
plugin's conftest reliably when several plugins' tests run in one session)."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes, policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the SMTP server received: parsed messages with their envelope."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        with self.lock:
            self.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "msg": msg,
                    "auth": getattr(session, "auth_data", None),
                }
            )
        return "250 OK"

    def wait(self, n, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.messages) >= n:
                return self.messages
            time.sleep(0.02)
        return self.messages

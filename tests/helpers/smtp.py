"""A real SMTP server process for the mail tests (aiosmtpd), that can go down and come back."""

from __future__ import annotations

import time
from email import message_from_bytes

from aiosmtpd.controller import Controller

from tests.helpers.processes import free_port


class _Collect:
    def __init__(self, inbox: list):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        self.inbox.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a free loopback port; `messages` holds what it received."""

    def __init__(self):
        self.port = free_port()
        self.messages: list = []
        self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        self._controller = Controller(_Collect(self.messages), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 5) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

"""A real SMTP server for the mail tests (aiosmtpd, in its own thread), that can go down and come back."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from tests.helpers.processes import free_port


class _Collect:
    """aiosmtpd handler: keep every message it accepts, with its envelope recipients."""

    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.server.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a free loopback port; `messages` holds what it received.

    Created stopped: until `start()`, nothing listens on `port`, which is how the tests
    take the server down. `stop()` then `start()` again listens on the same port.
    """

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "SmtpServer":
        if self._controller is None:
            controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
            controller.start()  # returns once the server answers on the port
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 5) -> list[Message]:
        """The messages received, once there are at least `count` (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

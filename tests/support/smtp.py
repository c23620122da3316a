"""A local SMTP server the end-to-end tests' workers send to, and a free loopback port."""

from __future__ import annotations

import collections
import socket
import threading

import pytest
from aiosmtpd.controller import Controller


class Sink:
    """Collects what the workers hand to SMTP: (recipient, raw message), one per recipient."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[str, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, envelope.content))
        return "250 OK"

    def messages(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.received)

    def recipients(self) -> list[str]:
        return [rcpt for rcpt, _ in self.messages()]

    def times_mailed(self) -> dict[str, int]:
        return dict(collections.Counter(self.recipients()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """(port, Sink) of an SMTP server running for the test."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, sink
    controller.stop()

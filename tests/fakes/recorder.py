"""What the local fakes received: one line per (message, recipient), counted per phase.

Both fakes (the Postmark HTTP API and the SMTP sink) write the same tab-separated log so the
benchmark loads it into PostgreSQL and counts duplicates and ineligible recipients there.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path


class Recorder:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.file = path.open("a", encoding="utf-8", buffering=1 << 20)
        self.phase = "idle"
        self.messages = 0
        self.requests = 0
        self.first: float | None = None
        self.last: float | None = None
        self.by_endpoint: dict[str, int] = {}

    def start_phase(self, phase: str) -> None:
        with self.lock:
            self.file.flush()
            self.phase = phase
            self.messages = self.requests = 0
            self.first = self.last = None
            self.by_endpoint = {}

    def record(self, endpoint: str, rows: list[tuple[str, str, str]]) -> None:
        """rows: (recipient, campaign_id, delivery_id) per recipient of each accepted message."""
        now = time.time()
        clean = str.maketrans("\t\n\r", "   ")
        lines = "".join(
            f"{self.phase}\t{endpoint}\t{r.translate(clean)}\t{c.translate(clean)}\t"
            f"{d.translate(clean)}\n"
            for r, c, d in rows
        )
        with self.lock:
            self.file.write(lines)
            self.requests += 1
            self.messages += len(rows)
            self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + len(rows)
            self.first = self.first or now
            self.last = now

    def stats(self) -> dict:
        with self.lock:
            self.file.flush()
            return {
                "phase": self.phase,
                "messages": self.messages,
                "requests": self.requests,
                "first": self.first,
                "last": self.last,
                "by_endpoint": dict(self.by_endpoint),
            }

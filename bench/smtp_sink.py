"""A local SMTP sink (aiosmtpd) for the campaign benchmark: accepts everything, counts recipients.

Every envelope recipient is recorded like the fake Postmark API does (bench/recorder.py);
the campaign and delivery ids are unknown over SMTP and left blank. Control goes over a tiny
HTTP side port (`POST /_phase?name=NAME`, `GET /_stats`).

Run: python bench/smtp_sink.py --log /tmp/received.tsv   (prints "PORT <smtp> CONTROL <http>")
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.recorder import Recorder


class SinkHandler:
    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    async def handle_DATA(self, server, session, envelope):
        self.recorder.record("smtp", [(rcpt.lower(), "", "") for rcpt in envelope.rcpt_tos])
        return "250 Message accepted for delivery"


def _control_handler(recorder: Recorder):
    class Control(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _reply(self, payload) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._reply(recorder.stats())

        def do_POST(self):
            url = urlparse(self.path)
            recorder.start_phase(parse_qs(url.query).get("name", ["unnamed"])[0])
            self._reply({"ok": True})

    return Control


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    recorder = Recorder(args.log)
    port = args.port or free_port()
    controller = Controller(SinkHandler(recorder), hostname="127.0.0.1", port=port)
    controller.start()
    control = ThreadingHTTPServer(("127.0.0.1", 0), _control_handler(recorder))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(f"PORT {port} CONTROL {control.server_address[1]}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

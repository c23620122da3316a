"""A local SMTP sink for the tests and the campaign benchmark: accepts everything, counts recipients.

It stands in for the MTA or ESP relay that, in production, runs on another machine. On this
2-core benchmark box it shares the CPU with the senders it measures, so it does as little as
SMTP allows: an asyncio protocol that answers EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT
(pipelined commands included) and keeps nothing of a message but its envelope recipients.
Every recipient is recorded like the fake Postmark API does (tests/fakes/recorder.py); campaign
and delivery ids are unknown over SMTP and left blank. Control goes over a tiny HTTP side
port (`POST /_phase?name=NAME`, `GET /_stats`).

Run: python tests/fakes/smtp_sink.py --log /tmp/received.tsv   (prints "PORT <smtp> CONTROL <http>")
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.recorder import Recorder

EHLO = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"


class SinkProtocol(asyncio.Protocol):
    """One SMTP session: commands line by line, then the DATA block up to its lone dot."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self.buffer = b""
        self.in_data = False
        self.rcpts: list[str] = []

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"220 sink ESMTP ready\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end == -1:
                    # Keep only what may still hold the start of the terminator.
                    self.buffer = self.buffer[-4:]
                    break
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self.recorder.record("smtp", [(rcpt, "", "") for rcpt in self.rcpts])
                self.rcpts = []
                replies.append(b"250 Message accepted for delivery\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end == -1:
                break
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            replies.append(self.command(line))
            if replies[-1].startswith(b"221"):
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
        if replies:
            self.transport.write(b"".join(replies))

    def command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            return EHLO if verb == b"EHLO" else b"250 sink\r\n"
        if verb == b"MAIL":
            self.rcpts = []
            return b"250 OK\r\n"
        if verb == b"RCPT":
            address = line.partition(b":")[2].split(b" ")[0].strip(b"<> ")
            self.rcpts.append(address.decode("utf-8", "replace").lower())
            return b"250 OK\r\n"
        if verb == b"DATA":
            if not self.rcpts:
                return b"503 RCPT first\r\n"
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb in (b"RSET", b"NOOP"):
            self.rcpts = [] if verb == b"RSET" else self.rcpts
            return b"250 OK\r\n"
        if verb == b"QUIT":
            return b"221 Bye\r\n"
        return b"502 Command not implemented\r\n"


class Sink:
    """The sink on its own event loop thread: `Sink(recorder).start()` then `.port`."""

    def __init__(self, recorder: Recorder, port: int = 0):
        self.recorder = recorder
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> Sink:
        # The server is made on the sink's own loop thread: the caller may run a loop already.
        self.thread.start()
        serving = self.loop.create_server(
            lambda: SinkProtocol(self.recorder), "127.0.0.1", self.port, backlog=128
        )
        self.server = asyncio.run_coroutine_threadsafe(serving, self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    recorder = Recorder(args.log)
    sink = Sink(recorder, args.port).start()
    control = ThreadingHTTPServer(("127.0.0.1", 0), _control_handler(recorder))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(f"PORT {sink.port} CONTROL {control.server_address[1]}", flush=True)
    try:
        sink.thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()

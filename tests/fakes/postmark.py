"""A small local fake of Postmark's HTTP API on loopback, for the tests and the campaign benchmark.

Answers like Postmark (https://postmarkapp.com/developer/api/email-api):

    POST /email                   one message        -> {"To", "SubmittedAt", "MessageID",
                                                         "ErrorCode": 0, "Message": "OK"}
    POST /email/batch             up to 500 messages -> a list of the above, one per message
    POST /email/batchWithTemplates {"Messages": [...]} -> the same list

It requires the X-Postmark-Server-Token header (401, ErrorCode 10, without it), refuses
batches over Postmark's limit of 500 (422, ErrorCode 300) and records every recipient with
the message's Metadata campaign_id / delivery_id (see tests/fakes/recorder.py). Control endpoints
for the benchmark: `POST /_phase?name=NAME` starts a new counting phase, `GET /_stats`.
Recipients whose address starts with `inactive` are refused one by one with ErrorCode 406, as
Postmark refuses hard-bounced addresses. For tests, `POST /_fault?status=503` (or
`?delay=SECONDS`) makes the next send request fail that way; `?hold=SECONDS` holds it until
`PostmarkHandler.released` is set (at most SECONDS), with `PostmarkHandler.holding` set while it
waits, so a test acts while the call is surely in flight whatever the machine's load. A list
set as `PostmarkHandler.capture` collects every message received.

Run: python tests/fakes/postmark.py --port 0 --log /tmp/received.tsv   (prints "PORT <n>")
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import threading
import time
import uuid
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.recorder import Recorder

BATCH_LIMIT = 500


class PostmarkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Anymail's requests.Session expects
    disable_nagle_algorithm = True
    server_version = "FakePostmark/1.0"
    recorder: Recorder  # set on the class by serve()
    capture: list | None = None
    faults: list[dict] = []
    holding = threading.Event()  # a `hold` fault's request is waiting
    released = threading.Event()  # lets it go on

    def log_message(self, format, *args):  # quiet: thousands of requests per second
        pass

    def _reply(self, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if urlparse(self.path).path == "/_stats":
            return self._reply(200, self.recorder.stats())
        return self._reply(404, {"ErrorCode": 404, "Message": "Not found"})

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path == "/_phase":
            self.recorder.start_phase(parse_qs(url.query).get("name", ["unnamed"])[0])
            return self._reply(200, {"ok": True})
        if url.path == "/_fault":
            query = parse_qs(url.query)
            type(self).faults.append({k: float(v[0]) for k, v in query.items()})
            return self._reply(200, {"ok": True})
        if self.faults:
            fault = type(self).faults.pop(0)
            if "delay" in fault:
                time.sleep(fault["delay"])  # the client gives up; the messages still "go"
            elif "hold" in fault:
                type(self).holding.set()
                type(self).released.wait(fault["hold"])  # then the messages still "go"
            else:
                return self._reply(int(fault["status"]), {"ErrorCode": 100, "Message": "Fault"})
        if not self.headers.get("X-Postmark-Server-Token"):
            return self._reply(
                401, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied"}
            )
        try:
            data = json.loads(raw)
        except ValueError:
            return self._reply(400, {"ErrorCode": 402, "Message": "Invalid JSON"})
        path = url.path.rstrip("/")
        if path == "/email":
            if not isinstance(data, dict):
                return self._reply(422, {"ErrorCode": 300, "Message": "Invalid email request"})
            return self._reply(200, self._accept("email", [data])[0])
        if path in ("/email/batch", "/email/batchWithTemplates"):
            messages = data.get("Messages") if isinstance(data, dict) else data
            if not isinstance(messages, list):
                return self._reply(422, {"ErrorCode": 300, "Message": "Invalid batch request"})
            if len(messages) > BATCH_LIMIT:
                return self._reply(
                    422,
                    {
                        "ErrorCode": 300,
                        "Message": f"Batch too large: at most {BATCH_LIMIT} messages per call.",
                    },
                )
            return self._reply(200, self._accept(path.removeprefix("/"), messages))
        return self._reply(404, {"ErrorCode": 404, "Message": "Not found"})

    def _accept(self, endpoint: str, messages: list) -> list[dict]:
        answers, rows = [], []
        submitted = datetime.datetime.now(datetime.UTC).isoformat()
        for message in messages:
            to = message.get("To", "") if isinstance(message, dict) else ""
            if isinstance(to, str) and "@" in to and not set(to) & set('<>,"() '):
                addresses = [to]  # a bare address: spare the parser (thousands per second)
            else:
                addresses = [addr for _name, addr in getaddresses([to]) if addr]
            if not addresses:
                answers.append({"ErrorCode": 300, "Message": "Invalid 'To' address: ''."})
                continue
            if self.capture is not None:
                self.capture.append(message)
            if any(addr.lower().startswith("inactive") for addr in addresses):
                answers.append(
                    {
                        "ErrorCode": 406,
                        "Message": "You tried to send to recipient(s) that have been marked as "
                        f"inactive. Found inactive addresses: {to}. Inactive recipients are "
                        "ones that have generated a hard bounce, a spam complaint, or a manual "
                        "suppression.",
                    }
                )
                continue
            metadata = message.get("Metadata") or {}
            for addr in addresses:
                rows.append(
                    (
                        addr.lower(),
                        str(metadata.get("campaign_id", "")),
                        str(metadata.get("delivery_id", "")),
                    )
                )
            answers.append(
                {
                    "To": to,
                    "SubmittedAt": submitted,
                    "MessageID": str(uuid.uuid4()),
                    "ErrorCode": 0,
                    "Message": "OK",
                }
            )
        self.recorder.record(endpoint, rows)
        return answers


def serve(port: int, log: Path) -> ThreadingHTTPServer:
    PostmarkHandler.recorder = Recorder(log)
    PostmarkHandler.faults = []
    PostmarkHandler.holding = threading.Event()
    PostmarkHandler.released = threading.Event()
    PostmarkHandler.capture = None
    server = ThreadingHTTPServer(("127.0.0.1", port), PostmarkHandler)
    server.daemon_threads = True
    server.request_queue_size = 128
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    server = serve(args.port, args.log)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

"""A real local webhook receiver (http.server in a thread) whose answer a test can change."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from server.notify.signing import verify
from tests.fixtures.services import free_port


class Receiver:
    """Answers 503 to its first `failures` POSTs, then `status`; records each attempt's delivery id
    and the bodies it accepted (signed right, answered below 300)."""

    def __init__(self, secret: str, status: int = 204, failures: int = 0) -> None:
        self.port = free_port()
        self.status = status
        self.failures = failures
        self.attempts: list[str] = []
        self.accepted: list[dict[str, object]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts.append(self.headers.get("X-IOC-Delivery", ""))
                status = 503 if len(receiver.attempts) <= receiver.failures else receiver.status
                if not verify(secret, dict(self.headers.items()), body, now=time.time()):
                    receiver.bad_signatures += 1
                elif status < 300:
                    receiver.accepted.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def subjects(self) -> list[object]:
        return [body["alert"]["subject"] for body in self.accepted]  # type: ignore[index]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

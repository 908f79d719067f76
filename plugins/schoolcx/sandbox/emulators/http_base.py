"""A threaded HTTP server on 127.0.0.1 with a route function and injectable faults.

Each vendor emulator supplies `handle(request) -> Response`; this module owns sockets, request
counting, rate limiting (429 + Retry-After) and faults, so every emulator misbehaves the same
realistic ways: 500s, slow responses past the client's timeout, truncated bodies, dropped
connections.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULT_KINDS = ("error_500", "error_503", "timeout", "truncate", "drop", "rate_limit")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data, status: int = 200, headers: dict | None = None) -> Response:
        return cls(
            status,
            json.dumps(data, separators=(",", ":")).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


@dataclass
class Faults:
    """plan: 1-based request number (counted per server, matching requests only) -> fault kind.
    path_contains: only requests whose path contains this string are counted and faulted.
    rate_limit: at most this many requests per `rate_window` seconds, then 429 + Retry-After."""

    plan: dict[int, str] = field(default_factory=dict)
    path_contains: str = ""
    rate_limit: int | None = None
    rate_window: float = 60.0
    retry_after: float = 1.0
    timeout_seconds: float = 3.0

    def __post_init__(self):
        for kind in self.plan.values():
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")


class EmulatorServer:
    def __init__(self, handle: Callable[[Request], Response], faults: Faults | None = None):
        self.handle = handle
        self.faults = faults or Faults()
        self.requests: list[tuple[str, str, int]] = []  # (method, path?query, status) log
        self._counted = 0
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _fault_for(self, path: str) -> str | None:
        with self._lock:
            if self.faults.path_contains and self.faults.path_contains not in path:
                return None
            self._counted += 1
            fault = self.faults.plan.get(self._counted)
            if fault is None and self.faults.rate_limit is not None:
                now = time.monotonic()
                while self._recent and now - self._recent[0] > self.faults.rate_window:
                    self._recent.popleft()
                if len(self._recent) >= self.faults.rate_limit:
                    return "rate_limit"
                self._recent.append(now)
            return fault

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, a keep-alive client waits
            # ~40 ms (delayed ACK) for every small response.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                fault = server._fault_for(parts.path)
                if fault == "drop":
                    server.requests.append((self.command, self.path, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "timeout":
                    time.sleep(server.faults.timeout_seconds)
                if fault in ("error_500", "error_503"):
                    resp = Response.json({"error": "injected"}, status=int(fault[-3:]))
                elif fault == "rate_limit":
                    resp = Response.json(
                        {"error": "TooManyRequests"},
                        status=429,
                        headers={"Retry-After": f"{server.faults.retry_after:g}"},
                    )
                else:
                    resp = server.handle(req)
                body = resp.body
                if fault == "truncate":
                    body = body[: max(1, len(body) // 2)]
                server.requests.append((self.command, self.path, resp.status))
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _serve

        return Handler

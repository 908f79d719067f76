"""A threaded HTTP server on 127.0.0.1 with a route function and injectable faults.

Each vendor emulator supplies `handle(request) -> Response`; this module owns sockets, request
counting, rate limiting (429 + Retry-After) and faults, so every emulator misbehaves the same
realistic ways: 500s, slow responses past the client's timeout, truncated bodies, dropped
connections, a stall that ends in a dropped connection, the previous page served again, the
records of a page in another order, and a proxy's HTML error page sent with status 200.
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

FAULT_KINDS = (
    "error_500",
    "error_503",
    "timeout",  # answer late (timeout_seconds): past the client's timeout when it is shorter
    "stall",  # wait timeout_seconds, then close without an answer (a read that never finishes)
    "truncate",
    "drop",
    "rate_limit",
    "repeat",  # the previous response to the same path again (a page served twice)
    "reorder",  # the page's records (every list of objects in the JSON body) in reverse order
    "html_200",  # a load balancer's or CDN's maintenance page: HTML, with status 200
)

# What a proxy in front of a vendor API sends during maintenance: a 200 with HTML in it.
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body>"
    b"<h1>We'll be back soon</h1><p>Scheduled maintenance is in progress.</p></body></html>"
)


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
    rate_limit: at most this many requests per `rate_window` seconds, then 429 + Retry-After.
    latency: seconds added to every matching request (a slow vendor: paces a page stream so a
    test can act in the middle of it)."""

    plan: dict[int, str] = field(default_factory=dict)
    path_contains: str = ""
    rate_limit: int | None = None
    rate_window: float = 60.0
    retry_after: float = 1.0
    timeout_seconds: float = 3.0
    latency: float = 0.0

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
        self._last: dict[str, Response] = {}  # path -> last response served (for "repeat")
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
                if server.faults.latency and (
                    not server.faults.path_contains or server.faults.path_contains in parts.path
                ):
                    time.sleep(server.faults.latency)
                if fault == "stall":
                    time.sleep(server.faults.timeout_seconds)
                if fault in ("drop", "stall"):
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
                elif fault == "html_200":
                    resp = Response(200, HTML_ERROR_PAGE, {"Content-Type": "text/html"})
                elif fault == "repeat" and parts.path in server._last:
                    resp = server._last[parts.path]
                else:
                    resp = server.handle(req)
                    if resp.status == 200:
                        server._last[parts.path] = resp
                    if fault == "reorder":
                        resp = _reordered(resp)
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


def _reordered(resp: Response) -> Response:
    """The same page with its lists of records reversed: a list of objects at the top of the
    JSON body or one level down (`{"result": {"elements": [...]}}`). The records themselves
    are untouched; other bodies are sent as they are."""
    try:
        data = json.loads(resp.body)
    except ValueError:
        return resp

    def flip(node, depth: int):
        if not isinstance(node, dict) or depth > 1:
            return node
        out = {}
        for key, value in node.items():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                out[key] = value[::-1]
            else:
                out[key] = flip(value, depth + 1)
        return out

    return Response(resp.status, json.dumps(flip(data, 0)).encode(), dict(resp.headers))

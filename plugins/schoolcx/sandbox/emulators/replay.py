"""Replay recorded vendor responses over a real socket on 127.0.0.1.

A route maps a request path to the recorded body (bytes, served as sent). The query string is
not matched: a recorded page is what the vendor answered whatever the connector asked, which is
what a replay test wants to see (a connector that follows a `next` link the recording says not
to follow gets the same page again, and the request log shows it). A route may hold several
bodies: they are served in order, the last one for every request after.
"""

from __future__ import annotations

from pathlib import Path

from schoolcx.sandbox.emulators.http_base import EmulatorServer, Request, Response


class ReplayServer:
    def __init__(self, routes: dict[str, bytes | Path | list[bytes | Path]]):
        self.routes = {
            path: [b.read_bytes() if isinstance(b, Path) else b for b in bodies]
            for path, bodies in ((p, v if isinstance(v, list) else [v]) for p, v in routes.items())
        }
        self._served: dict[str, int] = {}
        self.server = EmulatorServer(self.handle)

    def handle(self, req: Request) -> Response:
        bodies = self.routes.get(req.path)
        if bodies is None:
            return Response.json({"error": "not recorded", "path": req.path}, status=404)
        n = self._served.get(req.path, 0)
        self._served[req.path] = n + 1
        return Response(200, bodies[min(n, len(bodies) - 1)], {"Content-Type": "application/json"})

    @property
    def url(self) -> str:
        return self.server.url

    def requests_to(self, path: str) -> list[str]:
        """The path?query of every request made to `path`."""
        return [p for _m, p, _s in self.server.requests if p.split("?")[0] == path]

    def __enter__(self) -> ReplayServer:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

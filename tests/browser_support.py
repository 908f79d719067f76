"""Load a local HTML page in a real headless Chromium and see what a reader's browser sees.

Generic on purpose (the report's pages and the gate's page both use it):

    with chromium() as browser, browser.visit(path) as visit:
        visit.page                      # a Playwright page, loaded
        visit.console_errors            # console errors and uncaught exceptions
        visit.requests                  # every request but the page's own file and data: URLs
        visit.axe(impacts=...)          # axe-core violations at those impacts
        visit.screenshot(path)

Debian's chromium (/usr/bin/chromium, installed by `make setup`) is driven through the
`playwright` package; no browser is downloaded. Requests other than the page's own file are
recorded and then aborted, so a page that would reach the network fails its test here without
reaching anything. axe-core comes from tests/browser/node_modules (`npm ci` in `make setup`)
and is injected as inline script text, which is not a request.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SCHOOLCX_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def require_browser() -> None:
    """Fail with the reason when `make setup` has not installed chromium or axe-core: `make
    test` installs both, so a missing browser is a broken setup, not a test to skip quietly."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make setup` (installs Debian's chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run `make setup` (npm ci in tests/browser)")


@dataclass
class Visit:
    page: object  # playwright.sync_api.Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def axe(self, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
        """Run axe-core on the loaded page; its violations at `impacts`, each with the rule,
        impact, help text and the first offending nodes' selectors."""
        self.page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        result = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        return [
            {
                "rule": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"][:5]],
            }
            for v in result["violations"]
            if v["impact"] in impacts
        ]

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def overflows_horizontally(self) -> bool:
        """Whether the page is wider than its viewport (a phone reader would scroll sideways)."""
        return self.page.evaluate(
            "() => document.documentElement.scrollWidth > window.innerWidth + 1"
        )


class Browser:
    def __init__(self, browser) -> None:
        self._browser = browser

    @contextlib.contextmanager
    def visit(self, path: Path, viewport: dict | None = None) -> Iterator[Visit]:
        """Open `path` (a local file) in a fresh context and wait until it has loaded."""
        url = Path(path).resolve().as_uri()
        context = self._browser.new_context(viewport=viewport or DESKTOP)
        page = context.new_page()
        visit = Visit(page, url)

        def on_console(message) -> None:
            if message.type == "error":
                visit.console_errors.append(message.text)

        def own(requested: str) -> bool:
            return requested == url or requested.startswith("data:")

        def on_request(requested: str) -> None:
            if not own(requested):
                visit.requests.append(requested)

        page.on("console", on_console)
        page.on("pageerror", lambda error: visit.console_errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: on_request(request.url))
        # every other request is recorded above and aborted here: nothing leaves the machine
        context.route(
            "**/*", lambda route: route.continue_() if own(route.request.url) else route.abort()
        )
        try:
            page.goto(url, wait_until="load")
            yield visit
        finally:
            context.close()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, with its own background traffic turned off."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield Browser(browser)
        finally:
            browser.close()

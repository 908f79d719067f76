"""`schoolcx docs`: dbt's documentation site for the project, generated against the warehouse.

`dbt docs generate` reads the project (descriptions, contracts, tests, exposures: the
manifest) and the warehouse's catalog (every built relation's columns and types). It runs in a
target folder of its own under .local/, never dbt_project/target/, whose manifest the nightly
DAG (cosmos) reads. The site is copied to `.local/docs/dbt/`:

- `index.html` with `manifest.json` and `catalog.json`: dbt's single-page app, which fetches
  the two JSON files, so it needs an HTTP server (`--serve`); its JavaScript and CSS are inline
  in index.html, nothing comes from a CDN (dbt's usage tracking, the one script it would load,
  stays off: `send_anonymous_usage_stats: false` in dbt_project.yml).
- `static_index.html`: the same app with both JSON files inlined (`--static`): opens from the
  file system, offline, with no server.
- `metrics.html`: the repository's docs/metrics.md rendered, which the site's overview links
  to, so the definitions travel with the site and no link leaves it.
"""

from __future__ import annotations

import functools
import http.server
import json
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from schoolcx import pipeline
from schoolcx.paths import PROJECT_ROOT, local_dir

log = logging.getLogger(__name__)

SITE_FILES = ("index.html", "static_index.html", "manifest.json", "catalog.json")
METRICS_DOC = PROJECT_ROOT / "docs" / "metrics.md"


def docs_dir() -> Path:
    return local_dir() / "docs" / "dbt"


@dataclass(frozen=True)
class DocsSite:
    folder: Path
    models: int
    models_in_catalog: int
    not_built: list[str]  # models with no relation in the warehouse: no column types for them

    @property
    def index(self) -> Path:
        return self.folder / "index.html"

    @property
    def static_index(self) -> Path:
        return self.folder / "static_index.html"


def generate(url: str, folder: Path | None = None) -> DocsSite:
    """Run `dbt docs generate --static` against the warehouse at `url`; copy the site to
    `folder` (default .local/docs/dbt/)."""
    folder = Path(folder or docs_dir())
    target = local_dir() / "docs" / "dbt-target"
    # parse, then generate without compiling: the catalog and descriptions need no compiled
    # SQL, and compiling would run the incremental models' watermark queries for nothing
    # (generate --no-compile reads the manifest parse wrote into the same target folder)
    where = ["--target-path", str(target)]
    pipeline.dbt(url, ["--quiet", "parse", *where])
    pipeline.dbt(url, ["--quiet", "docs", "generate", "--static", "--no-compile", *where])
    folder.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        shutil.copyfile(target / name, folder / name)
    (folder / "metrics.html").write_text(metrics_html(METRICS_DOC.read_text()), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text())
    catalog = json.loads((folder / "catalog.json").read_text())
    models = sorted(k for k, n in manifest["nodes"].items() if n["resource_type"] == "model")
    built = [m for m in models if m in catalog["nodes"]]
    missing = [manifest["nodes"][m]["name"] for m in models if m not in catalog["nodes"]]
    return DocsSite(folder, len(models), len(built), missing)


def metrics_html(markdown: str) -> str:
    """docs/metrics.md as a self-contained page (CommonMark with tables). Its links to other
    repository files (`../dbt_project/...`) would not resolve beside the site: they become the
    file's path in words."""
    import html
    import re

    markdown = re.sub(r"\[([^\[\]]+)\]\(\.\./([^)\s]+)\)", _repository_file, markdown)

    try:
        # markdown-it-py comes with rich (Airflow's and dbt's console output)
        from markdown_it import MarkdownIt
    except ImportError:  # pragma: no cover - the text as it is, still readable
        body = f"<pre>{html.escape(markdown)}</pre>"
    else:
        body = MarkdownIt("commonmark").enable("table").render(markdown)
        # heading ids as GitHub makes them, so the page's own contents links work here too
        body = re.sub(
            r"<h([1-6])>(.*?)</h\1>",
            lambda m: f"<h{m[1]} id='{_slug(m[2])}'>{m[2]}</h{m[1]}>",
            body,
        )
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>schoolcx metric definitions</title><style>"
        "body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:0 auto;padding:1rem}"
        "table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.25rem .5rem}"
        "code,pre{background:#f4f4f4}pre{padding:.5rem;overflow-x:auto}"
        f"</style></head><body><main>{body}</main></body></html>\n"
    )


def _repository_file(link) -> str:
    text, path = link[1], link[2]
    return text if path in text else f"{text} (repository file `{path}`)"


def _slug(heading_html: str) -> str:
    import re

    text = re.sub(r"<[^>]+>", "", heading_html).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def serve(folder: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the site on localhost (port 0: a free one), started in a thread;
    the caller stops it with `shutdown()`."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        log.debug("docs server: " + format, *args)

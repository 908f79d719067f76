"""The district report: headline figures per district, read from the published marts only.

`print_summary` is what `make demo` ends with (a console table); `write_report` writes the
self-contained HTML pages (one per district and a consortium index; inline CSS and SVG, no
network) and returns the index's path. Modules: `data` (the queries, `marts` only), `figures`
(names, units, directions), `view` (the page in words), `charts` (Altair to SVG), `pages`
(templates to files), `console` (the summary).
"""

from __future__ import annotations

import datetime as dt

from schoolcx.config import DeploymentConfig
from schoolcx.paths import local_dir
from schoolcx.report.console import HEADLINES, Headline, headlines, print_summary

__all__ = ["HEADLINES", "Headline", "headlines", "print_summary", "report_folder", "write_report"]


def report_folder(as_of: dt.date):
    return local_dir() / "reports" / as_of.isoformat()


def write_report(url: str, cfg: DeploymentConfig, as_of: dt.date) -> str:
    """Write the district pages and their index for `as_of`; returns the index's path."""
    from schoolcx.report.pages import write_pages

    return str(write_pages(url, cfg, as_of, report_folder(as_of)))

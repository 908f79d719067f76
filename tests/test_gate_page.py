"""The gate page (quality/page.py) from real gate runs: GX over built marts, ops.gate_results.

Three nights go through the real gate and publish: a good night, a night blocked by a
duplicate key, and the same night again with a volume spike (a warning, published). The page
must show every check of the latest run with its observed value and result in words, and the
history of all three runs, with nothing fetched from the network.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest

from schoolcx.paths import EXPECTATIONS_DIR
from schoolcx.publish import publish
from tests.fixture_marts import as_of, build_night, fixture_config, last_date

CFG = fixture_config()
DUP_KEY = "fct_interactions.interaction_key.unique"
JUMP = "fct_daily_volume.no_jump_vs_trailing_median"


class Rows(HTMLParser):
    """Every <tr> of the page: its data-* attributes, its cells' text, each cell's attrs."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self._row: dict | None = None
        self._cell: list[str] | None = None
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "tr":
            self._row = {"attrs": attrs, "cells": [], "cell_attrs": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._row["cell_attrs"].append(attrs)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> Rows:
    p = Rows()
    p.feed(text)
    return p


@pytest.fixture(scope="module")
def three_runs(module_warehouse, tmp_path_factory):
    from schoolcx.quality import run_gate

    root = tmp_path_factory.mktemp("gx")
    shutil.copy(EXPECTATIONS_DIR / "great_expectations.yml", root / "great_expectations.yml")
    url = module_warehouse

    def night(n, run_id, inject=None):
        build_night(url, n)
        if inject:
            with psycopg.connect(url) as conn:
                conn.execute(inject)
        result = run_gate(url, CFG, run_id, as_of(n), context_dir=root, data_docs_dir=root / "dd")
        publish(url, CFG, run_id, as_of(n - 1), as_of(n), result, as_of=last_date(n))
        return result

    good = night(1, "night-1")
    blocked = night(
        2,
        "night-2-dup",
        "insert into build.fct_interactions"
        " select * from build.fct_interactions order by interaction_key limit 1",
    )
    warned = night(
        2,
        "night-2-spike",
        """update build.fct_daily_volume set interactions = interactions * 30
           where district_id = '4800005' and local_date = (
               select max(local_date) from build.fct_daily_volume where is_service_day)""",
    )
    assert good.passed and not blocked.passed and warned.passed, warned.summary()
    return url, [good, blocked, warned]


def test_gate_page_shows_every_check_of_the_latest_run_in_words(three_runs, tmp_path):
    from schoolcx.quality.page import write_gate_page

    url, (_, _, latest) = three_runs
    path = write_gate_page(url, tmp_path / "report")
    assert path == tmp_path / "report" / "gate.html"
    text = path.read_text()
    page = _parse(text)

    checks = {r["attrs"]["data-check"]: r for r in page.rows if "data-check" in r["attrs"]}
    assert set(checks) == {o.name for o in latest.outcomes} and len(checks) > 40
    for o in latest.outcomes:
        row = checks[o.name]
        name, result, severity, relation, observed = row["cells"][:5]
        assert name == o.name and severity == o.severity and relation == o.relation
        assert observed == " ".join(o.observed_value.split())
        assert result == ("Passed" if o.passed else "Failed (warning)")
        assert row["attrs"]["data-passed"] == str(o.passed).lower()
    # the warning is listed first, with the district whose volume jumped
    first = next(r for r in page.rows if "data-check" in r["attrs"])
    assert first["attrs"]["data-check"] == JUMP and "4800005" in first["cells"][4]
    assert 'id="verdict"' in text.replace("'", '"') and "Passed</span>" in text


def test_gate_page_has_the_history_of_earlier_nights(three_runs, tmp_path):
    from schoolcx.quality.page import write_gate_page

    url, _ = three_runs
    page = _parse(write_gate_page(url, tmp_path).read_text())

    history = [r for r in page.rows if "data-run" in r["attrs"]]
    assert [r["attrs"]["data-run"] for r in history] == [
        "night-2-spike",
        "night-2-dup",
        "night-1",
    ]
    spike, dup, good = (r["cells"] for r in history)
    assert spike[5] == "Passed" and spike[4] == "1" and spike[6].startswith("published as of")
    assert dup[5] == "Blocked" and dup[3] == "1" and dup[6] == "blocked: previous marts kept"
    assert good[5] == "Passed" and good[6] == f"published as of {last_date(1)}"

    # per check, the earlier runs' results in words: the duplicate key failed the night before
    checks = {r["attrs"]["data-check"]: r for r in page.rows if "data-check" in r["attrs"]}
    dup_row = checks[DUP_KEY]["cells"]
    assert dup_row[1] == "Passed" and dup_row[5:] == ["Failed", "Passed"]


def test_gate_page_is_self_contained(three_runs, tmp_path):
    from schoolcx.quality.page import write_gate_page

    url, _ = three_runs
    text = write_gate_page(url, tmp_path).read_text()
    page = _parse(text)
    # nothing to fetch: no script, stylesheet link, image or URL of any kind
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe")]
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I)
    # tables have header cells with a scope; the page declares its language
    assert ("html", {"lang": "en"}) in page.tags
    headers = [a for t, a in page.tags if t == "th"]
    assert headers and all(a.get("scope") in ("col", "row") for a in headers)


def test_nightly_report_step_writes_the_gate_page_beside_the_report(
    three_runs, tmp_path, monkeypatch
):
    from schoolcx import pipeline

    url, _ = three_runs
    monkeypatch.setenv("SCHOOLCX_HOME", str(tmp_path))
    report = pipeline.report(url, CFG, last_date(2))
    folder = tmp_path / "reports" / last_date(2).isoformat()
    gate = folder / "gate.html"
    assert gate.is_file() and Path(report).is_relative_to(folder)
    assert "night-2-spike" in gate.read_text()


def test_no_gate_run_yet(warehouse, tmp_path):
    from schoolcx.quality.page import write_gate_page

    text = write_gate_page(warehouse, tmp_path).read_text()
    assert "No gate run is recorded" in text

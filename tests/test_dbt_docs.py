"""`schoolcx docs`: dbt's docs site from the real project against a real warehouse.

Every model is built by a real `dbt run` over the small hand-written world of the dbt core
tests, then the command runs as a user runs it. The site must hold the published marts with
every column described and their contracts, the report's exposures, the link to the metric
definitions, and load nothing from a network.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from schoolcx.marts import MARTS


@pytest.fixture(scope="module")
def site(module_warehouse, tmp_path_factory):
    import datetime as dt

    from schoolcx import cli, pipeline
    from schoolcx.refsync import sync_config
    from tests import fixture_dbt_core as fx

    url = module_warehouse
    sync_config(url, fx.config(), today=fx.CONFIG_TODAY)
    fx.insert_rows(url, fx.night_one_rows(), "night-1", dt.timedelta(days=1))
    pipeline.dbt(url, ["--quiet", "run", "--vars", f"{{as_of_date: '{fx.AS_OF_NIGHT_ONE}'}}"])
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCHOOLCX_HOME", str(home))
    mp.setenv("WAREHOUSE_URL", url)
    try:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["docs"]) == 0
    finally:
        mp.undo()
    folder = home / "docs" / "dbt"
    return folder, out.getvalue()


def _load(folder, name):
    return json.loads((folder / name).read_text())


def test_site_files_written_and_named(site):
    folder, out = site
    for name in ("index.html", "static_index.html", "manifest.json", "catalog.json"):
        assert (folder / name).is_file(), name
    assert str(folder) in out and str(folder / "static_index.html") in out
    assert "not built" not in out  # every model has its relation in the warehouse


def test_catalog_has_every_mart_column_described_and_contracted(site):
    folder, _ = site
    manifest, catalog = _load(folder, "manifest.json"), _load(folder, "catalog.json")
    for mart in MARTS:
        key = f"model.schoolcx.{mart}"
        node = manifest["nodes"][key]
        assert node["config"]["contract"]["enforced"], mart
        assert node["description"].strip(), mart
        built = set(catalog["nodes"][key]["columns"])
        documented = {c: v["description"].strip() for c, v in node["columns"].items()}
        assert built and built == set(documented), mart
        assert all(documented.values()), [c for c, d in documented.items() if not d]
        # the column's declared type is the built one (the contract, as the catalog sees it)
        assert catalog["nodes"][key]["metadata"]["schema"] == "build"


def test_report_exposures_and_metric_definitions_in_the_repository(site):
    folder, _ = site
    manifest = _load(folder, "manifest.json")
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"district_report", "consortium_report", "quality_gate_page"} <= set(exposures)
    report = exposures["district_report"]["depends_on"]["nodes"]
    assert {f"model.schoolcx.{m}" for m in ("district_scorecard", "peer_benchmarks")} <= set(report)
    # the docs point to docs/metrics.md, never to a file outside the repository
    text = json.dumps(manifest)
    assert "docs/metrics.md" in text
    assert "/work/shared" not in text and "METRICS.md" not in text


def test_site_loads_nothing_from_a_network(site):
    folder, _ = site
    html = (folder / "index.html").read_text()
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", html)
    # dbt's usage tracking (the one script the app would fetch) is off in the project
    assert _load(folder, "manifest.json")["metadata"]["send_anonymous_usage_stats"] is False
    static = (folder / "static_index.html").read_text()
    assert '"model.schoolcx.district_scorecard"' in static  # manifest and catalog inlined


def test_serve_on_a_free_localhost_port(site):
    from schoolcx.dbtdocs import serve

    folder, _ = site
    server = serve(folder)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1" and port > 0
        with urllib.request.urlopen(f"http://{host}:{port}/catalog.json", timeout=10) as r:
            assert r.status == 200 and "model.schoolcx.dim_district" in r.read().decode()
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=10) as r:
            assert r.status == 200 and b"dbt" in r.read()
    finally:
        server.shutdown()


def test_overview_links_to_the_metric_definitions_beside_the_site(site):
    folder, _ = site
    manifest = _load(folder, "manifest.json")
    overview = manifest["docs"]["doc.schoolcx.__overview__"]["block_contents"]
    assert "[docs/metrics.md](metrics.html)" in overview
    page = (folder / "metrics.html").read_text()
    assert (
        "<h1 id='what-every-published-figure-means'>" in page
        and "Year over year" in page
        and "<table>" in page
    )
    assert 'href="#year-over-year"' in page and "<h2 id='year-over-year'>" in page
    assert 'href="../' not in page and "<code>dbt_project/DECISIONLOG.md</code>" in page
    assert "[open, close)" in page  # interval notation is text, not a link

"""The district report in a real headless Chromium, on the demo world's published marts.

Built once for the module (the demo world through every connector, dbt, the gate and publish:
minutes), then every page is loaded from disk: no console error, no request beyond its own
file, a screenshot (desktop and phone), no sideways scrolling on a phone, no serious or
critical axe-core violation; and the figures read back from the DOM equal the marts, queried
here independently of the report's own queries.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from schoolcx.config import load_config
from schoolcx.quality.page import write_gate_page
from schoolcx.report.figures import FIGURES, HEADLINE_FIGURES, number
from schoolcx.report.pages import page_name, write_pages
from schoolcx.report.units import school_page_name
from tests.browser_support import PHONE, chromium, require_browser
from tests.fixture_demo_marts import publish_demo_marts

# The module's first test builds a whole world (minutes); on `make test`'s two workers it may
# share the machine with another build, so it gets twice the suite's per-test hang guard.
pytestmark = pytest.mark.timeout(1200)

CARDS = [f.metric for f in HEADLINE_FIGURES] + ["sla_met_share", "high_risk_share"]


@pytest.fixture(scope="module")
def report(module_warehouse, tmp_path_factory):
    require_browser()
    work = tmp_path_factory.mktemp("report_demo")
    built = publish_demo_marts(module_warehouse, work / "build")
    cfg = load_config(Path(built["config"]))
    as_of = dt.date.fromisoformat(built["as_of"])
    index = write_pages(module_warehouse, cfg, as_of, work / "report")
    # beside the report, as pipeline.report writes it: the gate's results, readable offline
    write_gate_page(module_warehouse, index.parent)
    with psycopg.connect(module_warehouse) as conn:
        ids = [r[0] for r in conn.execute("select district_id from marts.dim_district")]
    return {
        "url": module_warehouse,
        "index": index,
        "as_of": as_of,
        "ids": ids,
        "cfg": cfg,
        "config": Path(built["config"]),
    }


@pytest.fixture(scope="module")
def browser(report):
    with chromium() as b:
        yield b


def pages(report) -> list[Path]:
    folder = report["index"].parent
    return [
        report["index"],
        *(folder / page_name(d) for d in report["ids"]),
        *sorted(folder.glob("school-*.html")),
    ]


def query(url: str, sql: str, params=()) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(sql, params))


def attr(element, name: str) -> Decimal | None:
    value = element.get_attribute(name)
    return Decimal(value) if value else None


def test_every_page_loads_offline_with_no_error_and_passes_axe(report, browser, tmp_path):
    assert len(report["ids"]) == len(report["cfg"].districts) > 5
    for path in pages(report):
        with browser.visit(path) as visit:
            assert visit.console_errors == [], (path.name, visit.console_errors)
            assert visit.requests == [], (path.name, visit.requests)
            # district pages: three monthly trends, SLA by priority, survey items, ratings by
            # response time, the backlog by age, and a chart
            # per unit type with a unit at n (a table per unit type always); school pages: the
            # district's schools
            charts = visit.page.locator("figure svg[role=img]").count()
            unit_charts = visit.page.locator("figure[data-unit-type] svg[role=img]").count()
            unit_tables = visit.page.locator("table[data-unit-type]").count()
            if path.name.startswith("district-"):
                assert (charts - unit_charts, unit_tables) == (7, 5), path.name
            elif path.name.startswith("school-"):
                assert (charts, unit_charts, unit_tables) == (unit_charts, 1, 1), path.name
            else:
                assert charts == 0, path.name
            shot = visit.screenshot(tmp_path / f"{path.stem}.png")
            assert shot.stat().st_size > 10_000
            assert visit.axe() == [], path.name
        with browser.visit(path, viewport=PHONE) as visit:
            visit.screenshot(tmp_path / f"{path.stem}-phone.png")
            assert not visit.overflows_horizontally(), path.name


def test_a_district_page_prints_without_its_navigation(report, browser, tmp_path):
    """Print CSS: the breadcrumb is hidden and Chromium prints the page to a PDF."""
    page = report["index"].parent / page_name(report["ids"][0])
    with browser.visit(page) as visit:
        assert visit.page.locator("nav.crumbs").is_visible()
        visit.page.emulate_media(media="print")
        assert not visit.page.locator("nav.crumbs").is_visible()
        pdf = visit.page.pdf(path=str(tmp_path / "district.pdf"), format="Letter")
        assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_gate_page_loads_offline_styled_and_equals_the_gate_results(report, browser, tmp_path):
    """gate.html, linked from the index, in Chromium: no console error, no request (styles are
    inline, unlike GX Data Docs' CDN assets), no serious axe violation, and every check of the
    demo night's gate run with its result as ops.gate_results holds it."""
    index_links = []
    with browser.visit(report["index"]) as visit:
        index_links = visit.page.locator("a[href='gate.html']").count()
    assert index_links == 1
    gate = report["index"].parent / "gate.html"
    latest = query(
        report["url"],
        """select expectation, passed, severity from ops.gate_results
           where run_id = (select run_id from ops.gate_results order by checked_at desc limit 1)""",
    )
    assert latest
    with browser.visit(gate) as visit:
        assert visit.console_errors == [] and visit.requests == []
        assert visit.axe(("serious", "critical")) == []
        # styled: the verdict badge has the border its inline CSS gives it
        border = visit.page.locator("#verdict").evaluate("e => getComputedStyle(e).borderStyle")
        assert border == "solid"
        verdict = visit.page.locator("#verdict").get_attribute("data-verdict")
        assert verdict == (
            "passed"
            if all(r["passed"] for r in latest if r["severity"] == "critical")
            else "blocked"
        )
        rows = visit.page.locator("tr[data-check]")
        shown = {
            rows.nth(i).get_attribute("data-check"): rows.nth(i).get_attribute("data-passed")
            for i in range(rows.count())
        }
        assert shown == {r["expectation"]: str(r["passed"]).lower() for r in latest}
        visit.screenshot(tmp_path / "gate.png")


def test_index_links_every_district_under_its_consortium(report, browser):
    with browser.visit(report["index"]) as visit:
        links = visit.page.locator("a[href^='district-']")
        hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
        assert hrefs == {page_name(d) for d in report["ids"]}
        headings = visit.page.locator("main h2").all_inner_texts()
        assert headings == [c.name for c in report["cfg"].consortiums]


def test_headline_cards_equal_the_marts(report, browser):
    url, checked = report["url"], 0
    for district_id in report["ids"]:
        year = query(
            url,
            "select * from marts.district_scorecard where district_id = %s"
            " and period_type = 'school_year' and period_start = %s",
            (district_id, dt.date(report["as_of"].year, 7, 1)),
        )[0]
        peers = {
            r["metric"]: r
            for r in query(
                url,
                "select * from marts.peer_benchmarks where district_id = %s"
                " and period_type = 'school_year' and period_start = %s",
                (district_id, year["period_start"]),
            )
        }
        yoy = {
            r["metric"]: r
            for r in query(
                url, "select * from marts.yoy_trends where district_id = %s", (district_id,)
            )
        }
        with browser.visit(report["index"].parent / page_name(district_id)) as visit:
            for metric in CARDS:
                card = visit.page.locator(f"#card-{metric}")
                assert attr(card, "data-value") == year[metric], (district_id, metric)
                shown = card.locator("[data-role=value]").inner_text()
                assert shown == number(year[metric], FIGURES[metric])
                peer = peers.get(metric)
                assert attr(card, "data-peer-median") == (peer and peer["peer_median"])
                assert attr(card, "data-peer-p25") == (peer and peer["peer_p25"])
                assert attr(card, "data-prior") == yoy.get(metric, {}).get("prior_value")
                assert (card.get_attribute("data-direction") or None) == yoy.get(metric, {}).get(
                    "direction"
                )
                checked += 1
    assert checked == len(report["ids"]) * len(CARDS)


def test_monthly_trends_equal_the_marts(report, browser):
    url = report["url"]
    district_id = report["ids"][0]
    months = query(
        url,
        "select s.period_start, s.feedback_score, p.peer_median"
        " from marts.district_scorecard s left join marts.peer_benchmarks p"
        "  on p.district_id = s.district_id and p.period_type = s.period_type"
        "  and p.period_start = s.period_start and p.metric = 'feedback_score'"
        " where s.district_id = %s and s.period_type = 'month' and s.period_start >= %s"
        " order by s.period_start",
        (district_id, dt.date(report["as_of"].year, 7, 1)),
    )
    with browser.visit(report["index"].parent / page_name(district_id)) as visit:
        rows = visit.page.locator("#trend-feedback_score tbody tr")
        got = [
            (
                dt.date.fromisoformat(rows.nth(i).get_attribute("data-month")),
                attr(rows.nth(i), "data-value"),
                attr(rows.nth(i), "data-peer-median"),
            )
            for i in range(rows.count())
        ]
    assert got == [(m["period_start"], m["feedback_score"], m["peer_median"]) for m in months]
    assert len(got) >= 3


def test_survey_items_equal_the_marts_lowest_against_peers_first(report, browser):
    url = report["url"]
    for district_id in report["ids"]:
        items = query(
            url,
            "select r.item_code, r.percent_agree, r.valid_answers, p.peer_median"
            " from marts.fct_survey_item_results r left join marts.peer_benchmarks p"
            "  on p.district_id = r.district_id and p.period_type = 'school_year'"
            "  and p.metric = 'percent_agree.' || r.item_code"
            "  and p.period_start = make_date(r.school_year - 1, 7, 1)"
            " where r.district_id = %s and r.school_year = (select max(school_year)"
            "  from marts.fct_survey_item_results where district_id = %s)",
            (district_id, district_id),
        )
        with browser.visit(report["index"].parent / page_name(district_id)) as visit:
            rows = visit.page.locator("#survey-items tbody tr")
            got = [
                (
                    rows.nth(i).get_attribute("data-item"),
                    attr(rows.nth(i), "data-value"),
                    int(rows.nth(i).get_attribute("data-answers")),
                    attr(rows.nth(i), "data-peer-median"),
                )
                for i in range(rows.count())
            ]
        expected = {
            i["item_code"]: (i["percent_agree"], i["valid_answers"], i["peer_median"])
            for i in items
        }
        assert {g[0]: g[1:] for g in got} == expected, district_id
        gaps = [g[1] - g[3] for g in got if g[3] is not None]
        assert gaps == sorted(gaps), district_id
        # items without peers come after every item with them
        with_peers = [g[3] is not None for g in got]
        assert with_peers == sorted(with_peers, reverse=True)


def test_sla_by_priority_equals_the_interactions(report, browser):
    url = report["url"]
    district_id = report["ids"][1]
    expected = {
        r["priority"]: (r["evaluated"], r["met"])
        for r in query(
            url,
            "select priority, count(sla_met) as evaluated, count(*) filter (where sla_met) as met"
            " from marts.fct_interactions where district_id = %s and local_date between %s and %s"
            " group by priority",
            (district_id, dt.date(report["as_of"].year, 7, 1), report["as_of"]),
        )
    }
    with browser.visit(report["index"].parent / page_name(district_id)) as visit:
        rows = visit.page.locator("#sla-by-priority tbody tr")
        got = {
            rows.nth(i).get_attribute("data-priority"): (
                int(rows.nth(i).get_attribute("data-evaluated")),
                int(rows.nth(i).get_attribute("data-met")),
            )
            for i in range(rows.count())
        }
    assert got == expected


def test_months_under_n_show_as_suppressed_with_the_count(report, browser):
    """The demo has months whose ratings are under n: each says so, with the count."""
    n = report["cfg"].benchmarks.n_min_observations
    rows = query(
        report["url"],
        "select p.district_id, p.metric, p.period_start, s.rating_count, s.interactions"
        " from marts.peer_benchmarks p join marts.district_scorecard s"
        "  using (district_id, period_type, period_start)"
        " where p.period_type = 'month' and p.period_start >= %s"
        " and p.suppression_reason = 'district_below_n' and p.metric = any(%s)"
        " order by 1, 2, 3",
        (dt.date(report["as_of"].year, 7, 1), [f.metric for f in HEADLINE_FIGURES]),
    )
    assert rows, "the demo world has months under n"
    for row in rows:
        ratings = row["metric"] == "feedback_score"
        count, what = (
            (row["rating_count"], "ratings") if ratings else (row["interactions"], "interactions")
        )
        expected = f"suppressed: fewer than {n} {what} ({count:,} {what})"
        with browser.visit(report["index"].parent / page_name(row["district_id"])) as visit:
            month = visit.page.locator(
                f"#trend-{row['metric']} tr[data-month='{row['period_start'].isoformat()}']"
            )
            assert month.get_attribute("data-suppressed") == expected, row
            assert expected in month.inner_text()


def test_a_figure_without_a_peer_group_shows_as_suppressed_never_zero(report, browser, tmp_path):
    """Made here (the demo's school-year groups all meet k): one district's feedback score
    without a published peer group, as dbt writes it; the page says why, keeps the value."""
    url, district_id = report["url"], report["ids"][0]
    key = (district_id, dt.date(report["as_of"].year, 7, 1))
    where = (
        " where district_id = %s and metric = 'feedback_score'"
        " and period_type = 'school_year' and period_start = %s"
    )
    before = query(url, "select * from marts.peer_benchmarks" + where, key)[0]
    suppress = (
        "update marts.peer_benchmarks set peer_group = null, peer_group_key = null,"
        " n_districts = null, peer_p25 = null, peer_median = null, peer_p75 = null,"
        " percentile_rank = null, delta_from_median = null,"
        " suppression_reason = 'no_peer_group_meets_k'" + where
    )
    restore = (
        "update marts.peer_benchmarks set peer_group = %(peer_group)s,"
        " peer_group_key = %(peer_group_key)s, n_districts = %(n_districts)s,"
        " peer_p25 = %(peer_p25)s, peer_median = %(peer_median)s, peer_p75 = %(peer_p75)s,"
        " percentile_rank = %(percentile_rank)s, delta_from_median = %(delta_from_median)s,"
        " suppression_reason = %(suppression_reason)s"
        " where district_id = %(district_id)s and metric = %(metric)s"
        " and period_type = %(period_type)s and period_start = %(period_start)s"
    )
    with psycopg.connect(url) as conn:
        conn.execute(suppress, key)
    try:
        index = write_pages(url, report["cfg"], report["as_of"], tmp_path / "report")
    finally:
        with psycopg.connect(url) as conn:
            conn.execute(restore, before)
    k = report["cfg"].benchmarks.k_min_districts
    expected = f"suppressed: fewer than {k} peer districts"
    with browser.visit(index.parent / page_name(district_id)) as visit:
        assert visit.axe() == []
        card = visit.page.locator("#card-feedback_score")
        assert card.get_attribute("data-suppressed") == expected
        assert card.get_attribute("data-peer-median") == ""
        assert expected in card.inner_text()
        shown = card.locator("[data-role=value]").inner_text()
        assert shown == number(before["district_value"], FIGURES["feedback_score"]) != "0.00"
    with browser.visit(index) as visit:
        cell = visit.page.locator(
            f"tr[data-district='{district_id}'] td[data-metric='feedback_score']"
        )
        assert expected in cell.inner_text()


def test_cli_report_writes_the_pages_prints_the_summary_and_opens_the_index(report, tmp_path):
    """`schoolcx report --open` as a user runs it: the as-of of the published marts, the
    console summary, the index's path, and the index handed to the default browser (here a
    command that records what it was given, as BROWSER allows)."""
    opened = tmp_path / "opened.txt"
    home = tmp_path / "home"
    config = report["config"]
    env = {
        **os.environ,
        "WAREHOUSE_URL": report["url"],
        "SCHOOLCX_HOME": str(home),
        "BROWSER": f"/bin/sh -c 'echo \"$0\" > {opened}' %s",
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schoolcx"),
            "report",
            "--config",
            str(config),
            "--open",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    index = home / "reports" / report["as_of"].isoformat() / "index.html"
    assert f"report written to {index}" in done.stdout
    assert "published marts, school year to date" in done.stdout  # the console summary
    assert len(list(index.parent.glob("district-*.html"))) == len(report["ids"])
    assert opened.read_text().strip() == index.resolve().as_uri()


def _units(url: str, district_id: str, unit_type: str, as_of: dt.date) -> dict[str, dict]:
    rows = query(
        url,
        "select * from marts.unit_scorecard where district_id = %s and unit_type = %s"
        " and period_type = 'school_year' and period_start = %s",
        (district_id, unit_type, dt.date(as_of.year if as_of.month >= 7 else as_of.year - 1, 7, 1)),
    )
    return {r["unit_key"]: r for r in rows}


def test_unit_sections_equal_the_marts_and_show_suppressed_units_with_their_count(report, browser):
    """Each unit type's table on the district page holds every unit_scorecard row of the
    school year (the remainder last), its figures equal to the mart's, and a unit under n
    shows 'suppressed' with its count instead of figures."""
    url, n, suppressed_seen = report["url"], report["cfg"].benchmarks.n_min_observations, 0
    for district_id in report["ids"]:
        with browser.visit(report["index"].parent / page_name(district_id)) as visit:
            for unit_type in ("school", "department", "stakeholder_type", "channel", "language"):
                want = _units(url, district_id, unit_type, report["as_of"])
                rows = visit.page.locator(f"#units-{unit_type} tbody tr")
                got = {}
                for i in range(rows.count()):
                    row = rows.nth(i)
                    got[row.get_attribute("data-unit-key")] = row
                assert set(got) == set(want), (district_id, unit_type)
                keys = [rows.nth(i).get_attribute("data-unit-key") for i in range(rows.count())]
                if "(unmapped)" in keys:
                    assert keys[-1] == "(unmapped)"
                for key, row in got.items():
                    mart = want[key]
                    assert int(row.get_attribute("data-interactions")) == mart["interactions"]
                    assert (
                        attr(row, "data-median") == mart["median_first_response_business_minutes"]
                    )
                    assert attr(row, "data-feedback") == mart["feedback_score"]
                    if mart["suppression_reason"] == "unit_below_n":
                        words = (
                            f"suppressed: fewer than {n} interactions"
                            f" ({mart['interactions']:,} interactions)"
                        )
                        assert row.get_attribute("data-suppressed") == words
                        assert words in row.inner_text()
                        suppressed_seen += 1
    assert suppressed_seen, "the demo world has units under n"


def test_each_school_page_is_linked_and_shows_the_school_against_the_district(report, browser):
    url, folder, checked = report["url"], report["index"].parent, 0
    for district_id in report["ids"]:
        schools = {
            k: r
            for k, r in _units(url, district_id, "school", report["as_of"]).items()
            if not r["is_unmapped"]
        }
        configured = {
            s.school_id
            for d in report["cfg"].districts
            if d.district_id == district_id
            for s in d.schools
        }
        assert set(schools) == configured  # every configured school has a row, contacts or not
        district = query(
            url,
            "select * from marts.district_scorecard where district_id = %s"
            " and period_type = 'school_year' order by period_start desc limit 1",
            (district_id,),
        )[0]
        with browser.visit(folder / page_name(district_id)) as visit:
            links = visit.page.locator("#units-school a[href^='school-']")
            hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
        assert hrefs == {school_page_name(k) for k in schools}
        for school_id, mart in schools.items():
            page = folder / school_page_name(school_id)
            with browser.visit(page) as visit:
                assert visit.page.locator("#district-link").get_attribute("href") == page_name(
                    district_id
                )
                table = visit.page.locator("#school-figures")
                assert table.get_attribute("data-school-id") == school_id
                for metric in (
                    "median_first_response_business_minutes",
                    "feedback_score",
                    "interactions_per_1000_students_per_service_day",
                ):
                    row = table.locator(f"tr[data-metric='{metric}']")
                    assert attr(row, "data-value") == mart[metric], (school_id, metric)
                    assert attr(row, "data-district-value") == district[metric]
                    others = [
                        o[metric]
                        for k, o in schools.items()
                        if k != school_id and o[metric] is not None
                    ]
                    assert int(row.get_attribute("data-others")) == len(others)
                # the schools' table marks this school and links the others
                this = visit.page.locator("#units-school tr.this-unit")
                assert this.get_attribute("data-unit-key") == school_id
                assert (
                    visit.page.locator("#units-school a[href^='school-']").count()
                    == len(schools) - 1
                )
                assert visit.axe() == [], page.name
            checked += 1
    assert checked >= len(report["ids"])


def test_demo_pooling_round_pages_show_the_hubs_peer_figures(report, browser, tmp_path):
    """`make demo`'s pooling round on the demo marts (a copy): the consortium's districts in two
    deployments export, a hub in its own database imports, benchmarks, publishes and returns,
    and each district page then shows the hub's peer figures and says the hub computed them."""
    from schoolcx.sandbox.demo.pooling_round import run_pooling_round

    copy = f"pooled_{os.getpid()}"
    base = report["url"].rsplit("/", 1)[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'create database "{copy}" template "{report["url"].rsplit("/", 1)[1]}"')
    url = f"{base}/{copy}"
    cfg = report["cfg"]
    result = run_pooling_round(url, cfg, report["as_of"], tmp_path / "pool")
    members = [d for ids in result.deployments.values() for d in ids]
    assert len(result.deployments) == 2 and all(result.deployments.values())
    assert result.exported == result.imported == result.returned == result.received == len(members)
    assert (result.rejected, result.missing) == (0, [])
    assert result.hub_counts["peer_benchmarks"] > 0

    hub_peers = {
        (r["district_id"], r["metric"], r["period_start"]): r
        for r in query(
            result.hub_url,
            "select * from marts.peer_benchmarks where period_type = 'school_year'",
        )
    }
    index = write_pages(url, cfg, report["as_of"], tmp_path / "report")
    district_id = members[0]
    with browser.visit(index.parent / page_name(district_id)) as visit:
        assert visit.console_errors == [] and visit.requests == []
        assert "hub" in visit.page.locator("[data-role=peer-source]").inner_text()
        cards = visit.page.locator(".card[data-metric]")
        compared = 0
        for i in range(cards.count()):
            card = cards.nth(i)
            metric = card.get_attribute("data-metric")
            start = dt.date(report["as_of"].year - (report["as_of"].month < 7), 7, 1)
            hub = hub_peers.get((district_id, metric, start))
            if hub is not None and hub["peer_median"] is not None:
                assert attr(card, "data-peer-median") == hub["peer_median"]
                compared += 1
        assert compared >= 1


def test_service_health_equals_the_marts(report, browser):
    """Ratings by response bucket, the correlation, the backlog of the last 30 service days and
    past due on the page equal rating_drivers and fct_backlog_daily (issue 18)."""
    url, as_of = report["url"], report["as_of"]
    school_year = as_of.year + 1 if as_of.month >= 7 else as_of.year
    for district_id in report["ids"]:
        drivers = query(
            url,
            "select * from marts.rating_drivers where district_id = %s and school_year = %s"
            " order by bucket_order",
            (district_id, school_year),
        )
        backlog = query(
            url,
            "select b.local_date, b.backlog, b.past_due from marts.fct_backlog_daily b"
            " join marts.fct_daily_volume v using (district_id, local_date)"
            " where b.district_id = %s and v.is_service_day and b.local_date <= %s"
            " order by b.local_date desc limit 30",
            (district_id, as_of),
        )
        today = query(
            url,
            "select past_due from marts.fct_backlog_daily where district_id = %s"
            " and local_date = %s",
            (district_id, as_of),
        )
        with browser.visit(report["index"].parent / page_name(district_id)) as visit:
            rows = visit.page.locator("#rating-drivers tbody tr")
            shown = {
                rows.nth(i).get_attribute("data-bucket"): (
                    int(rows.nth(i).get_attribute("data-count")),
                    attr(rows.nth(i), "data-score"),
                )
                for i in range(rows.count())
            }
            assert shown == {
                r["response_bucket"]: (r["rating_count"], r["feedback_score"]) for r in drivers
            }, district_id
            corr = visit.page.locator("#rating-correlation")
            assert attr(corr, "data-rho") == (drivers[0]["spearman_rho"] if drivers else None)
            assert "ratings" in corr.inner_text()
            days = visit.page.locator("#backlog-aging tbody tr")
            got = [
                (
                    dt.date.fromisoformat(days.nth(i).get_attribute("data-date")),
                    int(days.nth(i).get_attribute("data-backlog")),
                    int(days.nth(i).get_attribute("data-past-due")),
                )
                for i in range(days.count())
            ]
            assert got == [
                (r["local_date"], r["backlog"], r["past_due"]) for r in reversed(backlog)
            ]
            past_due = visit.page.locator("#past-due")
            assert int(past_due.get_attribute("data-count")) == (
                today[0]["past_due"] if today else 0
            )


def test_today_status_shows_the_latest_intraday_cycle(report, browser, tmp_path):
    """Issue 18: the district page opens with the intraday cycle's figures (marts.today_status,
    as schoolcx.intraday publishes it) when one has run, each equal to the mart's value."""
    copy = f"today_{os.getpid()}"
    base = report["url"].rsplit("/", 1)[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'create database "{copy}" template "{report["url"].rsplit("/", 1)[1]}"')
    url = f"{base}/{copy}"
    district_id = report["ids"][0]
    with psycopg.connect(url) as conn:
        conn.execute(
            "create table marts.today_status (district_id text, local_date date,"
            " as_of_at timestamptz, contacts_today int, answered_today int,"
            " median_first_response_business_minutes numeric, backlog_now int,"
            " past_due_now int, high_risk_open_now int)"
        )
        conn.execute(
            "insert into marts.today_status values (%s, %s, %s, 1234, 987, 41.6, 56, 7, 3)",
            (district_id, report["as_of"], dt.datetime(2025, 10, 15, 19, 0, tzinfo=dt.UTC)),
        )
    index = write_pages(url, report["cfg"], report["as_of"], tmp_path / "report")
    with browser.visit(index.parent / page_name(district_id)) as visit:
        section = visit.page.locator("#today-status")
        assert section.count() == 1
        got = {
            f: section.locator(f"[data-field={f}]").inner_text()
            for f in ("contacts_today", "answered_today", "backlog_now", "past_due_now")
        }
        assert got == {
            "contacts_today": "1,234",
            "answered_today": "987",
            "backlog_now": "56",
            "past_due_now": "7",
        }
        median = section.locator("[data-field=median_first_response_business_minutes]")
        assert median.inner_text() == "42 business minutes"
        assert "19:00 UTC" in section.inner_text()
        assert visit.axe() == []
    other = report["ids"][1]
    with browser.visit(index.parent / page_name(other)) as visit:
        assert visit.page.locator("#today-status").count() == 0  # no cycle for it: no section

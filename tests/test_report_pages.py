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
from schoolcx.report.figures import FIGURES, HEADLINE_FIGURES, number
from schoolcx.report.pages import page_name, write_pages
from tests.browser_support import PHONE, chromium, require_browser
from tests.fixture_demo_marts import publish_demo_marts

CARDS = [f.metric for f in HEADLINE_FIGURES] + ["sla_met_share", "high_risk_share"]


@pytest.fixture(scope="module")
def report(module_warehouse, tmp_path_factory):
    require_browser()
    work = tmp_path_factory.mktemp("report_demo")
    built = publish_demo_marts(module_warehouse, work / "build")
    cfg = load_config(Path(built["config"]))
    as_of = dt.date.fromisoformat(built["as_of"])
    index = write_pages(module_warehouse, cfg, as_of, work / "report")
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
    return [report["index"], *(folder / page_name(d) for d in report["ids"])]


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
            assert visit.page.locator("svg").count() >= (1 if path.name == "index.html" else 0)
            shot = visit.screenshot(tmp_path / f"{path.stem}.png")
            assert shot.stat().st_size > 10_000
            assert visit.axe() == [], path.name
        with browser.visit(path, viewport=PHONE) as visit:
            visit.screenshot(tmp_path / f"{path.stem}-phone.png")
            assert not visit.overflows_horizontally(), path.name


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


def test_a_suppressed_figure_shows_as_suppressed_with_its_reason(report, browser):
    url = report["url"]
    suppressed = query(
        url,
        "select district_id, metric, suppression_reason from marts.peer_benchmarks"
        " where period_type = 'school_year' and period_start = %s"
        " and suppression_reason is not null order by district_id, metric",
        (dt.date(report["as_of"].year, 7, 1),),
    )
    assert suppressed, "the demo world has suppressed peer figures"
    seen = 0
    for row in suppressed:
        metric = row["metric"]
        if metric.startswith("percent_agree."):
            selector = f"#survey-items tr[data-item='{metric.removeprefix('percent_agree.')}']"
        elif metric in CARDS:
            selector = f"#card-{metric}"
        else:
            continue  # figures the page does not show
        with browser.visit(report["index"].parent / page_name(row["district_id"])) as visit:
            element = visit.page.locator(selector)
            if element.count() == 0:
                continue  # an item of an older survey year
            reason = element.get_attribute("data-suppressed")
            assert reason.startswith("suppressed:") or reason.startswith("no value"), row
            text = element.inner_text()
            assert reason in text
            if row["suppression_reason"] == "district_below_n":
                assert "fewer than 30" in reason and "(" in reason  # the count behind it
            seen += 1
    assert seen > 0


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

"""Vendor reconciliation: our first-response business minutes against the helpdesk's own.

- The Zendesk emulator serves metric sets in the documented shape: whole minutes
  `reply_time_in_minutes: {calendar, business}`, both null while unanswered, business minutes
  on an account schedule that has the federal holidays but not the district's own closures.
- Hand-worked reconciliation in dbt (Lincoln, Chicago, whose calendar closes Friday 13 February
  2026, a district closure, and Monday 16 February, Presidents' Day): raw rows in the landing
  shape, the real models, the mart read back and checked against the arithmetic beside it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from schoolcx.connectors.zendesk import TICKETS_PATH
from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refsync import sync_config
from schoolcx.sandbox.demo.world import Event, Interaction, Person, World
from schoolcx.sandbox.emulators import zendesk as zd_emulator
from schoolcx.warehouse.connect import url_parts
from tests import fixture_dbt_core as fx

UTC = dt.UTC
DBT = str(Path(sys.executable).with_name("dbt"))

# ---------------------------------------------------------------- the emulator's metric sets
SOURCE = "lincoln-zendesk"
AGENT = Person(10, "ana.agent@lincoln.k12.il.us", "Ana Agent", "agent")
PARENT = Person(101, "parent@example.org", "Parent", "parent")


def _z(hour: int, minute: int = 0, day: int = 13, month: int = 2) -> dt.datetime:
    """A UTC instant in February 2026 (Chicago is UTC-6 then)."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _it(tid: int, created: dt.datetime, reply: dt.datetime | None) -> Interaction:
    events = [Event(reply, "agent_reply", AGENT, None, tid * 10)] if reply else []
    return Interaction(
        interaction_id=tid,
        district_id=fx.LINCOLN,
        source_name=SOURCE,
        created_at=created,
        subject=f"Ticket {tid}",
        channel="web",
        topic="transportation",
        tags=[],
        priority="normal",
        requester=PARENT,
        assignee=AGENT,
        events=events,
    )


def _world() -> World:
    tickets = [
        # Fri 13 Feb 09:00 -> 10:00 CST, on the district's closure: the account schedule lacks
        # it, so Zendesk counts 60 business minutes.
        _it(1, _z(15), _z(16)),
        # Thu 12 Feb 16:00 CST -> Tue 17 Feb 08:00 CST: Thu 30 + Fri 540 (no closure in the
        # schedule) + Mon 0 (Presidents' Day, a schedule holiday) + Tue 30 = 600.
        _it(2, _z(22, day=12), _z(14, day=17)),
        _it(3, _z(15, day=11), None),  # unanswered: both null
    ]
    return World(
        as_of=dt.date(2026, 2, 20),
        people=[AGENT, PARENT],
        interactions=tickets,
        survey_responses=[],
        config_yaml=yaml.safe_dump(fx.config().model_dump(mode="json")),
    )


def test_emulator_serves_reply_time_in_the_documented_shape():
    world = _world()
    with zd_emulator.serve(world, [SOURCE]) as running:
        conn = running.connection(SOURCE)
        auth = (f"{conn['login']}/token", conn["password"])
        url = f"{conn['host']}{TICKETS_PATH}"
        with httpx.Client(auth=auth) as client:
            body = client.get(url, params={"start_time": 0, "include": "metric_sets"}).json()
            bare = client.get(url, params={"start_time": 0}).json()
    assert "metric_sets" not in bare  # only when asked for
    sets = {m["ticket_id"]: m for m in body["metric_sets"]}
    assert set(sets) == {t["id"] for t in body["tickets"] if t["status"] != "deleted"}
    assert sets[1]["reply_time_in_minutes"] == {"calendar": 60, "business": 60}
    calendar_2 = int((_z(14, day=17) - _z(22, day=12)).total_seconds() // 60)
    assert sets[2]["reply_time_in_minutes"] == {"calendar": calendar_2, "business": 600}
    assert sets[3]["reply_time_in_minutes"] == {"calendar": None, "business": None}
    for m in sets.values():
        for name in ("first_resolution_time_in_minutes", "full_resolution_time_in_minutes"):
            assert set(m[name]) == {"calendar", "business"}
        assert all(isinstance(v, int) for v in sets[1]["reply_time_in_minutes"].values())


# ---------------------------------------------------------------- hand-worked, through dbt
def _metric(tid: int, calendar: int | None, business: int | None) -> dict:
    return {
        "id": 7_000 + tid,
        "ticket_id": tid,
        "reopens": 0,
        "replies": 1 if business is not None else 0,
        "solved_at": None,
        "reply_time_in_minutes": {"calendar": calendar, "business": business},
        "agent_wait_time_in_minutes": {"calendar": None, "business": None},
    }


def _zd_ticket(tid: int, created: str, metric: dict | None) -> dict:
    row = fx._ticket(tid, created, created, "open", priority="normal")
    row["payload"]["metric_set"] = metric
    return row


def _zd_reply(tid: int, at: str) -> dict:
    return fx._event(tid, at, fx.comment(fx.AGENT), fx.status("open", "new"), updater=fx.AGENT)


def _zd_open(tid: int, at: str) -> dict:
    return fx._event(tid, at, fx.status("new"), fx.comment(fx.PARENT))


def reconciliation_rows() -> dict[str, list[dict]]:
    """Lincoln (Chicago, CST = UTC-6, 07:30-16:30), February 2026; Harbor (Berlin, CET = UTC+1,
    08:00-16:00). Ours | vendor, business minutes:

    Z 9101 Fri 13 Feb 09:00 -> 10:00 CST, the district's closure: ours 0 (the clock starts
           at the next open, Tue 17: Mon 16 is Presidents' Day) | Zendesk 60. Same reply
           (calendar 60 both): reason district_closure; spans 1 closed weekday.
    Z 9102 Thu 12 Feb 16:00 -> Tue 17 Feb 08:00 CST: ours 30 + 0 + 0 + 30 = 60 | Zendesk 600
           (its schedule has Fri 13 open). Calendar 6,720 both: district_closure; spans Fri 13
           and Mon 16.
    Z 9103 Wed 11 Feb 09:00 -> 10:00:30 CST: ours 60.5 | Zendesk 60 (whole minutes): equal.
    Z 9104 Tue 10 Feb 09:00 -> 11:00 CST: ours 120 | Zendesk 30, calendar 30 against our 120:
           Zendesk counts another reply as the first: different_first_reply.
    Z 9105 Mon 9 Feb 09:00, no public agent reply | Zendesk 15 (it counts a reply we do not):
           vendor only.
    Z 9106 Mon 9 Feb 10:00 -> 11:00 CST | no metric set landed: ours only.
    F 7101 Tue 10 Feb 09:00 -> 10:00 CET reply; first_responded_at 10:00 CET: 60 | 60, equal.
    F 7102 Wed 11 Feb 09:00 CET, private note 09:15, reply 11:00; first_responded_at 09:15:
           ours 120 | 15 on our calendar (calendar 120 vs 15): different_first_reply.
    """
    tickets = [
        _zd_ticket(9101, "2026-02-13T15:00:00Z", _metric(9101, 60, 60)),
        _zd_ticket(9102, "2026-02-12T22:00:00Z", _metric(9102, 6720, 600)),
        _zd_ticket(9103, "2026-02-11T15:00:00Z", _metric(9103, 60, 60)),
        _zd_ticket(9104, "2026-02-10T15:00:00Z", _metric(9104, 30, 30)),
        _zd_ticket(9105, "2026-02-09T15:00:00Z", _metric(9105, 15, 15)),
        _zd_ticket(9106, "2026-02-09T16:00:00Z", None),
    ]
    events = [
        _zd_open(9101, "2026-02-13T15:00:00Z"),
        _zd_reply(9101, "2026-02-13T16:00:00Z"),
        _zd_open(9102, "2026-02-12T22:00:00Z"),
        _zd_reply(9102, "2026-02-17T14:00:00Z"),
        _zd_open(9103, "2026-02-11T15:00:00Z"),
        _zd_reply(9103, "2026-02-11T16:00:30Z"),
        _zd_open(9104, "2026-02-10T15:00:00Z"),
        _zd_reply(9104, "2026-02-10T17:00:00Z"),
        _zd_open(9105, "2026-02-09T15:00:00Z"),
        fx._event(
            9105, "2026-02-09T15:15:00Z", fx.comment(fx.AGENT, public=False), updater=fx.AGENT
        ),
        _zd_open(9106, "2026-02-09T16:00:00Z"),
        _zd_reply(9106, "2026-02-09T17:00:00Z"),
    ]
    fd_tickets = [
        fx._fd_ticket(
            7101,
            "2026-02-10T08:00:00Z",
            "2026-02-10T09:00:00Z",
            2,
            2,
            1,
            [],
            {"first_responded_at": "2026-02-10T09:00:00Z"},
        ),
        fx._fd_ticket(
            7102,
            "2026-02-11T08:00:00Z",
            "2026-02-11T10:00:00Z",
            2,
            2,
            1,
            [],
            {"first_responded_at": "2026-02-11T08:15:00Z"},
        ),
    ]
    conversations = [
        fx._fd_conv(71011, 7101, "2026-02-10T09:00:00Z", incoming=False, private=False),
        fx._fd_conv(71021, 7102, "2026-02-11T08:15:00Z", incoming=False, private=True),
        fx._fd_conv(71022, 7102, "2026-02-11T10:00:00Z", incoming=False, private=False),
    ]
    return {
        "zendesk_users": [fx._user(fx.AGENT), fx._user(fx.PARENT)],
        "zendesk_tickets": tickets,
        "zendesk_ticket_events": events,
        "freshdesk_tickets": fd_tickets,
        "freshdesk_conversations": conversations,
    }


def _dbt(url: str, tmp: Path, *args: str, as_of: str = "2026-02-28") -> None:
    env = {
        **os.environ,
        **{f"SCHOOLCX_PG_{k.upper()}": v for k, v in url_parts(url).items()},
        "SCHOOLCX_DBT_THREADS": "2",
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_LOG_PATH": str(tmp / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    cmd = [
        DBT,
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--vars",
        f"{{as_of_date: '{as_of}'}}",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def reconciled(module_warehouse, tmp_path_factory):
    url = module_warehouse
    tmp = tmp_path_factory.mktemp("recon_dbt")
    sync_config(url, fx.config(), today=fx.CONFIG_TODAY)
    fx.insert_rows(url, reconciliation_rows(), "recon")
    _dbt(url, tmp, "run", "--select", "+vendor_reconciliation")
    _dbt(url, tmp, "test", "--select", "vendor_reconciliation")
    with psycopg.connect(url) as conn:
        cur = conn.execute("select * from build.vendor_reconciliation")
        names = [c.name for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {(r["source_instance"], r["period_type"]): r for r in rows}


def test_zendesk_closure_the_vendor_schedule_lacks_is_the_main_reason(reconciled):
    for period_type, start in (
        ("month", dt.date(2026, 2, 1)),
        ("school_year", dt.date(2025, 7, 1)),
    ):
        r = reconciled[("lincoln-zendesk", period_type)]
        assert r["period_start"] == start
        assert r["vendor_figure"] == "metric_set.reply_time_in_minutes.business"
        assert (r["compared_count"], r["ours_only_count"], r["vendor_only_count"]) == (4, 1, 1)
        # |ours - vendor|: 9101 60, 9102 540, 9103 0.5, 9104 90 -> one within a minute of four
        assert r["equal_within_one_minute_share"] == pytest.approx(0.25)
        # sorted 0.5, 60, 90, 540: median (60 + 90) / 2; p95 at 0.95 * 3 = 2.85: 90 + 0.85 * 450
        assert float(r["median_abs_difference_minutes"]) == pytest.approx(75)
        assert float(r["p95_abs_difference_minutes"]) == pytest.approx(472.5)
        # signed ours - vendor: -540, -60, 0.5, 90 -> (-60 + 0.5) / 2: our calendar counts less
        assert float(r["median_difference_minutes"]) == pytest.approx(-29.75)
        assert r["closure_spanning_count"] == 2  # 9101 (on Fri 13), 9102 (Fri 13, Mon 16)
        assert r["district_closure_count"] == 2
        assert r["different_first_reply_count"] == 1
        assert r["business_hours_differ_count"] == 0
        assert r["main_reason"] == "district_closure"


def test_freshdesk_has_no_business_figure_so_only_the_reply_can_differ(reconciled):
    r = reconciled[("harbor-fd", "month")]
    assert r["vendor_figure"] == "stats.first_responded_at"
    assert (r["compared_count"], r["ours_only_count"], r["vendor_only_count"]) == (2, 0, 0)
    assert r["equal_within_one_minute_share"] == pytest.approx(0.5)
    # |120 - 15| = 105 and 0
    assert float(r["median_abs_difference_minutes"]) == pytest.approx(52.5)
    assert r["different_first_reply_count"] == 1 and r["district_closure_count"] == 0
    assert r["main_reason"] == "different_first_reply"


# ---------------------------------------------------------------- a night after, incrementally
def _key_xmins(url: str) -> dict[str, str]:
    """Zendesk ticket id -> the transaction that wrote its int_vendor_reconciliation_tickets
    row."""
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "select f.source_id, t.xmin::text from int.int_vendor_reconciliation_tickets t"
                " join build.fct_interactions f using (interaction_key)"
                " where t.source_system = 'zendesk'"
            ).fetchall()
        )


def test_a_night_repairs_only_its_tickets_and_equals_a_full_refresh(warehouse, tmp_path):
    """Night one (as of 28 February) lands the Zendesk tickets above and Z 9107 (Mon 2 March
    09:00 -> 10:00 CST, Zendesk 60: equal, after the as-of date) ten days back, the Freshdesk
    ones nine days back. Night two (as of 31 March) lands a new version of Z 9104 whose metric
    set now counts our reply (120 | 120: equal) and Z 9106 deleted. By hand, Lincoln's school year
    after night two: compared 9101 (60), 9102 (540), 9103 (0.5), 9104 (0), 9107 (0): equal 3 of
    5, median |difference| 0.5; ours only none (9106 gone), vendor only 9105; reasons: closure
    2, different reply 0."""
    url = warehouse
    sync_config(url, fx.config(), today=fx.CONFIG_TODAY)
    night_one = reconciliation_rows()
    night_one["zendesk_tickets"].append(
        _zd_ticket(9107, "2026-03-02T15:00:00Z", _metric(9107, 60, 60))
    )
    night_one["zendesk_ticket_events"] += [
        _zd_open(9107, "2026-03-02T15:00:00Z"),
        _zd_reply(9107, "2026-03-02T16:00:00Z"),
    ]
    # landed last: within night two's lookback (recomputed again), the Zendesk rows are not
    later = {t: night_one.pop(t) for t in ("freshdesk_tickets", "freshdesk_conversations")}
    fx.insert_rows(url, night_one, "night-1", dt.timedelta(days=10))
    fx.insert_rows(url, later, "night-1b", dt.timedelta(days=9))
    _dbt(url, tmp_path / "n1", "run", "--select", "+vendor_reconciliation")
    before = _key_xmins(url)

    updated = fx._ticket(
        9104, "2026-02-10T15:00:00Z", "2026-03-20T15:00:00Z", "open", priority="normal"
    )
    updated["payload"]["metric_set"] = _metric(9104, 120, 120)
    deleted = fx._ticket(
        9106, "2026-02-09T16:00:00Z", "2026-03-20T15:00:00Z", "deleted", priority=None
    )
    fx.insert_rows(url, {"zendesk_tickets": [updated, deleted]}, "night-2")
    _dbt(url, tmp_path / "n2", "run", "--select", "+vendor_reconciliation", as_of="2026-03-31")
    after = _key_xmins(url)
    # only the changed ticket was paired again; the deleted one is gone
    assert set(after) == set(before) - {"9106"}
    assert {k for k in after if after[k] != before[k]} == {"9104"}

    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "select * from build.vendor_reconciliation where source_instance = 'lincoln-zendesk'"
        )
        names = [c.name for c in cur.description]
        rows = {
            (r[names.index("period_type")], r[names.index("period_start")]): dict(
                zip(names, r, strict=True)
            )
            for r in cur
        }
    year = rows["school_year", dt.date(2025, 7, 1)]
    assert (year["compared_count"], year["ours_only_count"], year["vendor_only_count"]) == (5, 0, 1)
    assert float(year["equal_within_one_minute_share"]) == pytest.approx(0.6)
    assert float(year["median_abs_difference_minutes"]) == pytest.approx(0.5)
    assert (year["district_closure_count"], year["different_first_reply_count"]) == (2, 0)
    march = rows["month", dt.date(2026, 3, 1)]  # counted now that the as-of date passed it
    assert (march["compared_count"], march["equal_within_one_minute_share"]) == (1, 1)

    with psycopg.connect(url) as conn:
        conn.execute(
            "create table build.incremental_result as select * from build.vendor_reconciliation"
        )
    _dbt(
        url,
        tmp_path / "full",
        "run",
        "--select",
        "+vendor_reconciliation",
        "--full-refresh",
        as_of="2026-03-31",
    )
    with psycopg.connect(url) as conn:
        for a, b in (
            ("vendor_reconciliation", "incremental_result"),
            ("incremental_result", "vendor_reconciliation"),
        ):
            diff = conn.execute(
                f"select count(*) from (select * from build.{a} except all"
                f" select * from build.{b}) as d"
            ).fetchone()[0]
            assert diff == 0, f"{diff} rows of {a} not in {b}"

"""The dbt core models (staging, intermediate, facts) against a real warehouse.

Builds the project's core selection with `dbt build` on a fresh migrated database holding a
small hand-written config and raw rows in the landing shape (tests/fixture_dbt_core.py), checks
hand-worked numbers, the shared business-minute examples, and that an incremental run after a
second night equals a full refresh.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from schoolcx.config import DeploymentConfig
from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refsync import sync_config
from schoolcx.warehouse.connect import url_parts
from tests import fixture_dbt_core as fx

DBT = str(Path(sys.executable).with_name("dbt"))
CORE_MARTS = (
    "dim_district",
    "fct_interactions",
    "fct_ratings",
    "fct_daily_volume",
    "fct_survey_item_results",
)
INCREMENTAL_MARTS = ("fct_interactions", "fct_ratings", "fct_daily_volume")
SELECTION = [
    *(f"+{m}" for m in CORE_MARTS),
    "int_service_intervals",
    "int_interactions_rejected",
    "business_minutes_examples",
    "assert_business_minutes_examples",
]


def _dbt(
    url: str,
    tmp: Path,
    *args: str,
    as_of: str,
    select: list[str] = SELECTION,
    check: bool = True,
    lookback_hours: int | None = None,
) -> subprocess.CompletedProcess:
    parts = url_parts(url)
    env = {
        **os.environ,
        **{f"SCHOOLCX_PG_{k.upper()}": v for k, v in parts.items()},
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
        f"{{as_of_date: '{as_of}'"
        + ("" if lookback_hours is None else f", lookback_hours: {lookback_hours}")
        + "}",
        "--select",
        *select,
        "--indirect-selection",
        "cautious",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    return done


NIGHT_ONE_LOADED_AGO = dt.timedelta(days=10)


@pytest.fixture(scope="module")
def built(module_warehouse, tmp_path_factory):
    """The warehouse after night one: config synced, raw rows landed, `dbt build` passed."""
    url = module_warehouse
    tmp = tmp_path_factory.mktemp("dbt_core")
    sync_config(url, fx.config(), today=fx.CONFIG_TODAY)
    # loaded well before night two, beyond the incremental lookback
    fx.insert_rows(url, fx.night_one_rows(), "night-1", NIGHT_ONE_LOADED_AGO)
    _dbt(url, tmp, "build", as_of=fx.AS_OF_NIGHT_ONE)
    return url, tmp


def _rows(url: str, sql: str, *params) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _interactions(url: str) -> dict[str, dict]:
    return {r["source_id"]: r for r in _rows(url, "select * from build.fct_interactions")}


def test_response_and_resolution_times_by_hand(built):
    url, _ = built
    fct = _interactions(url)
    # (first response business, calendar; resolution business, calendar) worked out in the fixture
    expected = {
        "1001": ("45", "45", "120", "120"),  # trigger auto-reply ignored
        "1002": ("120", "3900", "1320", "6900"),  # Fri -> Mon; reopened, re-solved Wed
        "1003": ("20", "885", None, None),  # agent-opened after close: 2nd comment
        "1006": ("60", "3900", None, None),  # over the fall-back weekend
        "2001": ("120", "3900", "180", "3960"),  # Berlin, EU spring forward; private note
        "2002": ("60", "3960", None, None),  # Berlin, EU fall back; stats fallback
        "t1@gmail.com": ("30", "110", None, None),  # before open; auto-reply ignored
        "t4@lincoln": ("60", "60", None, None),  # internal mailbox: responder only
        "interactions.csv:C1": ("60", "60", None, None),  # naive local time in a file
    }
    for source_id, (frb, frc, rb, rc) in expected.items():
        row = fct[source_id]
        got = (
            row["first_response_business_minutes"],
            row["first_response_calendar_minutes"],
            row["resolution_business_minutes"],
            row["resolution_calendar_minutes"],
        )
        want = tuple(None if v is None else Decimal(v) for v in (frb, frc, rb, rc))
        assert got == want, source_id


def test_classification_sla_and_units(built):
    url, _ = built
    fct = _interactions(url)
    # 1009 (deleted) and 2003 (an outbound email) are in raw but are no contacts
    assert set(fct) == {
        "1001",
        "1002",
        "1003",
        "1004",
        "1006",
        "1008",
        "2001",
        "2002",
        "t1@gmail.com",
        "t4@lincoln",
        "interactions.csv:C1",
    }
    z1, z2, z3 = fct["1001"], fct["1002"], fct["1003"]
    assert (z1["school_id"], z1["department"], z1["stakeholder_type"], z1["language"]) == (
        "170000100001",
        "transportation",
        "parent",
        "es",
    )
    assert z1["requester_hash"] == fx._h("maria@gmail.com")
    assert (
        z2["high_risk"],
        z2["priority"],
        z2["sla_target_minutes"],
        z2["reopened"],
        z2["stakeholder_type"],
    ) == (True, "high", Decimal(540), True, "student")
    assert (z3["channel"], z3["is_after_hours"], z3["agent_response_count"]) == ("phone", True, 1)
    assert fct["1004"]["sla_met"] is False  # 5430 business minutes waiting > 1080
    assert fct["1008"]["sla_met"] is None  # 90 < 240: not yet elapsed
    assert fct["2002"]["priority"] == "high" and fct["2002"]["language"] == "de"
    t4 = fct["t4@lincoln"]
    assert (t4["stakeholder_type"], t4["department"]) == ("staff", "human_resources")
    c1 = fct["interactions.csv:C1"]
    assert (c1["channel"], c1["priority"], c1["high_risk"]) == ("walk_in", "high", True)
    rejected = {
        r["source_id"]: r["reject_reason"]
        for r in _rows(url, "select * from int.int_interactions_rejected")
    }
    assert rejected == {
        "1005": "first response before created_at",
        "1010": "created before the source start_date",
        "interactions.csv:C2": "missing or unparseable created_at",
    }


def test_ratings_volume_survey_and_dimension(built):
    url, _ = built
    ratings = {
        r["source_id"]: r
        for r in _rows(
            url,
            "select i.source_id, r.* from build.fct_ratings r "
            "join build.fct_interactions i using (interaction_key)",
        )
    }
    assert {k: (v["source_system"], v["rating_1_5"]) for k, v in ratings.items()} == {
        "1001": ("zendesk", Decimal("5")),
        "1002": ("surveymonkey", Decimal("4.2")),  # newer than the Zendesk 'bad'
        "1003": ("file_drop", Decimal("4")),
        "1004": ("file_drop", Decimal("5")),  # 'good' in a file
        # 9 on 1-10 = 1 + 4 * 8 / 9, unrounded; the 7 on 1-5 is quarantined
        "1006": ("file_drop", Decimal("4.5555555555555556")),
        "2001": ("freshdesk", Decimal("4")),  # code 102 = rank 4 of 5
    }
    assert (ratings["1004"]["rating_value"], ratings["1004"]["rating_scale"]) == (
        "good",
        "good_bad",
    )
    quarantined = _rows(
        url,
        "select rating_value, reject_reason from int.int_ratings_normalised "
        "where reject_reason is not null order by 1",
    )
    assert [(r["rating_value"], r["reject_reason"]) for r in quarantined] == [
        ("101", "out of scale"),
        ("7", "out of scale"),
    ]
    day = _rows(
        url,
        "select * from build.fct_daily_volume where district_id = %s and local_date = '2025-09-03'",
        fx.LINCOLN,
    )[0]
    assert (day["interactions"], day["enrollment"], day["is_service_day"]) == (3, 4200, True)
    assert round(day["interactions_per_1000_students"], 6) == Decimal("0.714286")
    # every date once, zero-contact days included, from the sources' start_date (observed
    # from then, not from the calendar's start a year earlier) to the as-of date
    spans = _rows(
        url,
        "select district_id, min(local_date) as first, max(local_date) as last, count(*) as days,"
        " count(*) filter (where interactions = 0) as zero_days from build.fct_daily_volume"
        " group by 1",
    )
    first, last = dt.date(2025, 8, 1), dt.date.fromisoformat(fx.AS_OF_NIGHT_ONE)
    # Desert has no interaction source: nothing observed, no days (not a year of zeros)
    assert {r["district_id"] for r in spans} == {fx.LINCOLN, fx.HARBOR}
    for r in spans:
        assert (r["first"], r["last"], r["days"]) == (first, last, (last - first).days + 1)
        assert r["zero_days"] > 200
    items = {r["item_code"]: r for r in _rows(url, "select * from build.fct_survey_item_results")}
    assert (items["feel_safe"]["valid_answers"], items["feel_safe"]["agree_answers"]) == (3, 2)
    assert round(items["feel_safe"]["percent_agree"], 2) == Decimal("66.67")
    assert items["staff_respect"]["percent_agree"] == 50
    dims = {r["district_id"]: r for r in _rows(url, "select * from build.dim_district")}
    assert (
        dims[fx.LINCOLN]["enrollment"],
        dims[fx.LINCOLN]["enrollment_band"],
        dims[fx.LINCOLN]["consortium_ids"],
    ) == (4200, "2,500-4,999", ["il-north"])
    assert dims[fx.DESERT]["enrollment"] == 1000  # nearest earlier year
    assert dims[fx.HARBOR]["enrollment_band"] == "25,000-49,999"


def test_business_minutes_examples_with_the_sql_function(built):
    url, _ = built
    zones = {
        "America/Chicago": fx.LINCOLN,
        "Europe/Berlin": fx.HARBOR,
        "America/Phoenix": fx.DESERT,
    }
    path = DBT_PROJECT_DIR / "seeds" / "business_minutes_examples.csv"
    with path.open() as fh, psycopg.connect(url) as conn:
        cases = list(csv.DictReader(fh))
        for case in cases:
            got = conn.execute(
                "select int.business_seconds_between(%s, %s::timestamptz, %s::timestamptz) / 60",
                (zones[case["timezone"]], case["t0_utc"], case["t1_utc"]),
            ).fetchone()[0]
            assert abs(got - Decimal(case["business_minutes"])) < Decimal("0.01"), case["case"]
    assert len(cases) == 21


def test_child_events_are_a_view_looked_up_in_raw_by_ticket(built):
    """stg_zendesk__ticket_child_events stores nothing: a view over raw audits that PostgreSQL
    flattens into its reader, so a lookup of one ticket (int_zendesk__ticket_activity's night,
    per changed ticket) reaches raw's index on (source_instance, payload ->> 'ticket_id')
    (migration 0031) instead of expanding every audit."""
    url, _ = built
    view = sql.SQL("stg.stg_zendesk__ticket_child_events")
    with psycopg.connect(url) as conn:
        kind = conn.execute(
            "select relkind from pg_class where oid = %s::regclass",
            ("stg.stg_zendesk__ticket_child_events",),
        )
        assert kind.fetchone()[0] == "v"
        instance, ticket, children = conn.execute(
            sql.SQL(
                "select source_instance, ticket_id, count(*) from {}"
                " group by 1, 2 order by 3 desc, 2 limit 1"
            ).format(view)
        ).fetchone()
        assert children > 1
        where = sql.SQL(" where source_instance = {} and ticket_id = {}").format(
            sql.Literal(instance), sql.Literal(ticket)
        )
        looked_up = conn.execute(
            sql.SQL("select * from {}").format(view) + where + sql.SQL(" order by 2, 3")
        ).fetchall()
        # the same rows as the whole view filtered afterwards (offset 0: not flattened)
        whole = conn.execute(
            sql.SQL("select * from (select * from {} offset 0) as v").format(view)
            + where
            + sql.SQL(" order by 2, 3")
        ).fetchall()
        assert len(looked_up) == children and looked_up == whole
        # the plan on a raw table of some size (other tickets' audits, rolled back): the
        # planner picks the ticket index, which it can only if the view is flattened and its
        # ticket_id is the index's expression
        with conn.transaction(force_rollback=True):
            conn.execute(
                "insert into raw.zendesk_ticket_events (source_system, source_instance,"
                " district_id, source_id, updated_at, payload, _batch_id)"
                " select 'zendesk', %s, 'd', 'plan-' || g, now(),"
                " jsonb_build_object('ticket_id', 900000 + g / 3, 'child_events', '[]'::jsonb),"
                " 'plan-test' from generate_series(1, 6000) as g",
                (instance,),
            )
            conn.execute("analyze raw.zendesk_ticket_events")
            plan = "\n".join(
                r[0] for r in conn.execute(sql.SQL("explain select * from {}").format(view) + where)
            )
    assert "Index Scan using zendesk_ticket_events_ticket_idx" in plan, plan
    assert "Seq Scan" not in plan, plan


def _snapshot(url: str, schema: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"drop schema if exists {schema} cascade")
        conn.execute(f"create schema {schema}")
        for mart in CORE_MARTS:
            conn.execute(f"create table {schema}.{mart} as select * from build.{mart}")


def test_incremental_run_equals_full_refresh(built):
    url, tmp = built
    with psycopg.connect(url) as conn:
        volume_before = dict(
            ((d, day), n)
            for d, day, n in conn.execute(
                "select district_id, local_date, interactions from build.fct_daily_volume"
            )
        )
    night_two = fx.night_two_rows()
    # F2 2002's late reply was committed late: its load began (its _loaded_at) half an hour
    # before night one's load, but committed after night one's build had read the raw tables.
    # Only the lookback (default lookback_hours, 1) brings it in.
    late_commit = {"freshdesk_conversations": night_two.pop("freshdesk_conversations")}
    fx.insert_rows(url, late_commit, "late-commit", NIGHT_ONE_LOADED_AGO + dt.timedelta(minutes=30))
    fx.insert_rows(url, night_two, "night-2")
    # the default lookback: only what night two loaded (and the late commit) is recomputed, so
    # every path below is exercised
    _dbt(url, tmp, "build", as_of=fx.AS_OF_NIGHT_TWO)
    fct = _interactions(url)
    # each incremental path: deleted ticket, changed requester, older version landed late, late
    # Freshdesk reply, thread found district-started, new file row
    assert "1004" not in fct
    assert fct["1003"]["language"] == "de"
    assert fct["1006"]["status"] == "open"
    assert fct["2002"]["first_response_at"] == dt.datetime(2025, 10, 27, 7, tzinfo=dt.UTC)
    assert "t1@gmail.com" not in fct
    assert fct["interactions.csv:C3"]["first_response_business_minutes"] == 20
    with psycopg.connect(url) as conn:
        volume_after = dict(
            ((d, day), n)
            for d, day, n in conn.execute(
                "select district_id, local_date, interactions from build.fct_daily_volume"
            )
        )
    for day in (dt.date(2026, 3, 6), dt.date(2025, 9, 3)):  # Z4 1004 deleted; T1 not a contact
        assert volume_after[fx.LINCOLN, day] == volume_before[fx.LINCOLN, day] - 1
    # the late update replaced the old row, the new day arrived, the pending SLA elapsed
    assert (fct["1001"]["resolved_at"], fct["1001"]["reopened"], fct["1001"]["status"]) == (
        None,
        True,
        "open",
    )
    assert fct["1007"]["first_response_business_minutes"] == 30
    assert fct["1008"]["sla_met"] is False
    _snapshot(url, "incremental_result")
    _dbt(url, tmp, "build", "--full-refresh", as_of=fx.AS_OF_NIGHT_TWO)
    with psycopg.connect(url) as conn:
        for mart in CORE_MARTS:
            for a, b in (("build", "incremental_result"), ("incremental_result", "build")):
                diff = conn.execute(
                    f"select count(*) from (select * from {a}.{mart} "
                    f"except all select * from {b}.{mart}) as d"
                ).fetchone()[0]
                assert diff == 0, f"{mart}: {diff} rows of {a} not in {b}"
        late = conn.execute(
            "select r.source_system, r.rating_1_5 from build.fct_ratings r "
            "join build.fct_interactions i using (interaction_key) where i.source_id = '1006'"
        ).fetchone()
        assert late == ("zendesk", Decimal("5"))
        assert (
            conn.execute(
                "select count(*) from build.fct_daily_volume where local_date = %s",
                (fx.AS_OF_NIGHT_TWO,),
            ).fetchone()[0]
            == 2  # Lincoln and Harbor; Desert has no interaction source to observe
        )


def _partition_rows(url: str, table: str) -> dict[str, set[tuple[str, str]]]:
    """Each partition of build.<table> (pg_inherits) with its rows' (xmin, ctid): a row
    deleted, updated or inserted again changes them."""
    found: dict[str, set[tuple[str, str]]] = {}
    with psycopg.connect(url) as conn:
        names = conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = %s::regclass",
            (f"build.{table}",),
        ).fetchall()
        for (name,) in names:
            rows = conn.execute(f"select xmin::text, ctid::text from build.{name}").fetchall()
            found[name] = set(rows)
    return found


def test_facts_partitioned_by_school_year_and_a_night_writes_its_year(built):
    """After the full refresh above: one partition per school year, named after the table (the
    refresh swapped parents); a table built before partitioning is rebuilt partitioned; a
    night makes the partition of a year its batch brings first and leaves an older year's
    rows untouched."""
    url, tmp = built
    assert set(_partition_rows(url, "fct_interactions")) == {"fct_interactions_y2026"}
    select = ["+fct_interactions"]
    with psycopg.connect(url) as conn:  # as a deployment's table is before this change
        conn.execute("create table build.fct_plain as select * from build.fct_interactions")
        conn.execute("drop table build.fct_interactions")
        conn.execute("alter table build.fct_plain rename to fct_interactions")
    # night three (rebuilds the plain table in full): the Zendesk source's history reaches
    # back into school year 2025 (its start_date moves to May 2025), a June 2025 ticket arrives
    cfg = copy.deepcopy(fx.CONFIG)
    zendesk = next(s for d in cfg["districts"] for s in d.get("sources", []) if s["name"] == fx.ZD)
    zendesk["start_date"] = "2025-05-01"
    sync_config(url, DeploymentConfig.model_validate(cfg), today=fx.CONFIG_TODAY)
    old_year = {
        # answered within its target: its SLA is decided, so later nights do not recompute it
        "zendesk_tickets": [
            fx._ticket(
                1901, "2025-06-10T15:00:00Z", "2025-06-10T15:30:00Z", "solved", priority="high"
            )
        ],
        "zendesk_ticket_events": [
            fx._event(1901, "2025-06-10T15:00:00Z", fx.status("new"), fx.comment(fx.PARENT)),
            fx._event(
                1901,
                "2025-06-10T15:30:00Z",
                fx.comment(fx.AGENT),
                fx.status("solved", "new"),
                updater=fx.AGENT,
            ),
        ],
    }
    fx.insert_rows(url, old_year, "night-3")
    # no lookback: night four then recomputes only what it loaded (and SLA-pending rows)
    _dbt(url, tmp, "run", as_of="2026-03-24", select=select, lookback_hours=0)
    before = _partition_rows(url, "fct_interactions")
    assert set(before) == {"fct_interactions_y2025", "fct_interactions_y2026"}
    assert len(before["fct_interactions_y2025"]) == 1
    assert _interactions(url)["1901"]["sla_met"] is True
    with psycopg.connect(url) as conn:
        (kind,) = conn.execute(
            "select partstrat from pg_partitioned_table"
            " where partrelid = 'build.fct_interactions'::regclass"
        ).fetchone()
    assert kind == "r"  # range on local_date
    # night four: a ticket of the current year, and one dated 1 July 2026 (the first of
    # school year 2027: its partition is made by this incremental night)
    new = {
        "zendesk_tickets": [
            fx._ticket(1902, "2026-03-24T15:00:00Z", "2026-03-24T15:00:00Z", "new", priority="low"),
            fx._ticket(1903, "2026-07-01T15:00:00Z", "2026-07-01T15:00:00Z", "new", priority="low"),
        ]
    }
    fx.insert_rows(url, new, "night-4")
    _dbt(url, tmp, "run", as_of="2026-03-24", select=select, lookback_hours=0)
    after = _partition_rows(url, "fct_interactions")
    assert after["fct_interactions_y2025"] == before["fct_interactions_y2025"]  # not written
    assert after["fct_interactions_y2026"] != before["fct_interactions_y2026"]
    assert len(after["fct_interactions_y2027"]) == 1
    assert {"1902", "1903"} <= set(_interactions(url))

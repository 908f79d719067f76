"""SurveyMonkey connector against the v3 emulator over real sockets, into PostgreSQL."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors import surveymonkey as sm_connector
from schoolcx.connectors.base import ConnectorContext, ConnectorError
from schoolcx.connectors.http import AuthError
from schoolcx.connectors.surveymonkey import SurveyMonkeyConnector
from schoolcx.load import packing
from schoolcx.load.raw_writer import RawWriter, read_state
from schoolcx.sandbox.demo.world import Rating, SurveyAnswerSet, World
from schoolcx.sandbox.emulators import surveymonkey
from schoolcx.sandbox.emulators.http_base import Faults

CONFIG = """
name: surveymonkey-test
districts:
  - district_id: "1700001"
    name: Lincoln
    state: IL
    timezone: America/Chicago
    enrollment: {2026: 5000}
    sources:
      - name: d1-sm
        type: surveymonkey
        conn_id: d1_sm
        start_date: 2025-08-01
        options: {survey_id: "500001", item_map: {"101": safe_school, "102": respect}}
      - name: d1-sm-poc
        type: surveymonkey
        conn_id: d1_sm_poc
        start_date: 2025-08-01
        options: {survey_id: "500002", kind: point_of_contact, interaction_ref_question: "201",
                  rating_question: "202", rating_scale: [0, 10]}
"""
T0 = dt.datetime(2025, 9, 1, 15, 0, tzinfo=dt.UTC)


def _climate(n: int) -> SurveyAnswerSet:
    answers = {"safe_school": (n % 5) + 1, "respect": "dont_know" if n % 4 == 0 else None}
    return SurveyAnswerSet(
        f"9{n:05d}", "1700001", "d1-sm", T0 + dt.timedelta(hours=n), "parent", answers
    )


def _poc(n: int, value: int) -> SurveyAnswerSet:
    return SurveyAnswerSet(
        f"8{n:05d}",
        "1700001",
        "d1-sm-poc",
        T0 + dt.timedelta(hours=n),
        "parent",
        {},
        interaction_id=2000 + n,
        rating=Rating(T0 + dt.timedelta(hours=n), "0-10", value),
    )


def _world(responses) -> World:
    return World(dt.date(2025, 12, 31), [], [], responses, CONFIG)


def _extract(
    url: str,
    running,
    source: str,
    until: dt.datetime,
    password: str | None = None,
    day_reserve: int | None = None,
    per_page: int | None = None,
):
    data = yaml.safe_load(CONFIG)
    if per_page is not None:
        for s in data["districts"][0]["sources"]:
            s["options"]["per_page"] = per_page
    cfg = DeploymentConfig.model_validate(data)
    district, src = cfg.source(source)
    kwargs = running.connection(source)
    kwargs["extra"] = {**kwargs["extra"], "retry_base_delay": 0.01}
    if day_reserve is not None:
        kwargs["extra"]["day_reserve"] = day_reserve
    if password is not None:
        kwargs["password"] = password
    conn = Connection(conn_id=src.conn_id, **kwargs)
    connector = SurveyMonkeyConnector(ConnectorContext(district, src, conn))
    with RawWriter(
        url, source_instance=source, source_type="surveymonkey", district_id="1700001", run_id="t"
    ) as writer:
        summary = writer.write_pages(connector.pages(writer.state(), until))
    return summary, connector


def _rows(url: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn:
        return dict(
            packing.select_whole(
                conn,
                "select source_id, payload, payload_z, payload_dict"
                " from raw.surveymonkey_responses",
            )
        )


def test_full_incremental_pagination_and_answers(warehouse):
    world = _world([_climate(n) for n in range(250)])
    with surveymonkey.serve(world, ["d1-sm"]) as running:
        first, _ = _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(hours=180))
        assert (first.inserted, first.pages) == (180, 2)  # 100, then 80 more
        bulk = [p for m, p, s in running.server.requests if "/responses/bulk" in p]
        assert "start_modified_at=2025-08-01T00%3A00%3A00" in bulk[0]
        assert "end_modified_at=2025-09-09T03%3A00%3A00" in bulk[0]
        # Key-based: page 1 again, from the newest date_modified of page 1 (response 99).
        assert "start_modified_at=2025-09-05T18%3A00%3A00" in bulk[1] and "page=1" in bulk[1]
        details = [p for m, p, s in running.server.requests if p.endswith("/details")]
        assert len(details) == 1
        with psycopg.connect(warehouse) as conn:
            state = read_state(conn, "d1-sm")["responses"]
        assert state == {"last_modified": "2025-09-09T02:00:00+00:00"}  # response 179

        second, _ = _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(days=30))
        # The boundary response comes again and is skipped; 70 are new.
        assert (second.received, second.inserted) == (71, 70)
        again, _ = _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(days=30))
        assert again.inserted == 0
    rows = _rows(warehouse)
    assert len(rows) == 250
    answers = rows["900004"]["_schoolcx"]["answers"]
    assert answers["101"] == {
        "choice_id": "10105",
        "position": 5,
        "text": "Strongly agree",
        "choices": 6,
    }
    assert answers["102"]["position"] == 6 and answers["102"]["text"] == "Don't know"
    assert "102" not in rows["900001"]["_schoolcx"]["answers"]
    assert rows["900004"]["pages"][0]["questions"][0]["answers"] == [{"choice_id": "10105"}]


def test_day_budget_stops_early_with_state_and_resumes(warehouse):
    world = _world([_climate(n) for n in range(350)])
    with surveymonkey.serve(world, ["d1-sm"], day_limit=5) as running:
        summary, connector = _extract(
            warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), day_reserve=2
        )
        # details (4 left), page 1 (3 left), page 2 (2 left: at the reserve) -> stop. Page 2
        # starts again at response 99 (the overlap), so it brings 99 new ones.
        assert summary.inserted == 199
        assert connector.stopped_early and "2 SurveyMonkey calls left" in connector.stopped_early
        with psycopg.connect(warehouse) as conn:
            state = read_state(conn, "d1-sm")["responses"]
        assert state["last_modified"].startswith("2025-09-09T21:00")  # response 198
        running.emulator.day_used = 0  # a new day
        rest, connector = _extract(
            warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), day_reserve=2
        )
        assert connector.stopped_early is None and rest.inserted == 151
    assert len(_rows(warehouse)) == 350


def test_rate_limit_and_server_errors_are_retried(warehouse):
    world = _world([_climate(n) for n in range(5)])
    faults = Faults(plan={1: "rate_limit", 3: "error_500", 4: "truncate"}, retry_after=0.05)
    with surveymonkey.serve(world, ["d1-sm"], faults=faults) as running:
        summary, _ = _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(days=30))
        statuses = [s for _m, _p, s in running.server.requests]
    assert summary.inserted == 5
    assert statuses[:5] == [429, 200, 500, 200, 200]  # 4th: a truncated body, fetched again


def test_wrong_token_is_a_clear_error(warehouse):
    with surveymonkey.serve(_world([_climate(1)]), ["d1-sm"]) as running:
        with pytest.raises(AuthError) as err:
            _extract(warehouse, running, "d1-sm", T0, password="wrong")
        assert len(running.server.requests) == 1
    assert "d1_sm" in str(err.value) and "wrong" not in str(err.value)


def test_quarantine_kinds(warehouse):
    world = _world([_poc(1, 9), _poc(2, 11), _poc(3, 0), _poc(4, 3), _poc(5, 7)])
    with surveymonkey.serve(world, ["d1-sm-poc"]) as running:
        rows = running.emulator.responses["500002"]
        del rows[2]["id"]
        rows[3]["date_modified"] = "yesterday"
        rows[4]["pages"][0]["questions"][1]["answers"] = [{"choice_id": "999"}]
        summary, _ = _extract(warehouse, running, "d1-sm-poc", T0 + dt.timedelta(days=30))
    assert summary.inserted == 1
    assert dict(summary.quarantined) == {
        "rating_out_of_scale": 1,
        "missing_id": 1,
        "unparsable_timestamp": 1,
        "unknown_choice": 1,
    }
    with psycopg.connect(warehouse) as conn:
        q = conn.execute(
            "select reason, record_id, field from quarantine.records order by reason"
        ).fetchall()
    assert q == [
        ("missing_id", None, "id"),
        ("rating_out_of_scale", "800002", "202"),
        ("unknown_choice", "800005", "202"),
        ("unparsable_timestamp", "800004", "date_modified"),
    ]
    landed = _rows(warehouse)["800001"]["_schoolcx"]["answers"]
    assert landed["201"]["text"] == "2001"
    assert landed["202"]["text"] == "9" and landed["202"]["position"] == 10


def test_generated_world_lands_whole():
    from schoolcx.sandbox.demo.generator import generate_world
    from schoolcx.sandbox.demo.spec import small_spec

    world = generate_world(small_spec())
    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    names = [s.name for _d, s in cfg.sources() if s.type == "surveymonkey"]
    with surveymonkey.serve(world, names) as running:
        for name in names:
            district, src = cfg.source(name)
            conn = Connection(conn_id=src.conn_id, **running.connection(name))
            pages = list(
                SurveyMonkeyConnector(ConnectorContext(district, src, conn)).pages(
                    {}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
                )
            )
            ids = {r.source_id for p in pages for r in p.records}
            assert ids == {r.response_id for r in world.responses_for_source(name)}
            assert not [q for p in pages for q in p.quarantined]


def _latest(url: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn:
        return dict(
            packing.select_whole(
                conn,
                "select distinct on (source_id) source_id, payload, payload_z, payload_dict"
                " from raw.surveymonkey_responses order by source_id, updated_at desc",
            )
        )


def test_response_modified_while_paging_is_not_lost(warehouse):
    # Six responses, two a page, ordered by date_modified. After page 1 is served, response
    # 900000 (already read) is modified: it moves to the end of the list, so by page number
    # page 2 would start at 900003 and 900002 would never be read, while the saved state
    # (the newest date_modified seen) moves past it.
    world = _world([_climate(n) for n in range(6)])
    with surveymonkey.serve(world, ["d1-sm"]) as running:
        responses = running.emulator.responses["500001"]

        def modify(served: int) -> None:
            if served == 1:
                r = next(r for r in responses if r["id"] == "900000")
                r["date_modified"] = "2025-09-02T12:00:00+00:00"  # after the others (Sep 1)
                r["pages"][0]["questions"][0]["answers"] = [{"choice_id": "10103"}]

        running.emulator.on_bulk = modify
        _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), per_page=2)
        final = {r["id"]: r for r in running.emulator.responses["500001"]}
    loaded = _latest(warehouse)
    # Equal to a clean extract of the final state: every response, in its final version.
    assert set(loaded) == set(final) == {f"9{n:05d}" for n in range(6)}
    for rid, response in final.items():
        payload = {k: v for k, v in loaded[rid].items() if k != "_schoolcx"}
        assert payload == response, rid
    assert loaded["900000"]["_schoolcx"]["answers"]["101"]["position"] == 3


def test_more_responses_in_one_second_than_a_page(warehouse):
    # Key-based paging cannot move past a second shared by a whole page: it pages by number
    # within that second, then resumes by key.
    same = [
        SurveyAnswerSet(f"7{n:05d}", "1700001", "d1-sm", T0, "parent", {"safe_school": 4})
        for n in range(5)
    ]
    world = _world([*same, _climate(3)])
    with surveymonkey.serve(world, ["d1-sm"]) as running:
        summary, _ = _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), per_page=2)
    assert summary.inserted == 6 and set(_latest(warehouse)) == {
        *(f"7{n:05d}" for n in range(5)),
        "900003",
    }


def _crowded(n: int, at: dt.datetime = T0) -> list[SurveyAnswerSet]:
    """n responses all modified in the same second `at`."""
    return [
        SurveyAnswerSet(f"7{i:05d}", "1700001", "d1-sm", at, "parent", {"safe_school": 4})
        for i in range(n)
    ]


def test_response_modified_while_paging_a_crowded_second_is_not_lost(warehouse):
    # Seven responses share the second T0, two a page, then 900003 (T0 + 3 h). The key cannot
    # pass T0, so that second is read by page numbers. After the third bulk request (while
    # that second is being read by page number) 700000, already read, is modified: it
    # moves to the end of the list, every page of the second shifts by one, and by page number
    # one response of the second (700002 or 700004, depending on where the reader is) is on a
    # page already read. A single pass by page numbers then moves the key past T0 without it.
    world = _world([*_crowded(7), _climate(3)])
    with surveymonkey.serve(world, ["d1-sm"]) as running:
        responses = running.emulator.responses["500001"]

        def modify(served: int) -> None:
            if served == 3:
                r = next(r for r in responses if r["id"] == "700000")
                r["date_modified"] = "2025-09-02T12:00:00+00:00"  # after everything else
                r["pages"][0]["questions"][0]["answers"] = [{"choice_id": "10102"}]

        running.emulator.on_bulk = modify
        summary, connector = _extract(
            warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), per_page=2
        )
        final = {r["id"]: r for r in running.emulator.responses["500001"]}
        with psycopg.connect(warehouse) as conn:
            state = read_state(conn, "d1-sm")["responses"]
    assert connector.stopped_early is None
    loaded = _latest(warehouse)
    # Equal to a clean extract of the final state: every response, in its final version.
    assert set(loaded) == set(final) == {*(f"7{i:05d}" for i in range(7)), "900003"}
    for rid, response in final.items():
        payload = {k: v for k, v in loaded[rid].items() if k != "_schoolcx"}
        assert payload == response, rid
    assert loaded["700000"]["_schoolcx"]["answers"]["101"]["position"] == 2
    # 7 first versions of the second + 900003 + the new version of 700000.
    assert summary.inserted == 9
    assert state == {"last_modified": "2025-09-02T12:00:00+00:00"}


def test_a_crowded_second_that_keeps_changing_is_a_clear_error(warehouse):
    # Forty responses in one second, ten a page; every bulk answer moves one of them out of
    # that second, so no two passes by page numbers find the same set: after MAX_PASSES the
    # run stops with an error naming source and connection, the state still at that second.
    world = _world(_crowded(40))
    with surveymonkey.serve(world, ["d1-sm"]) as running:
        responses = running.emulator.responses["500001"]

        def modify(served: int) -> None:
            crowded = [r for r in responses if r["date_modified"].startswith("2025-09-01T15")]
            if crowded:
                crowded[0]["date_modified"] = "2025-09-03T00:00:00+00:00"

        running.emulator.on_bulk = modify
        with pytest.raises(ConnectorError) as err:
            _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), per_page=10)
        with psycopg.connect(warehouse) as conn:
            state = read_state(conn, "d1-sm")["responses"]
    message = str(err.value)
    assert "d1-sm" in message and "d1_sm" in message
    assert f"over {sm_connector.MAX_PASSES} reads" in message
    assert state == {"last_modified": "2025-09-01T15:00:00+00:00"}


def test_too_many_pages_in_one_second_is_a_clear_error(warehouse, monkeypatch):
    # Seven responses in one second at two a page need four pages a pass; with the bound at
    # three the run stops with an error naming source, connection and per_page.
    monkeypatch.setattr(sm_connector, "MAX_SECOND_PAGES", 3)
    with (
        surveymonkey.serve(_world(_crowded(7)), ["d1-sm"]) as running,
        pytest.raises(ConnectorError) as err,
    ):
        _extract(warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), per_page=2)
    message = str(err.value)
    assert "d1-sm" in message and "d1_sm" in message
    assert "more than 3 pages" in message and "per_page 2" in message


def test_day_budget_stops_inside_a_crowded_second_and_resumes(warehouse):
    # Five responses in the second T0 (two a page) and 900003 later. Budget 7, reserve 2:
    # details (6 left), key page 1 (5), key page from T0 (4: a whole page in T0), pass 1
    # pages 1 (3) and 2 (2: at the reserve) -> stop before page 3, the state at T0.
    world = _world([*_crowded(5), _climate(3)])
    with surveymonkey.serve(world, ["d1-sm"], day_limit=7) as running:
        first, connector = _extract(
            warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), day_reserve=2, per_page=2
        )
        assert connector.stopped_early and "2 SurveyMonkey calls left" in connector.stopped_early
        assert running.emulator.day_used == 5
        assert first.inserted == 4  # 700000-700003
        with psycopg.connect(warehouse) as conn:
            assert read_state(conn, "d1-sm")["responses"] == {
                "last_modified": "2025-09-01T15:00:00+00:00"
            }
        # A new day with a larger budget: details, key page from T0 (a whole page in T0), two
        # agreeing passes of three pages, then the key page from T0 + 1 s: 9 calls.
        running.emulator.day_used, running.emulator.day_limit = 0, 20
        rest, connector = _extract(
            warehouse, running, "d1-sm", T0 + dt.timedelta(days=30), day_reserve=2, per_page=2
        )
        assert connector.stopped_early is None and rest.inserted == 2  # 700004, 900003
        assert running.emulator.day_used == 9 and connector.day_remaining == 11
        with psycopg.connect(warehouse) as conn:
            assert read_state(conn, "d1-sm")["responses"] == {
                "last_modified": "2025-09-01T18:00:00+00:00"
            }
    assert set(_latest(warehouse)) == {*(f"7{i:05d}" for i in range(5)), "900003"}

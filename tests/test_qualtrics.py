"""Qualtrics connector against the export-job emulator over real sockets, into PostgreSQL."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.http import AuthError
from schoolcx.connectors.qualtrics import QualtricsConnector, iter_json_array
from schoolcx.load import packing
from schoolcx.load.raw_writer import RawWriter, read_state
from schoolcx.sandbox.demo.world import Rating, SurveyAnswerSet, World
from schoolcx.sandbox.emulators import qualtrics
from schoolcx.sandbox.emulators.http_base import Faults

CONFIG = """
name: qualtrics-test
districts:
  - district_id: "1700001"
    name: Lincoln
    state: IL
    timezone: America/Chicago
    enrollment: {2026: 5000}
    sources:
      - name: d1-climate
        type: qualtrics
        conn_id: d1_climate
        start_date: 2025-08-01
        options: {survey_id: SV_climate1, item_map: {QID1: safe_school, QID2: respect}}
      - name: d1-poc
        type: qualtrics
        conn_id: d1_poc
        start_date: 2025-08-01
        options: {survey_id: SV_poc1, kind: point_of_contact, interaction_ref_question: QID10_TEXT,
                  rating_question: QID11, rating_scale: [1, 5]}
      - name: d1-poc-variants
        type: qualtrics
        conn_id: d1_poc_variants
        start_date: 2025-08-01
        options: {survey_id: SV_poc2, kind: point_of_contact, interaction_ref_question: ticket_ref,
                  rating_questions: {QID5: [1, 5], QID7: [0, 10]}}
"""
T0 = dt.datetime(2025, 9, 1, 15, 0, tzinfo=dt.UTC)


def _climate(n: int) -> SurveyAnswerSet:
    answers = {"safe_school": (n % 5) + 1, "respect": "dont_know" if n % 3 == 0 else None}
    return SurveyAnswerSet(
        f"R_c{n:03d}", "1700001", "d1-climate", T0 + dt.timedelta(days=n), "parent", answers
    )


def _poc(n: int, value: int) -> SurveyAnswerSet:
    return SurveyAnswerSet(
        f"R_p{n:03d}",
        "1700001",
        "d1-poc",
        T0 + dt.timedelta(days=n),
        "parent",
        {},
        interaction_id=1000 + n,
        rating=Rating(T0 + dt.timedelta(days=n), "1-5", value),
    )


def _world(responses) -> World:
    return World(dt.date(2025, 12, 31), [], [], responses, CONFIG)


def _extract(url: str, running, source: str, until: dt.datetime, password: str | None = None):
    cfg = DeploymentConfig.model_validate(yaml.safe_load(CONFIG))
    district, src = cfg.source(source)
    kwargs = running.connection(source)
    kwargs["extra"] = {**kwargs["extra"], "retry_base_delay": 0.01}
    if password is not None:
        kwargs["password"] = password
    conn = Connection(conn_id=src.conn_id, **kwargs)
    connector = QualtricsConnector(ConnectorContext(district, src, conn, warehouse_url=url))
    with RawWriter(
        url, source_instance=source, source_type="qualtrics", district_id="1700001", run_id="t"
    ) as writer:
        return writer.write_pages(connector.pages(writer.state(), until))


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from raw.qualtrics_responses").fetchone()[0]


def test_full_then_continuation_with_job_polling(warehouse):
    world = _world([_climate(n) for n in range(6)])
    with qualtrics.serve(world, ["d1-climate"]) as running:
        first = _extract(warehouse, running, "d1-climate", T0 + dt.timedelta(days=3))
        assert (first.inserted, first.quarantined_total) == (3, 0)
        export = running.emulator.exports[0]
        assert export["startDate"] == "2025-08-01T00:00:00Z"
        assert export["endDate"] == "2025-09-04T15:00:00Z"
        assert export["allowContinuation"] is True and export["format"] == "json"
        polls = [
            p
            for m, p, s in running.server.requests
            if m == "GET" and "/export-responses/ES_" in p and not p.endswith("/file")
        ]
        assert len(polls) == 3  # in progress twice, then complete
        with psycopg.connect(warehouse) as conn:
            state = read_state(conn, "d1-climate")["responses"]
            [(payload,)] = packing.select_whole(
                conn,
                "select payload, payload_z, payload_dict from raw.qualtrics_responses"
                " where source_id = 'R_c000'",
            )
        assert state["continuationToken"] and state["last_recorded_date"].startswith(
            "2025-09-03T15:00"
        )
        assert payload["values"]["QID1"] == 1 and payload["values"]["QID2"] == 6  # don't know
        assert payload["labels"]["QID2"] == "Don't know"

        second = _extract(warehouse, running, "d1-climate", T0 + dt.timedelta(days=30))
        assert second.inserted == 3
        assert set(running.emulator.exports[1]) == {
            "format",
            "continuationToken",
            "allowContinuation",
        }
        again = _extract(warehouse, running, "d1-climate", T0 + dt.timedelta(days=30))
        assert (again.received, again.inserted) == (0, 0)
        assert _count(warehouse) == 6


def test_expired_continuation_token_falls_back_to_dates(warehouse):
    world = _world([_climate(n) for n in range(4)])
    with qualtrics.serve(world, ["d1-climate"]) as running:
        _extract(warehouse, running, "d1-climate", T0 + dt.timedelta(days=2))
        with psycopg.connect(warehouse) as conn:
            conn.execute(
                "update ops.extract_state set state = jsonb_set(state,"
                " '{continuationToken}', '\"garbage\"')"
            )
        resumed = _extract(warehouse, running, "d1-climate", T0 + dt.timedelta(days=30))
        assert resumed.inserted == 2
        assert running.emulator.exports[-1]["startDate"] == "2025-09-02T15:00:00Z"
    assert _count(warehouse) == 4


def test_rate_limit_and_server_errors_are_retried(warehouse):
    world = _world([_climate(n) for n in range(3)])
    faults = Faults(
        plan={1: "rate_limit", 2: "error_500", 4: "error_503", 6: "error_500"}, retry_after=0.05
    )
    with qualtrics.serve(world, ["d1-climate"], faults=faults) as running:
        summary = _extract(warehouse, running, "d1-climate", T0 + dt.timedelta(days=30))
        statuses = [s for _m, _p, s in running.server.requests]
    assert summary.inserted == 3
    assert statuses.count(429) == 1 and statuses.count(500) == 2 and statuses.count(503) == 1


def test_wrong_token_is_a_clear_error(warehouse):
    with qualtrics.serve(_world([_climate(1)]), ["d1-climate"]) as running:
        with pytest.raises(AuthError) as err:
            _extract(warehouse, running, "d1-climate", T0, password="wrong")
        assert len(running.server.requests) == 1  # no retries on bad credentials
    assert "d1_climate" in str(err.value) and "wrong" not in str(err.value)


def test_quarantine_kinds(warehouse):
    world = _world([_poc(1, 4), _poc(2, 7), _poc(3, 5), _poc(4, 2)])
    with qualtrics.serve(world, ["d1-poc"]) as running:
        render = running.emulator.responses

        def broken(survey_id):
            rows = render(survey_id)
            del rows[2]["responseId"]
            rows[3]["values"]["recordedDate"] = "31/02/2025 25:00"
            return rows

        running.emulator.responses = broken
        summary = _extract(warehouse, running, "d1-poc", T0 + dt.timedelta(days=30))
    assert summary.inserted == 1
    assert dict(summary.quarantined) == {
        "rating_out_of_scale": 1,
        "missing_id": 1,
        "unparsable_timestamp": 1,
    }
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select reason, record_id, field from quarantine.records order by reason"
        ).fetchall()
        [(payload,)] = packing.select_whole(
            conn, "select payload, payload_z, payload_dict from raw.qualtrics_responses"
        )
    assert rows == [
        ("missing_id", None, "responseId"),
        ("rating_out_of_scale", "R_p002", "QID11"),
        ("unparsable_timestamp", "R_p004", "values.recordedDate"),
    ]
    assert payload["values"]["QID10_TEXT"] == "1001" and payload["values"]["QID11"] == 4


def test_json_array_is_decoded_incrementally():
    import io

    doc = '{"meta": {"x": [1]}, "responses" : [ {"a": "]}"}, {"b": [1, 2]} ,{"c": {}} ]}'
    # A tiny chunk forces items to straddle reads.
    assert list(iter_json_array(io.StringIO(doc), "responses", chunk=3)) == [
        {"a": "]}"},
        {"b": [1, 2]},
        {"c": {}},
    ]
    assert list(iter_json_array(io.StringIO('{"responses": []}'), "responses")) == []


def test_generated_world_lands_whole():
    from schoolcx.sandbox.demo.generator import generate_world
    from schoolcx.sandbox.demo.spec import small_spec

    world = generate_world(small_spec())
    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    names = [s.name for _d, s in cfg.sources() if s.type == "qualtrics"]
    with qualtrics.serve(world, names) as running:
        for name in names:
            district, src = cfg.source(name)
            conn = Connection(conn_id=src.conn_id, **running.connection(name))
            pages = list(
                QualtricsConnector(ConnectorContext(district, src, conn)).pages(
                    {}, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
                )
            )
            ids = {r.source_id for p in pages for r in p.records}
            assert ids == {r.response_id for r in world.responses_for_source(name)}
            assert not [q for p in pages for q in p.quarantined]


def test_each_rating_question_checked_on_its_own_scale(warehouse):
    def variant(n: int, scale: str, value: int, ref: str) -> SurveyAnswerSet:
        at = T0 + dt.timedelta(days=n)
        return SurveyAnswerSet(
            f"R_v{n}", "1700001", "d1-poc-variants", at, "parent", {},
            rating=Rating(at, scale, value), interaction_ref=ref,
        )  # fmt: skip

    # 7 is out of 1-5 but inside 0-10: each question is checked on its own scale
    world = _world(
        [
            variant(1, "1-5", 4, "<AbC.1@x.org>"),
            variant(2, "0-10", 7, "1042"),
            variant(3, "0-10", 11, "1043"),
        ]
    )
    with qualtrics.serve(world, ["d1-poc-variants"]) as running:
        summary = _extract(warehouse, running, "d1-poc-variants", T0 + dt.timedelta(days=30))
    assert summary.inserted == 2
    with psycopg.connect(warehouse) as conn:
        q = conn.execute("select reason, record_id, field from quarantine.records").fetchall()
        landed = dict(
            packing.select_whole(
                conn,
                "select source_id, payload, payload_z, payload_dict"
                " from raw.qualtrics_responses order by source_id",
            )
        )
    assert q == [("rating_out_of_scale", "R_v3", "QID7")]
    assert landed["R_v1"]["values"]["QID5"] == 4 and "QID7" not in landed["R_v1"]["values"]
    assert landed["R_v2"]["values"]["QID7"] == 7
    # the reference is landed whole, Message-ID brackets and case as given
    assert landed["R_v1"]["_schoolcx"] == {"interaction_ref": "<AbC.1@x.org>"}

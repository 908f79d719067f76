"""Operator commands run as a user runs them (cli.main) against a real warehouse:
`schoolcx extract NAME`, `schoolcx source reset NAME --from DATE`, `schoolcx quarantine`.

The Zendesk source is served by the Zendesk emulator (real sockets); a file-drop source beside
it in the same district shows that resetting one source leaves the other alone.
"""

from __future__ import annotations

import json
import logging

import psycopg
import pytest
import yaml

from schoolcx.cli import main
from schoolcx.connections import connection_json
from schoolcx.connectors.base import Page, QuarantinedRecord
from schoolcx.load.raw_writer import RawWriter, read_state
from schoolcx.sandbox.emulators import zendesk as zd_emulator
from tests.test_zendesk import CONFIG, SOURCE, counts, expected_counts, make_world

FILES = "d1-calls"
UNTIL = "2025-09-30T23:00:00Z"
RESET_FROM = "2025-09-10"
RESET_EPOCH = 1757462400  # 2025-09-10 00:00 UTC: 1735689600 (2025-01-01) + 252 days


@pytest.fixture
def setup(warehouse, tmp_path, monkeypatch):
    world = make_world()
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "calls.csv").write_text("Call ID,Started\nc1,2025-09-02T08:00:00-05:00\n")
    cfg = json.loads(json.dumps(CONFIG))
    cfg["districts"][0]["sources"].append(
        {
            "name": FILES,
            "type": "file_drop",
            "start_date": "2025-08-01",
            "options": {
                "path": str(drop),
                "kind": "interactions",
                "columns": {"id": "Call ID", "created_at": "Started"},
            },
        }
    )
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    with zd_emulator.serve(world, [SOURCE]) as running:
        monkeypatch.setenv("AIRFLOW_CONN_ZD_D1", connection_json(**running.connection(SOURCE)))
        yield world, running, config


def _state(url: str, source: str) -> dict:
    with psycopg.connect(url) as conn:
        return read_state(conn, source)


def test_extract_runs_one_source_with_progress_and_counts(warehouse, setup, capsys, caplog):
    world, _, config = setup
    caplog.set_level(logging.INFO, logger="schoolcx.extract")  # `schoolcx` logs at INFO
    assert main(["extract", SOURCE, "--until", UNTIL, "--config", str(config)]) == 0
    out = capsys.readouterr().out
    expected = expected_counts(world)
    assert counts(warehouse) == expected
    total = sum(expected.values())
    assert f"extracting {SOURCE} (zendesk) up to 2025-09-30T23:00:00+00:00" in out
    assert f"{total} records, {total} new, 0 already loaded, quarantined 0" in out
    assert any("pages" in r.getMessage() and "so far" in r.getMessage() for r in caplog.records)
    assert _state(warehouse, FILES) == {}  # only the source asked for ran
    # again: nothing new, said in counts
    assert main(["extract", SOURCE, "--until", UNTIL, "--config", str(config)]) == 0
    assert "0 new" in capsys.readouterr().out
    assert counts(warehouse) == expected


def test_extract_of_an_unknown_source_names_the_known_ones(setup, capsys):
    _, _, config = setup
    assert main(["extract", "nope", "--config", str(config)]) == 2
    assert f"sources: {SOURCE}, {FILES}" in capsys.readouterr().err


def test_source_reset_rereads_one_source_from_a_date_and_leaves_the_others(
    warehouse, setup, capsys
):
    _, running, config = setup
    for name in (SOURCE, FILES):
        assert main(["extract", name, "--until", UNTIL, "--config", str(config)]) == 0
    loaded = counts(warehouse)
    zd_state, files_state = _state(warehouse, SOURCE), _state(warehouse, FILES)
    assert zd_state and files_state

    argv = ["source", "reset", SOURCE, "--from", RESET_FROM, "--config", str(config)]
    assert main(argv) == 0
    assert main(argv) == 0  # idempotent
    assert f"the next extract starts from {RESET_FROM}" in capsys.readouterr().out
    assert _state(warehouse, SOURCE) == {}
    assert _state(warehouse, FILES) == files_state  # untouched

    # An extract that was running when the reset was made goes on saving its own state; the
    # next extract must still start from the reset's date.
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "insert into ops.extract_state (source_instance, stream, state) values (%s, %s, %s)",
            (SOURCE, "tickets", json.dumps(zd_state["tickets"])),
        )
    running.server.requests.clear()
    assert main(["extract", SOURCE, "--until", UNTIL, "--config", str(config)]) == 0
    ticket_reads = running.requests_to("incremental/tickets")
    assert ticket_reads and f"start_time={RESET_EPOCH}" in ticket_reads[0][1]
    assert counts(warehouse) == loaded  # re-read, nothing doubled
    assert "0 new" in capsys.readouterr().out
    # caught up to where it was (the ratings stream keeps a lookback window of its own, which
    # now starts no earlier than the reset date)
    state = _state(warehouse, SOURCE)
    assert state.keys() == zd_state.keys() and state["tickets"] == zd_state["tickets"]
    with psycopg.connect(warehouse) as conn:  # the reset is used up
        assert conn.execute("select count(*) from ops.source_resets").fetchone()[0] == 0


def test_source_reset_refuses_a_date_before_the_configured_history(warehouse, setup, capsys):
    _, _, config = setup
    argv = ["source", "reset", SOURCE, "--from", "2025-07-01", "--config", str(config)]
    assert main(argv) == 2
    assert "before d1-zendesk's configured start_date 2025-08-01" in capsys.readouterr().err
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from ops.source_resets").fetchone()[0] == 0


def _quarantine(url: str, source: str, records: list[QuarantinedRecord]) -> None:
    with RawWriter(
        url, source_instance=source, source_type="zendesk", district_id="1700001", run_id="q"
    ) as writer:
        writer.write_pages([Page("tickets", [], records, None)])


def _transform_rejects(url: str) -> None:
    """The two dbt relations the command reads, as dbt leaves them (columns it relies on)."""
    with psycopg.connect(url) as conn:
        conn.execute("create schema if not exists int")
        conn.execute(
            "create table int.int_interactions_rejected (interaction_key text,"
            " source_instance text, source_id text, reject_reason text,"
            " last_loaded_at timestamptz)"
        )
        conn.execute(
            "insert into int.int_interactions_rejected values"
            " ('k1', 'd1-zendesk', '7', 'first_response_before_created', '2025-09-03Z'),"
            " ('k2', 'd1-zendesk', '8', 'first_response_before_created', '2025-09-20Z'),"
            " ('k3', 'd1-calls', 'c9', 'resolved_before_created', '2025-09-20Z')"
        )
        conn.execute(
            "create table int.int_ratings_normalised (rating_id text, source_instance text,"
            " reject_reason text, rating_loaded_at timestamptz, is_latest boolean)"
        )
        conn.execute(
            "insert into int.int_ratings_normalised values"
            " ('r1', 'd1-zendesk', null, '2025-09-20Z', true),"  # counted: not a reject
            " ('r2', 'd1-zendesk', 'unmatched_interaction', '2025-09-20Z', true),"
            " ('r3', 'd1-zendesk', 'unmatched_interaction', '2025-09-01Z', false)"  # old version
        )


def _per_reason(out: str) -> dict[str, int]:
    lines = out.split("per reason:")[1].strip().splitlines()
    return {line.rsplit(maxsplit=1)[0].strip(): int(line.rsplit(maxsplit=1)[1]) for line in lines}


def test_quarantine_lists_what_why_and_counts_per_reason(warehouse, setup, capsys):
    bad = [
        QuarantinedRecord("unparsable_timestamp", "{}", record_id="5", field="created_at"),
        QuarantinedRecord("unparsable_timestamp", "{}", record_id="6", field="created_at"),
        QuarantinedRecord("not_json", "<html>"),
    ]
    _quarantine(warehouse, SOURCE, bad)
    _quarantine(warehouse, SOURCE, bad)  # re-read by a later night: counted once
    _quarantine(warehouse, FILES, bad[:1])
    _transform_rejects(warehouse)

    assert main(["quarantine"]) == 0
    out = capsys.readouterr().out
    per_reason = _per_reason(out)
    # loader: 2 + 1 (zendesk) + 1 (files); transform: 2 + 1 interactions, 1 latest rating
    assert per_reason == {
        "first_response_before_created": 2,
        "not_json": 1,
        "resolved_before_created": 1,
        "unmatched_interaction": 1,
        "unparsable_timestamp": 3,
        "total": 8,
    }
    assert "int_interactions_rejected" in out and "int_ratings_normalised" in out

    assert main(["quarantine", "--source", FILES]) == 0
    out = capsys.readouterr().out
    assert "total                                           2" in out
    assert SOURCE not in out.split("per reason:")[0]

    # --since 2025-09-10: the loader's 4 rows (quarantined today) and the transform rejects
    # seen from then on: k2, k3 and r2 (k1 was loaded 2025-09-03): 4 + 3
    assert main(["quarantine", "--since", "2025-09-10"]) == 0
    out = capsys.readouterr().out
    assert _per_reason(out) == {
        "first_response_before_created": 1,
        "not_json": 1,
        "resolved_before_created": 1,
        "unmatched_interaction": 1,
        "unparsable_timestamp": 3,
        "total": 7,
    }
    assert main(["quarantine", "--since", "2999-01-01"]) == 0
    assert "nothing quarantined" in capsys.readouterr().out


def test_quarantine_on_a_fresh_warehouse_says_nothing_was_quarantined(
    warehouse, monkeypatch, capsys
):
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    assert main(["quarantine"]) == 0
    assert capsys.readouterr().out.strip() == "nothing quarantined"

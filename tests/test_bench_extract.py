"""The extraction benchmark harness: synthetic tickets land exactly, memory is reported."""

from __future__ import annotations

import io
import json

import pytest

from schoolcx.sandbox.bench import extract as bench_extract
from schoolcx.sandbox.bench import load as bench_load
from schoolcx.sandbox.emulators.zendesk import _metric_json, _ticket_json, synthetic_ticket


def test_synthetic_json_text_matches_the_ticket_it_stands_for():
    for i in (0, 1, 3, 4, 47, 48, 99_999):
        ticket, metric = synthetic_ticket(i)
        assert json.loads(_ticket_json(i)) == ticket
        assert json.loads(_metric_json(i)) == metric


def test_small_run_lands_every_ticket_and_reports(pg_server):
    out = io.StringIO()
    result = bench_extract.run(3_500, pg_server, checkpoints=(1_000, 3_500), out=out)
    assert result.n_records == 3_500 and result.records_per_s > 0
    assert [c.records for c in result.checkpoints] == [1_000, 3_500]
    assert 0 < result.peak_rss_mb < 1_000
    assert "bench_extract: 3,500 tickets" in out.getvalue()
    # where the time went: the connector's page stream, the writer, the emulator beside them
    split = result.split_s
    assert set(split) == {
        "connector_wait_s",
        "writer_s",
        "client_cpu_s",
        "postgres_backend_cpu_s",
        "emulator_cpu_s",
    }
    assert split["writer_s"] > 0 and split["emulator_cpu_s"] > 0
    assert split["postgres_backend_cpu_s"] > 0  # the writer's backend did the COPYs


def test_writer_and_plain_copy_land_the_same_rows(warehouse):
    page = bench_load.synthetic_page(40, 3)
    ticket, metric = synthetic_ticket(41)
    assert page.records[1].payload == {**ticket, "metric_set": metric}
    assert page.records[1].source_id == "42"
    out = io.StringIO()
    result = bench_load.run(1_500, warehouse, out=out)  # two pages: one of each order
    assert result.rows == 1_500 and result.writer_s > 0 and result.copy_s > 0
    assert result.as_dict()["writer_over_copy"] == round(result.copy_s / result.writer_s, 3)
    assert "bench_load: 1,500 rows" in out.getvalue()


@pytest.mark.slow
def test_throughput_and_flat_memory_at_200k(pg_server):
    result = bench_extract.run(200_000, pg_server, checkpoints=(50_000, 200_000))
    early, late = result.checkpoints
    assert late.rss_mb - early.rss_mb < 50  # memory does not grow with volume
    assert result.peak_rss_mb < 300

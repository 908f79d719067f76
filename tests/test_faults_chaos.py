"""Chaos over a full extract of every HTTP connector: the loaded data equals a clean extract.

The generated small world (every source type) is served by the vendor emulators twice: once
clean, once with a fault on every other request: 429 with Retry-After, 500, 503, a stall that
ends in a dropped connection, a slow answer, a truncated body, a dropped connection, the
previous page served again, the page's records in reverse order, and a proxy's HTML maintenance
page with status 200. Both extracts land in their own warehouse; every record version (source
id, version, payload, person hash) per raw table must be the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext, registry
from schoolcx.connectors.http import RetryPolicy
from schoolcx.load.raw_writer import RawWriter
from schoolcx.sandbox.demo.generator import generate_world
from schoolcx.sandbox.demo.spec import small_spec
from schoolcx.sandbox.demo.world import as_seen_at
from schoolcx.sandbox.emulators import freshdesk, qualtrics, surveymonkey, zendesk
from schoolcx.sandbox.emulators.http_base import Faults
from tests.faults_support import ZD_TABLES, fresh_warehouse, raw_rows

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)
UNTIL_FD = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
CHAOS = (
    "rate_limit",
    "error_500",
    "html_200",
    "truncate",
    "repeat",
    "reorder",
    "stall",
    "drop",
    "error_503",
    "timeout",
)
# Small pages so the faults land on data pages of every stream, not on one big page.
OPTIONS = {"zendesk": {"page_size": 20}, "freshdesk": {"per_page": 3}}
TABLES = {
    "zendesk": ZD_TABLES,
    "freshdesk": (
        "freshdesk_tickets",
        "freshdesk_conversations",
        "freshdesk_contacts",
        "freshdesk_satisfaction_ratings",
        "freshdesk_surveys",
    ),
    "qualtrics": ("qualtrics_responses",),
    "surveymonkey": ("surveymonkey_responses",),
}
EMULATORS = {
    "zendesk": zendesk,
    "freshdesk": freshdesk,
    "qualtrics": qualtrics,
    "surveymonkey": surveymonkey,
}


def chaos_plan(kinds: tuple[str, ...], every: int = 2) -> Faults:
    """One fault of each kind on every `every`-th request, in order, then the plan repeats."""
    plan = {every * (i + 1): kind for i, kind in enumerate(kinds * 3)}
    return Faults(plan=plan, retry_after=0.05, timeout_seconds=0.2)


@dataclasses.dataclass
class Demo:
    world: object
    cfg: DeploymentConfig
    served_at: dt.datetime


@pytest.fixture(scope="module")
def demo() -> Demo:
    world = generate_world(small_spec())
    served_at = dt.datetime.combine(world.as_of + dt.timedelta(days=1), dt.time(8), tzinfo=dt.UTC)
    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    return Demo(as_seen_at(world, served_at), cfg, served_at)


def _source(cfg: DeploymentConfig, name: str, kind: str):
    district, src = cfg.source(name)
    options = {**src.options, **OPTIONS.get(kind, {})}
    return district, type(src).model_validate({**src.model_dump(), "options": options})


def extract_kind(url: str, demo: Demo, kind: str, faults: Faults | None) -> int:
    """Extract every source of `kind` into `url`; returns the requests the emulator counted."""
    names = [s.name for _d, s in demo.cfg.sources() if s.type == kind]
    assert names, f"the small world has no {kind} source"
    opts = {"frozen": True, "now": demo.served_at} if kind in ("zendesk", "freshdesk") else {}
    with EMULATORS[kind].serve(demo.world, names, faults, **opts) as running:
        for name in names:
            district, src = _source(demo.cfg, name, kind)
            spec = running.connection(name)
            spec["extra"] = {**spec.get("extra", {}), "retry_base_delay": 0.01}
            ctx = ConnectorContext(district, src, Connection(conn_id=src.conn_id, **spec))
            cls = registry()[kind]
            connector = (
                cls(ctx, policy=FAST, sleep=lambda s: None)
                if kind in ("zendesk", "freshdesk")
                else cls(ctx)
            )
            with RawWriter(
                url,
                source_instance=name,
                source_type=kind,
                district_id=district.district_id,
                run_id=f"chaos-{kind}",
            ) as writer:
                writer.write_pages(connector.pages(writer.state(), demo.served_at))
        return running.server._counted


@pytest.mark.parametrize(
    ("kind", "kinds"),
    [
        ("zendesk", CHAOS),
        ("freshdesk", CHAOS),
        ("qualtrics", CHAOS),
        # The small world's SurveyMonkey surveys fit in a few 100-response pages: the faults
        # are spread over two extracts so every kind lands on one.
        ("surveymonkey", CHAOS[:5]),
        ("surveymonkey", CHAOS[5:]),
    ],
)
def test_chaos_extract_equals_clean_extract(warehouse, pg_server, demo, kind, kinds):
    faults = chaos_plan(kinds)
    requests = extract_kind(warehouse, demo, kind, faults)
    clean = fresh_warehouse(pg_server)
    extract_kind(clean, demo, kind, None)
    expected = raw_rows(clean, TABLES[kind])
    assert sum(map(len, expected.values())) > 0
    got = raw_rows(warehouse, TABLES[kind])
    for table in TABLES[kind]:
        assert got[table] == expected[table], table
    hit = [k for n, k in faults.plan.items() if n <= requests]
    assert set(kinds) <= set(hit), f"faults never served: {set(kinds) - set(hit)}"


# ---- file drop: a file still being written while it is read --------------------------------


def test_file_growing_while_read_fails_then_lands_like_a_clean_load(warehouse, pg_server, tmp_path):
    """The district's export job is still appending to the CSV when the night reads it: the run
    stops naming the source and the file, the next run loads the finished file, and the newest
    version of every row equals a clean load of the finished file."""
    from schoolcx.config import District, Source
    from schoolcx.connectors.base import ConnectorError
    from schoolcx.connectors.file_drop import PAGE_ROWS, FileDropConnector
    from tests.faults_support import latest_rows

    district = District(
        district_id="1700001",
        name="Lincoln",
        state="IL",
        timezone="America/Chicago",
        enrollment={2026: 5000},
    )

    def source(folder) -> Source:
        return Source(
            name="d1-calls",
            type="file_drop",
            start_date=dt.date(2025, 8, 1),
            options={
                "path": str(folder),
                "kind": "interactions",
                "columns": {"id": "Call ID", "created_at": "Started", "channel": "Channel"},
            },
        )

    def rows(first: int, n: int) -> str:
        return "".join(
            f"c{i},2025-09-02T08:{i % 60:02d}:00,phone\n" for i in range(first, first + n)
        )

    def load(url, folder, between=None):
        ctx = ConnectorContext(district, source(folder), None)
        with RawWriter(
            url,
            source_instance="d1-calls",
            source_type="file_drop",
            district_id="1700001",
            run_id="f",
        ) as writer:

            def watched(pages):
                for page in pages:
                    yield page
                    if between:
                        between()

            return writer.write_pages(
                watched(FileDropConnector(ctx).pages(writer.state(), UNTIL_FD))
            )

    first_part = "Call ID,Started,Channel\n" + rows(1, PAGE_ROWS + 1000)
    growing = tmp_path / "growing"
    growing.mkdir()
    path = growing / "calls.csv"
    path.write_text(first_part)
    appended = []

    def append():
        if not appended:  # the export job writes its last rows after the first page
            with path.open("a") as f:
                f.write(rows(PAGE_ROWS + 1001, 500))
            appended.append(True)

    with pytest.raises(ConnectorError) as err:
        load(warehouse, growing, append)
    assert "d1-calls" in str(err.value) and "calls.csv" in str(err.value)
    load(warehouse, growing)

    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "calls.csv").write_text(path.read_text())
    clean = fresh_warehouse(pg_server)
    load(clean, finished)
    got, expected = (
        latest_rows(warehouse, ("file_drop_rows",)),
        latest_rows(clean, ("file_drop_rows",)),
    )
    assert len(expected["file_drop_rows"]) == PAGE_ROWS + 1500
    assert got == expected

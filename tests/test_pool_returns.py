"""The hub's returns (issue 15): each district gets its own benchmark rows only, signed; its
deployment loads them into marts.consortium_peer_benchmarks under district RLS. And nothing
that pooling writes, on either side, could identify a person."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import psycopg
import pytest

from schoolcx.config import DeploymentConfig
from schoolcx.pooling import files, layout
from schoolcx.pooling.export import export_all
from schoolcx.pooling.hub_config import load_hub_config
from schoolcx.pooling.importer import import_inbox
from schoolcx.pooling.returns import receive_returns, write_returns
from schoolcx.publish.roles import sync_bi_roles
from tests.conftest import _fresh_database
from tests.pool_support import (
    HUB_ROSTER,
    build_district_marts,
    build_hub_marts,
    deployment_config,
    hub_yaml,
    key_for,
    reseal,
    set_keys,
)

PEER_COLS = ", ".join(layout.names(layout.PEER_COLUMNS))
NOW = dt.datetime(2025, 11, 15, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def hub(pg_server, tmp_path, monkeypatch):
    from schoolcx.warehouse import migrate

    set_keys(monkeypatch, HUB_ROSTER)
    url = _fresh_database(pg_server)
    migrate(url)
    build_hub_marts(url)
    cfg = load_hub_config(
        hub_yaml(tmp_path, HUB_ROSTER, str(tmp_path / "inbox"), str(tmp_path / "outbox"))
    )
    return url, cfg


def _hub_rows(url: str, district_id: str | None = None) -> list[tuple]:
    where = " where district_id = %s" if district_id else ""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select {PEER_COLS} from marts.peer_benchmarks{where}",
            (district_id,) if district_id else None,
        ).fetchall()


def _return_rows(folder: str, name: str = layout.PEER_FILE) -> list[tuple]:
    columns = layout.RETURN_FILES[name]
    return files.decode(files.read_or_none(folder, name), columns)


def test_each_return_holds_its_own_rows_and_no_other_districts_value(hub):
    url, cfg = hub
    result = write_returns(url, cfg, now=NOW)
    assert result.without_rows == ["1700007"]
    assert sorted(d for d, _, _ in result.written) == HUB_ROSTER[:6]
    all_rows = _hub_rows(url)
    own_value = {(r[0], r[1], r[2], r[3]): r[7] for r in all_rows}
    for district_id, folder, counts in result.written:
        rows = _return_rows(folder)
        yoy = _return_rows(folder, layout.YOY_FILE)
        # exactly its own rows of the hub's marts (multiset equality, numerically exact)
        assert sorted(rows) == sorted(_hub_rows(url, district_id))
        assert counts == {layout.PEER_FILE: len(rows), layout.YOY_FILE: len(yoy)}
        assert {r[0] for r in rows} == {r[0] for r in yoy} == {district_id}
        # Scan: no other district's id anywhere, and no other district's own value, except
        # where it equals one of the peer aggregates or own values this district may see
        # (a median of an odd group is some member's value: docs/metrics.md publishes it).
        allowed = {v for r in rows for v in r[7:13] if v is not None}
        allowed |= {v for r in yoy for v in r[5:9] if v is not None}
        others = {v for (d, *_k), v in own_value.items() if d != district_id and v not in allowed}
        seen = {v for r in rows + yoy for v in r if v is not None}
        assert others and not (others & seen)
        text = {str(v) for r in rows + yoy for v in r if isinstance(v, str)}
        assert not (text & (set(HUB_ROSTER) - {district_id}))


@pytest.fixture
def district(warehouse, monkeypatch):
    """A district deployment of two consortium members, with a per-district BI reader."""
    base = deployment_config(["1700001", "1700002"]).model_dump(mode="json")
    reader = f"pool_reader_{uuid.uuid4().hex[:8]}"
    cfg = DeploymentConfig.model_validate({**base, "bi_readers": {reader: ["1700001"]}})
    sync_bi_roles(warehouse, cfg)
    return warehouse, cfg, reader


def test_district_receives_its_rows_under_rls(hub, district, monkeypatch):
    hub_url, hub_cfg = hub
    url, cfg, reader = district
    write_returns(hub_url, hub_cfg, now=NOW)
    result = receive_returns(url, cfg, hub_cfg.outbox)
    assert (result.count("accepted"), result.count("rejected")) == (2, 0), result.outcomes
    with psycopg.connect(url) as conn:
        got = conn.execute(f"select {PEER_COLS} from marts.consortium_peer_benchmarks").fetchall()
        assert {
            r[0]
            for r in conn.execute(
                "select distinct consortium_id from marts.consortium_peer_benchmarks"
            )
        } == {"il-scc"}
    assert sorted(got) == sorted(_hub_rows(hub_url, "1700001") + _hub_rows(hub_url, "1700002"))

    with psycopg.connect(url) as conn:  # a reader limited to 1700001 sees only its rows
        conn.execute(f'set role "{reader}"')
        seen = conn.execute(
            "select distinct district_id from marts.consortium_peer_benchmarks"
        ).fetchall()
    assert seen == [("1700001",)]

    again = receive_returns(url, cfg, hub_cfg.outbox)
    assert again.count("already_pooled") == 2 and again.count("accepted") == 0
    assert again.summary() == "0 returns loaded, 0 rejected, 2 already loaded"


def test_report_reads_the_hubs_peer_figures_once_received(hub, district):
    """The district report's one door to peer figures (report.data.peer_rows) prefers what
    the hub returned, per metric and period, and says who computed them."""
    from schoolcx.report.data import peer_rows
    from schoolcx.report.view import peer_source_words

    hub_url, hub_cfg = hub
    url, cfg, _ = district
    with psycopg.connect(url) as conn:  # before: nothing received, no local peers either
        assert peer_rows(conn, "1700001") == []
    write_returns(hub_url, hub_cfg, now=NOW)
    receive_returns(url, cfg, hub_cfg.outbox)
    with psycopg.connect(url) as conn:
        rows = peer_rows(conn, "1700001")
    hub_rows = _hub_rows(hub_url, "1700001")
    assert len(rows) == len(hub_rows) > 0
    assert {r["peer_source"] for r in rows} == {"il-scc"}
    by_key = {(r[1], r[2], r[3]): r for r in hub_rows}
    for r in rows:
        expected = by_key[(r["metric"], r["period_type"], r["period_start"])]
        assert (r["peer_p25"], r["peer_median"], r["peer_p75"]) == expected[8:11]
    words = peer_source_words(rows, {"il-scc": "Illinois Small Cities"})
    assert words.startswith("benchmarked by the Illinois Small Cities hub")


def test_bad_returns_are_refused(hub, district, tmp_path):
    hub_url, hub_cfg = hub
    url, cfg, _ = district
    written = {d: f for d, f, _ in write_returns(hub_url, hub_cfg, now=NOW).written}
    # 1700001's return carries a row of 1700003 (a hub bug), signed with the right key
    reseal(
        written["1700001"],
        key_for("1700001"),
        edit_rows={layout.PEER_FILE: lambda rows: [*rows, (("1700003", *rows[0][1:]))]},
    )
    # 1700003's return put in 1700002's folder
    src = Path(written["1700003"].removeprefix("file://"))
    dst = Path(hub_cfg.outbox) / "1700002" / (src.name + "-moved")
    src.rename(dst)
    # 1700002's own return altered after signing
    target = Path(written["1700002"].removeprefix("file://")) / layout.YOY_FILE
    target.write_bytes(target.read_bytes()[:-9] + b"corrupted")

    result = receive_returns(url, cfg, hub_cfg.outbox)
    reasons = sorted((o.check, o.reason.split(":")[0]) for o in result.outcomes)
    assert result.count("accepted") == 0
    assert reasons == [
        ("checksum", "yoy_trends.parquet"),
        ("roster", "return for district 1700003 found under 1700002's folder"),
        ("schema", "peer_benchmarks.parquet"),
    ], result.outcomes
    with psycopg.connect(url) as conn:
        assert (
            conn.execute("select to_regclass('marts.consortium_peer_benchmarks')").fetchone()[0]
            is None
        )
        assert (
            conn.execute(
                "select count(*) from ops.pool_imports where direction = 'district_receive'"
                " and status = 'rejected'"
            ).fetchone()[0]
            == 3
        )


PERSON_COLUMN = re.compile(
    r"(first|last|full|given|family|sur|nick)_?name|(^|_)(requester|agent|person|user|contact"
    r"|student|parent|guardian|staff|respondent)(_|$)|mail|phone|hash|subject|body|message"
    r"|comment|note|text"
    r"|address|ip$|uuid"
)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I)
EMAIL_BYTES = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
HEX64 = re.compile(r"\b[0-9a-f]{64}\b", re.I)


def _person_like_columns(names: list[str], where: str) -> list[str]:
    bad = [f"{where}.{n}" for n in names if PERSON_COLUMN.search(n)]
    # `name` is allowed only as a district's name (pool.districts / district.parquet)
    bad += [f"{where}.{n}" for n in names if n == "name" and "district" not in where]
    return bad


def test_nothing_pooled_exported_or_returned_could_identify_a_person(
    warehouse, pg_server, tmp_path, monkeypatch
):
    from schoolcx.warehouse import migrate

    # the scanner is not vacuous: it flags what a person-level column is called
    flagged = ["requester_hash", "requester_email", "first_name", "subject", "body_text", "name"]
    assert len(_person_like_columns(flagged, "marts.fct_interactions")) == len(flagged)
    set_keys(monkeypatch, HUB_ROSTER)
    build_district_marts(warehouse)
    # the district's person-level mart: requester hashes and an address that must not leave
    hashes = ["%064x" % (i * 0x9E3779B97F4A7C15) for i in range(1, 6)]
    with psycopg.connect(warehouse) as conn:
        conn.execute(
            "create table marts.fct_interactions as select '1700001'::text as district_id,"
            " h as requester_hash, 'pat.doe@lincoln.k12.il.us'::text as requester_email"
            " from unnest(%s::text[]) as h",
            (hashes,),
        )
    hub_cfg = load_hub_config(
        hub_yaml(tmp_path, HUB_ROSTER, str(tmp_path / "inbox"), str(tmp_path / "outbox"))
    )
    export_all(warehouse, deployment_config(), hub_cfg.inbox)
    hub_url = _fresh_database(pg_server)
    migrate(hub_url)
    assert import_inbox(hub_url, hub_cfg).count("accepted") == 3
    build_hub_marts(hub_url)
    write_returns(hub_url, hub_cfg)
    receive_returns(warehouse, deployment_config(), hub_cfg.outbox)

    bad: list[str] = []
    for url, schema_sql in (
        (hub_url, "table_schema = 'pool'"),
        (warehouse, "table_name = 'consortium_peer_benchmarks'"),
    ):
        with psycopg.connect(url) as conn:
            tables = conn.execute(
                f"select table_schema, table_name from information_schema.tables where {schema_sql}"
            ).fetchall()
            assert tables
            for schema, table in tables:
                cols = [
                    r[0]
                    for r in conn.execute(
                        "select column_name from information_schema.columns"
                        " where table_schema = %s and table_name = %s",
                        (schema, table),
                    )
                ]
                bad += _person_like_columns(cols, f"{schema}.{table}")
                for (text,) in conn.execute(f'select t::text from "{schema}"."{table}" t'):
                    if EMAIL.search(text) or HEX64.search(text):
                        bad.append(f"{schema}.{table}: {text[:80]}")
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent.name[:1].isdigit()]
    parquet = [p for p in written if p.suffix == ".parquet"]
    assert len(parquet) == 3 * 3 + 2 * 6  # three extracts, six returns
    for path in written:
        raw = path.read_bytes()
        for h in hashes:
            assert h.encode() not in raw, path
        assert b"pat.doe" not in raw and not EMAIL_BYTES.search(raw), path
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            bad += _person_like_columns(table.schema.names, path.name.removesuffix(".parquet"))
            for row in table.to_pylist():
                for v in row.values():
                    if isinstance(v, str) and (EMAIL.search(v) or HEX64.search(v)):
                        bad.append(f"{path}: {v}")
    assert bad == []

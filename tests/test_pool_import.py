"""Consortium pooling, district export to hub import (issue 15): the round trip is exact, and
every bad extract is refused whole, with its reason, leaving pool.* as it was."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from schoolcx.pooling import files, layout
from schoolcx.pooling.export import ExportError, export_all, export_district
from schoolcx.pooling.hub_config import HubConfig, HubConfigError, load_hub_config
from schoolcx.pooling.importer import import_extract, import_inbox
from tests.pool_support import (
    AS_OF,
    CONSORTIUM,
    build_district_marts,
    deployment_config,
    hub_yaml,
    key_for,
    pool_checksums,
    republish,
    reseal,
    set_keys,
)

ROSTER = ["1700001", "1700002", "1700004"]  # 1700004 never sends; 1700003 is not a member
FIG_COLS = ", ".join(layout.names(layout.FIGURES_COLUMNS))
SURVEY_COLS = ", ".join(layout.names(layout.SURVEY_COLUMNS))
T0 = dt.datetime(2025, 11, 15, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(warehouse, tmp_path, monkeypatch):
    """One database holding a district deployment's marts and a hub's pool (export reads only
    marts, import writes only pool), so the round trip compares in SQL."""
    set_keys(monkeypatch)
    build_district_marts(warehouse)
    hub = load_hub_config(
        hub_yaml(tmp_path, ROSTER, str(tmp_path / "inbox"), str(tmp_path / "out"))
    )
    return warehouse, deployment_config(), hub


def _except_all_both_ways(url: str, left: str, right: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        a = conn.execute(f"select count(*) from ({left} except all {right}) x").fetchone()[0]
        b = conn.execute(f"select count(*) from ({right} except all {left}) x").fetchone()[0]
    return a, b


def test_round_trip_reproduces_the_figures_exactly(world):
    url, cfg, hub = world
    exported = export_all(url, cfg, hub.inbox, now=T0)
    assert {(r.district_id, r.consortium_id) for r in exported} == {
        (d, CONSORTIUM) for d in ("1700001", "1700002", "1700003")
    }
    result = import_inbox(url, hub)
    by_district = {o.district_id: o for o in result.outcomes}
    assert by_district["1700001"].status == by_district["1700002"].status == "accepted"
    assert by_district["1700003"].status == "rejected" and by_district["1700003"].check == "roster"

    members = "district_id in ('1700001', '1700002')"
    assert _except_all_both_ways(
        url,
        f"select {FIG_COLS} from marts.district_period_figures where {members}",
        f"select {FIG_COLS} from pool.district_period_figures",
    ) == (0, 0)
    assert _except_all_both_ways(
        url,
        f"select {SURVEY_COLS} from marts.fct_survey_item_results where {members}",
        f"select {SURVEY_COLS} from pool.survey_item_results",
    ) == (0, 0)
    assert _except_all_both_ways(
        url,
        f"select district_id, name, state, timezone, consortium_ids from marts.dim_district"
        f" where {members}",
        "select district_id, name, state, timezone, consortium_ids from pool.districts",
    ) == (0, 0)
    with psycopg.connect(url) as conn:
        # the data really has the hard cases: long scales, an exact third, a zero-interaction
        # period with NULL shares, a 2-decimal feedback score
        scale, zero_rows = conn.execute(
            "select max(scale(interactions_per_1000_students_per_service_day)),"
            " count(*) filter (where interactions = 0 and answered_share is null)"
            " from pool.district_period_figures"
        ).fetchone()
        assert scale >= 20 and zero_rows >= 1
        # exact, digit for digit (not merely close): numeric equality in SQL
        assert (
            conn.execute(
                "select count(*) from marts.district_period_figures m join"
                " pool.district_period_figures p using (district_id, period_type, period_start)"
                " where m.answered_share = p.answered_share"
                " and m.interactions_per_1000_students_per_service_day"
                " = p.interactions_per_1000_students_per_service_day"
            ).fetchone()[0]
            == conn.execute(
                "select count(*) from pool.district_period_figures where answered_share is not null"
            ).fetchone()[0]
        )
        statuses = dict(
            conn.execute(
                "select coalesce(district_id, '?') || ':' || status, count(*) from"
                " ops.pool_imports group by 1"
            ).fetchall()
        )
    assert statuses == {
        "1700001:accepted": 1,
        "1700002:accepted": 1,
        "1700003:rejected": 1,
        "1700004:missing": 1,
    }
    assert [m.district_id for m in result.missing] == ["1700004"]
    assert result.missing[0].reason == "never sent an extract"


def test_same_extract_twice_changes_nothing(world):
    url, cfg, hub = world
    export_all(url, cfg, hub.inbox, now=T0)
    import_inbox(url, hub)
    before = pool_checksums(url)
    again = import_inbox(url, hub)
    assert again.count("already_pooled") == 2 and again.count("accepted") == 0
    assert pool_checksums(url) == before


def test_newer_extract_replaces_period_by_period_older_never_replaces_newer(world):
    url, cfg, hub = world
    old = export_district(url, cfg, "1700001", CONSORTIUM, hub.inbox, now=T0)
    with psycopg.connect(url) as conn:  # the next night: one month's figures changed
        conn.execute(
            "update marts.district_period_figures set service_days = service_days + 1,"
            " interactions_per_1000_students_per_service_day = interactions::numeric * 1000"
            " / (service_days + 1) / enrollment"
            " where district_id = '1700001' and period_type = 'month'"
            " and period_start = '2025-11-01'"
        )
    republish(url, AS_OF + dt.timedelta(days=1))
    new = export_district(url, cfg, "1700001", CONSORTIUM, hub.inbox, now=T0 + dt.timedelta(days=1))

    assert import_extract(url, hub, new.folder).status == "accepted"
    before = pool_checksums(url)
    late = import_extract(url, hub, old.folder)
    assert late.status == "rejected" and late.check == "older"
    assert f"older than the pooled extract {new.extract_id}" in late.reason
    assert pool_checksums(url) == before
    with psycopg.connect(url) as conn:
        days, extract = conn.execute(
            "select service_days, extract_id from pool.district_period_figures"
            " where district_id = '1700001' and period_type = 'month'"
            " and period_start = '2025-11-01'"
        ).fetchone()
    assert (days, extract) == (22, new.extract_id)


def test_newer_extract_after_older_replaces_its_periods(world):
    url, cfg, hub = world
    old = export_district(url, cfg, "1700001", CONSORTIUM, hub.inbox, now=T0)
    assert import_extract(url, hub, old.folder).status == "accepted"
    with psycopg.connect(url) as conn:
        conn.execute(
            "update marts.district_period_figures set period_end = period_end"
            " where district_id = '1700001'"
        )
    republish(url, AS_OF + dt.timedelta(days=1))
    new = export_district(url, cfg, "1700001", CONSORTIUM, hub.inbox, now=T0 + dt.timedelta(days=1))
    assert import_extract(url, hub, new.folder).status == "accepted"
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "select array_agg(distinct extract_id) from pool.district_period_figures"
        ).fetchone()[0] == [new.extract_id]


def _shift_first_row(rows, column: str, value):
    i = layout.names(layout.FIGURES_COLUMNS).index(column)
    row = list(rows[0])
    row[i] = value(row) if callable(value) else value
    return [tuple(row), *rows[1:]]


def _col(name: str) -> int:
    return layout.names(layout.FIGURES_COLUMNS).index(name)


def _tamper_bytes(folder: str) -> None:
    path = Path(folder.removeprefix("file://")) / layout.FIGURES_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


KEY = key_for("1700001")
FIG = layout.FIGURES_FILE


def _future_month(rows):
    row = list(rows[0])
    row[_col("period_type")] = "month"
    row[_col("period_start")] = dt.date(2026, 1, 1)
    row[_col("period_end")] = dt.date(2026, 1, 31)
    return [*rows, tuple(row)]


def _answered_over(rows):
    row = list(rows[0])
    row[_col("answered_interactions")] = row[_col("interactions")] + 1
    return [tuple(row), *rows[1:]]


def _share_off(rows):
    out = []
    for r in rows:
        r = list(r)
        if r[_col("interactions")] > 10:
            r[_col("high_risk_share")] = r[_col("high_risk_share")] + Decimal("0.01")
        out.append(tuple(r))
    return out


def _percent_agree_off(rows):
    r = list(rows[0])
    r[5] = r[5] + Decimal("1")
    return [tuple(r), *rows[1:]]


CASES = {
    "tampered file": (lambda f: _tamper_bytes(f), "checksum", f"{FIG}: SHA-256"),
    "wrong checksum": (
        lambda f: reseal(f, KEY, edit_manifest=lambda m: m["files"].update({FIG: "0" * 64})),
        "checksum",
        "does not match the manifest",
    ),
    "forged manifest (not re-signed)": (
        lambda f: reseal(f, None, edit_rows={FIG: lambda rows: rows[1:]}),
        "signature",
        "manifest.sig does not match manifest.json",
    ),
    "signed with another key": (
        lambda f: reseal(f, key_for("1700002")),
        "signature",
        "under district 1700001's pooling key",
    ),
    "unknown schema version": (
        lambda f: reseal(f, KEY, edit_manifest=lambda m: m.update(schema_version=99)),
        "schema_version",
        "schema_version 99 is not one this deployment reads",
    ),
    "period in the future": (
        lambda f: reseal(
            f,
            KEY,
            edit_rows={FIG: _future_month},
            edit_manifest=lambda m: m["periods"]["district_period_figures"]["month"].update(
                last="2026-01-01",
                count=m["periods"]["district_period_figures"]["month"]["count"] + 1,
            ),
        ),
        "periods",
        "a period starting after the extract's as-of date",
    ),
    "as_of in the future": (
        lambda f: reseal(f, KEY, edit_manifest=lambda m: m.update(as_of="2099-01-01")),
        "periods",
        "as_of 2099-01-01 is in the future",
    ),
    "answered > interactions": (
        lambda f: reseal(f, KEY, edit_rows={FIG: _answered_over}),
        "counts",
        "answered_interactions > interactions",
    ),
    "share inconsistent with counts": (
        lambda f: reseal(f, KEY, edit_rows={FIG: _share_off}),
        "counts",
        "high_risk_share inconsistent with high_risk_interactions/interactions",
    ),
    "percent_agree inconsistent": (
        lambda f: reseal(f, KEY, edit_rows={layout.SURVEY_FILE: _percent_agree_off}),
        "counts",
        "percent_agree inconsistent with 100 * agree_answers / valid_answers",
    ),
    "manifest not JSON": (
        lambda f: Path(f.removeprefix("file://"), "manifest.json").write_text("{not json"),
        "manifest",
        "manifest.json: not JSON",
    ),
    "a listed file missing": (
        lambda f: Path(f.removeprefix("file://"), layout.SURVEY_FILE).unlink(),
        "checksum",
        "survey_item_results.parquet is listed in manifest.json but missing",
    ),
    "rows of another district": (
        lambda f: reseal(
            f, KEY, edit_rows={FIG: lambda rows: _shift_first_row(rows, "district_id", "1700002")}
        ),
        "schema",
        "rows of district(s) 1700002 in an extract of district 1700001",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_extract_is_refused_with_its_reason_and_changes_nothing(world, case):
    url, cfg, hub = world
    first = export_district(url, cfg, "1700001", CONSORTIUM, hub.inbox, now=T0)
    assert import_extract(url, hub, first.folder).status == "accepted"  # something pooled
    republish(url, AS_OF + dt.timedelta(days=1))
    bad = export_district(url, cfg, "1700001", CONSORTIUM, hub.inbox, now=T0 + dt.timedelta(days=1))
    damage, check, phrase = CASES[case]
    damage(bad.folder)
    before = pool_checksums(url)

    outcome = import_extract(url, hub, bad.folder)

    assert outcome.status == "rejected", outcome
    assert (outcome.check, phrase in outcome.reason) == (check, True), outcome.reason
    assert pool_checksums(url) == before
    with psycopg.connect(url) as conn:
        logged = conn.execute(
            "select file_url, failed_check, reason from ops.pool_imports where status = 'rejected'"
        ).fetchall()
    assert logged == [(bad.folder, check, outcome.reason)]
    assert "REJECTED" in outcome.line() and bad.folder in outcome.line()


def test_a_refused_file_is_logged_once_until_its_outcome_changes(world, monkeypatch):
    url, cfg, hub = world
    e = export_district(url, cfg, "1700002", CONSORTIUM, hub.inbox, now=T0)
    monkeypatch.delenv("AIRFLOW_CONN_SCHOOLCX_POOL_1700002")  # the hub lacks the key at first
    assert import_inbox(url, hub).count("rejected") == 1
    assert import_inbox(url, hub).count("rejected") == 1  # still refused, and said so
    set_keys(monkeypatch)  # the hub's operator adds the key: the same file now pools
    assert import_inbox(url, hub).count("accepted") == 1
    with psycopg.connect(url) as conn:
        log = conn.execute(
            "select status, failed_check from ops.pool_imports where file_url = %s"
            " order by import_id",
            (e.folder,),
        ).fetchall()
    assert log == [("rejected", "signature"), ("accepted", None)]


def test_duplicate_import_is_refused(world):
    url, cfg, hub = world
    e = export_district(url, cfg, "1700001", CONSORTIUM, hub.inbox, now=T0)
    assert import_extract(url, hub, e.folder).status == "accepted"
    before = pool_checksums(url)
    again = import_extract(url, hub, e.folder)
    assert (again.check, again.reason) == ("duplicate", f"extract {e.extract_id} is already pooled")
    assert pool_checksums(url) == before


def test_district_not_in_roster_and_missing_key(world, monkeypatch):
    url, cfg, hub = world
    outsider = export_district(url, cfg, "1700003", CONSORTIUM, hub.inbox, now=T0)
    refused = import_extract(url, hub, outsider.folder)
    assert refused.check == "roster" and "1700003 is not in consortium il-scc's roster" in (
        refused.reason
    )
    member = export_district(url, cfg, "1700002", CONSORTIUM, hub.inbox, now=T0)
    monkeypatch.delenv("AIRFLOW_CONN_SCHOOLCX_POOL_1700002")  # the hub lacks this key
    refused = import_extract(url, hub, member.folder)
    assert refused.check == "signature" and "schoolcx_pool_1700002" in refused.reason
    assert pool_checksums(url)["district_period_figures"][0] == 0


def test_roster_district_behind_is_listed_missing(world):
    url, cfg, hub = world
    with psycopg.connect(url) as conn:  # 1700002's deployment is a month behind
        conn.execute(
            "delete from marts.district_period_figures where district_id = '1700002'"
            " and period_start >= '2025-11-01' and period_type in ('month', 'week')"
        )
    export_all(url, cfg, hub.inbox, now=T0)
    result = import_inbox(url, hub)
    assert result.latest_month == dt.date(2025, 11, 1)
    assert {m.district_id: m.reason for m in result.missing} == {
        "1700002": "sent nothing for month 2025-11-01 (latest pooled month 2025-10-01)",
        "1700004": "never sent an extract",
    }
    assert "2 roster districts missing for month 2025-11-01" in result.summary()


def test_export_needs_a_key_and_a_publish(warehouse, tmp_path, monkeypatch):
    cfg = deployment_config()
    with pytest.raises(Exception, match="AIRFLOW_CONN_SCHOOLCX_POOL_1700001"):
        export_district(warehouse, cfg, "1700001", CONSORTIUM, str(tmp_path))
    set_keys(monkeypatch)
    with pytest.raises(ExportError, match="nothing is published yet"):
        export_district(warehouse, cfg, "1700001", CONSORTIUM, str(tmp_path))


def test_hub_config_errors_name_file_and_field(tmp_path):
    good = {
        "consortium_id": "c1",
        "name": "C",
        "districts": ["1700001"],
        "inbox": "a",
        "outbox": "b",
    }
    path = tmp_path / "hub.yml"
    import yaml

    for change, expected in [
        ({"districts": ["170001"]}, "districts: item 0: '170001' is not an NCES LEAID"),
        ({"districts": ["1700001", "1700001"]}, "districts: item 1: district 1700001 is listed"),
        ({"k": 0}, "k: Input should be greater than or equal to 1"),
        ({"keys": {"1700001": "x"}}, "keys: Extra inputs are not permitted"),
        ({"inbox": None}, "inbox: Input should be a valid string"),
    ]:
        path.write_text(yaml.safe_dump({**good, **change}))
        with pytest.raises(HubConfigError) as err:
            load_hub_config(path)
        assert str(err.value).startswith(f"{path}: ") and expected in str(err.value), err.value
    path.write_text("consortium_id: c1\nname: C\ndistricts: [0100005]\ninbox: a\noutbox: b\n")
    with pytest.raises(
        HubConfigError, match=r"districts\.0: read as the number 32773; quote each LEAID"
    ):
        load_hub_config(path)
    path.write_text(yaml.safe_dump(good))
    assert load_hub_config(path) == HubConfig(**good) and load_hub_config(path).k == 5


def test_decimals_are_exact_or_refused():
    cols = (("district_id", "text"), ("v", "numeric"))
    wide = Decimal("12345678901234567890.123456789012345678901234")  # 44 digits
    rows = [("1700001", Decimal("0.5")), ("1700001", wide), ("1700001", None)]
    back = files.decode(files.encode(rows, cols), cols)
    assert [r[1] for r in back] == [Decimal("0.5"), wide, None]
    assert str(back[1][1]) == str(wide)  # every digit, via decimal256
    for bad in (Decimal("NaN"), 0.5):
        with pytest.raises(files.FileSchemaError, match=r"column v: .* is not a finite decimal"):
            files.encode([("1700001", bad)], cols)

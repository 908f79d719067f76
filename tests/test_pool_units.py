"""Unit figures never leave the district (issue 17, docs/metrics.md "Privacy"): the consortium
extract stays district-level even when the deployment publishes the unit marts."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pyarrow.parquet as pq

from schoolcx.marts import HUB_MARTS, MART_KEYS
from schoolcx.pooling import layout
from schoolcx.pooling.export import export_district
from tests.pool_support import CONSORTIUM, build_district_marts, deployment_config, set_keys

# the marts below the district (issue 17)
UNIT_MARTS = {
    "unit_scorecard",
    "unit_rankings",
    "unit_equity_gaps",
    "dim_school",
    "dim_department",
    "unit_mapping_coverage",
}
# what names a unit, in any mart or fact: never a column of anything pooled
UNIT_COLUMNS = {
    "unit_type",
    "unit_key",
    "school_id",
    "department",
    "stakeholder_type",
    "channel",
    "language",
    "reference_key",
}
SCHOOL = "170000100001"


def test_the_pooled_files_name_no_unit_column():
    assert set(MART_KEYS) >= UNIT_MARTS  # published in the district...
    assert not UNIT_MARTS & set(HUB_MARTS)  # ...never built or published by a hub
    for columns in (
        layout.FIGURES_COLUMNS,
        layout.SURVEY_COLUMNS,
        layout.DISTRICT_COLUMNS,
        layout.PEER_COLUMNS,
        layout.YOY_COLUMNS,
    ):
        assert not UNIT_COLUMNS & set(layout.names(columns))


def test_an_extract_holds_no_unit_row_or_value(warehouse, tmp_path, monkeypatch):
    set_keys(monkeypatch)
    build_district_marts(warehouse)
    with psycopg.connect(warehouse) as conn:  # a published unit mart beside the district's
        conn.execute(
            "create table marts.unit_scorecard as select district_id, 'school'::text as"
            " unit_type, %s::text as unit_key, period_type, period_start, interactions"
            " from marts.district_period_figures",
            (SCHOOL,),
        )
        conn.execute(
            "insert into marts.unit_scorecard select district_id, 'department', 'transportation',"
            " period_type, period_start, 7 from marts.district_period_figures"
        )
    result = export_district(
        warehouse, deployment_config(), "1700001", CONSORTIUM, str(tmp_path / "out")
    )
    folder = Path(result.folder.removeprefix("file://"))
    written = sorted(p.name for p in folder.iterdir())
    parquet = [n for n in written if n.endswith(".parquet")]
    assert set(parquet) == {layout.FIGURES_FILE, layout.SURVEY_FILE, layout.DISTRICT_FILE}
    for name in written:
        body = (folder / name).read_bytes()
        if name.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(body))
            assert not UNIT_COLUMNS & set(table.column_names), name
            assert not {c for c in table.column_names if c.startswith("unit")}, name
            values = {str(v) for column in table.to_pydict().values() for v in column}
            assert not {SCHOOL, "transportation", "school", "department"} & values, name
        else:  # the manifest and its signature
            assert SCHOOL.encode() not in body and b"transportation" not in body, name
    # one row per district period, as district_period_figures: nothing per unit
    figures = pq.read_table(folder / layout.FIGURES_FILE)
    with psycopg.connect(warehouse) as conn:
        periods = conn.execute(
            "select count(*) from marts.district_period_figures where district_id = '1700001'"
        ).fetchone()[0]
    assert figures.num_rows == periods

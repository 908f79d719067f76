"""Climate survey files as Google Forms exports them (file_drop kind climate_wide), through the
connector, raw and dbt to percent_agree (docs/metrics.md "Climate survey items")."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import psycopg
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.file_drop import FileDropConnector
from schoolcx.load import packing
from schoolcx.load.raw_writer import RawWriter
from schoolcx.refsync import sync_config
from tests.test_survey_ratings import _dbt_build

LINCOLN = "1700001"
SAFE = "I feel safe at my school."
RESPECT = "Staff treat students with respect."
# Google Forms: a Timestamp column, the question texts as headers, label answers, an open
# question nobody mapped, a "Don't know", a blank, a label the map does not know.
FORM = (
    f'Timestamp,"{SAFE}","{RESPECT}","What could we do better?"\n'
    "9/22/2025 10:15:32,Strongly agree,Agree,More buses\n"
    "9/22/2025 11:00:00,Disagree,Don\u2019t know,\n"
    "9/23/2025 9:30:10,Agree,,\n"
    "9/23/2025 14:05:00,Neither agree nor disagree,5,\n"
    "9/24/2025 8:00:00,Somewhat agree,Strongly disagree,\n"
)


def _config(folder) -> DeploymentConfig:
    return DeploymentConfig.model_validate(
        yaml.safe_load(
            f"""
name: climate-wide
districts:
  - district_id: "{LINCOLN}"
    name: Lincoln
    state: IL
    timezone: America/Chicago
    enrollment: {{2026: 5000}}
    sources:
      - name: lincoln-forms
        type: file_drop
        start_date: 2025-08-01
        options:
          path: {folder}
          kind: climate_wide
          items: {{"{SAFE}": feel_safe, "{RESPECT}": staff_respect}}
"""
        )
    )


def _load(url: str, cfg: DeploymentConfig):
    district, source = cfg.source("lincoln-forms")
    connector = FileDropConnector(ConnectorContext(district, source, None))
    with RawWriter(
        url, source_instance=source.name, source_type="file_drop", district_id=LINCOLN, run_id="t"
    ) as writer:
        return writer.write_pages(connector.pages(writer.state(), dt.datetime.now(dt.UTC)))


def test_google_forms_export_to_percent_agree(warehouse, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    first = folder / "climate_2025-09-23.csv"
    first.write_text("".join(FORM.splitlines(keepends=True)[:4]), encoding="utf-8")
    os.utime(first, (1758600000, 1758600000))
    (folder / "climate_2025-09-24.csv").write_text(FORM, encoding="utf-8")  # overlaps the first
    cfg = _config(folder)
    sync_config(warehouse, cfg, today=dt.date(2025, 10, 31))
    _load(warehouse, cfg)
    with psycopg.connect(warehouse) as conn:
        quarantined = conn.execute(
            "select reason, source_position, field from quarantine.records"
            " order by source_position, reason"
        ).fetchall()
    # the open question, once per file (row 1); the unknown label with its row and column
    assert quarantined == [
        ("unmapped_column", "climate_2025-09-23.csv:1", "What could we do better?"),
        ("unmapped_column", "climate_2025-09-24.csv:1", "What could we do better?"),
        ("unknown_answer_label", "climate_2025-09-24.csv:6", SAFE),
    ]
    _dbt_build(warehouse, tmp_path, "+fct_survey_item_results")
    with psycopg.connect(warehouse) as conn:
        answers = conn.execute(
            "select count(*), count(distinct response_id) from int.int_survey_answers"
        ).fetchone()
        results = conn.execute(
            "select item_code, school_year, valid_answers, agree_answers, round(percent_agree, 2)"
            " from build.fct_survey_item_results order by item_code"
        ).fetchall()
    # 5 respondents x 2 items, minus the quarantined label; the overlapping rows count once
    assert answers == (9, 9)
    # feel_safe: 5, 2, 4, 3 valid ("Somewhat agree" quarantined): 2 agree of 4 = 50 %.
    # staff_respect: 4, 5, 1 valid; "Don't know" and the blank are not: 2 of 3 = 66.67 %.
    assert results == [
        ("feel_safe", 2026, 4, 2, Decimal("50.00")),
        ("staff_respect", 2026, 3, 2, Decimal("66.67")),
    ]


def test_microsoft_forms_export_with_id_and_ignored_columns(warehouse, tmp_path):
    from schoolcx.connectors.climate_wide import parse_submitted

    assert parse_submitted("9/22/25 10:15:32") == "2025-09-22T10:15:32"  # Microsoft Forms
    assert parse_submitted("2025/09/22 1:05:09 PM GMT-5") == "2025-09-22T13:05:09"
    assert parse_submitted("2025-09-22T10:15:32-05:00") == "2025-09-22T10:15:32-05:00"
    assert parse_submitted("last Tuesday") is None
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "ms.csv").write_text(
        f'ID,Start time,Completion time,Email,Name,"{SAFE}"\n'
        "1,9/22/25 10:10:00,9/22/25 10:15:32,anonymous,,Agree\n"
        "2,9/22/25 11:10:00,,anonymous,,Agree\n",  # no completion time: quarantined
        encoding="utf-8",
    )
    data = yaml.safe_load(yaml.safe_dump(_config(folder).model_dump(mode="json")))
    options = data["districts"][0]["sources"][0]["options"]
    options["columns"] = {"id": "ID", "submitted_at": "Completion time"}
    options["items"] = {SAFE: "feel_safe"}
    options["ignore_columns"] = ["Start time", "Email", "Name"]
    cfg = DeploymentConfig.model_validate(data)
    summary = _load(warehouse, cfg)
    assert summary.inserted == 1 and dict(summary.quarantined) == {"missing_value": 1}
    with psycopg.connect(warehouse) as conn:
        [row] = packing.select_whole(
            conn, "select source_id, payload, payload_z, payload_dict from raw.file_drop_rows"
        )
    assert row[0] == "1:feel_safe"
    assert row[1]["row"] == {
        "id": "1",
        "submitted_at": "2025-09-22T10:15:32",
        "item_code": "feel_safe",
        "answer": "4",
    }

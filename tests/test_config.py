"""Config validation: good files load; bad files name the file, the district and the field."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from schoolcx.cli import main
from schoolcx.config import ConfigError, load_config

GOOD = {
    "name": "test consortium",
    "consortiums": [{"consortium_id": "PRAIRIE", "name": "Prairie"}],
    "districts": [
        {
            "district_id": "1700001",
            "name": "Lincoln CUSD",
            "state": "IL",
            "timezone": "America/Chicago",
            "enrollment": {2025: 1200, 2026: 1250},
            "consortium_ids": ["PRAIRIE"],
            "calendar": {
                "closures": [
                    {"start": "2025-12-22", "end": "2026-01-02", "reason": "winter break"},
                    "2026-02-13",
                ]
            },
            "mail_domains": ["lincoln.k12.il.us"],
            "sla": {"urgent": {"minutes": 120}},
            "sources": [
                {
                    "name": "lincoln-zendesk",
                    "type": "zendesk",
                    "conn_id": "zendesk_lincoln",
                    "start_date": "2025-07-01",
                    "mappings": {
                        "department": {"field": "group_id", "values": {"11": "transport"}}
                    },
                },
                {
                    "name": "lincoln-climate",
                    "type": "qualtrics",
                    "conn_id": "qualtrics_lincoln",
                    "start_date": "2025-07-01",
                    "options": {"survey_id": "SV_1", "item_map": {"QID1": "SAFE_01"}},
                },
            ],
        }
    ],
}


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / "deploy.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_good_file_loads_with_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, GOOD))
    d = cfg.districts[0]
    assert d.calendar.open == dt.time(7, 30) and d.calendar.close == dt.time(16, 30)
    assert d.calendar.service_day_minutes == 540
    # urgent overridden; the others default to 1, 2 and 5 service days of 540 minutes
    assert d.sla_minutes() == {"urgent": 120, "high": 540, "normal": 1080, "low": 2700}
    assert len(d.calendar.closure_list()[0].dates()) == 12
    assert d.enrollment_for(2027) == 1250 and d.enrollment_for(2024) == 1200
    assert cfg.source("lincoln-climate")[1].opts.survey_id == "SV_1"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["districts"][0].update(timezone="America/Springfield"),
            "district 1700001 (Lincoln CUSD): timezone",
        ),
        (lambda d: d["districts"][0].update(district_id="17001"), "district_id"),
        (
            lambda d: d["districts"][0]["sources"][1]["options"].pop("survey_id"),
            "district 1700001 (Lincoln CUSD): sources.1: Value error, "
            "options.survey_id: Field required",
        ),
        (lambda d: d["districts"][0]["sources"][0].update(conn_id=None), "needs conn_id"),
        (lambda d: d["districts"][0]["calendar"].update(opens="08:00"), "calendar.opens: Extra"),
        (lambda d: d["districts"][0].update(consortium_ids=["NOPE"]), "consortium 'NOPE'"),
        (lambda d: d["districts"][0]["enrollment"].update({2026: 0}), "enrollment.2026"),
        (
            lambda d: d["districts"][0]["sla"].update(high={"minutes": 5, "service_days": 1}),
            "exactly one of minutes or service_days",
        ),
    ],
)
def test_bad_file_names_file_district_and_field(tmp_path, mutate, expected):
    data = copy.deepcopy(GOOD)
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_duplicate_source_names_rejected(tmp_path):
    data = copy.deepcopy(GOOD)
    data["districts"][0]["sources"][1]["name"] = "lincoln-zendesk"
    with pytest.raises(ConfigError, match="source name 'lincoln-zendesk' is used twice"):
        load_config(_write(tmp_path, data))


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "x.yml"
    bad.write_text("districts: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.yml")


def test_cli_config_check_exit_codes(tmp_path, capsys):
    assert main(["config", "check", str(_write(tmp_path, GOOD))]) == 0
    assert "1 districts, 2 sources" in capsys.readouterr().out
    data = copy.deepcopy(GOOD)
    data["districts"][0]["state"] = "Illinois"
    assert main(["config", "check", str(_write(tmp_path, data))]) == 2
    assert "district 1700001 (Lincoln CUSD): state" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted(Path("config").glob("*.yml")))
def test_shipped_configs_are_valid(path):
    load_config(path)

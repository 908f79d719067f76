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
            "departments": ["transport", "nutrition"],
            "schools": [
                {
                    "school_id": "170000100001",
                    "name": "Lincoln Elementary",
                    "enrollment": {2026: 600},
                }
            ],
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


# Defect 14: each of these passed `config check` and then failed at run time with a bare
# database error (or silently did the wrong thing). Each must now fail at config check, with
# the file, the district (where there is one) and the field in the message.
WHERE = "district 1700001 (Lincoln CUSD): "


def _second_district(data) -> dict:
    other = copy.deepcopy(data["districts"][0])
    other.update(district_id="1700002", name="Douglas CUSD", sources=[], schools=[])
    data["districts"].append(other)
    return other


def _source_options(data, index: int) -> dict:
    return data["districts"][0]["sources"][index]["options"]


def _file_drop(data, **options) -> None:
    data["districts"][0]["sources"].append(
        {
            "name": "lincoln-files",
            "type": "file_drop",
            "start_date": "2025-07-01",
            "options": {"path": "/srv/drop", "kind": "interactions", "columns": {}, **options},
        }
    )


CONFIG_CASES = {
    "school enrollment 0": (
        lambda d: d["districts"][0]["schools"][0]["enrollment"].update({2026: 0}),
        WHERE + "schools.0.enrollment.2026: Input should be greater than 0",
    ),
    "consortium defined twice": (
        lambda d: d["consortiums"].append({"consortium_id": "PRAIRIE", "name": "Prairie 2"}),
        "consortiums.1.consortium_id: consortium 'PRAIRIE' is listed twice",
    ),
    "district joins a consortium twice": (
        lambda d: d["districts"][0]["consortium_ids"].append("PRAIRIE"),
        WHERE + "consortium_ids.1: consortium 'PRAIRIE' is listed twice",
    ),
    "school id in two districts": (
        lambda d: _second_district(d)["schools"].append(
            {"school_id": "170000100001", "name": "Copy", "enrollment": {2026: 5}}
        ),
        "district 1700002 (Douglas CUSD): schools.0.school_id: school 170000100001 is not a "
        "school of district 1700002 (an NCES school id begins with its district's LEAID)",
    ),
    "rating scale [5, 5]": (
        lambda d: _source_options(d, 1).update(rating_scale=[5, 5]),
        WHERE + "sources.1: Value error, options.rating_scale: Value error, rating scale "
        "[5.0, 5.0]: the lowest point must be below the highest",
    ),
    "rating scale [10, 1]": (
        lambda d: _source_options(d, 1).update(rating_scale=[10, 1]),
        WHERE + "sources.1: Value error, options.rating_scale: Value error, rating scale "
        "[10.0, 1.0]",
    ),
    "multi-character delimiter": (
        lambda d: _file_drop(d, delimiter=";;"),
        WHERE + "sources.2: Value error, options.delimiter: String should have at most 1",
    ),
    "unknown school id in a mapping": (
        lambda d: d["districts"][0]["sources"][0]["mappings"].update(
            school={"field": "organization_id", "values": {"7": "170000100009"}}
        ),
        WHERE + "sources.0.mappings.school.values.7: school '170000100009' is not "
        "in this district's schools",
    ),
    "unknown department in a mapping": (
        lambda d: d["districts"][0]["sources"][0]["mappings"]["department"]["values"].update(
            {"12": "transportation"}
        ),
        WHERE + "sources.0.mappings.department.values.12: department "
        "'transportation' is not in this district's departments",
    ),
    "unknown department in the second of two mappings": (
        lambda d: d["districts"][0]["sources"][0]["mappings"].update(
            department=[
                {"field": "group_id", "values": {"11": "transport"}},
                {"field": "brand_id", "values": {"3": "food"}},
            ]
        ),
        WHERE + "sources.0.mappings.department.1.values.3: department 'food' is not in this "
        "district's departments",
    ),
    "the same group mapped twice (case and spaces aside)": (
        lambda d: d["districts"][0]["sources"][0]["mappings"].update(
            stakeholder={"field": "role", "values": {"Parent": "parent", " parent ": "student"}}
        ),
        WHERE + "sources.0.mappings.stakeholder.0.values: Value error, 'parent' and 'Parent' "
        "are the same vendor value",
    ),
    "the same value mapped by two mappings of one unit": (
        lambda d: d["districts"][0]["sources"][0]["mappings"].update(
            department=[
                {"field": "group_id", "values": {"11": "transport"}},
                {"field": "group_id", "values": {"12": "nutrition", "11": "nutrition"}},
            ]
        ),
        WHERE + "sources.0.mappings: Value error, department.1.values.11: value '11' of field "
        "'group_id' is already mapped by department.0 (a duplicate mapping)",
    ),
    "a stakeholder type outside the list": (
        lambda d: d["districts"][0]["sources"][0]["mappings"].update(
            stakeholder={"field": "role", "values": {"end-user": "guardian"}}
        ),
        WHERE + "sources.0.mappings: Value error, stakeholder.0.values.end-user: 'guardian' is "
        "not a stakeholder type (parent | student | staff | community | unknown)",
    ),
    "a field the source does not have": (
        lambda d: d["districts"][0]["sources"][0]["mappings"].update(
            school={"field": "organisation_id", "values": {"7": "170000100001"}}
        ),
        WHERE + "sources.0: Value error, mappings.school.0.field: a zendesk source has no field "
        "'organisation_id' to map",
    ),
    "a custom field without its id": (
        lambda d: d["districts"][0]["sources"][0]["mappings"].update(
            school={"field": "custom_field:", "values": {"x": "170000100001"}}
        ),
        "a zendesk source has no field 'custom_field:' to map",
    ),
    "a mapping on a survey": (
        lambda d: d["districts"][0]["sources"][1].update(
            mappings={"school": {"field": "domain", "values": {"a.org": "170000100001"}}}
        ),
        WHERE + "sources.1: Value error, mappings.school.0.field: a qualtrics source has no "
        "field 'domain' to map (none)",
    ),
    "a department listed twice": (
        lambda d: d["districts"][0]["departments"].append("transport"),
        WHERE + "departments.2: department 'transport' is listed twice",
    ),
    "a department key with spaces": (
        lambda d: d["districts"][0]["departments"].append("Human Resources"),
        WHERE + "departments.2: String should match pattern",
    ),
    "a student domain that is the district's own": (
        lambda d: d["districts"][0].update(student_domains=["Lincoln.k12.il.us"]),
        WHERE + "student_domains.0: 'Lincoln.k12.il.us' is also one of mail_domains",
    ),
    "a school id of 11 digits": (
        lambda d: d["districts"][0]["schools"][0].update(school_id="17000010001"),
        WHERE + "schools.0.school_id: String should match pattern",
    ),
    "a school enrollment year that is no school year": (
        lambda d: d["districts"][0]["schools"][0].update(enrollment={26: 600}),
        WHERE + "schools.0.enrollment: Value error, school year 26 is not a school year's end",
    ),
    "responders on an ordinary mailbox": (
        lambda d: d["districts"][0]["sources"].append(
            {
                "name": "lincoln-help",
                "type": "imap",
                "conn_id": "mail",
                "start_date": "2025-07-01",
                "options": {"mailbox_address": "help@lincoln.k12.il.us", "responders": ["a@b.org"]},
            }
        ),
        WHERE + "sources.2: Value error, options: Value error, responders belong to an internal "
        "mailbox (internal: true)",
    ),
    "a responder that is no address": (
        lambda d: d["districts"][0]["sources"].append(
            {
                "name": "lincoln-hr",
                "type": "imap",
                "conn_id": "mail",
                "start_date": "2025-07-01",
                "options": {
                    "mailbox_address": "hr@lincoln.k12.il.us",
                    "internal": True,
                    "responders": ["HR lead"],
                },
            }
        ),
        WHERE + "sources.2: Value error, options.responders.0: String should match pattern",
    ),
    "unknown department of a source": (
        lambda d: d["districts"][0]["sources"][1].update(department="hr"),
        WHERE + "sources.1.department: department 'hr' is not in this district's departments",
    ),
    "empty service weekdays": (
        lambda d: d["districts"][0]["calendar"].update(weekdays=[]),
        WHERE + "calendar.weekdays: List should have at least 1 item",
    ),
    "reader role name over 63 bytes": (
        lambda d: d.update(bi_readers={"bi_" + "x" * 61: ["1700001"]}),
        "bi_readers: role name 'bi_" + "x" * 61 + "' is 64 bytes",
    ),
    "school reader of an unknown school": (
        lambda d: d.update(bi_school_readers={"bi_principal": ["170000199999"]}),
        "bi_school_readers.bi_principal: school 170000199999 is not defined",
    ),
    "school reader that is also a district reader": (
        lambda d: d.update(
            bi_readers={"bi_principal": ["1700001"]},
            bi_school_readers={"bi_principal": ["170000100001"]},
        ),
        "bi_school_readers: 'bi_principal' is also a district reader in bi_readers",
    ),
    "school reader role name not a role name": (
        lambda d: d.update(bi_school_readers={"Principal-1": ["170000100001"]}),
        "bi_school_readers: 'Principal-1' is not a valid role name",
    ),
    "typo in a gate severity": (
        lambda d: d.update(gate={"severity": {"volume_jmp": "warning"}}),
        "gate.severity: Value error, 'volume_jmp' is neither a check kind",
    ),
    "privacy check kind downgraded": (
        lambda d: d.update(gate={"severity": {"peer_k_min": "warning"}}),
        "gate.severity: Value error, 'peer_k_min' is a privacy check (peer k)",
    ),
    "privacy check name downgraded": (
        lambda d: d.update(
            gate={"severity": {"peer_benchmarks.aggregates_only_for_k_districts": "warning"}}
        ),
        "gate.severity: Value error, 'peer_benchmarks.aggregates_only_for_k_districts' is a "
        "privacy check",
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_config_check_rejects_what_would_fail_at_run_time(tmp_path, capsys, case):
    mutate, expected = CONFIG_CASES[case]
    data = copy.deepcopy(GOOD)
    mutate(data)
    path = _write(tmp_path, data)
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"config error: {path}: " in err
    assert expected in err


def test_long_role_names_truncating_to_one_role_are_rejected(tmp_path):
    # Two names that differ only after byte 63 would both become the same PostgreSQL role.
    base = "bi_" + "y" * 60
    data = copy.deepcopy(GOOD)
    data["bi_readers"] = {base + "_a": ["1700001"], base + "_b": ["1700001"]}
    with pytest.raises(ConfigError, match="truncates names over 63"):
        load_config(_write(tmp_path, data))
    data["bi_readers"] = {base: ["1700001"]}  # exactly 63 bytes is a role PostgreSQL keeps
    assert len(load_config(_write(tmp_path, data)).bi_readers) == 1


def test_severity_by_name_and_privacy_kept_critical(tmp_path):
    data = copy.deepcopy(GOOD)
    data["gate"] = {
        "severity": {
            "fct_daily_volume.no_jump_vs_trailing_median": "critical",
            "peer_k_min": "critical",
            "row_count_drop": "warning",
        }
    }
    assert load_config(_write(tmp_path, data)).gate.severity["row_count_drop"] == "warning"


def test_gate_catalogue_matches_the_gate_checks():
    """config's catalogue of check kinds and names is the set the gate really builds."""
    from schoolcx.config import GATE_CHECK_KINDS, GATE_CHECK_NAMES, PRIVACY_CHECKS
    from schoolcx.quality.checks import DEFAULT_SEVERITY, all_checks

    cfg = load_config("config/demo.yml")
    checks = all_checks(cfg, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), True)
    hint = "a gate check was added or renamed: update config.GATE_CHECK_NAMES / GATE_CHECK_KINDS"
    assert {c.name for c in checks} == GATE_CHECK_NAMES, hint
    assert set(DEFAULT_SEVERITY) == GATE_CHECK_KINDS, hint
    kinds = {c.name: c.kind for c in checks}
    assert {name: kinds[name] for name in PRIVACY_CHECKS} == PRIVACY_CHECKS
    assert {
        c.kind for c in checks if c.mart == "peer_benchmarks" and "k" in c.kind.split("_")
    } == set(PRIVACY_CHECKS.values())


def test_a_school_reader_maps_to_configured_schools(tmp_path):
    data = copy.deepcopy(GOOD)
    data["bi_school_readers"] = {"bi_principal": ["170000100001"]}
    assert load_config(_write(tmp_path, data)).bi_school_readers == {
        "bi_principal": ["170000100001"]
    }


def test_units_mapped_from_several_fields_with_an_internal_mailbox(tmp_path):
    """School by organisation then by brand, department by group and by a custom field, and an
    internal HR mailbox with its responder: loads, with the mappings in the order tried."""
    data = copy.deepcopy(GOOD)
    lincoln = data["districts"][0]
    lincoln["departments"].append("human_resources")
    lincoln["student_domains"] = ["students.lincoln.k12.il.us"]
    lincoln["sources"][0]["mappings"] = {
        "school": [
            {"field": "organization_id", "values": {"7": "170000100001"}},
            {"field": "brand_id", "values": {"8": "170000100001"}},
        ],
        "department": [
            {"field": "group_id", "values": {"11": "transport"}},
            {"field": "custom_field:360001", "values": {"Bus route": "transport"}},
        ],
        "stakeholder": {"field": "user_field:relationship", "values": {"guardian": "parent"}},
    }
    lincoln["sources"].append(
        {
            "name": "lincoln-hr",
            "type": "imap",
            "conn_id": "mail",
            "start_date": "2025-07-01",
            "department": "human_resources",
            "options": {
                "mailbox_address": "hr@lincoln.k12.il.us",
                "internal": True,
                "responders": ["hr.lead@lincoln.k12.il.us"],
            },
        }
    )
    cfg = load_config(_write(tmp_path, data))
    zendesk = cfg.districts[0].sources[0]
    assert [(u, i, m.field) for u, i, m in zendesk.mappings.items()] == [
        ("school", 0, "organization_id"),
        ("school", 1, "brand_id"),
        ("department", 0, "group_id"),
        ("department", 1, "custom_field:360001"),
        ("stakeholder", 0, "user_field:relationship"),
    ]
    hr = cfg.districts[0].sources[2]
    assert (hr.department, hr.opts.internal, hr.opts.responders) == (
        "human_resources",
        True,
        ["hr.lead@lincoln.k12.il.us"],
    )


def test_a_key_written_twice_in_the_yaml_is_an_error(tmp_path):
    # PyYAML keeps the last of two equal keys: "11" mapped to transport would silently vanish.
    text = yaml.safe_dump(GOOD).replace(
        "          '11': transport\n", "          '11': transport\n          '11': nutrition\n"
    )
    assert "'11': nutrition" in text
    path = tmp_path / "deploy.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"key '11' is given twice in one mapping") as err:
        load_config(path)
    assert str(path) in str(err.value) and "line" in str(err.value)

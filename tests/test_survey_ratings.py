"""Point-of-contact survey ratings end to end: emulator -> connector -> raw -> dbt.

Email threads are rated by their root Message-ID (docs/metrics.md "Ratings": compared as the address
inside the angle brackets, case-insensitively), and one survey asks the rating on two questions
with different scales (one per respondent's variant).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.qualtrics import QualtricsConnector
from schoolcx.connectors.surveymonkey import SurveyMonkeyConnector
from schoolcx.load.raw_writer import RawWriter
from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refsync import sync_config
from schoolcx.sandbox.demo.world import Rating, SurveyAnswerSet, World
from schoolcx.sandbox.emulators import qualtrics, surveymonkey
from schoolcx.warehouse.connect import url_parts
from tests import fixture_dbt_core as fx

LINCOLN = "1700001"
CONFIG = f"""
name: survey-ratings
districts:
  - district_id: "{LINCOLN}"
    name: Lincoln
    state: IL
    timezone: America/Chicago
    enrollment: {{2026: 5000}}
    mail_domains: [lincoln.k12.il.us]
    sources:
      - name: lincoln-help
        type: imap
        conn_id: mail
        start_date: 2025-08-01
        options: {{mailbox_address: help@lincoln.k12.il.us}}
      - name: lincoln-qx-poc
        type: qualtrics
        conn_id: qx
        start_date: 2025-08-01
        options: {{survey_id: SV_poc, kind: point_of_contact, interaction_ref_question: ticket_ref,
                   rating_questions: {{QID5: [1, 5], QID7: [0, 10]}}}}
      - name: lincoln-sm-poc
        type: surveymonkey
        conn_id: sm
        start_date: 2025-08-01
        options: {{survey_id: "600001", kind: point_of_contact, interaction_ref_question: "201",
                   rating_question: "202", rating_scale: [0, 10]}}
"""
T0 = dt.datetime(2025, 9, 10, 15, 0, tzinfo=dt.UTC)
DBT = str(Path(sys.executable).with_name("dbt"))


def _response(rid: str, source: str, hours: int, ref: str, scale: str, value: int):
    at = T0 + dt.timedelta(hours=hours)
    return SurveyAnswerSet(
        rid, LINCOLN, source, at, "parent", {}, rating=Rating(at, scale, value), interaction_ref=ref
    )


RESPONSES = [
    # the thread's root Message-ID as a mail client shows it: QID5 (1-5) 4 -> 4
    _response("R_1", "lincoln-qx-poc", 1, "<AbC.1@x.org>", "1-5", 4),
    # a Message-ID no thread has: quarantined as unknown, never dropped
    _response("R_2", "lincoln-qx-poc", 2, "<Nobody.9@x.org>", "0-10", 5),
    # source-qualified, upper case, on the other variant QID7 (0-10): 10 -> 5
    _response("R_3", "lincoln-qx-poc", 3, "lincoln-help:<ABC.1@X.ORG>", "0-10", 10),
    # SurveyMonkey, bare address: 8 on 0-10 -> 1 + 4 * 8 / 10 = 4.2, the latest of the thread
    _response("900001", "lincoln-sm-poc", 4, "abc.1@X.org", "0-10", 8),
    # the thread's reference and no configured rating question answered (as when config has a
    # question id typo): quarantined with that reason, never the thread's latest rating
    SurveyAnswerSet(
        "R_4", LINCOLN, "lincoln-qx-poc", T0 + dt.timedelta(hours=5), "parent", {},
        interaction_ref="<AbC.1@x.org>",
    ),
    # neither a reference nor a rating (a survey the respondent abandoned): no rating to count
    SurveyAnswerSet("R_5", LINCOLN, "lincoln-qx-poc", T0 + dt.timedelta(hours=6), "parent", {}),
]  # fmt: skip


def _land(url: str, cfg: DeploymentConfig) -> None:
    world = World(dt.date(2025, 12, 31), [], [], RESPONSES, CONFIG)
    until = T0 + dt.timedelta(days=30)
    for name, module, connector_class in (
        ("lincoln-qx-poc", qualtrics, QualtricsConnector),
        ("lincoln-sm-poc", surveymonkey, SurveyMonkeyConnector),
    ):
        district, src = cfg.source(name)
        with module.serve(world, [name]) as running:
            conn = Connection(conn_id=src.conn_id, **running.connection(name))
            ctx = ConnectorContext(district, src, conn, warehouse_url=url)
            with RawWriter(
                url, source_instance=name, source_type=src.type, district_id=LINCOLN, run_id="t"
            ) as writer:
                summary = writer.write_pages(connector_class(ctx).pages(writer.state(), until))
            assert summary.quarantined_total == 0
    thread = "abc.1@x.org"  # the connector's thread id: the normalised root Message-ID
    fx.insert_rows(
        url,
        {
            "imap_messages": [
                fx._msg(
                    "lincoln-help",
                    "AbC.1@x.org",
                    "2025-09-08T14:00:00Z",
                    "mom@gmail.com",
                    thread=thread,
                ),
                fx._msg(
                    "lincoln-help",
                    "r1@lincoln.k12.il.us",
                    "2025-09-08T15:00:00Z",
                    "agent@lincoln.k12.il.us",
                    thread=thread,
                    reply_to="AbC.1@x.org",
                    folder="Sent",
                ),
            ]
        },
        "t",
    )


def _dbt_build(url: str, tmp: Path, select: str = "+int_ratings_rejected") -> None:
    env = {
        **os.environ,
        **{f"SCHOOLCX_PG_{k.upper()}": v for k, v in url_parts(url).items()},
        "SCHOOLCX_DBT_THREADS": "2",
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_LOG_PATH": str(tmp / "logs"),
    }
    done = subprocess.run(
        [
            DBT, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
            str(DBT_PROJECT_DIR), "--vars", "{as_of_date: '2025-10-31'}",
            "--select", select, "--indirect-selection", "cautious",
        ],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_email_ratings_by_message_id_and_rating_questions_per_variant(warehouse, tmp_path):
    cfg = DeploymentConfig.model_validate(yaml.safe_load(CONFIG))
    sync_config(warehouse, cfg, today=dt.date(2025, 10, 31))
    _land(warehouse, cfg)
    _dbt_build(warehouse, tmp_path)
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select r.rating_id, r.interaction_ref, r.rating_scale, r.rating_1_5, r.reject_reason,"
            " r.is_latest, i.source_id from int.int_ratings_normalised as r"
            " left join int.int_interactions_unioned as i using (interaction_key)"
            " order by r.rating_id"
        ).fetchall()
    thread = "abc.1@x.org"
    assert rows == [
        ("900001", "abc.1@x.org", "0-10", Decimal("4.2"), None, True, thread),
        ("R_1", "abc.1@x.org", "1-5", Decimal("4"), None, False, thread),
        ("R_2", "nobody.9@x.org", "0-10", Decimal("3"), "unknown interaction", False, None),
        ("R_3", "lincoln-help:abc.1@x.org", "0-10", Decimal("5"), None, False, thread),
        ("R_4", "abc.1@x.org", "?-?", None, "no rating question answered", False, thread),
    ]
    with psycopg.connect(warehouse) as conn:
        rejected = conn.execute(
            "select rating_id, reject_reason from int.int_ratings_rejected order by rating_id"
        ).fetchall()
    assert rejected == [  # counted, with their reasons
        ("R_2", "unknown interaction"),
        ("R_4", "no rating question answered"),
    ]


def test_rating_scales_are_checked_at_config_check(tmp_path):
    import pytest

    from schoolcx.config import ConfigError, load_config

    data = yaml.safe_load(CONFIG)
    poc = data["districts"][0]["sources"][1]["options"]
    for scale, message in (([5, 5], "[5, 5]: lo must be below hi"), ([10, 1], "[10, 1]")):
        poc["rating_questions"] = {"QID5": [1, 5], "QID7": scale}
        path = tmp_path / "c.yml"
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert message in str(err.value) and "1700001" in str(err.value)
    poc["rating_question"] = "QID9"  # both forms at once: ambiguous
    poc["rating_questions"] = {"QID5": [1, 5]}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="not both"):
        load_config(path)


def test_demo_world_email_ratings_attach_to_their_threads(warehouse, tmp_path, monkeypatch):
    """The demo world rates some email threads through a point-of-contact survey by root
    Message-ID (as a mail client shows it): served by the emulators and dovecot, extracted by
    the real connectors, each attaches to its thread, as tests/reference_metrics.py counts it."""
    from schoolcx.extract import extract_source
    from schoolcx.sandbox.demo.generator import generate_world
    from schoolcx.sandbox.demo.spec import small_spec
    from schoolcx.sandbox.demo.stack import DemoStack

    world = generate_world(small_spec())
    rated = {r.response_id: r for r in world.survey_responses if r.interaction_ref}
    assert rated  # the demo exercises it
    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    districts = {r.district_id for r in rated.values()}
    names = [
        s.name
        for d, s in cfg.sources()
        if d.district_id in districts
        and (s.type == "imap" or getattr(s.opts, "kind", None) == "point_of_contact")
    ]
    sync_config(warehouse, cfg, today=world.as_of)
    with DemoStack(world, tmp_path / "stack") as stack:
        for key, value in stack.env.items():
            monkeypatch.setenv(key, value)
        for name in names:
            summary = extract_source(
                warehouse, cfg, name, run_id="t", until=stack.served_at, progress=False
            )
            assert summary.quarantined_total == 0, name
    _dbt_build(warehouse, tmp_path)
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select r.rating_id, r.reject_reason, i.source_system, i.source_id"
            " from int.int_ratings_normalised as r"
            " left join int.int_interactions_unioned as i using (interaction_key)"
            " where r.interaction_ref like '%@%'"
        ).fetchall()
    got = {r[0]: r[1:] for r in rows}
    assert set(got) == set(rated)
    for rid, response in rated.items():
        domain = response.interaction_ref.rsplit("@", 1)[1].rstrip(">").lower()
        assert got[rid] == (None, "imap", f"i{response.interaction_id}.0@{domain}"), rid

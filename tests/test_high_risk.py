"""High-risk classification and priority (docs/metrics.md "Response time", issue 14 defect 5).

A real `dbt build` of fct_interactions and its parents over raw rows in the landing shape: a
district's high-risk terms (the defaults plus its own) match tags, the topic / category, or the
subject (a helpdesk ticket's, an email thread's first) as whole words or phrases; high-risk
interactions are at least `high`, email is `normal` otherwise; the matched term is stored, the
subject never leaves raw.
"""

from __future__ import annotations

import copy

import psycopg
import pytest

from schoolcx.config import DeploymentConfig
from schoolcx.refsync import sync_config
from tests import fixture_dbt_core as fx
from tests.test_dbt_core import _dbt

AS_OF = "2025-10-31"


def _config() -> DeploymentConfig:
    data = copy.deepcopy(fx.CONFIG)
    data["districts"][0]["high_risk_terms"] = ["Title_IX"]  # besides the defaults
    return DeploymentConfig.model_validate(data)


def _zendesk(tid: int, subject: str, priority: str, tags: tuple[str, ...] = ()) -> dict:
    row = fx._ticket(
        tid, "2025-10-06T15:00:00Z", "2025-10-06T15:00:00Z", "open", priority=priority, tags=tags
    )
    row["payload"]["subject"] = subject
    return row


def _freshdesk(tid: int, subject: str, priority: int, tags: list[str]) -> dict:
    row = fx._fd_ticket(
        tid, "2025-10-06T09:00:00Z", "2025-10-06T09:00:00Z", 2, priority, 2, tags, {}
    )
    row["payload"]["subject"] = subject
    row["payload"]["custom_fields"] = {}
    return row


def _mail(mid: str, at: str, sender: str, subject: str, thread: str) -> dict:
    row = fx._msg("lincoln-help", mid, at, sender, thread=thread)
    row["payload"]["subject"] = subject
    return row


ZENDESK = {
    # ticket: (subject, base priority, tags), expected (high_risk, term, priority)
    7001: (("Question about legal (ref 3264)", "normal", ()), (True, "legal", "high")),
    7002: (("Need a legal-aid contact", "low", ()), (True, "legal", "high")),
    7003: (("Cars parked illegally at pickup", "normal", ()), (False, None, "normal")),
    7004: (("Special  Education meeting", "normal", ()), (True, "special education", "high")),
    7005: (("Meeting", "urgent", ("special_education",)), (True, "special education", "urgent")),
    7006: (("TITLE IX complaint", "normal", ()), (True, "title ix", "high")),
    # a tag matching as a word of it, the subject another term: the first alphabetically
    7007: (("Threat report", "normal", ("bus_safety",)), (True, "safety", "high")),
    # words that contain a term are not the term; a term split by punctuation is not the phrase
    7008: (
        ("special.education visit", "normal", ("unsafe", "threatening")),
        (False, None, "normal"),
    ),
}


def _raw_rows() -> dict[str, list[dict]]:
    tickets = [_zendesk(tid, s, p, t) for tid, ((s, p, t), _want) in ZENDESK.items()]
    return {
        "zendesk_tickets": tickets,
        "zendesk_users": [fx._user(fx.PARENT)],
        "freshdesk_tickets": [
            _freshdesk(7101, "Threats at recess", 1, []),  # low -> high
            _freshdesk(7102, "Lunch menu", 2, ["Bullying"]),  # a tag, case-insensitive
            _freshdesk(7103, "Lunch menu", 2, ["menu"]),
        ],
        "imap_messages": [
            # thread A: the first subject is high-risk; the reply's subject is not looked at
            _mail(
                "a1@gmail.com",
                "2025-10-06T15:00:00Z",
                "mom@gmail.com",
                "Bullying on the bus",
                "a1@gmail.com",
            ),
            _mail(
                "a2@lincoln",
                "2025-10-06T16:00:00Z",
                "agent1@lincoln.k12.il.us",
                "Re: Bullying on the bus",
                "a1@gmail.com",
            ),
            # thread B: only a later message names a term: not high-risk, email stays normal
            _mail(
                "b1@gmail.com",
                "2025-10-07T15:00:00Z",
                "dad@gmail.com",
                "Bus was late",
                "b1@gmail.com",
            ),
            _mail(
                "b2@gmail.com",
                "2025-10-07T16:00:00Z",
                "dad@gmail.com",
                "Re: Bus was late - safety",
                "b1@gmail.com",
            ),
        ],
    }


@pytest.fixture(scope="module")
def built(module_warehouse, tmp_path_factory):
    url = module_warehouse
    sync_config(url, _config(), today=fx.CONFIG_TODAY)
    fx.insert_rows(url, _raw_rows(), "night-1")
    _dbt(url, tmp_path_factory.mktemp("high_risk"), "build", as_of=AS_OF)
    return url


def _facts(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select source_id, high_risk, high_risk_term, priority, sla_target_minutes"
            " from build.fct_interactions"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_high_risk_by_tag_topic_and_subject(built):
    facts = _facts(built)
    for tid, (_given, (risky, _term, priority)) in ZENDESK.items():
        assert facts[str(tid)][0] is risky and facts[str(tid)][2] == priority, tid
    assert facts["7101"][0] is True and facts["7101"][2] == "high"
    assert facts["7102"][0] is True and facts["7103"][0] is False
    # email: `normal` unless the thread's first subject is high-risk (then `high`)
    assert facts["a1@gmail.com"][0] is True and facts["a1@gmail.com"][2] == "high"
    assert facts["b1@gmail.com"][0] is False and facts["b1@gmail.com"][2] == "normal"
    # high: one service day (Lincoln 07:30-16:30 = 540), normal: two
    assert (facts["a1@gmail.com"][3], facts["b1@gmail.com"][3]) == (540, 1080)


def test_the_matched_term_is_stored(built):
    facts = _facts(built)
    for tid, (_given, (_risky, term, _priority)) in ZENDESK.items():
        assert facts[str(tid)][1] == term, tid
    assert (facts["7101"][1], facts["7102"][1], facts["7103"][1]) == ("threats", "bullying", None)
    assert (facts["a1@gmail.com"][1], facts["b1@gmail.com"][1]) == ("bullying", None)


def test_subjects_never_leave_raw(built):
    subjects = [s for (s, _p, _t), _w in ZENDESK.values() if len(s) > 10] + [
        "Threats at recess",
        "Bullying on the bus",
        "Bus was late",
    ]
    with psycopg.connect(built) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('stg', 'int', 'build')"
        ).fetchall()
        found = []
        for schema, table in tables:
            hits = conn.execute(
                f'select count(*) from "{schema}"."{table}" as t'  # names from the catalog
                " where t::text ilike any(%s)",
                ([f"%{s}%" for s in subjects],),
            ).fetchone()[0]
            if hits:
                found.append(f"{schema}.{table}")
    assert len(tables) > 20 and found == []


@pytest.mark.parametrize("term", ["", "  ", "--", "!"])
def test_a_term_without_letters_fails_config_check(term):
    data = copy.deepcopy(fx.CONFIG)
    data["districts"][0]["high_risk_terms"] = ["lockdown", term]
    with pytest.raises(ValueError, match="high_risk_terms") as err:
        DeploymentConfig.model_validate(data)
    assert "has no letter or digit" in str(err.value)

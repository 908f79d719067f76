"""The reference implementation of docs/metrics.md against worked examples and hand-worked cases."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from schoolcx.sandbox.demo.world import Event, Interaction, Person, Rating, SurveyAnswerSet, World
from tests import reference_metrics as ref

EXAMPLES = Path(os.environ.get("SCHOOLCX_SHARED", "/work/shared")) / "examples"
UTC = dt.UTC
REQUESTER = Person(1, "parent@example.com", "A Parent", "parent", "es")
AGENT = Person(2, "agent@lincoln.k12.il.us", "An Agent", "agent")
SYSTEM = Person(-1, "", "System", "system")
# 09:00 local (CDT) on Wednesday 3 September 2025; service 07:30-16:30 = 12:30Z-21:30Z.
T0 = dt.datetime(2025, 9, 3, 14, 0, tzinfo=UTC)

CONFIG = """
name: hand-worked
districts:
- district_id: '1700001'
  name: Lincoln CUSD
  state: IL
  timezone: America/Chicago
  enrollment: {2025: 900, 2026: 1000}
  calendar:
    closures:
    - {start: 2025-12-22, end: 2026-01-02, reason: Winter break}
    - 2026-02-13
  sources:
  - {name: zd, type: zendesk, conn_id: zd, start_date: 2025-07-01}
  - name: drop
    type: file_drop
    start_date: 2025-07-01
    options: {path: drop, kind: interactions, columns: {id: ID}}
  - name: mail
    type: imap
    conn_id: mail
    start_date: 2025-07-01
    options: {mailbox_address: help@lincoln.k12.il.us}
  - name: climate
    type: qualtrics
    conn_id: qx
    start_date: 2025-07-01
    options: {survey_id: SV_1, item_map: {QID1: safe_at_school}}
"""


def _at(minutes: float, start: dt.datetime = T0) -> dt.datetime:
    return start + dt.timedelta(minutes=minutes)


def _ticket(
    events: list[tuple[float, str, str | None]],
    *,
    priority: str = "normal",
    tags: tuple[str, ...] = (),
    opened_by_agent: bool = False,
    ident: int = 1,
    source: str = "zd",
    topic: str = "general",
    created: dt.datetime = T0,
    ratings: tuple[Rating, ...] = (),
) -> Interaction:
    """A ticket whose events are (minutes after creation, kind, status)."""
    authors = {
        "agent_reply": AGENT,
        "agent_note": AGENT,
        "auto_reply": SYSTEM,
        "requester_reply": REQUESTER,
        "status": AGENT,
    }
    return Interaction(
        interaction_id=ident,
        district_id="1700001",
        source_name=source,
        created_at=created,
        subject="s",
        channel="web",
        topic=topic,
        tags=list(tags),
        priority=priority,  # type: ignore[arg-type]
        requester=REQUESTER,
        assignee=AGENT,
        opened_by_agent=opened_by_agent,
        events=[
            Event(_at(m, created), kind, authors[kind], status, n)  # type: ignore[arg-type]
            for n, (m, kind, status) in enumerate(events)
        ],
        ratings=list(ratings),
    )


def _world(interactions: list[Interaction], responses: list[SurveyAnswerSet] = ()) -> World:
    return World(dt.date(2025, 9, 30), [REQUESTER, AGENT], interactions, list(responses), CONFIG)


@pytest.fixture(scope="module")
def cfg():
    return ref.config_of(_world([]))


@pytest.fixture(scope="module")
def cal(cfg):
    return ref.Calendar.for_district(cfg.district("1700001"))


def _example_rows() -> list[dict[str, str]]:
    with (EXAMPLES / "business_minutes.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", _example_rows(), ids=lambda r: r["case"])
def test_worked_business_minutes(row):
    cal = ref.Calendar(
        ZoneInfo(row["timezone"]),
        dt.time.fromisoformat(row["open"]),
        dt.time.fromisoformat(row["close"]),
        frozenset(range(1, 6)),
        frozenset(dt.date.fromisoformat(d) for d in row["district_closures"].split()),
    )
    t0, t1 = dt.datetime.fromisoformat(row["t0_utc"]), dt.datetime.fromisoformat(row["t1_utc"])
    assert cal.business_minutes(t0, t1) == pytest.approx(float(row["business_minutes"]), abs=0.01)
    assert ref.calendar_minutes(t0, t1) == pytest.approx(float(row["calendar_minutes"]), abs=0.01)


def test_business_time_edges(cal):
    assert cal.business_minutes(T0, T0) == 0
    assert cal.business_minutes(_at(60), T0) == 0  # reversed span: nothing, never negative
    # Thanksgiving Friday is open by default; the listed district closure 2026-02-13 is not.
    assert cal.is_service_day(dt.date(2025, 11, 28))
    assert not cal.is_service_day(dt.date(2026, 2, 13))
    assert not cal.is_service_day(dt.date(2025, 11, 11))  # Veterans Day, federal
    # 2026-07-03 is the observed Independence Day (the 4th is a Saturday).
    assert not cal.is_service_day(dt.date(2026, 7, 3))
    assert cal.is_open(dt.datetime(2025, 9, 3, 12, 30, tzinfo=UTC))
    assert not cal.is_open(dt.datetime(2025, 9, 3, 21, 30, tzinfo=UTC))  # close is exclusive


def test_reopened_ticket_resolves_at_the_last_solve(cal):
    ticket = _ticket(
        [
            (0, "status", "new"),
            (1, "auto_reply", None),
            (90, "agent_reply", None),
            (90, "status", "pending"),
            (120, "status", "solved"),
            (1440, "requester_reply", None),
            (1440, "status", "open"),
            (1500, "agent_reply", None),
            (1560, "status", "solved"),
            (1560 + 4 * 1440, "status", "closed"),
        ]
    )
    assert ref.first_response_at(ticket) == _at(90)  # the auto-reply at +1 is not a response
    assert ref.resolved_at(ticket) == _at(1560)  # solved -> closed is not a new entry
    assert ref.was_reopened(ticket)
    # 09:00-16:30 on the 3rd (450) and 07:30-11:00 on the 4th (210).
    assert cal.business_minutes(T0, ref.resolved_at(ticket)) == pytest.approx(660)
    # Seen before the reopen, the ticket was resolved at the first solve.
    assert ref.resolved_at(ticket, as_of=_at(600)) == _at(120)
    # Seen while reopened, it is not resolved.
    assert ref.resolved_at(ticket, as_of=_at(1450)) is None


def test_automated_and_private_messages_are_not_responses():
    ticket = _ticket(
        [
            (0, "status", "new"),
            (1, "auto_reply", None),
            (30, "agent_note", None),
            (45, "requester_reply", None),
        ]
    )
    assert ref.first_response_at(ticket) is None
    assert ref.resolved_at(ticket) is None


def test_agent_opened_ticket_first_response_is_the_second_agent_comment():
    ticket = _ticket(
        [(0, "status", "new"), (0, "agent_reply", None), (200, "agent_reply", None)],
        opened_by_agent=True,
    )
    assert ref.first_response_at(ticket) == _at(200)
    only_opening = _ticket(
        [(0, "agent_reply", None), (5, "status", "solved")], opened_by_agent=True
    )
    assert ref.first_response_at(only_opening) is None
    assert ref.resolved_at(only_opening) == _at(5)


def test_sla_met_true_false_and_null(cfg, cal):
    district = cfg.district("1700001")
    urgent = _ticket([(0, "status", "new")], priority="urgent")
    # 180 business minutes elapsed of the 240 target: not decided yet.
    assert ref.sla_met(urgent, district, cal, _at(180)) is None
    assert ref.sla_met(urgent, district, cal, _at(240)) is None
    assert ref.sla_met(urgent, district, cal, _at(241)) is False
    # Answered at exactly the target meets it; a minute later does not.
    on_time = _ticket([(240, "agent_reply", None)], priority="urgent")
    late = _ticket([(241, "agent_reply", None)], priority="urgent")
    assert ref.sla_met(on_time, district, cal, _at(600)) is True
    assert ref.sla_met(late, district, cal, _at(600)) is False
    # A reply after the as-of instant is not seen yet: still running.
    assert ref.sla_met(on_time, district, cal, _at(100)) is None
    # The target runs in business time: created Friday 15:00 local, normal = 2 service days;
    # by Monday 16:30 only 90 + 540 business minutes have passed.
    friday = dt.datetime(2025, 9, 5, 20, 0, tzinfo=UTC)
    normal = _ticket([(0, "status", "new")], created=friday)
    assert ref.sla_met(normal, district, cal, dt.datetime(2025, 9, 8, 21, 30, tzinfo=UTC)) is None
    assert ref.sla_met(normal, district, cal, dt.datetime(2025, 9, 9, 21, 0, tzinfo=UTC)) is False


def test_high_risk_is_tagged_or_categorised_and_at_least_high(cfg, cal):
    district = cfg.district("1700001")
    bullying = _ticket([(1500, "agent_reply", None)], tags=("bullying", "bus"), priority="low")
    assert ref.is_high_risk(bullying, district, "zendesk")
    # A term matches a whole tag or one word of it, after spaces/hyphens become underscores.
    assert ref.is_high_risk(_ticket([], tags=("Bus-Safety",)), district, "zendesk")
    assert ref.is_high_risk(_ticket([], tags=("Special Education",)), district, "freshdesk")
    assert not ref.is_high_risk(_ticket([], tags=("unsafe", "specialist")), district, "zendesk")
    # ... and the subject, as a whole word or phrase (docs/metrics.md's examples)
    for subject, term in [
        ("Question about legal (ref 3264)", "legal"),
        ("legal-aid", "legal"),
        ("illegally", None),
        ("Special  Education", "special education"),
        ("special_education", "special education"),
        ("Threat: legal safety", "legal"),  # several: the first alphabetically
    ]:
        risky = dataclasses.replace(_ticket([]), subject=subject)
        assert ref.high_risk_term(risky, district, "zendesk") == term, subject
        assert ref.high_risk_term(risky, district, "imap") == term, subject
        assert ref.high_risk_term(risky, district, "file_drop") is None  # no subject there
    assert ref.effective_priority(bullying, True) == "high"
    # Answered at 10:00 the next day: 450 + 150 business minutes, over one service day (540),
    # late for `high` though within the five days of `low`.
    assert ref.sla_met(bullying, district, cal, _at(2000), high_risk=True) is False
    assert ref.sla_met(bullying, district, cal, _at(2000), high_risk=False) is True
    logged = _ticket([], topic="Safety", source="drop")
    assert ref.is_high_risk(logged, district, "file_drop")
    emailed = _ticket([], topic="safety", source="mail")
    assert not ref.is_high_risk(emailed, district, "imap")  # a topic is not observable in mail


def test_ratings_normalise_to_five_points():
    assert ref.r5("good", "good_bad") == 5 and ref.r5("bad", "good_bad") == 1
    assert ref.r5(3, "1-5") == 3
    assert ref.r5(10, "1-10") == 5 and ref.r5(1, "1-10") == 1
    assert ref.r5(5, "0-10") == 3 and ref.r5(0, "0-10") == 1
    assert ref.r5_from_codes(100, [-103, 100, 103]) == 3
    assert ref.r5_from_codes(103, [-103, -102, 100, 102, 103]) == 5
    assert ref.r5_from_codes(-102, [-103, -102, 100, 102, 103]) == 2
    for value, scale in ((11, "1-10"), (0, "1-5"), ("meh", "good_bad")):
        with pytest.raises(ValueError):
            ref.r5(value, scale)
    with pytest.raises(ValueError):
        ref.r5_from_codes(101, [-103, 100, 103])


def test_latest_rating_counts_across_helpdesk_and_survey():
    early, late = Rating(_at(100), "good_bad", "bad"), Rating(_at(900), "good_bad", "good")
    rated_twice = _ticket([], ident=1, ratings=(late, early))
    surveyed = _ticket([], ident=2, ratings=(Rating(_at(100), "1-5", 2),))
    poc = SurveyAnswerSet(
        "R_1",
        "1700001",
        "climate",
        _at(500),
        "parent",
        {},
        interaction_id=2,
        rating=Rating(_at(500), "0-10", 10),
    )
    world = _world([rated_twice, surveyed], [poc])
    latest = ref.latest_ratings(world)
    assert latest[1] == late and latest[2].scale == "0-10"
    assert ref.latest_ratings(world, as_of=_at(200))[1] == early


def test_percentile_cont_interpolates_like_postgres():
    assert ref.percentile_cont([], 0.5) is None
    assert ref.percentile_cont([7.0], 0.9) == 7.0
    assert ref.percentile_cont([4, 1, 3, 2], 0.5) == 2.5
    assert ref.percentile_cont([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert ref.percentile_cont([10, 20, 30, 40, 50], 0.9) == pytest.approx(46)


def test_district_scorecard_hand_worked(cfg):
    tickets = [
        _ticket(
            [(30, "agent_reply", None), (60, "status", "solved")],
            ident=1,
            ratings=(Rating(_at(200), "good_bad", "good"),),
        ),
        _ticket(
            [(90, "agent_reply", None)],
            ident=2,
            tags=("bullying",),
            priority="high",
            ratings=(Rating(_at(200), "1-5", 3),),
        ),
        _ticket([(600, "agent_reply", None)], ident=3, priority="urgent"),
        _ticket([(0, "status", "new")], ident=4, priority="low"),  # unanswered, target running
        _ticket([], ident=5, created=dt.datetime(2025, 9, 6, 15, tzinfo=UTC)),  # Saturday
    ]
    card = ref.district_scorecard(
        _world(tickets),
        cfg,
        "1700001",
        dt.date(2025, 9, 1),
        dt.date(2025, 9, 7),
        as_of=dt.datetime(2025, 9, 8, 14, 0, tzinfo=UTC),
    )
    assert card["interactions"] == 5
    assert card["answered_share"] == pytest.approx(3 / 5)
    assert card["median_first_response_minutes"] == pytest.approx(90)
    # Ticket 3 was answered at 19:00 local: 450 business minutes.
    assert card["p90_first_response_minutes"] == pytest.approx(90 + 0.8 * 360)
    # Met: 1 (30 <= 1080), 2 (90 <= 540); late: 3 (450 > 240); 4 (1620 of 2700 business
    # minutes by Monday 09:00) and 5 (90 of 1080) still running.
    assert card["sla_met_share"] == pytest.approx(2 / 3)
    assert card["feedback_score"] == 4.0
    assert card["positive_share"] == 0.5 and card["rating_count"] == 2
    # 1-7 September 2025: Labor Day Monday, so 4 service days; school year 2026 enrollment.
    assert card["service_days"] == 4 and card["enrollment"] == 1000
    assert card["interactions_per_1000"] == pytest.approx(5 / 4 / 1000 * 1000)
    assert card["high_risk_share"] == pytest.approx(1 / 5)


def test_daily_volume_per_1000(cfg):
    tickets = [_ticket([], ident=k) for k in range(3)]
    # 23:30 local on 3 September is still the 3rd locally, the 4th in UTC.
    tickets.append(_ticket([], ident=9, created=dt.datetime(2025, 9, 4, 4, 30, tzinfo=UTC)))
    volume = ref.daily_volume_per_1000(
        _world(tickets), cfg, "1700001", dt.date(2025, 9, 2), dt.date(2025, 9, 4)
    )
    assert volume == {dt.date(2025, 9, 2): 0.0, dt.date(2025, 9, 3): 4.0, dt.date(2025, 9, 4): 0.0}


def test_percent_agree_counts_only_valid_answers(cfg):
    answers = [5, 4, 3, "dont_know", None, 2]
    responses = [
        SurveyAnswerSet(f"R_{k}", "1700001", "climate", _at(k), "parent", {"safe_at_school": a})
        for k, a in enumerate(answers)
    ]
    responses.append(
        SurveyAnswerSet(
            "R_x",
            "1700001",
            "climate",
            dt.datetime(2025, 5, 1, tzinfo=UTC),
            "parent",
            {"safe_at_school": 1},
        )
    )  # school year 2025
    world = _world([], responses)
    assert ref.percent_agree(world, cfg, "1700001", 2026) == {"safe_at_school": 50.0}
    assert ref.percent_agree(world, cfg, "1700001", 2025) == {"safe_at_school": 0.0}

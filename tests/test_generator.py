"""The demo world generator: deterministic, realistic in shape, and in step with config/demo.yml."""

from __future__ import annotations

import csv
import datetime as dt
import random
import statistics
import time
from collections import Counter

import pytest

from schoolcx import config
from schoolcx.config import SOURCE_TYPES, load_config
from schoolcx.paths import PROJECT_ROOT
from schoolcx.sandbox.demo.clock import ServiceClock
from schoolcx.sandbox.demo.generator import (
    demo_spec,
    generate_world,
    render_demo_config,
    small_spec,
    write_file_drop,
)
from tests import reference_metrics as ref

EMAIL_EVENTS = ("auto_reply", "agent_reply", "requester_reply")


@pytest.fixture(scope="module")
def demo():
    return generate_world(demo_spec())


@pytest.fixture(scope="module")
def cfg(demo):
    return ref.config_of(demo)


@pytest.fixture(scope="module")
def calendars(cfg):
    return {d.district_id: ref.Calendar.for_district(d) for d in cfg.districts}


@pytest.fixture(scope="module")
def source_types(cfg):
    return {s.name: s.type for _, s in cfg.sources()}


def test_same_spec_gives_the_identical_world():
    first, second = generate_world(small_spec()), generate_world(small_spec())
    assert first == second
    assert [e.event_id for i in first.interactions for e in i.events] == [
        e.event_id for i in second.interactions for e in i.events
    ]


def test_small_spec_is_small_fast_and_complete():
    started = time.perf_counter()
    world = generate_world(small_spec())
    assert time.perf_counter() - started < 1.5  # generous for a shared 2-core machine
    assert 200 <= len(world.interactions) <= 800
    used = {i.source_name for i in world.interactions} | {
        r.source_name for r in world.survey_responses
    }
    assert {s.type for _, s in ref.config_of(world).sources() if s.name in used} == set(
        SOURCE_TYPES
    )


def test_committed_demo_config_is_the_rendered_one():
    path = PROJECT_ROOT / "config" / "demo.yml"
    assert path.read_text() == render_demo_config(), (
        "config/demo.yml is stale: run "
        ".venv/bin/python -m schoolcx.sandbox.demo.generator --write-config"
    )
    cfg = load_config(path)
    assert len(cfg.districts) >= 8
    consortium = Counter(c for d in cfg.districts for c in d.consortium_ids)
    assert max(consortium.values()) >= 6  # peers need k = 5 districts in one consortium
    assert len({d.timezone for d in cfg.districts}) >= 3
    assert all(
        len(d.district_id) == 7 and all(len(s.school_id) == 12 for s in d.schools)
        for d in cfg.districts
    )


def test_demo_world_fits_the_demo_budget(demo, source_types):
    assert 40_000 <= len(demo.interactions) <= 60_000
    emails = sum(
        1 + sum(e.kind in EMAIL_EVENTS for e in i.events)
        for i in demo.interactions
        if source_types[i.source_name] == "imap"
    )
    assert 500 <= emails <= 2_000


def test_ids_times_and_sources_are_consistent(demo, cfg, calendars, source_types):
    assert len({i.interaction_id for i in demo.interactions}) == len(demo.interactions)
    event_ids = [e.event_id for i in demo.interactions for e in i.events]
    assert len(set(event_ids)) == len(event_ids)
    assert len({p.person_id for p in demo.people}) == len(demo.people)
    by_id = {i.interaction_id: i for i in demo.interactions}
    owner = {s.name: d.district_id for d, s in cfg.sources()}
    for i in demo.interactions:
        end = calendars[i.district_id].end_of(demo.as_of)
        assert i.created_at.tzinfo is not None and i.created_at.utcoffset() == dt.timedelta(0)
        assert all(i.created_at <= e.at < end for e in i.events)
        assert [e.at for e in i.events] == sorted(e.at for e in i.events)
        assert all(i.created_at <= r.at < end for r in i.ratings)
        assert owner[i.source_name] == i.district_id
    for r in demo.survey_responses:
        assert source_types[r.source_name] in ("qualtrics", "surveymonkey")
        if r.interaction_id is not None:  # a point-of-contact response names its ticket
            rated = by_id[r.interaction_id]
            assert rated.district_id == r.district_id and rated.created_at < r.submitted_at


def test_every_source_of_the_config_has_data(demo, source_types):
    used = Counter(i.source_name for i in demo.interactions)
    used.update(r.source_name for r in demo.survey_responses)
    assert set(used) == set(source_types)
    assert set(source_types.values()) == set(SOURCE_TYPES)


def test_volume_per_1000_students_per_service_day(demo, cfg, calendars):
    spec = demo_spec()
    counts = Counter(i.district_id for i in demo.interactions)
    for d in cfg.districts:
        cal = calendars[d.district_id]
        students = statistics.mean(d.enrollment.values())
        rate = counts[d.district_id] / cal.service_days(spec.start, spec.as_of) / students * 1000
        assert 380 <= rate <= 520, (d.name, rate)


def test_weekly_and_seasonal_rhythm(demo, calendars):
    by_month, by_weekday = Counter(), Counter()
    for i in demo.interactions:
        local = i.created_at.astimezone(calendars[i.district_id].zone)
        if local.year == 2025:
            by_month[local.month] += 1
        by_weekday[local.isoweekday()] += 1
    assert by_month[8] > 1.5 * by_month[7] and by_month[9] > 1.5 * by_month[6]
    assert by_weekday[1] > by_weekday[5] > 3 * by_weekday[6]
    assert by_weekday[7] > 0


def test_after_hours_contacts_exist(demo, calendars):
    closed = [i for i in demo.interactions if not calendars[i.district_id].is_open(i.created_at)]
    assert 0.15 <= len(closed) / len(demo.interactions) <= 0.45
    off_days = [
        i
        for i in closed
        if not calendars[i.district_id].is_service_day(
            calendars[i.district_id].local_date(i.created_at)
        )
    ]
    assert len(off_days) > 0.02 * len(demo.interactions)


def test_topics_priorities_and_high_risk_share(demo, cfg, source_types):
    helpdesk = [i for i in demo.interactions if source_types[i.source_name] != "imap"]
    assert {i.priority for i in helpdesk} == {"urgent", "high", "normal", "low"}
    assert len({i.topic for i in helpdesk}) >= 10
    districts = {d.district_id: d for d in cfg.districts}
    risky = [
        i
        for i in demo.interactions
        if ref.is_high_risk(i, districts[i.district_id], source_types[i.source_name])
    ]
    assert 0.07 <= len(risky) / len(demo.interactions) <= 0.13
    # a helpdesk's own priority of a high-risk contact is at least high; email has none
    # (`normal`), and is high-risk only when its first subject names a term (docs/metrics.md)
    mailed = [i for i in risky if source_types[i.source_name] == "imap"]
    assert all(i.priority in ("urgent", "high") for i in risky if i not in mailed)
    assert mailed and all(i.priority == "normal" for i in mailed)
    assert all(ref.effective_priority(i, True) in ("urgent", "high") for i in risky)


def test_people_languages_and_units(demo, source_types):
    locales = Counter(i.requester.locale for i in demo.interactions)
    assert {"en", "es", "vi", "zh", "ar"} <= set(locales)
    assert locales["es"] > locales["vi"]
    helpdesk = [
        i for i in demo.interactions if source_types[i.source_name] in ("zendesk", "freshdesk")
    ]
    assert all(i.group and i.group_id for i in helpdesk)
    assert any(i.department is None for i in helpdesk)  # the unmapped Front Office group
    assert 0.5 < sum(i.school_id is not None for i in helpdesk) / len(helpdesk) < 0.95
    roles = Counter(i.requester.role for i in helpdesk)
    assert set(roles) == {"parent", "student", "staff", "community"}
    # realistic unit shares: parents the largest group; some requesters' stakeholder field is
    # blank (unknown in the facts), a few percent, never staff or students (their domains say)
    assert roles["parent"] > sum(roles.values()) / 2
    blank = [i for i in helpdesk if not i.requester.role_on_file]
    assert 0.02 < len(blank) / len(helpdesk) < 0.12
    assert {i.requester.role for i in blank} == {"parent", "community"}


def test_unit_shares_per_district(demo, cfg, source_types):
    """Each demo district has schools and departments, and its contacts spread over them as a
    district's do: the larger school gets more, departments all see contacts, channels and
    languages differ by district (Spanish shares set per district in the spec)."""
    spanish = {}
    for d in cfg.districts:
        assert d.schools and d.departments, d.district_id
        mine = [i for i in demo.interactions if i.district_id == d.district_id]
        helpdesk = [i for i in mine if source_types[i.source_name] in ("zendesk", "freshdesk")]
        per_school = Counter(i.school_id for i in helpdesk if i.school_id)
        if len(d.schools) > 1:
            # the first school has about twice the students of each other (configgen)
            first, second = d.schools[0].school_id, d.schools[1].school_id
            assert per_school[first] > 1.3 * per_school[second], d.district_id
        assert len({i.department for i in helpdesk if i.department}) >= 8, d.district_id
        assert {i.channel for i in helpdesk} >= {"web", "email", "phone"}, d.district_id
        families = [i for i in mine if i.requester.role in ("parent", "student", "community")]
        spanish[d.district_id] = sum(i.requester.locale == "es" for i in families) / len(families)
    assert max(spanish.values()) > 0.2 and min(spanish.values()) < 0.1
    repeat = Counter(i.requester.person_id for i in demo.interactions)
    assert max(repeat.values()) > 1  # repeat contacts exist


def test_ticket_lifecycles(demo, source_types):
    tickets = [
        i for i in demo.interactions if source_types[i.source_name] in ("zendesk", "freshdesk")
    ]
    solved = [i for i in tickets if ref.resolved_at(i) is not None]
    reopened = [i for i in solved if ref.was_reopened(i)]
    assert 0.03 <= len(reopened) / len(solved) <= 0.15
    unanswered = [i for i in tickets if ref.first_response_at(i) is None]
    assert 0.02 <= len(unanswered) / len(tickets) <= 0.2
    agent_opened = [i for i in tickets if i.opened_by_agent]
    assert agent_opened and all(i.events[1].kind == "agent_reply" for i in agent_opened)
    auto_first = [
        i
        for i in tickets
        if i.events[1:]
        and i.events[1].kind == "auto_reply"
        and ref.first_response_at(i) is not None
    ]
    assert len(auto_first) > 0.1 * len(tickets)
    assert any(len(i.ratings) > 1 for i in tickets)  # re-rated: the latest counts
    assert any(e.kind == "agent_note" for i in tickets for e in i.events)
    assert any(e.status == "closed" for i in tickets for e in i.events)


def test_email_threads(demo, cfg, source_types):
    threads = [i for i in demo.interactions if source_types[i.source_name] == "imap"]
    internal = {s.name for _, s in cfg.sources() if s.type == "imap" and s.opts.internal}
    assert internal and any(i.source_name in internal for i in threads)
    for i in threads:
        district = cfg.district(i.district_id)
        domain = i.requester.email.rsplit("@", 1)[1]
        if i.source_name in internal:
            assert domain in district.mail_domains and i.requester.role == "staff"
        else:
            assert domain not in district.mail_domains  # a thread from outside the district
        assert i.channel == "email" and not i.tags and not any(e.kind == "status" for e in i.events)
    assert any(i.events and i.events[0].kind == "auto_reply" for i in threads)


def test_ratings_fall_as_the_wait_grows(demo, calendars):
    latest = ref.latest_ratings(demo)
    fast, slow = [], []
    for i in demo.interactions:
        rating = latest.get(i.interaction_id)
        answered = ref.first_response_at(i)
        if rating is None or answered is None:
            continue
        waited = calendars[i.district_id].business_minutes(i.created_at, answered)
        if waited < 60:
            fast.append(ref.r5(rating.value, rating.scale))
        elif waited >= 540:
            slow.append(ref.r5(rating.value, rating.scale))
    assert len(fast) > 200 and len(slow) > 200
    assert statistics.mean(fast) > statistics.mean(slow) + 0.4
    scales = {r.scale for r in latest.values()}
    assert scales == {"good_bad", "1-5", "1-10", "0-10"}


def test_peers_have_enough_observations(demo, cfg):
    spec = demo_spec()
    spans = [(dt.date(2025, 7, 1), spec.as_of), (dt.date(2024, 7, 1), dt.date(2024, 10, 15))]
    latest = ref.latest_ratings(demo)
    for d in cfg.districts:
        cal = ref.Calendar.for_district(d)
        for first, last in spans:
            rows = ref.interactions_of(demo, d.district_id, cal, first, last)
            assert len(rows) >= 30
            assert sum(i.interaction_id in latest for i in rows) >= 30, (d.name, first)


def test_climate_surveys(demo, cfg):
    climate = [r for r in demo.survey_responses if r.interaction_id is None]
    answers = Counter(
        type(a).__name__ if not isinstance(a, int) else "likert"
        for r in climate
        for a in r.answers.values()
    )
    assert answers["str"] > 0 and answers["NoneType"] > 0  # dont_know and blanks
    assert {a for r in climate for a in r.answers.values() if isinstance(a, int)} == {1, 2, 3, 4, 5}
    for d in cfg.districts:
        for year in (2025, 2026):
            agree = ref.percent_agree(demo, cfg, d.district_id, year)
            assert len(agree) == 6 and all(20 < v < 95 for v in agree.values()), (d.name, year)


def test_generator_clock_agrees_with_the_reference(cfg):
    spec = demo_spec()
    rng = random.Random(3)
    for district in cfg.districts:
        clock = ServiceClock(district, spec.start, spec.as_of)
        cal = ref.Calendar.for_district(district)
        start = dt.datetime.combine(spec.start, dt.time(), tzinfo=dt.UTC).timestamp()
        for _ in range(40):
            t0 = start + rng.uniform(0, 400) * 86400
            minutes = rng.uniform(0, 3000)
            t1 = clock.add(t0, minutes)
            at0, at1 = (dt.datetime.fromtimestamp(t, dt.UTC) for t in (t0, t1))
            assert cal.business_minutes(at0, at1) == pytest.approx(minutes, abs=1e-6)
            assert clock.is_open(t0) == cal.is_open(at0)


def test_write_file_drop(tmp_path):
    world = generate_world(small_spec())
    cfg = ref.config_of(world)
    district, source = next((d, s) for d, s in cfg.sources() if s.type == "file_drop")
    paths = write_file_drop(world, source.name, tmp_path)
    rows = [row for p in paths for row in csv.DictReader(p.open())]
    columns = source.opts.columns
    assert list(rows[0]) == list(columns.values())
    logged = {str(i.interaction_id): i for i in world.for_source(source.name)}
    assert len(rows) == len(logged)
    for row in rows:
        i = logged[row[columns["id"]]]
        assert dt.datetime.fromisoformat(row[columns["created_at"]]) == i.created_at
        answered = ref.first_response_at(i)
        assert row[columns["first_response_at"]] == (
            answered.astimezone(ref.Calendar.for_district(district).zone).isoformat(sep=" ")
            if answered
            else ""
        )
    mtimes = [p.stat().st_mtime for p in paths]
    assert write_file_drop(world, source.name, tmp_path) == paths
    assert [p.stat().st_mtime for p in paths] == mtimes  # reruns give the same file versions


def test_example_district_config_validates_and_explains_every_option():
    path = PROJECT_ROOT / "config" / "example-district.yml"
    cfg = load_config(path)
    assert {s.type for _, s in cfg.sources()} == set(SOURCE_TYPES)
    text = path.read_text()
    models = [
        config.DeploymentConfig,
        config.District,
        config.Calendar,
        config.Closure,
        config.School,
        config.SlaTarget,
        config.Source,
        config.Mappings,
        config.UnitMapping,
        config.Consortium,
        config.GateConfig,
        config.Benchmarks,
        *config.OPTIONS_BY_TYPE.values(),
    ]
    missing = {
        f"{m.__name__}.{name}" for m in models for name in m.model_fields if f"{name}:" not in text
    }
    assert not missing, f"config/example-district.yml does not show {sorted(missing)}"

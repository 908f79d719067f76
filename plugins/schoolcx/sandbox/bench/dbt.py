"""dbt build benchmark: one school year of synthetic Zendesk data, full build and one night.

    python -m schoolcx.sandbox.bench.dbt [--scale S|M|S,M|M:12] [--weeks N] [--out PATH] [--keep]

Scales (issue 4): S = one 10,000-student district; M = a 100,000-student consortium of 12
districts of varied sizes across US time zones. Both cover one school year, 2025-08-18 to
2026-06-04 (about 186 service days), at about 450 contacts per 1,000 students per service day
(a trickle on weekends and closures), each district with one Zendesk source.

Method, per scale:

1. A fresh database on the warehouse server (WAREHOUSE_URL, else the embedded server under
   SCHOOLCX_HOME), migrated; the scale's DeploymentConfig is synced into ref.* (refsync), so
   the service calendars (federal holidays, breaks) are the ones dbt uses.
2. Synthesis, set-based in SQL (setseed + random(), normals by Box-Muller; days split over two
   seeded sessions, no parallel workers, so a scale is reproducible). A plan table holds one
   row per ticket with every moment of its life: created mostly in service hours of a service
   day in the district's zone (some evenings, early mornings, weekends); an optional trigger
   auto-reply; the first
   agent reply after a log-normal delay, moved into the next service interval; a requester
   follow-up and a second reply for some; solved, then closed by automation four days later;
   a few reopened and re-solved; a few never answered; about 20 % rated good/bad. Agent-opened
   phone and walk-in tickets start with the agent's comment.
3. Landing, from the plan, into raw.* in the connectors' payload shapes (docs/landing.md; the
   Zendesk emulator's rendering): tickets (with metric_set; version = generated_timestamp),
   ticket events (audits with Create/Change/Comment children), users (agents, requesters with
   locale and stakeholder type; person_hash = HMAC-SHA-256 of the email as RawWriter computes
   it), satisfaction ratings, groups, organizations. The year lands as nightly runs would have
   landed it: each record version is loaded by the run of the night after it (_loaded_at
   08:07 UTC, _batch_id per night and source), and each ticket lands its version as of the
   night it was created and its latest version as of the end of the year (two versions for
   most tickets; a year of nightly runs would land a version for every night it changed).
   Then VACUUM ANALYZE and a CHECKPOINT, as a year of autovacuum would have left the tables.
4. `dbt build --full-refresh` (pipeline.dbt: the DAG's profile and environment, its vars with
   as_of_date = the last day; unit tests excluded as in the nightly DAG), timed, with the
   slowest nodes and the time in models and in data tests from run_results.json.
5. Business-time microbenchmark: business_minutes_between (compiled by dbt from
   macros/business_time.sql) over 1,000,000 (created, first response) pairs from
   fct_interactions (repeated a year earlier when there are fewer), two equality joins to
   int_calendar_days as fct_interactions does; best and median of three timed runs.
6. One more night: tickets created on the next service day, and the new events and versions
   of earlier tickets changed that day (replies, solves, closes, ratings), landed with
   _loaded_at = now(); then `dbt build` (incremental) with as_of_date advanced one day.
7. Floors for comparison: `select count(*)` over each raw table (scan floor) and over each
   Zendesk staging table; sizes; peak RSS of this process and of its largest child (dbt).

Results go to a JSON file (default SCHOOLCX_HOME/bench/dbt.json) and a table on stdout. The
database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from schoolcx.config import DeploymentConfig

BENCH_HASH_KEY = "bench-only-hash-key"  # synthetic people only; used when none is set
DEPARTMENTS = (
    "transportation",
    "enrollment",
    "special_education",
    "student_services",
    "nutrition",
    "technology",
    "athletics",
    "human_resources",
    "business_office",
    "teaching_learning",
)
# topic, weight, index of its department (group) in DEPARTMENTS
TOPICS = (
    ("transportation", 0.20, 0),
    ("enrollment", 0.12, 1),
    ("attendance", 0.12, 3),
    ("grades", 0.10, 9),
    ("special_education", 0.04, 2),
    ("bullying", 0.02, 3),
    ("safety", 0.01, 3),
    ("nutrition", 0.07, 4),
    ("technology", 0.10, 5),
    ("athletics", 0.05, 6),
    ("human_resources", 0.05, 7),
    ("billing", 0.07, 8),
    ("general", 0.05, 3),
)
# Zendesk via.channel, weight, the audit's `via` text for a person writing through it
CHANNELS = (
    ("web", 0.44, "Web form"),
    ("email", 0.35, "Mail"),
    ("voice", 0.12, "Voice"),
    ("chat", 0.06, "Chat"),
    ("walk_in", 0.02, "Web form"),
    ("api", 0.01, "Web service"),
)
PRIORITIES = (("urgent", 0.02), ("high", 0.10), ("normal", 0.70), ("low", 0.10), (None, 0.08))
GROUP_BASE, ORG_BASE = 360000040000, 360000540000
AGENT_BASE, REQUESTER_BASE = 360100000, 380000000
RAW_TABLES = (
    "zendesk_tickets",
    "zendesk_ticket_events",
    "zendesk_users",
    "zendesk_satisfaction_ratings",
    "zendesk_groups",
    "zendesk_organizations",
)
RAW_COLUMNS = (
    "source_system, source_instance, district_id, source_id, updated_at, person_hash, payload,"
    " _loaded_at, _batch_id, _source_position"
)
# Uniform draws r_* and standard normal draws z_* made once per ticket.
DRAWS = (
    *("hours", "time", "channel", "priority", "topic", "requester", "agent", "school", "oba"),
    *("answered", "conv", "solve1", "solve2", "reopen", "auto", "rated", "score", "note"),
    *("snap1", "snap2", "snap3", "j1", "j2", "j3", "tc"),
)
NORMAL_DRAWS = ("d1", "df", "d2", "dr", "d3", "rate")
PARTS = 2  # sessions that generate and land in parallel (this machine has 2 cores)
# Disk a scale takes, measured: S (10,000 students, one school year, 850k tickets) is 8.1 GB
# after the night (raw 5.2 GB); with WAL and sort files, a quarter more while it runs.
MB_PER_STUDENT_YEAR = 0.81
DISK_HEADROOM = 1.25
SCHOOL_YEAR_WEEKS = 42
STAGING_TABLES = (
    "stg_zendesk__tickets",
    "stg_zendesk__ticket_child_events",
    "stg_zendesk__users",
    "stg_zendesk__satisfaction_ratings",
)


# --------------------------------------------------------------------------------------------
# Scales and their deployment config
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictSpec:
    name: str
    state: str
    fips: str
    timezone: str
    enrollment: int


@dataclass(frozen=True)
class Scale:
    name: str
    districts: tuple[DistrictSpec, ...]
    first_day: dt.date = dt.date(2025, 8, 18)
    last_day: dt.date = dt.date(2026, 6, 4)  # a Thursday: the night after is a service day
    contacts_per_1000: float = 450.0  # per service day
    seed: float = 0.42

    @property
    def night_day(self) -> dt.date:
        """The day the incremental night adds (data interval [D 08:00 UTC, D+1 08:00 UTC))."""
        return self.last_day + dt.timedelta(days=1)

    @property
    def students(self) -> int:
        return sum(d.enrollment for d in self.districts)


SCALES = {
    "S": Scale("S", (DistrictSpec("Lincoln CUSD", "IL", "17", "America/Chicago", 10_000),)),
    "M": Scale(
        "M",
        (
            DistrictSpec("Harbor City USD", "CA", "06", "America/Los_Angeles", 28_000),
            DistrictSpec("Lakeshore CSD", "IL", "17", "America/Chicago", 16_000),
            DistrictSpec("Piedmont County Schools", "GA", "13", "America/New_York", 12_000),
            DistrictSpec("Mesa Verde USD", "AZ", "04", "America/Phoenix", 9_000),
            DistrictSpec("Front Range SD", "CO", "08", "America/Denver", 8_000),
            DistrictSpec("Cascade SD", "WA", "53", "America/Los_Angeles", 7_000),
            DistrictSpec("Hudson Valley CSD", "NY", "36", "America/New_York", 6_000),
            DistrictSpec("Prairie Wind ISD", "TX", "48", "America/Chicago", 5_000),
            DistrictSpec("North Star Public Schools", "MN", "27", "America/Chicago", 3_500),
            DistrictSpec("Gulf Coast SD", "FL", "12", "America/New_York", 2_500),
            DistrictSpec("Tongass Borough SD", "AK", "02", "America/Anchorage", 1_800),
            DistrictSpec("Snake River SD", "ID", "16", "America/Boise", 1_200),
        ),
    ),
}
# For the harness's own test: one small district, three weeks.
TINY = Scale(
    "tiny",
    (DistrictSpec("Tiny Test SD", "IL", "17", "America/Chicago", 200),),
    first_day=dt.date(2026, 4, 27),
    last_day=dt.date(2026, 5, 14),
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def district_id(spec: DistrictSpec, i: int) -> str:
    return f"{spec.fips}{90001 + i:05d}"


def n_schools(spec: DistrictSpec) -> int:
    return max(1, round(spec.enrollment / 650))


def deployment_config(scale: Scale) -> DeploymentConfig:
    """The scale's deployment: calendars with breaks, schools, one Zendesk source each with
    school (organization), department (group) and stakeholder (user field) mappings."""
    year = scale.last_day.year + (1 if scale.last_day.month >= 7 else 0)  # school year
    spring = [dt.date(2026, 3, 16), dt.date(2026, 3, 23), dt.date(2026, 3, 30)]
    districts = []
    for i, spec in enumerate(scale.districts):
        did, slug = district_id(spec, i), _slug(spec.name)
        schools = n_schools(spec)
        sb = spring[i % len(spring)]
        closures = [
            {"start": dt.date(2025, 11, 26), "reason": "Thanksgiving break"},
            {"start": dt.date(2025, 11, 28), "reason": "Thanksgiving break"},
            {"start": dt.date(2025, 12, 22), "end": dt.date(2026, 1, 2), "reason": "Winter break"},
            {"start": sb, "end": sb + dt.timedelta(days=4), "reason": "Spring break"},
        ]
        if spec.state in ("IL", "MN", "NY", "AK", "CO", "ID"):
            closures.append({"start": dt.date(2026, 1, 27), "reason": "Snow day"})
        domain = f"{slug}.k12.{spec.state.lower()}.us"
        districts.append(
            {
                "district_id": did,
                "name": spec.name,
                "state": spec.state,
                "timezone": spec.timezone,
                "enrollment": {year - 1: round(spec.enrollment * 0.985), year: spec.enrollment},
                "consortium_ids": ["bench"] if len(scale.districts) > 1 else [],
                "calendar": {"closures": closures},
                "mail_domains": [domain],
                "student_domains": [f"students.{domain}"],
                "departments": list(DEPARTMENTS),
                "schools": [
                    {
                        "school_id": f"{did}{s:05d}",
                        "name": f"{spec.name} School {s}",
                        "enrollment": {year: spec.enrollment // schools},
                    }
                    for s in range(1, schools + 1)
                ],
                "sources": [
                    {
                        "name": f"zd-{slug}",
                        "type": "zendesk",
                        "conn_id": f"bench_zd_{i}",
                        "start_date": dt.date(2025, 7, 1),
                        "mappings": {
                            "school": {
                                "field": "organization_id",
                                "values": {
                                    str(ORG_BASE + s): f"{did}{s:05d}"
                                    for s in range(1, schools + 1)
                                },
                            },
                            "department": {
                                "field": "group_id",
                                "values": {
                                    str(GROUP_BASE + k + 1): d for k, d in enumerate(DEPARTMENTS)
                                },
                            },
                            "stakeholder": {
                                "field": "user_field:stakeholder_type",
                                "values": {
                                    t: t for t in ("parent", "student", "staff", "community")
                                },
                            },
                        },
                    }
                ],
            }
        )
    consortiums = [{"consortium_id": "bench", "name": "Bench Consortium"}]
    return DeploymentConfig.model_validate(
        {
            "name": f"bench-{scale.name}",
            "consortiums": consortiums if len(scale.districts) > 1 else [],
            "districts": districts,
        }
    )


# --------------------------------------------------------------------------------------------
# SQL building blocks
# --------------------------------------------------------------------------------------------


def _iso(x: str) -> str:
    return f"""to_char(({x}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _night_end(x: str) -> str:
    """The end of the nightly data interval holding instant x: the next 08:00 UTC."""
    return (
        f"((date_trunc('day', ({x}) at time zone 'UTC' - interval '8 hours')"
        f" + interval '1 day 8 hours') at time zone 'UTC')"
    )


def _pick(values: list[str], weights: list[float], r: str) -> str:
    """values[i] with probability weights[i], for a uniform draw r in [0, 1)."""
    cum, edges = 0.0, []
    for w in weights:
        edges.append(f"{cum:.4f}")
        cum += w
    return f"(array[{', '.join(values)}])[width_bucket({r}, array[{', '.join(edges)}]::float8[])]"


def _lit(v: str | None) -> str:
    return "null::text" if v is None else f"'{v}'"


def _snap(cand: str, cal: str, jitter: str, keep: str) -> str:
    """An agent's reply time: the candidate when it falls in a service interval (or `keep`
    says leave it), else the day's open or the next service day's open, plus jitter."""
    return f"""date_trunc('second', case
        when {cand} is null then null
        when {keep} then {cand}
        when {cal}.is_service and {cand} >= {cal}.open_at and {cand} < {cal}.close_at then {cand}
        when {cal}.is_service and {cand} < {cal}.open_at
            then {cal}.open_at + {jitter} * interval '40 minutes'
        else {cal}.next_open_at + {jitter} * interval '40 minutes'
    end)"""


def _minutes(median: float, sigma: float, draw: str, cap: int) -> str:
    """A log-normal delay (median minutes, sigma) from a standard normal draw, capped."""
    return f"least(exp(ln({median}) + {sigma} * {draw}), {cap}) * interval '1 minute'"


# Status and version of a plan row `p` as of instant T (the last event before T).
EVENT_TIMES = ("t0", "ta", "t1", "tf", "t2", "tr", "t3", "tc")


def _status_at(t: str) -> str:
    return f"""case
        when p.tc < {t} then 'closed' when p.t3 < {t} then 'solved' when p.tr < {t} then 'open'
        when p.t2 < {t} then p.s2 when p.tf < {t} then 'open' when p.t1 < {t} then p.s1
        else 'new' end"""


def _version_at(t: str) -> str:
    later = ", ".join(f"case when p.{c} < {t} then p.{c} end" for c in EVENT_TIMES[1:])
    return f"greatest(p.t0, {later})"


def _int(cond: str) -> str:
    return f"(({cond}) is true)::int"


def _ticket_payload(t: str, v: str) -> str:
    """The ticket as the cursor export serves it at version time v (state as of T), with its
    sideloaded metric set (connectors/zendesk.py attaches it as `metric_set`)."""
    status = _status_at(t)
    solved = (
        f"case when ({status}) in ('solved', 'closed')"
        f" then coalesce(case when p.t3 < {t} then p.t3 end, p.ts) end"
    )
    reply = "(extract(epoch from p.t1 - p.t0) / 60)::int"
    first_solve = "(extract(epoch from p.ts - p.t0) / 60)::int"
    full_solve = f"(extract(epoch from ({solved}) - p.t0) / 60)::int"
    null_minutes = """'{"calendar": null, "business": null}'::jsonb"""
    assigned = f"(p.opened_by_agent or p.t1 < {t})"
    custom = (
        "jsonb_build_array(jsonb_build_object('id', 360010001, 'value', p.topic),"
        " jsonb_build_object('id', 360010002, 'value', p.school_id))"
    )
    subject = "initcap(replace(p.topic, '_', ' ')) || ' question (' || p.ticket_id || ')'"
    metric = f"""jsonb_build_object(
        'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/ticket_metrics/'
            || (7000000000 + p.ticket_id) || '.json',
        'id', 7000000000 + p.ticket_id, 'ticket_id', p.ticket_id,
        'created_at', {_iso("p.t0")}, 'updated_at', {_iso(v)},
        'group_stations', 1, 'assignee_stations', {_int(assigned)},
        'reopens', {_int(f"p.tr < {t}")},
        'replies', {_int(f"p.t1 < {t}")} + {_int(f"p.t2 < {t}")} + {_int(f"p.t3 < {t}")},
        'assignee_updated_at', null, 'requester_updated_at', null,
        'status_updated_at', {_iso(v)},
        'initially_assigned_at', case when {assigned} then {_iso("coalesce(p.t1, p.t0)")} end,
        'assigned_at', case when {assigned} then {_iso("coalesce(p.t1, p.t0)")} end,
        'solved_at', {_iso(solved)}, 'latest_comment_added_at', {_iso(v)},
        'reply_time_in_minutes', case when p.t1 < {t}
            then jsonb_build_object('calendar', {reply}, 'business', {reply})
            else {null_minutes} end,
        'first_resolution_time_in_minutes', case when p.ts < {t}
            then jsonb_build_object('calendar', {first_solve}, 'business', {first_solve})
            else {null_minutes} end,
        'full_resolution_time_in_minutes', case when ({solved}) is not null
            then jsonb_build_object('calendar', {full_solve}, 'business', {full_solve})
            else {null_minutes} end,
        'agent_wait_time_in_minutes', {null_minutes},
        'requester_wait_time_in_minutes', {null_minutes},
        'on_hold_time_in_minutes', '{{"calendar": 0, "business": 0}}'::jsonb)"""
    return f"""jsonb_build_object(
        'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/tickets/' || p.ticket_id
            || '.json',
        'id', p.ticket_id, 'external_id', null,
        'via', jsonb_build_object('channel', p.channel,
            'source', '{{"from": {{}}, "to": {{}}, "rel": null}}'::jsonb),
        'created_at', {_iso("p.t0")}, 'updated_at', {_iso(v)},
        'generated_timestamp', extract(epoch from {v})::bigint,
        'type', 'question', 'subject', {subject}, 'raw_subject', {subject},
        'description', {subject},
        'priority', p.priority, 'status', {status}, 'recipient', null,
        'requester_id', p.requester_id,
        'submitter_id', case when p.opened_by_agent then p.agent_id else p.requester_id end,
        'assignee_id', case when {assigned} then p.agent_id end,
        'organization_id', p.organization_id, 'group_id', p.group_id,
        'collaborator_ids', '[]'::jsonb, 'follower_ids', '[]'::jsonb,
        'email_cc_ids', '[]'::jsonb, 'forum_topic_id', null, 'problem_id', null,
        'has_incidents', false, 'is_public', true, 'due_at', null,
        'tags', p.tags, 'custom_fields', {custom}, 'fields', {custom},
        'satisfaction_rating', case when p.rated_at < {t}
            then jsonb_build_object('score', p.score) end,
        'sharing_agreement_ids', '[]'::jsonb, 'followup_ids', '[]'::jsonb,
        'ticket_form_id', 360000010, 'brand_id', 360000001, 'allow_channelback', false,
        'allow_attachments', true, 'from_messaging_channel', false)
        || jsonb_build_object('metric_set', {metric})"""


def _comment(cid: str, via: str, author: str, public: str, body: str) -> str:
    return (
        f"jsonb_build_object('id', {cid}, 'via', {via}, 'event_type', 'Comment', 'type',"
        f" 'Comment', 'author_id', {author}, 'public', {public}, 'body', {body},"
        f" 'attachments', '[]'::jsonb)"
    )


def _status_change(cid: str, via: str, new: str, previous: str) -> str:
    return (
        f"jsonb_build_object('id', {cid}, 'via', {via}, 'event_type', 'Change', 'status', {new},"
        f" 'previous_value', {previous}, 'field_name', 'status')"
    )


OPENER = "case when p.opened_by_agent then p.agent_id else p.requester_id end"
TOPIC_TEXT = "replace(p.topic, '_', ' ')"
BODIES = {
    OPENER: f"initcap({TOPIC_TEXT}) || ' question. ' || e.body_tail",
    "-1": "'We received your request #' || p.ticket_id || ' and will reply soon.'",
    "p.agent_id": f"'Thank you for contacting us about ' || {TOPIC_TEXT} || '. ' || e.body_tail",
    "p.requester_id": f"'Following up on my ' || {TOPIC_TEXT} || ' question. ' || e.body_tail",
}
# One audit per moment of a ticket's life: kind, its time in the plan, updater (= the comment's
# author), via, whether it has a public comment, and its status change (new, previous).
AUDITS = (
    ("create", "t0", OPENER, "p.via_text", True, None),
    ("auto", "ta", "-1", "'Rule'", True, None),
    ("reply1", "t1", "p.agent_id", "'Web form'", True, ("p.s1", "'new'")),
    ("follow", "tf", "p.requester_id", "p.via_text", True, ("'open'", "'pending'")),
    ("reply2", "t2", "p.agent_id", "'Web form'", True, ("p.s2", "'open'")),
    ("reopen", "tr", "p.requester_id", "p.via_text", True, ("'open'", "'solved'")),
    ("resolve2", "t3", "p.agent_id", "'Web form'", True, ("'solved'", "'open'")),
    ("close", "tc", "-1", "'Rule'", False, ("'closed'", "'solved'")),
)


def _audit_children(kind: str, author: str, via: str, comment: bool, change) -> str:
    """The audit's child events (jsonb array), ids = audit id * 10 + position."""
    children = []
    if kind == "create":
        children += [
            f"jsonb_build_object('id', e.aid * 10 + 1, 'via', {via}, 'event_type', 'Create',"
            " 'status', 'new')",
            f"jsonb_build_object('id', e.aid * 10 + 2, 'via', {via}, 'event_type', 'Create',"
            " 'priority', p.priority)",
        ]
    if comment:
        cid = f"e.aid * 10 + {len(children) + 1}"
        children.append(_comment(cid, via, author, "true", BODIES[author]))
    if change:
        cid = f"e.aid * 10 + {len(children) + 1}"
        children.append(_status_change(cid, via, *change))
    array = f"jsonb_build_array({', '.join(children)})"
    if kind == "reply1":  # an internal note on some first replies
        note = _comment("e.aid * 10 + 3", via, author, "false", "'Internal note.'")
        array += f" || case when p.r_note < 0.1 then jsonb_build_array({note}) else '[]'::jsonb end"
    return array


def _hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA-256 inner and outer padded keys, so SQL's sha256() computes privacy.person_hash."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


# --------------------------------------------------------------------------------------------
# Synthesis and landing
# --------------------------------------------------------------------------------------------


class Synthesiser:
    """Plans one scale's tickets in bench_gen.* and lands windows of them into raw.*."""

    def __init__(self, url: str, scale: Scale, cfg: DeploymentConfig, out=sys.stdout):
        self.url, self.scale, self.cfg, self.out = url, scale, cfg, out
        self.cut_history = dt.datetime.combine(scale.night_day, dt.time(8), tzinfo=dt.UTC)
        self.cut_night = self.cut_history + dt.timedelta(days=1)

    def _say(self, msg: str) -> None:
        print(f"  [{self.scale.name}] {msg}", file=self.out, flush=True)

    @contextmanager
    def _session(self):
        with psycopg.connect(self.url) as conn:
            conn.execute("set max_parallel_workers_per_gather = 0")  # random() stays seeded
            conn.execute("set work_mem = '256MB'")
            yield conn

    def plan(self) -> int:
        """bench_gen.{districts,calendar,days,plan}; returns the number of tickets planned."""
        s = self.scale
        with self._session() as conn:
            conn.execute("drop schema if exists bench_gen cascade")
            conn.execute("create schema bench_gen")
            conn.execute(
                "create unlogged table bench_gen.districts (district_idx int, district_id text,"
                " source_instance text, name text, timezone text, enrollment int, n_agents int,"
                " n_requesters int, n_schools int, subdomain text, mail_domain text,"
                " student_domain text)"
            )
            with conn.cursor().copy("copy bench_gen.districts from stdin") as copy:
                for i, (spec, d) in enumerate(zip(s.districts, self.cfg.districts, strict=True)):
                    copy.write_row(
                        (
                            i,
                            d.district_id,
                            d.sources[0].name,
                            d.name,
                            d.timezone,
                            spec.enrollment,
                            max(3, spec.enrollment // 100),
                            round(spec.enrollment * 1.3),
                            n_schools(spec),
                            _slug(spec.name),
                            d.mail_domains[0],
                            d.student_domains[0],
                        )
                    )
            conn.execute(
                """
                create unlogged table bench_gen.calendar as
                with days as (
                    select d.district_id, day.local_day::date as local_date,
                        extract(isodow from day.local_day)::int = any(d.service_weekdays)
                            and c.closure_date is null as is_service,
                        (day.local_day::date + d.open_time) at time zone d.timezone as open_at,
                        (day.local_day::date + d.close_time) at time zone d.timezone as close_at
                    from ref.districts as d
                    cross join lateral generate_series(
                        %(lo)s::timestamp, %(hi)s::timestamp, interval '1 day') as day (local_day)
                    left join ref.closures as c
                        on c.district_id = d.district_id and c.closure_date = day.local_day::date
                )
                select days.*, min(days.open_at) filter (where days.is_service) over (
                    partition by days.district_id order by days.local_date
                    rows between 1 following and unbounded following) as next_open_at
                from days
                """,
                {
                    "lo": s.first_day - dt.timedelta(days=7),
                    "hi": s.night_day + dt.timedelta(days=120),
                },
            )
            conn.execute("create unique index on bench_gen.calendar (district_id, local_date)")
            conn.execute("analyze bench_gen.calendar")
            conn.execute("select setseed(%s)", (s.seed,))
            dow = (
                "(array[1.15, 1.05, 1.0, 0.95, 0.85, 1, 1])[extract(isodow from k.local_date)::int]"
            )
            month = (
                "(array[1.05, 0.95, 0.95, 0.95, 0.95, 0.8, 1, 1.25, 1.2, 1.0, 1.0, 0.85])"
                "[extract(month from k.local_date)::int]"
            )
            conn.execute(
                f"""
                create unlogged table bench_gen.days as
                select k.district_id, k.local_date, k.is_service, k.open_at, k.close_at,
                    round(dd.enrollment / 1000.0 * case
                        when k.is_service
                            then %(rate)s * {dow} * {month} * (0.9 + 0.2 * random())
                        else 15 * (0.5 + random())
                    end)::int as n
                from bench_gen.calendar as k
                inner join bench_gen.districts as dd on k.district_id = dd.district_id
                where k.local_date between %(first)s and %(night)s
                order by k.district_id, k.local_date
                """,
                {"rate": s.contacts_per_1000, "first": s.first_day, "night": s.night_day},
            )
            conn.execute(
                f"create unlogged table bench_gen.plan as {self._plan_sql()} with no data",
                {"first": s.first_day, "parts": 1, "part": 0},
            )
        # Days split across sessions, each seeded: the same scale plans the same tickets.
        self._parallel(f"insert into bench_gen.plan {self._plan_sql()}", {"first": s.first_day})
        with self._session() as conn:
            conn.execute("analyze bench_gen.plan")
            return conn.execute("select count(*) from bench_gen.plan").fetchone()[0]

    def _plan_sql(self) -> str:
        draws = ", ".join(f"random() as r_{n}" for n in DRAWS)
        # Box-Muller from two uniforms (random_normal() is PostgreSQL 16+; WAREHOUSE_URL may
        # name an older server)
        normals = ", ".join(
            f"sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) as z_{n}" for n in NORMAL_DRAWS
        )
        priority = _pick(
            [_lit(v) for v, _w in PRIORITIES], [w for _v, w in PRIORITIES], "g.r_priority"
        )
        topic_idx = _pick(
            [str(i + 1) for i in range(len(TOPICS))], [t[1] for t in TOPICS], "g.r_topic"
        )
        return f"""
        with base as (
            select
                dd.district_id, dd.district_idx, dd.timezone as tz, d.local_date, g.*,
                (1000000 + (d.local_date - %(first)s::date) * 100000 + g.n)::bigint as ticket_id,
                date_trunc('second', case
                    when d.is_service and g.r_hours < 0.88
                        then d.open_at + g.r_time * (d.close_at - d.open_at)
                    when d.is_service and g.r_hours < 0.96
                        then d.close_at + g.r_time * interval '5 hours 30 minutes'
                    when d.is_service then d.open_at - g.r_time * interval '90 minutes'
                    else ((d.local_date + time '08:00') at time zone dd.timezone)
                        + g.r_time * interval '14 hours'
                end) as t0,
                {_pick([f"'{c[0]}'" for c in CHANNELS], [c[1] for c in CHANNELS], "g.r_channel")}
                    as channel,
                {_pick([f"'{c[2]}'" for c in CHANNELS], [c[1] for c in CHANNELS], "g.r_channel")}
                    as via_text,
                {priority}
                    as priority,
                {topic_idx} as topic_idx,
                {REQUESTER_BASE} + floor(dd.n_requesters * power(g.r_requester, 1.6))::bigint
                    as requester_id,
                {AGENT_BASE} + floor(dd.n_agents * g.r_agent)::bigint as agent_id,
                case when g.r_school < 0.9
                    then 1 + floor(dd.n_schools * g.r_school / 0.9)::int end as school_no
            from bench_gen.days as d
            inner join bench_gen.districts as dd on d.district_id = dd.district_id
                and mod(d.local_date - %(first)s::date, %(parts)s) = %(part)s
            cross join lateral (
                select s.n, {draws}, {normals} from generate_series(1, d.n) as s (n)
            ) as g
        ),

        first_reply as (
            select
                b.*,
                (array[{", ".join(f"'{t[0]}'" for t in TOPICS)}])[b.topic_idx] as topic,
                {GROUP_BASE} + 1 + (array[{", ".join(str(t[2]) for t in TOPICS)}])[b.topic_idx]
                    as group_id,
                b.channel in ('voice', 'walk_in') and b.r_oba < 0.7 as opened_by_agent,
                b.r_answered < 0.97 or b.priority = 'urgent' as answered,
                b.r_conv < 0.30 as conversation,
                date_trunc('second', b.t0 + {_minutes(75, 1.1, "b.z_d1", 20000)}) as c1
            from base as b
        ),

        replied as (
            select
                f.*,
                case when f.answered then
                    {_snap("f.c1", "k1", "f.r_j1", "f.r_snap1 >= 0.92")} end as t1
            from first_reply as f
            left join bench_gen.calendar as k1
                on k1.district_id = f.district_id
                and k1.local_date = (f.c1 at time zone f.tz)::date
        ),

        followed as (
            select
                r.*,
                case when r.conversation then 'pending'
                    when r.r_solve1 < 0.88 then 'solved' else 'pending' end as s1,
                case when r.r_solve2 < 0.9 then 'solved' else 'pending' end as s2,
                case when r.conversation and r.t1 is not null then
                    date_trunc('second', r.t1 + {_minutes(240, 1.0, "r.z_df", 10000)}) end as tf
            from replied as r
        ),

        followed_c as (
            select f.*, f.tf + {_minutes(90, 1.0, "f.z_d2", 10000)} as c2 from followed as f
        ),

        second_reply as (
            select
                f.*,
                {_snap("f.c2", "k2", "f.r_j2", "f.r_snap2 >= 0.92")}
                    as t2
            from followed_c as f
            left join bench_gen.calendar as k2
                on k2.district_id = f.district_id
                and k2.local_date = (f.c2 at time zone f.tz)::date
        ),

        solved as (
            select
                s.*,
                case
                    when s.conversation then case when s.s2 = 'solved' then s.t2 end
                    when s.s1 = 'solved' then s.t1
                end as ts
            from second_reply as s
        ),

        reopened as (
            select
                s.*,
                case when s.ts is not null and s.r_reopen < 0.04 then
                    date_trunc('second', s.ts + {_minutes(1440, 0.8, "s.z_dr", 5000)}) end as tr
            from solved as s
        ),

        reopened_c as (
            select r.*, r.tr + {_minutes(120, 1.0, "r.z_d3", 5000)} as c3 from reopened as r
        ),

        resolved as (
            select
                r.*,
                {_snap("r.c3", "k3", "r.r_j3", "r.r_snap3 >= 0.92")}
                    as t3
            from reopened_c as r
            left join bench_gen.calendar as k3
                on k3.district_id = r.district_id
                and k3.local_date = (r.c3 at time zone r.tz)::date
        )

        select
            r.district_id, r.district_idx, r.local_date, r.ticket_id, r.channel, r.via_text,
            r.priority, r.topic, r.group_id, r.requester_id, r.agent_id,
            {ORG_BASE} + r.school_no as organization_id,
            r.district_id || lpad(r.school_no::text, 5, '0') as school_id,
            case when r.topic in ('bullying', 'safety') or r.r_note < 0.05
                then jsonb_build_array(r.topic, 'escalated') else jsonb_build_array(r.topic)
            end as tags,
            r.opened_by_agent, r.s1, r.s2, r.r_note,
            r.t0,
            case when r.channel in ('web', 'email') and r.r_auto < 0.25
                then r.t0 + interval '2 seconds' end as ta,
            r.t1, r.tf, r.t2, r.ts, r.tr, r.t3,
            case when r.ts is not null then
                date_trunc('hour', coalesce(r.t3, r.ts) + interval '4 days') + interval '1 hour'
                + date_trunc('second', r.r_tc * interval '10 minutes') end as tc,
            case when r.ts is not null and r.r_rated < 0.22 then
                date_trunc('second', coalesce(r.t3, r.ts) + {_minutes(300, 1.2, "r.z_rate", 40000)})
            end as rated_at,
            case when r.r_score < case when r.t1 - r.t0 > interval '1 day' then 0.65 else 0.85 end
                then 'good' else 'bad' end as score
        from resolved as r
        """

    def land(self, night: bool) -> dict[str, int]:
        """Land the history (everything before the night) or the one night; returns rows per
        raw table. History rows are loaded by the run of the night after their version; the
        night's rows at now()."""
        lo = self.cut_history if night else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        hi = self.cut_night if night else self.cut_history
        params = {"lo": lo, "hi": hi, "history": not night, "now": dt.datetime.now(dt.UTC)}
        if night:
            loaded = "%(now)s::timestamptz"
            batch_of = "'bench_night:' || d.source_instance || ':' || %(run)s"
            params["run"] = uuid.uuid4().hex[:8]
        else:  # the run at the end of the version's nightly interval, per source
            loaded = f"{_night_end('{v}')} + interval '7 minutes'"
            batch_of = (
                "'bench_' || to_char({n} - interval '1 day', 'YYYY-MM-DD') || ':'"
                " || d.source_instance || ':' || substr(md5(d.source_instance || {n}::text), 1, 8)"
            ).replace("{n}", _night_end("{v}"))
        counts: dict[str, int] = {}
        with self._session() as conn:
            # A year in one go: build the raw tables' indexes after the rows, not row by row.
            indexes = [] if night else _drop_raw_indexes(conn)
            if not night:
                counts.update(self._land_dimensions(conn, loaded, batch_of))
        for table, sql in self._landing_sql(loaded, batch_of).items():
            started = time.monotonic()
            counts[table] = self._parallel(sql, params)
            self._say(f"raw.{table} {counts[table]:,} ({time.monotonic() - started:.0f}s)")
        with self._session() as conn:
            if indexes:
                started = time.monotonic()
                _restore_raw_indexes(conn, indexes)
                self._say(f"raw indexes rebuilt ({time.monotonic() - started:.0f}s)")
            self._record_runs(conn, night)
        return counts

    def _parallel(self, sql: str, params: dict) -> int:
        """Run `sql` (filtered on mod(..., %(parts)s) = %(part)s) in PARTS seeded sessions."""
        from concurrent.futures import ThreadPoolExecutor

        def one(part: int) -> int:
            with self._session() as conn:
                conn.execute("select setseed(%s)", (self.scale.seed + part / 10,))
                return conn.execute(sql, {**params, "parts": PARTS, "part": part}).rowcount

        with ThreadPoolExecutor(PARTS) as pool:
            return sum(pool.map(one, range(PARTS)))

    def _landing_sql(self, loaded: str, batch_of: str) -> dict[str, str]:
        part = "mod(p.ticket_id, %(parts)s) = %(part)s"
        values = ", ".join(
            f"({k}, '{kind}', p.{col}, {author}, {via})"
            for k, (kind, col, author, via, _comment, _change) in enumerate(AUDITS)
        )
        children = " ".join(f"when '{a[0]}' then {_audit_children(a[0], *a[2:])}" for a in AUDITS)
        children = f"case e.kind {children} end"
        return {
            # Versions: as of the end of the window, and (history) as of its creation night.
            "zendesk_tickets": f"""
                insert into raw.zendesk_tickets ({RAW_COLUMNS})
                select 'zendesk', d.source_instance, p.district_id, p.ticket_id::text, v.at, null,
                    {_ticket_payload("c.cut", "v.at")},
                    {loaded.format(v="v.at")}, {batch_of.format(v="v.at")},
                    'tickets cursor=bench #' || p.ticket_id
                from bench_gen.plan as p
                inner join bench_gen.districts as d on p.district_id = d.district_id
                cross join lateral (values
                    (%(hi)s::timestamptz),
                    (case when %(history)s and {_night_end("p.t0")} < %(hi)s
                        then {_night_end("p.t0")} end)
                ) as c (cut)
                cross join lateral (select {_version_at("c.cut")} as at) as v
                where {part} and p.t0 < %(hi)s and c.cut is not null and v.at >= %(lo)s
                    and (c.cut = %(hi)s or v.at < {_version_at("%(hi)s::timestamptz")})
                """,
            "zendesk_ticket_events": f"""
                insert into raw.zendesk_ticket_events ({RAW_COLUMNS})
                select 'zendesk', d.source_instance, p.district_id, e.aid::text, e.at, null,
                    jsonb_build_object('id', e.aid, 'ticket_id', p.ticket_id,
                        'timestamp', extract(epoch from e.at)::bigint,
                        'created_at', {_iso("e.at")}, 'updater_id', e.updater, 'via', e.via,
                        'event_type', 'Audit', 'child_events', {children}),
                    {loaded.format(v="e.at")}, {batch_of.format(v="e.at")},
                    'ticket_events start_time=' || extract(epoch from e.at)::bigint
                from bench_gen.plan as p
                inner join bench_gen.districts as d on p.district_id = d.district_id
                cross join lateral (
                    select x.*, 20000000000 + p.ticket_id * 10 + x.k as aid,
                        'Ref ' || p.ticket_id || '.' as body_tail
                    from (values {values}) as x (k, kind, at, updater, via)
                ) as e
                where {part} and e.at >= %(lo)s and e.at < %(hi)s
                """,
            "zendesk_satisfaction_ratings": f"""
                insert into raw.zendesk_satisfaction_ratings ({RAW_COLUMNS})
                select 'zendesk', d.source_instance, p.district_id,
                    (5000000000 + p.ticket_id)::text, p.rated_at, null,
                    jsonb_build_object(
                        'url', 'https://' || d.subdomain
                            || '.zendesk.com/api/v2/satisfaction_ratings/'
                            || (5000000000 + p.ticket_id) || '.json',
                        'id', 5000000000 + p.ticket_id, 'ticket_id', p.ticket_id,
                        'score', p.score, 'created_at', {_iso("p.rated_at")},
                        'updated_at', {_iso("p.rated_at")}, 'requester_id', p.requester_id,
                        'assignee_id', p.agent_id, 'group_id', p.group_id, 'comment', null,
                        'reason', null),
                    {loaded.format(v="p.rated_at")}, {batch_of.format(v="p.rated_at")},
                    'satisfaction_ratings start_time=bench'
                from bench_gen.plan as p
                inner join bench_gen.districts as d on p.district_id = d.district_id
                where {part} and p.rated_at >= %(lo)s and p.rated_at < %(hi)s
                """,
        }

    def _land_dimensions(self, conn, loaded: str, batch_of: str) -> dict[str, int]:
        """Users (agents and requesters), groups (departments) and organizations (schools),
        all changed 30 days before the first day."""
        at = dt.datetime.combine(
            self.scale.first_day - dt.timedelta(days=30), dt.time(12), tzinfo=dt.UTC
        )
        inner, outer = _hmac_pads(_hash_key())
        batch = batch_of.format(v="%(at)s::timestamptz")
        load = loaded.format(v="%(at)s::timestamptz")
        email = "u.email"
        person_hash = (
            f"encode(sha256(%(outer)s::bytea || sha256(%(inner)s::bytea"
            f" || convert_to(lower(btrim({email})), 'UTF8'))), 'hex')"
        )
        params = {"at": at, "inner": inner, "outer": outer}
        counts = {}
        cur = conn.execute(
            f"""
            insert into raw.zendesk_users ({RAW_COLUMNS})
            select 'zendesk', d.source_instance, d.district_id, u.id::text, %(at)s, {person_hash},
                jsonb_build_object(
                    'id', u.id,
                    'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/users/' || u.id
                        || '.json',
                    'name', u.name, 'email', u.email, 'role', u.role, 'locale', u.locale,
                    'time_zone', d.timezone, 'organization_id', null,
                    'created_at', {_iso("%(at)s::timestamptz")},
                    'updated_at', {_iso("%(at)s::timestamptz")},
                    'active', true, 'verified', true, 'suspended', false, 'tags', '[]'::jsonb,
                    'user_fields', jsonb_build_object('stakeholder_type', u.stakeholder)),
                {load}, {batch}, 'users cursor=bench #' || u.id
            from bench_gen.districts as d
            cross join lateral (
                select {AGENT_BASE} + k as id, 'Agent ' || k as name,
                    'agent' || k || '@' || d.mail_domain as email,
                    case when k = 0 then 'admin' else 'agent' end as role,
                    'en-US' as locale, null::text as stakeholder
                from generate_series(0::bigint, d.n_agents - 1) as k
                union all
                select {REQUESTER_BASE} + r.k, initcap(r.stakeholder) || ' ' || r.k,
                    case r.stakeholder
                        when 'parent' then 'parent' || r.k || '.' || d.district_idx || '@'
                            || (array['gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com'])
                                [1 + mod(r.k, 4)]
                        when 'student' then 's' || r.k || '@' || d.student_domain
                        when 'staff' then 'staff' || r.k || '@' || d.mail_domain
                        else 'c' || r.k || '.' || d.district_idx || '@example.org'
                    end,
                    'end-user',
                    case
                        when mod(r.k * 104729, 1000) < 780 then 'en-US'
                        when mod(r.k * 104729, 1000) < 930 then 'es'
                        when mod(r.k * 104729, 1000) < 950 then 'vi'
                        when mod(r.k * 104729, 1000) < 970 then 'zh-CN'
                        when mod(r.k * 104729, 1000) < 985 then 'ar'
                        else 'so'
                    end,
                    r.stakeholder
                from (
                    select k, case
                        when mod(k * 7919 + d.district_idx * 31, 100) < 70 then 'parent'
                        when mod(k * 7919 + d.district_idx * 31, 100) < 80 then 'student'
                        when mod(k * 7919 + d.district_idx * 31, 100) < 92 then 'staff'
                        else 'community' end as stakeholder
                    from generate_series(0::bigint, d.n_requesters - 1) as k
                ) as r
            ) as u
            """,
            params,
        )
        counts["zendesk_users"] = cur.rowcount
        for table, base, names in (
            ("zendesk_groups", GROUP_BASE, "initcap(replace(x.name, '_', ' '))"),
            ("zendesk_organizations", ORG_BASE, "d.name || ' School ' || x.n"),
        ):
            rows = (
                f"unnest(array[{', '.join(map(repr, DEPARTMENTS))}]) with ordinality as x (name, n)"
                if table == "zendesk_groups"
                else "generate_series(1, d.n_schools) as x (n)"
            )
            cur = conn.execute(
                f"""
                insert into raw.{table} ({RAW_COLUMNS})
                select 'zendesk', d.source_instance, d.district_id, ({base} + x.n)::text, %(at)s,
                    null,
                    jsonb_build_object('id', {base} + x.n, 'name', {names},
                        'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/{table[8:]}/'
                            || ({base} + x.n) || '.json',
                        'created_at', {_iso("%(at)s::timestamptz")},
                        'updated_at', {_iso("%(at)s::timestamptz")}, 'deleted', false),
                    {load}, {batch}, '{table[8:]} page 1'
                from bench_gen.districts as d
                cross join lateral {rows}
                """,
                params,
            )
            counts[table] = cur.rowcount
        self._say(f"raw.zendesk_users {counts['zendesk_users']:,}, groups, organizations")
        return counts

    def _record_runs(self, conn, night: bool) -> None:
        """ops.extract_runs rows for the batches landed, as RawWriter leaves them."""
        since = (
            "where _batch_id like 'bench_night:%%'"
            if night
            else "where _batch_id not like 'bench_night:%%'"
        )
        union = " union all ".join(
            f"select _batch_id, source_instance, _loaded_at from raw.{t} {since}"
            for t in RAW_TABLES
        )
        conn.execute(
            f"""
            insert into ops.extract_runs (run_id, batch_id, source_instance, source_type,
                started_at, finished_at, status, records_loaded, pages)
            select split_part(_batch_id, ':', 1), _batch_id, source_instance, 'zendesk',
                min(_loaded_at), max(_loaded_at), 'success', count(*), 0
            from ({union}) as landed
            group by _batch_id, source_instance
            on conflict (batch_id) do nothing
            """
        )

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("drop schema if exists bench_gen cascade")


def _drop_raw_indexes(conn) -> list[tuple[str, str, str, str | None]]:
    """Drop the raw tables' indexes (primary keys included); returns what restores them."""
    rows = conn.execute(
        """
        select c.relname, i.relname, pg_get_indexdef(i.oid), con.conname,
            pg_get_constraintdef(con.oid)
        from pg_index as x
        inner join pg_class as i on x.indexrelid = i.oid
        inner join pg_class as c on x.indrelid = c.oid
        inner join pg_namespace as n on c.relnamespace = n.oid
        left join pg_constraint as con on con.conindid = i.oid and con.contype = 'p'
        where n.nspname = 'raw' and c.relname = any(%s)
        """,
        (list(RAW_TABLES),),
    ).fetchall()
    for table, index, _def, constraint, _cdef in rows:
        if constraint:
            conn.execute(f'alter table raw."{table}" drop constraint "{constraint}"')
        else:
            conn.execute(f'drop index raw."{index}"')
    return [
        (t, d if c is None else f'alter table raw."{t}" add constraint "{c}" {cd}', c, cd)
        for t, _i, d, c, cd in rows
    ]


def _restore_raw_indexes(conn, indexes) -> None:
    conn.execute("set maintenance_work_mem = '1GB'")
    for _table, ddl, _c, _cd in indexes:
        conn.execute(ddl)


def _hash_key() -> bytes:
    from schoolcx.privacy import hash_key

    return hash_key()


def vacuum_analyze(url: str, tables=RAW_TABLES) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for t in tables:
            conn.execute(f"vacuum analyze raw.{t}")
        conn.execute("checkpoint")


def planned_tickets(url: str, before: dt.datetime) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from bench_gen.plan where t0 < %s", (before,)
        ).fetchone()[0]


# --------------------------------------------------------------------------------------------
# dbt runs and measurements
# --------------------------------------------------------------------------------------------


@dataclass
class DbtRun:
    seconds: float
    returncode: int
    statuses: dict[str, int]
    nodes: dict[str, dict]  # unique_id -> {seconds, status, rows, kind, materialized}
    node_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    project: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_dbt(
    url: str,
    cfg: DeploymentConfig,
    as_of: dt.date,
    *,
    full_refresh: bool,
    target_dir: Path,
    select: list[str] | None = None,
    pg_options: str | None = None,
) -> DbtRun:
    """`dbt build` the way the DAG does (pipeline.dbt: its profile, env and vars), into its own
    target path; timed, with per-node times and rows from run_results.json. `pg_options`
    (PGOPTIONS, e.g. "-c enable_mergejoin=off") is for diagnostic variants only."""
    from schoolcx import pipeline

    project = project_fingerprint()

    args = [
        "build",
        "--vars",
        json.dumps(pipeline.dbt_vars(cfg, as_of)),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
    ]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    saved = os.environ.get("PGOPTIONS")
    if pg_options:
        os.environ["PGOPTIONS"] = pg_options
    try:
        started = time.monotonic()
        done = pipeline.dbt(url, args, check=False)
        seconds = time.monotonic() - started
    finally:
        if pg_options:
            os.environ.pop("PGOPTIONS")
            if saved is not None:
                os.environ["PGOPTIONS"] = saved
    if project_fingerprint() != project:
        project["changed_during_run"] = True
    results = json.loads((target_dir / "run_results.json").read_text())
    manifest = json.loads((target_dir / "manifest.json").read_text())
    nodes, statuses, errors = {}, {}, []
    for r in results["results"]:
        uid = r["unique_id"]
        node = manifest["nodes"].get(uid) or manifest.get("unit_tests", {}).get(uid) or {}
        rows = (r.get("adapter_response") or {}).get("rows_affected")
        nodes[uid] = {
            "seconds": round(r["execution_time"], 3),
            "status": r["status"],
            "rows": rows,
            "kind": uid.split(".")[0],
            "materialized": (node.get("config") or {}).get("materialized"),
        }
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if r["status"] in ("error", "fail"):
            errors.append(f"{uid}: {(r.get('message') or '')[:300]}")
    return DbtRun(
        seconds,
        done.returncode,
        statuses,
        nodes,
        round(sum(n["seconds"] for n in nodes.values()), 1),
        errors,
        project,
    )


def project_fingerprint() -> dict:
    """What the timings belong to: git HEAD and a hash of the dbt project, migrations and
    refsync as they are on disk (uncommitted edits included)."""
    from schoolcx.paths import DBT_PROJECT_DIR, PROJECT_ROOT

    digest = hashlib.sha256()
    files = [DBT_PROJECT_DIR / "dbt_project.yml", PROJECT_ROOT / "plugins/schoolcx/refsync.py"]
    for sub in ("models", "macros", "seeds", "tests"):
        files += (DBT_PROJECT_DIR / sub).rglob("*")
    files += (PROJECT_ROOT / "plugins/schoolcx/warehouse/migrations").glob("*.sql")
    for f in sorted(f for f in files if f.is_file()):
        digest.update(str(f.relative_to(PROJECT_ROOT)).encode() + b"\0" + f.read_bytes())
    head = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {"git_head": head or None, "dbt_project_sha256": digest.hexdigest()[:16]}


def relation_name(target_dir: Path, model: str) -> str:
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return manifest["nodes"][f"model.schoolcx.{model}"]["relation_name"]


def compile_inline(url: str, sql: str, target_dir: Path) -> str:
    """dbt's compiled text of an inline query (macros expanded, refs resolved)."""
    from schoolcx.paths import DBT_PROJECT_DIR, dbt_executable
    from schoolcx.pipeline import dbt_env

    done = subprocess.run(
        [
            dbt_executable(),
            "compile",
            "--inline",
            sql,
            "--quiet",
            "--output",
            "json",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target_dir),
            "--log-path",
            str(target_dir / "logs"),
        ],
        env={**os.environ, **dbt_env(url)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout[done.stdout.index("{") :])["compiled"]


BUSINESS_TIME_SQL = """
select count(*) as pairs, sum(measured.minutes) as minutes
from (
    select {{ business_minutes_between('c0', 'p.t0', 'c1', 'p.t1') }} as minutes
    from bench_gen.bt_pairs as p
    left join {{ ref('int_calendar_days') }} as c0
        on c0.district_id = p.district_id and c0.local_date = {{ local_date('p.t0', 'p.tz') }}
    left join {{ ref('int_calendar_days') }} as c1
        on c1.district_id = p.district_id and c1.local_date = {{ local_date('p.t1', 'p.tz') }}
) as measured
"""


def business_time_bench(url: str, target_dir: Path, n: int = 1_000_000, repeats: int = 3) -> dict:
    """Business minutes between created_at and first_response_at for n pairs from
    fct_interactions (copies shifted 52 weeks back when there are fewer), with the macro as
    dbt compiles it; the query sums them so all n are computed and nothing is shipped."""
    fct = relation_name(target_dir, "fct_interactions")
    sql = compile_inline(url, BUSINESS_TIME_SQL, target_dir / "compile")
    with psycopg.connect(url) as conn:
        conn.execute("drop table if exists bench_gen.bt_pairs")
        conn.execute(
            f"""
            create unlogged table bench_gen.bt_pairs as
            select f.district_id, d.timezone as tz, f.created_at - s.shift as t0,
                f.first_response_at - s.shift as t1
            from {fct} as f
            inner join ref.districts as d on f.district_id = d.district_id
            cross join (values (interval '0 days'), (interval '364 days')) as s (shift)
            where f.first_response_at is not null
            limit %s
            """,
            (n,),
        )
        conn.execute("analyze bench_gen.bt_pairs")
        conn.commit()
        pairs = conn.execute("select count(*) from bench_gen.bt_pairs").fetchone()[0]
        conn.execute(sql)  # warm-up
        times = []
        for _ in range(repeats):
            started = time.monotonic()
            got, minutes = conn.execute(sql).fetchone()
            times.append(time.monotonic() - started)
        conn.execute("drop table bench_gen.bt_pairs")
    best = min(times)
    return {
        "pairs": pairs,
        "seconds_best": round(best, 3),
        "seconds_median": round(statistics.median(times), 3),
        "pairs_per_s": round(pairs / best),
        "total_business_minutes": float(minutes),
        "computed": got,
    }


def timed_counts(url: str, relations: list[str]) -> dict[str, dict]:
    """count(*) of each relation, timed (second of two runs: warm cache)."""
    out = {}
    with psycopg.connect(url) as conn:
        for rel in relations:
            conn.execute(f"select count(*) from {rel}")
            started = time.monotonic()
            n = conn.execute(f"select count(*) from {rel}").fetchone()[0]
            out[rel] = {"rows": n, "seconds": round(time.monotonic() - started, 3)}
    return out


def sizes(url: str) -> dict:
    with psycopg.connect(url) as conn:
        db = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        by_schema = conn.execute(
            """
            select n.nspname, sum(pg_total_relation_size(c.oid))
            from pg_class as c join pg_namespace as n on c.relnamespace = n.oid
            where c.relkind in ('r', 'm')
                and n.nspname in ('raw', 'stg', 'int', 'build', 'bench_gen')
            group by n.nspname
            """
        ).fetchall()
        tables = conn.execute(
            """
            select n.nspname || '.' || c.relname, pg_total_relation_size(c.oid), c.reltuples
            from pg_class as c join pg_namespace as n on c.relnamespace = n.oid
            where c.relkind = 'r' and n.nspname in ('raw', 'stg', 'int', 'build')
                and pg_total_relation_size(c.oid) > 8192 * 4
            order by 2 desc
            """
        ).fetchall()
    mb = 1024 * 1024
    return {
        "database_mb": round(db / mb),
        "schema_mb": {s: round(b / mb) for s, b in by_schema},
        "tables": {t: {"mb": round(b / mb, 1), "rows_est": int(r)} for t, b, r in tables},
    }


def server_facts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        settings = dict(
            conn.execute(
                "select name, setting || coalesce(unit, '') from pg_settings where name in"
                " ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_wal_size',"
                " 'max_parallel_workers_per_gather', 'effective_cache_size', 'jit')"
            ).fetchall()
        )
        version = conn.execute("show server_version").fetchone()[0]
    return {"server_version": version, "settings": settings}


def peak_rss_mb() -> dict:
    """Peak RSS of this process and of its largest finished child (the dbt runs)."""
    return {
        "self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


# --------------------------------------------------------------------------------------------
# One scale, end to end
# --------------------------------------------------------------------------------------------


def fresh_database(server_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = server_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    admin, name = url.rsplit("/", 1)
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def prepare(url: str, scale: Scale) -> DeploymentConfig:
    """Migrate the database and sync the scale's config into ref.*."""
    from schoolcx.refsync import sync_config
    from schoolcx.warehouse import migrate

    cfg = deployment_config(scale)
    migrate(url)
    sync_config(url, cfg, today=scale.night_day)
    return cfg


def _model_table(full: DbtRun, incr: DbtRun, top: int = 15) -> list[dict]:
    rows = []
    for uid in set(full.nodes) | set(incr.nodes):
        f, i = full.nodes.get(uid, {}), incr.nodes.get(uid, {})
        kind = uid.split(".")[0]
        name = uid.split(".", 2)[2]
        if kind == "test":
            name = name.rsplit(".", 1)[0]  # without the hash suffix
        rows.append(
            {
                "node": name if kind in ("model", "seed") else f"{kind}: {name}",
                "kind": (f or i).get("kind"),
                "materialized": (f or i).get("materialized"),
                "full_s": f.get("seconds"),
                "incremental_s": i.get("seconds"),
                "rows_full": f.get("rows") if kind == "model" else None,
                "rows_incremental": i.get("rows") if kind == "model" else None,
            }
        )
    rows.sort(key=lambda r: -max(r["full_s"] or 0, r["incremental_s"] or 0))
    return rows[:top]


def disk_needed_gb(scale: Scale) -> float:
    """The disk a scale needs while it runs (GB), from the measured size per student-year."""
    weeks = ((scale.last_day - scale.first_day).days + 1) / 7
    years = min(weeks / SCHOOL_YEAR_WEEKS, 1.0)
    return scale.students * MB_PER_STUDENT_YEAR * years * DISK_HEADROOM / 1024


def check_disk(scale: Scale, data_dir: Path | None) -> None:
    """Refuse a scale the embedded server's disk cannot hold, before generating anything (a full
    disk would stop the warehouse half way). A server named by WAREHOUSE_URL has its own disk."""
    if data_dir is None:
        return
    import shutil

    free = shutil.disk_usage(data_dir).free / 1024**3
    need = disk_needed_gb(scale)
    if free < need:
        raise RuntimeError(
            f"scale {scale.name} needs about {need:.0f} GB of disk while it runs and "
            f"{data_dir} has {free:.0f} GB free: run its last weeks only (--scale "
            f"{scale.name}:12, or BENCH_SCALES=S,{scale.name}:12 make bench, or --weeks N) or "
            "against a larger server (WAREHOUSE_URL)"
        )


def bench_scale(
    scale: Scale,
    server_url: str,
    workdir: Path,
    result: dict,
    keep: bool = False,
    pg_options: str | None = None,
    out=sys.stdout,
    data_dir: Path | None = None,
) -> dict:
    """Measure one scale end to end into `result` (filled as it goes, so a failure keeps what
    was measured)."""
    say = lambda msg: print(f"[{scale.name}] {msg}", file=out, flush=True)  # noqa: E731
    t_all = time.monotonic()
    check_disk(scale, data_dir)
    url = fresh_database(server_url, f"bench_dbt_{scale.name.lower()}")
    say(
        f"database {url.rsplit('/', 1)[1]}; {len(scale.districts)} districts, "
        f"{scale.students:,} students, {scale.first_day} .. {scale.last_day}"
    )
    result.update(
        districts=len(scale.districts),
        students=scale.students,
        first_day=str(scale.first_day),
        last_day=str(scale.last_day),
        night_day=str(scale.night_day),
        server=server_facts(url),
        dbt_threads=int(os.environ.get("SCHOOLCX_DBT_THREADS", "4")),
        pg_options=pg_options,
    )
    target = {kind: workdir / f"target-{scale.name}-{kind}" for kind in ("full", "incremental")}
    try:
        cfg = prepare(url, scale)
        gen = Synthesiser(url, scale, cfg, out)
        stages = {}
        started = time.monotonic()
        planned = gen.plan()
        stages["plan"] = time.monotonic() - started
        say(f"planned {planned:,} tickets in {stages['plan']:.0f}s")
        started = time.monotonic()
        landed = gen.land(night=False)
        stages["land_history"] = time.monotonic() - started
        started = time.monotonic()
        vacuum_analyze(url)
        stages["vacuum_analyze"] = time.monotonic() - started
        interactions = planned_tickets(url, gen.cut_history)
        result["generation"] = {
            "seconds": round(sum(stages.values()), 1),
            "stages": {k: round(v, 1) for k, v in stages.items()},
            "raw_rows_per_s": round(sum(landed.values()) / stages["land_history"]),
        }
        result["raw_rows"] = landed
        result["interactions"] = interactions
        say(
            f"landed {sum(landed.values()):,} raw rows ({interactions:,} tickets) in "
            f"{result['generation']['seconds']:.0f}s"
        )
        result["scan_floor"] = timed_counts(url, [f"raw.{t}" for t in RAW_TABLES])

        say("dbt build --full-refresh")
        full = run_dbt(
            url,
            cfg,
            scale.last_day,
            full_refresh=True,
            target_dir=target["full"],
            pg_options=pg_options,
        )
        say(f"full build {full.seconds:.1f}s {full.statuses}")
        result["full"] = _run_summary(full, interactions)
        if not full.ok:
            raise RuntimeError("full build failed:\n" + "\n".join(full.errors))
        result["size_after_full"] = sizes(url)

        say("business-time microbenchmark")
        result["business_time"] = business_time_bench(url, target["full"])
        say(
            f"business minutes of {result['business_time']['pairs']:,} pairs in "
            f"{result['business_time']['seconds_best']:.2f}s"
        )

        started = time.monotonic()
        night = gen.land(night=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("checkpoint")
        result["night_landing"] = {"rows": night, "seconds": round(time.monotonic() - started, 1)}
        result["night_new_tickets"] = planned_tickets(url, gen.cut_night) - interactions
        say(
            f"night {scale.night_day}: {sum(night.values()):,} raw rows "
            f"({result['night_new_tickets']:,} new tickets)"
        )
        say("dbt build (incremental)")
        incr = run_dbt(
            url,
            cfg,
            scale.night_day,
            full_refresh=False,
            target_dir=target["incremental"],
            pg_options=pg_options,
        )
        say(f"incremental build {incr.seconds:.1f}s {incr.statuses}")
        result["incremental"] = _run_summary(incr, interactions)
        result["models"] = _model_table(full, incr)
        if full.project != incr.project or incr.project.get("changed_during_run"):
            result["warning"] = "the dbt project changed between or during the runs"
        if not incr.ok:
            raise RuntimeError("incremental build failed:\n" + "\n".join(incr.errors))
        result["incremental_over_full"] = round(incr.seconds / full.seconds, 3)
        result["staging_scan"] = timed_counts(url, [f"stg.{v}" for v in STAGING_TABLES])
        gen.drop()
        result["size_after_night"] = sizes(url)
    finally:
        result["peak_rss_mb"] = peak_rss_mb()
        result["total_seconds"] = round(time.monotonic() - t_all, 1)
        if not keep:
            drop_database(url)
    return result


def _run_summary(run: DbtRun, interactions: int) -> dict:
    slowest = sorted(run.nodes.items(), key=lambda kv: -kv[1]["seconds"])[:10]
    by_kind: dict[str, float] = {}
    for node in run.nodes.values():
        by_kind[node["kind"]] = by_kind.get(node["kind"], 0.0) + node["seconds"]
    return {
        "seconds": round(run.seconds, 1),
        "node_seconds_sum": run.node_seconds,
        # node seconds overlap (dbt runs 4 threads); their split says where the time goes
        "model_seconds_sum": round(by_kind.get("model", 0.0), 1),
        "test_seconds_sum": round(by_kind.get("test", 0.0), 1),
        "interactions_per_s": round(interactions / run.seconds),
        "statuses": run.statuses,
        "project": run.project,
        "errors": run.errors,
        "slowest": [{"node": uid, **n} for uid, n in slowest],
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _fmt_s(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def report(results: dict, out=sys.stdout) -> None:
    p = lambda s="": print(s, file=out)  # noqa: E731
    for name, r in results["scales"].items():
        if "incremental_over_full" not in r:
            p(f"\n== scale {name}: incomplete: {r.get('error', '?')[:500]}")
            continue
        p()
        p(
            f"== scale {name}: {r['districts']} district(s), {r['students']:,} students, "
            f"{r['first_day']} .. {r['last_day']} (+ night {r['night_day']}) =="
        )
        if r.get("pg_options"):
            p(f"!! diagnostic variant: dbt ran with PGOPTIONS={r['pg_options']!r}")
        if r.get("warning"):
            p(f"!! {r['warning']}")
        g = r["generation"]
        p(
            f"generation        {g['seconds']:8.1f} s  {g['stages']}"
            f"  ({g['raw_rows_per_s']:,} raw rows/s)"
        )
        p(f"interactions      {r['interactions']:>10,}")
        for t, c in r["raw_rows"].items():
            floor = r["scan_floor"].get(f"raw.{t}", {})
            p(f"  raw.{t:<30} {c:>11,} rows   count(*) {floor.get('seconds', 0):6.2f} s")
        f, i = r["full"], r["incremental"]
        p(
            f"full build        {f['seconds']:8.1f} s  "
            f"({f['interactions_per_s']:,} interactions/s; node time {f['node_seconds_sum']} s:"
            f" models {f['model_seconds_sum']} s, tests {f['test_seconds_sum']} s;"
            f" {f['statuses']})"
        )
        p(
            f"night landed      {sum(r['night_landing']['rows'].values()):>10,} raw rows, "
            f"{r['night_new_tickets']:,} new tickets"
        )
        p(
            f"incremental build {i['seconds']:8.1f} s  (node time {i['node_seconds_sum']} s:"
            f" models {i['model_seconds_sum']} s, tests {i['test_seconds_sum']} s;"
            f" {i['statuses']})"
        )
        p(f"incremental/full  {r['incremental_over_full'] * 100:7.1f} %")
        b = r["business_time"]
        p(
            f"business time     {b['seconds_best']:8.2f} s for {b['pairs']:,} pairs "
            f"(median {b['seconds_median']:.2f} s; {b['pairs_per_s']:,}/s)"
        )
        p(
            f"database          {r['size_after_night']['database_mb']:,} MB  "
            f"{r['size_after_night']['schema_mb']}"
        )
        p(f"peak RSS          {r['peak_rss_mb']}  MB")
        p(f"  {'slowest nodes':<66} {'full s':>7}  {'incr s':>7}   rows full / incr")
        for m in r["models"]:
            p(
                f"  {m['node'][:66]:<66} {_fmt_s(m['full_s']):>7}  "
                f"{_fmt_s(m['incremental_s']):>7}   "
                f"{m['rows_full'] if m['rows_full'] is not None else '-'} / "
                f"{m['rows_incremental'] if m['rows_incremental'] is not None else '-'}"
            )
        p("staging tables (count(*))")
        for v, c in r["staging_scan"].items():
            p(f"  {v:<45} {c['rows']:>11,} rows {c['seconds']:7.2f} s")
    p()
    p("summary")
    for name, r in results["scales"].items():
        if "incremental_over_full" not in r:
            continue
        f, i = r["full"]["seconds"], r["incremental"]["seconds"]
        b = r["business_time"]
        p(
            f"  {name}: {r['interactions']:,} interactions; full build {f:.0f} s; night "
            f"{i:.0f} s = {r['incremental_over_full'] * 100:.0f} % of full; business time "
            f"{b['pairs']:,} pairs in {b['seconds_best']:.2f} s; DB "
            f"{r['size_after_night']['database_mb']:,} MB"
        )
    if "incremental_over_full" in results["scales"].get("S", {}):
        r = results["scales"]["S"]
        p(
            f"  aims: S full build < 120 s: {'met' if r['full']['seconds'] < 120 else 'missed'}; "
            f"night < 10 % of full: {'met' if r['incremental_over_full'] < 0.10 else 'missed'}; "
            "1M business-time < 10 s: "
            f"{'met' if r['business_time']['seconds_best'] < 10 else 'missed'}"
        )


def main(argv: list[str] | None = None) -> int:
    from schoolcx.paths import local_dir
    from schoolcx.settings import apply_defaults
    from schoolcx.warehouse import warehouse_url

    parser = argparse.ArgumentParser(
        prog="python -m schoolcx.sandbox.bench.dbt", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--scale",
        default="S",
        help="S, M or S,M; NAME:N runs that scale's last N school weeks only (M:12)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON results (default SCHOOLCX_HOME/bench/dbt.json)"
    )
    parser.add_argument(
        "--weeks",
        type=int,
        default=None,
        help="reduce each scale to its last N school weeks (same districts and daily volume)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument(
        "--pg-options",
        default=None,
        help='PGOPTIONS for the dbt runs only: diagnostic variants ("-c enable_mergejoin=off")',
    )
    args = parser.parse_args(argv)
    wanted = []  # (scale name, weeks or None)
    for item in (s.strip().upper() for s in args.scale.split(",") if s.strip()):
        name, _, weeks = item.partition(":")
        if name not in SCALES or (weeks and not weeks.isdigit()):
            parser.error(f"unknown scale {item!r}; choose from {sorted(SCALES)}, as NAME or NAME:N")
        wanted.append((name, int(weeks) if weeks else args.weeks))
    apply_defaults()
    os.environ.setdefault("SCHOOLCX_HASH_KEY", BENCH_HASH_KEY)
    out_path = args.out or local_dir() / "bench" / "dbt.json"
    workdir = local_dir() / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    server = warehouse_url()  # WAREHOUSE_URL, else the embedded server under SCHOOLCX_HOME
    data_dir = None if os.environ.get("WAREHOUSE_URL") else local_dir()
    results = {
        "cpus": os.cpu_count(),
        "started": dt.datetime.now(dt.UTC).isoformat(),
        "project": project_fingerprint(),
        "scales": {},
    }
    failed = False
    for name, weeks in wanted:
        scale = SCALES[name]
        if weeks:
            first = scale.last_day - dt.timedelta(days=7 * weeks - 4)  # a Monday
            scale = replace(scale, name=f"{name}-{weeks}w", first_day=first)
        result = results["scales"][scale.name] = {}
        try:
            bench_scale(
                scale, server, workdir, result, args.keep, args.pg_options, data_dir=data_dir
            )
        except Exception as exc:  # keep what was measured; report, go on to the next scale
            failed = True
            result["error"] = f"{type(exc).__name__}: {exc}"[:4000]
            print(f"[{scale.name}] FAILED: {result['error']}", file=sys.stderr, flush=True)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=2, default=str))
    report(results)
    print(f"\nresults: {out_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

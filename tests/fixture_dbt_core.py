"""A small hand-written deployment and raw landing rows for the dbt core models.

Three districts, one per calendar of the shared business-minute examples (Chicago with the
examples' closures, Berlin, Phoenix), and a handful of records per source in the exact landing
shape of docs/landing.md. Every number the tests check is worked out by hand in EXPECTED, with
the arithmetic beside it. `night_two_rows()` is the next night: a new day, a late update to an
old ticket (reopened months later), a late rating.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.load import packing
from schoolcx.privacy import person_hash

HASH_KEY = b"test-only-hash-key"
LINCOLN, HARBOR, DESERT = "1700001", "4800002", "0400003"
CONFIG_TODAY = dt.date(2026, 3, 20)
AS_OF_NIGHT_ONE = "2026-03-20"
AS_OF_NIGHT_TWO = "2026-03-23"

EXAMPLE_CLOSURES = [
    {"start": "2025-12-22", "end": "2026-01-02", "reason": "winter break"},
    "2026-02-13",
]

CONFIG: dict[str, Any] = {
    "name": "dbt-core-test",
    "consortiums": [{"consortium_id": "il-north", "name": "Northern Illinois"}],
    "districts": [
        {
            "district_id": LINCOLN,
            "name": "Lincoln USD",
            "state": "IL",
            "timezone": "America/Chicago",
            "enrollment": {2025: 4000, 2026: 4200},
            "consortium_ids": ["il-north"],
            "calendar": {"closures": EXAMPLE_CLOSURES},
            "mail_domains": ["lincoln.k12.il.us"],
            "student_domains": ["students.lincoln.k12.il.us"],
            "departments": ["transportation", "special_education", "human_resources"],
            "schools": [
                {"school_id": "170000100001", "name": "Lincoln High", "enrollment": {2026: 1200}}
            ],
            "sources": [
                {
                    "name": "lincoln-zendesk",
                    "type": "zendesk",
                    "conn_id": "zd",
                    "start_date": "2025-08-01",
                    "mappings": {
                        "department": {
                            "field": "group_id",
                            "values": {"100": "transportation", "200": "special_education"},
                        },
                        "school": {"field": "organization_id", "values": {"500": "170000100001"}},
                        "stakeholder": {
                            "field": "user_field:relationship",
                            "values": {"parent": "parent", "guardian": "parent"},
                        },
                    },
                },
                {
                    "name": "lincoln-help",
                    "type": "imap",
                    "conn_id": "mail",
                    "start_date": "2025-08-01",
                    "options": {"mailbox_address": "help@lincoln.k12.il.us"},
                },
                {
                    "name": "lincoln-hr",
                    "type": "imap",
                    "conn_id": "mail",
                    "start_date": "2025-08-01",
                    "department": "human_resources",
                    "options": {
                        "mailbox_address": "hr@lincoln.k12.il.us",
                        "internal": True,
                        "responders": ["hr.lead@lincoln.k12.il.us"],
                    },
                },
                {
                    "name": "lincoln-calls",
                    "type": "file_drop",
                    "start_date": "2025-08-01",
                    "options": {
                        "path": "/drop/calls",
                        "kind": "interactions",
                        "columns": {"id": "Call", "created_at": "When"},
                    },
                },
                {
                    "name": "lincoln-ratings",
                    "type": "file_drop",
                    "start_date": "2025-08-01",
                    "options": {
                        "path": "/drop/ratings",
                        "kind": "ratings",
                        "columns": {"id": "id"},
                    },
                },
                {
                    "name": "lincoln-climate",
                    "type": "qualtrics",
                    "conn_id": "qx",
                    "start_date": "2025-08-01",
                    "options": {
                        "survey_id": "SV_1",
                        "kind": "climate",
                        "item_map": {"QID1": "feel_safe", "QID2": "staff_respect"},
                    },
                },
                {
                    "name": "lincoln-poc",
                    "type": "surveymonkey",
                    "conn_id": "sm",
                    "start_date": "2025-08-01",
                    "options": {
                        "survey_id": "SM1",
                        "kind": "point_of_contact",
                        "interaction_ref_question": "q_ref",
                        "rating_question": "q_rate",
                        "rating_scale": [0, 10],
                    },
                },
            ],
        },
        {
            "district_id": HARBOR,
            "name": "Harbor ISD",
            "state": "TX",
            "timezone": "Europe/Berlin",
            "enrollment": {2026: 30000},
            "calendar": {"open": "08:00", "close": "16:00"},
            "sources": [
                {
                    "name": "harbor-fd",
                    "type": "freshdesk",
                    "conn_id": "fd",
                    "start_date": "2025-08-01",
                },
            ],
        },
        {
            "district_id": DESERT,
            "name": "Desert USD",
            "state": "AZ",
            "timezone": "America/Phoenix",
            "enrollment": {2025: 1000},
        },
    ],
}


def config() -> DeploymentConfig:
    return DeploymentConfig.model_validate(CONFIG)


def _h(email: str) -> str:
    return person_hash(email, HASH_KEY)


def _ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _row(
    system: str,
    instance: str,
    district: str,
    source_id: Any,
    updated_at: str,
    payload: dict,
    person: str | None = None,
) -> dict:
    return {
        "source_system": system,
        "source_instance": instance,
        "district_id": district,
        "source_id": str(source_id),
        "updated_at": _ts(updated_at),
        "person_hash": _h(person) if person else None,
        "payload": payload,
    }


# ---------------------------------------------------------------- Zendesk (Lincoln, Chicago)
ZD = "lincoln-zendesk"
AGENT, ADMIN, PARENT, STUDENT, CALLER = 8001, 8002, 9001, 9002, 9003
USERS = {
    AGENT: ("agent", "agent1@lincoln.k12.il.us", "en-US", {}),
    ADMIN: ("admin", "admin@lincoln.k12.il.us", "en-US", {}),
    PARENT: ("end-user", "maria@gmail.com", "es-MX", {"relationship": "parent"}),
    STUDENT: ("end-user", "kid@students.lincoln.k12.il.us", "en-US", {}),
    CALLER: ("end-user", "caller@yahoo.com", "fr", {}),
}


def _user(uid: int) -> dict:
    role, email, locale, fields = USERS[uid]
    return _row(
        "zendesk",
        ZD,
        LINCOLN,
        uid,
        "2025-08-01T00:00:00Z",
        {
            "id": uid,
            "name": f"User {uid}",
            "email": email,
            "role": role,
            "locale": locale,
            "organization_id": None,
            "user_fields": fields,
        },
        email,
    )


def _ticket(
    tid: int,
    created: str,
    version: str,
    status: str,
    *,
    priority: str | None,
    channel: str = "web",
    requester: int = PARENT,
    submitter: int | None = None,
    tags: tuple[str, ...] = (),
    group: int | None = None,
    org: int | None = None,
    ticket_type: str | None = "question",
) -> dict:
    return _row(
        "zendesk",
        ZD,
        LINCOLN,
        tid,
        version,
        {
            "id": tid,
            "created_at": created,
            "updated_at": version,
            "generated_timestamp": int(_ts(version).timestamp()),
            "subject": f"Ticket {tid}",
            "status": status,
            "priority": priority,
            "type": ticket_type,
            "tags": list(tags),
            "via": {"channel": channel, "source": {}},
            "requester_id": requester,
            "submitter_id": submitter or requester,
            "assignee_id": AGENT,
            "group_id": group,
            "organization_id": org,
            "brand_id": 1,
            "custom_fields": [{"id": 360001, "value": "x"}],
            "metric_set": None,
        },
    )


_event_ids = iter(range(50_000, 60_000))


def _event(
    tid: int, at: str, *children: dict, via: str = "Web form", updater: int = PARENT
) -> dict:
    eid = next(_event_ids)
    kids = [dict(c, id=eid * 10 + i) for i, c in enumerate(children)]
    return _row(
        "zendesk",
        ZD,
        LINCOLN,
        eid,
        at,
        {
            "id": eid,
            "ticket_id": tid,
            "timestamp": int(_ts(at).timestamp()),
            "created_at": at,
            "updater_id": updater,
            "via": via,
            "event_type": "Audit",
            "child_events": kids,
        },
    )


def comment(author: int, public: bool = True, via: str = "Web form") -> dict:
    return {
        "event_type": "Comment",
        "public": public,
        "author_id": author,
        "via": via,
        "body": "secret body text",
    }


def status(new: str, old: str | None = None) -> dict:
    child = {"event_type": "Create" if old is None else "Change", "status": new, "via": "Web form"}
    if old is not None:
        child["previous_value"] = old
    return child


def zendesk_rows() -> dict[str, list[dict]]:
    t, e = [], []
    # Z1 1001: Wed 09:00 CDT; trigger auto-reply at 09:10 (not a response); agent 09:45 ->
    # 45 business min; solved 11:00 CDT -> 120 business min. normal, met. Rated good.
    t.append(
        _ticket(
            1001,
            "2025-09-03T14:00:00Z",
            "2025-09-03T16:00:00Z",
            "solved",
            priority="normal",
            group=100,
            org=500,
        )
    )
    e += [
        _event(1001, "2025-09-03T14:00:00Z", status("new"), comment(PARENT)),
        _event(1001, "2025-09-03T14:10:00Z", comment(-1), via="Rule", updater=-1),
        _event(1001, "2025-09-03T14:45:00Z", comment(AGENT), status("open", "new"), updater=AGENT),
        _event(1001, "2025-09-03T16:00:00Z", status("solved", "open"), updater=AGENT),
    ]
    # Z2 1002: Fri 15:00 CDT, tagged bullying (high risk: low -> high, target 540).
    # agent Mon 08:00 -> 120; solved Mon, reopened Tue, re-solved Wed 10:00 CDT:
    # resolution 90 + 540 + 540 + 150 = 1320 business, 6900 calendar minutes.
    t.append(
        _ticket(
            1002,
            "2025-09-05T20:00:00Z",
            "2025-09-10T15:00:00Z",
            "solved",
            priority="low",
            tags=("bullying",),
            requester=STUDENT,
        )
    )
    e += [
        _event(1002, "2025-09-05T20:00:00Z", status("new"), comment(STUDENT), updater=STUDENT),
        _event(
            1002, "2025-09-08T13:00:00Z", comment(AGENT), status("solved", "new"), updater=AGENT
        ),
        _event(
            1002,
            "2025-09-09T13:00:00Z",
            comment(STUDENT),
            status("open", "solved"),
            updater=STUDENT,
        ),
        _event(1002, "2025-09-10T15:00:00Z", status("solved", "open"), updater=AGENT),
    ]
    # Z3 1003: phone call taken by the agent after close (Wed 17:05 CDT): the agent's opening
    # comment is not a response; the agent's second public comment Thu 07:50 CDT -> 20 min.
    t.append(
        _ticket(
            1003,
            "2025-09-03T22:05:00Z",
            "2025-09-04T12:50:00Z",
            "pending",
            priority="urgent",
            channel="voice",
            requester=CALLER,
            submitter=AGENT,
        )
    )
    e += [
        _event(1003, "2025-09-03T22:05:00Z", status("new"), comment(AGENT), updater=AGENT),
        _event(
            1003, "2025-09-04T12:50:00Z", comment(AGENT), status("pending", "new"), updater=AGENT
        ),
    ]
    # Z4 1004: Fri 2026-03-06 16:00 CST, never answered; as of 2026-03-20 (end of day):
    # 30 + 10 * 540 = 5430 > 1080 -> sla_met false.
    t.append(_ticket(1004, "2026-03-06T22:00:00Z", "2026-03-06T22:00:00Z", "new", priority=None))
    e += [_event(1004, "2026-03-06T22:00:00Z", status("new"), comment(PARENT))]
    # Z5 1005: agent comment an hour before creation: quarantined.
    t.append(
        _ticket(1005, "2025-09-10T15:00:00Z", "2025-09-10T15:00:00Z", "open", priority="normal")
    )
    e += [_event(1005, "2025-09-10T14:00:00Z", comment(AGENT), updater=AGENT)]
    # Z6 1006: Fri 2025-10-31 16:00 CDT, urgent; answered Mon 08:00 CST after fall back: 60.
    t.append(
        _ticket(
            1006,
            "2025-10-31T21:00:00Z",
            "2025-11-03T14:00:00Z",
            "open",
            priority="urgent",
            group=100,
        )
    )
    e += [
        _event(1006, "2025-10-31T21:00:00Z", status("new"), comment(PARENT)),
        _event(1006, "2025-11-03T14:00:00Z", comment(ADMIN), status("open", "new"), updater=ADMIN),
    ]
    # Z8 1008: urgent, Fri 2026-03-20 15:00 CDT, unanswered: night one 90 < 240 -> NULL;
    # night two (as of Mon 03-23) 90 + 540 > 240 -> false.
    t.append(
        _ticket(1008, "2026-03-20T20:00:00Z", "2026-03-20T20:00:00Z", "new", priority="urgent")
    )
    e += [_event(1008, "2026-03-20T20:00:00Z", status("new"), comment(PARENT))]
    # Z1 also had an earlier version (open): staging keeps the latest.
    t.append(
        _ticket(
            1001,
            "2025-09-03T14:00:00Z",
            "2025-09-03T14:45:00Z",
            "open",
            priority="normal",
            group=100,
            org=500,
        )
    )
    ratings = [
        _row(
            "zendesk",
            ZD,
            LINCOLN,
            70001,
            "2025-09-03T16:00:00Z",
            {
                "id": 70001,
                "ticket_id": 1001,
                "score": "offered",
                "created_at": "2025-09-03T16:00:00Z",
                "updated_at": "2025-09-03T16:00:00Z",
            },
        ),
        _row(
            "zendesk",
            ZD,
            LINCOLN,
            70001,
            "2025-09-04T10:00:00Z",
            {
                "id": 70001,
                "ticket_id": 1001,
                "score": "good",
                "created_at": "2025-09-03T16:00:00Z",
                "updated_at": "2025-09-04T10:00:00Z",
            },
        ),
        _row(
            "zendesk",
            ZD,
            LINCOLN,
            70002,
            "2025-09-11T10:00:00Z",
            {
                "id": 70002,
                "ticket_id": 1002,
                "score": "bad",
                "created_at": "2025-09-10T15:00:00Z",
                "updated_at": "2025-09-11T10:00:00Z",
            },
        ),
        _row(
            "zendesk",
            ZD,
            LINCOLN,
            70003,
            "2025-09-04T13:00:00Z",
            {
                "id": 70003,
                "ticket_id": 1003,
                "score": "offered",
                "created_at": "2025-09-04T13:00:00Z",
                "updated_at": "2025-09-04T13:00:00Z",
            },
        ),
    ]
    # Z9 1009: deleted (spam) tickets stay in the export: no interaction, not quarantined
    # Z10 1010: created before the source's start_date (2025-08-01), updated since, so in the
    # export: outside the configured history, quarantined with that reason
    t.append(_ticket(1010, "2025-07-15T15:00:00Z", "2025-09-10T16:00:00Z", "open", priority="low"))
    t.append(
        _ticket(1009, "2025-09-05T15:00:00Z", "2025-09-05T16:00:00Z", "deleted", priority=None)
    )
    groups = [
        _row(
            "zendesk",
            ZD,
            LINCOLN,
            100,
            "2025-08-01T00:00:00Z",
            {"id": 100, "name": "Transportation"},
        )
    ]
    orgs = [
        _row(
            "zendesk", ZD, LINCOLN, 500, "2025-08-01T00:00:00Z", {"id": 500, "name": "Lincoln High"}
        )
    ]
    return {
        "zendesk_tickets": t,
        "zendesk_ticket_events": e,
        "zendesk_users": [_user(u) for u in USERS],
        "zendesk_satisfaction_ratings": ratings,
        "zendesk_groups": groups,
        "zendesk_organizations": orgs,
    }


# -------------------------------------------------------------- Freshdesk (Harbor, Berlin)
FD = "harbor-fd"


def _fd_ticket(
    tid: int,
    created: str,
    updated: str,
    status_code: int,
    priority: int | None,
    source: int,
    tags: list[str],
    stats: dict,
) -> dict:
    return _row(
        "freshdesk",
        FD,
        HARBOR,
        tid,
        updated,
        {
            "id": tid,
            "subject": "s",
            "status": status_code,
            "priority": priority,
            "source": source,
            "requester_id": 3001,
            "responder_id": 4001,
            "group_id": 7,
            "company_id": None,
            "tags": tags,
            "custom_fields": {"cf_topic": "enrollment"},
            "type": "Enrollment",
            "created_at": created,
            "updated_at": updated,
            "stats": {
                "first_responded_at": None,
                "resolved_at": None,
                "closed_at": None,
                "reopened_at": None,
                **stats,
            },
        },
    )


def _fd_conv(cid: int, tid: int, at: str, incoming: bool, private: bool) -> dict:
    return _row(
        "freshdesk",
        FD,
        HARBOR,
        cid,
        at,
        {
            "id": cid,
            "ticket_id": tid,
            "user_id": 3001 if incoming else 4001,
            "incoming": incoming,
            "private": private,
            "source": 0 if not private else 2,
            "created_at": at,
            "updated_at": at,
            "from_email": "x@y.z",
            "to_emails": [],
        },
    )


def freshdesk_rows() -> dict[str, list[dict]]:
    tickets = [
        # F1 2001: Fri 15:00 CET, phone; private note is no response; public reply Mon 09:00
        # CEST -> 60 + 60 = 120; resolved Mon 10:00 CEST -> 180 business, 5400 calendar.
        _fd_ticket(
            2001,
            "2026-03-27T14:00:00Z",
            "2026-03-30T08:00:00Z",
            4,
            2,
            3,
            [],
            {"first_responded_at": "2026-03-30T07:00:00Z", "resolved_at": "2026-03-30T08:00:00Z"},
        ),
        # F2 2002: Fri 15:30 CEST, tagged Safety (normal -> high); no conversations landed:
        # stats.first_responded_at Mon 08:30 CET -> 30 + 30 = 60.
        _fd_ticket(
            2002,
            "2025-10-24T13:30:00Z",
            "2025-10-27T07:30:00Z",
            2,
            None,
            1,
            ["Safety"],
            {"first_responded_at": "2025-10-27T07:30:00Z"},
        ),
        # F3 2003: an outbound email (source 10) started by the district: no interaction
        _fd_ticket(2003, "2025-10-28T09:00:00Z", "2025-10-28T09:00:00Z", 2, 1, 10, [], {}),
    ]
    convs = [
        _fd_conv(5001, 2001, "2026-03-27T14:00:00Z", True, False),
        _fd_conv(5002, 2001, "2026-03-27T14:30:00Z", False, True),
        _fd_conv(5003, 2001, "2026-03-30T07:00:00Z", False, False),
    ]
    contacts = [
        _row(
            "freshdesk",
            FD,
            HARBOR,
            3001,
            "2025-08-01T00:00:00Z",
            {
                "id": 3001,
                "name": "P",
                "email": "p@web.de",
                "language": "de",
                "company_id": None,
                "custom_fields": {},
            },
            "p@web.de",
        )
    ]
    surveys = [
        _row(
            "freshdesk",
            FD,
            HARBOR,
            11,
            "2025-08-01T00:00:00Z",
            {
                "id": 11,
                "title": "CSAT",
                "active": True,
                "questions": [
                    {
                        "id": "default_question",
                        "label": "How did we do?",
                        "accepted_ratings": [-103, -102, 100, 102, 103],
                    }
                ],
            },
        )
    ]
    ratings = [
        # 102 is the 4th of 5 codes: 1 + 4 * 3 / 4 = 4
        _row(
            "freshdesk",
            FD,
            HARBOR,
            91,
            "2026-03-30T09:00:00Z",
            {
                "id": 91,
                "survey_id": 11,
                "ticket_id": 2001,
                "user_id": 3001,
                "ratings": {"default_question": 102},
                "created_at": "2026-03-30T09:00:00Z",
                "updated_at": "2026-03-30T09:00:00Z",
            },
        ),
        # 101 is not one of the survey's codes: out of scale
        _row(
            "freshdesk",
            FD,
            HARBOR,
            92,
            "2025-10-28T09:00:00Z",
            {
                "id": 92,
                "survey_id": 11,
                "ticket_id": 2002,
                "user_id": 3001,
                "ratings": {"default_question": 101},
                "created_at": "2025-10-28T09:00:00Z",
                "updated_at": "2025-10-28T09:00:00Z",
            },
        ),
    ]
    return {
        "freshdesk_tickets": tickets,
        "freshdesk_conversations": convs,
        "freshdesk_contacts": contacts,
        "freshdesk_surveys": surveys,
        "freshdesk_satisfaction_ratings": ratings,
    }


# ------------------------------------------------------------------ IMAP (Lincoln mailboxes)
def _msg(
    instance: str,
    mid: str,
    at: str,
    sender: str,
    *,
    thread: str,
    reply_to: str | None = None,
    folder: str = "INBOX",
    auto: bool = False,
    list_id: str | None = None,
    mailbox: str = "help@lincoln.k12.il.us",
) -> dict:
    domain = sender.split("@")[1]
    district = domain == "lincoln.k12.il.us"
    return _row(
        "imap",
        instance,
        LINCOLN,
        mid,
        at,
        {
            "message_id": f"<{mid}>",
            "in_reply_to": f"<{reply_to}>" if reply_to else None,
            "references": [],
            "subject": "Hello",
            "date": at.replace("Z", "+00:00"),
            "from_address": sender,
            "from_domain": domain,
            "to_domains": ["lincoln.k12.il.us"],
            "folder": folder,
            "uid": 1,
            "uidvalidity": 1,
            "mailbox": mailbox,
            "headers": {
                "auto_submitted": "auto-replied" if auto else None,
                "x_autoreply": None,
                "x_autorespond": None,
                "precedence": None,
                "list_id": list_id,
            },
            "_schoolcx": {
                "thread_id": thread,
                "direction": "outbound" if district else "inbound",
                "is_automated": auto,
                "sender_is_district": district,
            },
        },
        sender,
    )


def imap_rows() -> dict[str, list[dict]]:
    h, hr = "lincoln-help", "lincoln-hr"
    hrbox = "hr@lincoln.k12.il.us"
    return {
        "imap_messages": [
            # T1: parent writes 06:10 CDT (before open); auto-reply at once; human 08:00 -> 30.
            _msg(h, "t1@gmail.com", "2025-09-03T11:10:00Z", "mom@gmail.com", thread="t1@gmail.com"),
            _msg(
                h,
                "t1-auto@lincoln",
                "2025-09-03T11:10:05Z",
                "help@lincoln.k12.il.us",
                thread="t1@gmail.com",
                reply_to="t1@gmail.com",
                auto=True,
                folder="Sent",
            ),
            _msg(
                h,
                "t1-re@lincoln",
                "2025-09-03T13:00:00Z",
                "help@lincoln.k12.il.us",
                thread="t1@gmail.com",
                reply_to="t1@gmail.com",
                folder="Sent",
            ),
            # T2: started by the district: not an interaction.
            _msg(
                h,
                "t2@lincoln",
                "2025-09-04T15:00:00Z",
                "help@lincoln.k12.il.us",
                thread="t2@lincoln",
                folder="Sent",
            ),
            # T3: a mailing-list message: automated starter, not an interaction.
            _msg(
                h,
                "t3@news.com",
                "2025-09-04T15:00:00Z",
                "news@news.com",
                thread="t3@news.com",
                list_id="<news.news.com>",
            ),
            # T4: internal HR mailbox, a teacher writes Fri 10:00 CDT; a colleague's reply is not
            # an agent's; the responder answers 11:00 -> 60. Staff, human_resources.
            _msg(
                hr,
                "t4@lincoln",
                "2025-09-05T15:00:00Z",
                "teacher@lincoln.k12.il.us",
                thread="t4@lincoln",
                mailbox=hrbox,
            ),
            _msg(
                hr,
                "t4-cc@lincoln",
                "2025-09-05T15:30:00Z",
                "colleague@lincoln.k12.il.us",
                thread="t4@lincoln",
                reply_to="t4@lincoln",
                mailbox=hrbox,
            ),
            _msg(
                hr,
                "t4-re@lincoln",
                "2025-09-05T16:00:00Z",
                "hr.lead@lincoln.k12.il.us",
                thread="t4@lincoln",
                reply_to="t4@lincoln",
                mailbox=hrbox,
            ),
        ]
    }


# -------------------------------------------------------------------- file drops and surveys
def _file_row(
    instance: str, kind: str, key: str, at: str, row: dict, person: str | None = None
) -> dict:
    return _row(
        "file_drop",
        instance,
        LINCOLN,
        f"{kind}.csv:{key}",
        at,
        {"file": f"{kind}.csv", "file_sha256": "0" * 64, "row_number": 2, "kind": kind, "row": row},
        person,
    )


def file_and_survey_rows() -> dict[str, list[dict]]:
    calls = "lincoln-calls"
    files = [
        # walk-in, naive local time 09:00 CDT (14:00Z); special education (normal -> high);
        # answered 10:00 CDT -> 60.
        _file_row(
            calls,
            "interactions",
            "C1",
            "2025-09-16T00:00:00Z",
            {
                "id": "C1",
                "created_at": "2025-09-15 09:00",
                "channel": "walk-in",
                "topic": "special_education",
                "priority": "medium",
                "requester_email": "dad@gmail.com",
                "first_response_at": "2025-09-15T10:00:00-05:00",
                "resolved_at": "",
            },
            "dad@gmail.com",
        ),
        # unparseable creation time: quarantined
        _file_row(
            calls,
            "interactions",
            "C2",
            "2025-09-16T00:00:00Z",
            {
                "id": "C2",
                "created_at": "yesterday-ish",
                "channel": "phone",
                "topic": "bus",
                "priority": "low",
                "requester_email": "",
                "first_response_at": "",
                "resolved_at": "",
            },
        ),
        # ratings: 4 on 1-5 for Z3 -> 4; 9 on 1-10 for Z6 -> 1 + 4 * 8 / 9 = 4.5555...;
        # 7 on 1-5 for Z6 -> out of scale (rejected).
        _file_row(
            "lincoln-ratings",
            "ratings",
            "R1",
            "2025-09-20T00:00:00Z",
            {
                "id": "R1",
                "interaction_id": "lincoln-zendesk:1003",
                "rated_at": "2025-09-05T12:00:00Z",
                "rating": "4",
                "scale_lo": "1",
                "scale_hi": "5",
            },
        ),
        _file_row(
            "lincoln-ratings",
            "ratings",
            "R2",
            "2025-11-20T00:00:00Z",
            {
                "id": "R2",
                "interaction_id": "1006",
                "rated_at": "2025-11-04T12:00:00Z",
                "rating": "9",
                "scale_lo": "1",
                "scale_hi": "10",
            },
        ),
        # good/bad in a file: good = 5 (docs/metrics.md), no numeric scale needed
        _file_row(
            "lincoln-ratings",
            "ratings",
            "R4",
            "2025-09-20T00:00:00Z",
            {
                "id": "R4",
                "interaction_id": "1004",
                "rated_at": "2025-09-19T12:00:00Z",
                "rating": "good",
                "scale_lo": "",
                "scale_hi": "",
            },
        ),
        _file_row(
            "lincoln-ratings",
            "ratings",
            "R3",
            "2025-11-20T00:00:00Z",
            {
                "id": "R3",
                "interaction_id": "1006",
                "rated_at": "2025-11-05T12:00:00Z",
                "rating": "7",
                "scale_lo": "1",
                "scale_hi": "5",
            },
        ),
    ]
    qualtrics = []
    answers = [(5, 3), (4, 5), (2, None), (6, None), (None, None)]
    for i, (q1, q2) in enumerate(answers):
        values = {
            "startDate": "2025-10-01T14:00:00Z",
            "endDate": "2025-10-01T14:05:00Z",
            "recordedDate": "2025-10-01T14:05:00Z",
            "QID9_TEXT": "free text here",
        }
        if q1 is not None:
            values["QID1"] = q1
        if q2 is not None:
            values["QID2"] = q2
        qualtrics.append(
            _row(
                "qualtrics",
                "lincoln-climate",
                LINCOLN,
                f"R_{i}",
                "2025-10-01T14:05:00Z",
                {"responseId": f"R_{i}", "values": values, "labels": {}},
            )
        )
    # point-of-contact: the choice "8" of a 0-10 question listed from 10 down (3rd of 11
    # choices: its number, not its position, is the rating) -> 1 + 4 * 8 / 10 = 4.2, for Z2,
    # after its Zendesk 'bad': the latest rating counts.
    monkey = [
        _row(
            "surveymonkey",
            "lincoln-poc",
            LINCOLN,
            "SMR1",
            "2025-09-12T10:00:00Z",
            {
                "id": "SMR1",
                "survey_id": "SM1",
                "date_created": "2025-09-12T10:00:00+00:00",
                "date_modified": "2025-09-12T10:00:00+00:00",
                "pages": [
                    {
                        "id": "p1",
                        "questions": [
                            {"id": "q_ref", "answers": [{"text": "lincoln-zendesk:1002"}]},
                            {"id": "q_rate", "answers": [{"choice_id": "c9"}]},
                        ],
                    }
                ],
                "_schoolcx": {
                    "answers": {
                        "q_rate": {"choice_id": "c9", "position": 3, "text": "8", "choices": 11}
                    }
                },
            },
        )
    ]
    return {
        "file_drop_rows": files,
        "qualtrics_responses": qualtrics,
        "surveymonkey_responses": monkey,
    }


def night_one_rows() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for part in (zendesk_rows(), freshdesk_rows(), imap_rows(), file_and_survey_rows()):
        for table, rows in part.items():
            out.setdefault(table, []).extend(rows)
    return out


def night_two_rows() -> dict[str, list[dict]]:
    """A new service day (Mon 2026-03-23) and late updates to old records, one per path an
    incremental run must follow: a new ticket, a reopened one, a deleted one, an older version
    landed late, a requester whose locale changed, a late Freshdesk reply, an earlier message
    that makes a mail thread district-started, a new file row and a late rating."""
    return {
        "zendesk_users": [
            # the caller of Z3 1003 changed their locale: 1003's language follows
            _row(
                "zendesk",
                ZD,
                LINCOLN,
                CALLER,
                "2026-03-23T12:00:00Z",
                {
                    "id": CALLER,
                    "name": f"User {CALLER}",
                    "email": USERS[CALLER][1],
                    "role": "end-user",
                    "locale": "de-DE",
                    "organization_id": None,
                    "user_fields": {},
                },
                USERS[CALLER][1],
            )
        ],
        "freshdesk_conversations": [
            # F2 2002 had no conversations landed: a public agent reply Mon 2025-10-27 08:00 CET
            # now comes first (before stats.first_responded_at 08:30)
            _fd_conv(5004, 2002, "2025-10-27T07:00:00Z", False, False),
        ],
        "imap_messages": [
            # T1 turns out to have been started by the district (an earlier Sent message): no
            # longer an interaction
            _msg(
                "lincoln-help",
                "t1-first@lincoln",
                "2025-09-03T11:00:00Z",
                "help@lincoln.k12.il.us",
                thread="t1@gmail.com",
                folder="Sent",
            ),
        ],
        "file_drop_rows": [
            _file_row(
                "lincoln-calls",
                "interactions",
                "C3",
                "2026-03-23T20:00:00Z",
                {
                    "id": "C3",
                    "created_at": "2026-03-23 09:00",
                    "channel": "phone",
                    "topic": "bus",
                    "priority": "low",
                    "requester_email": "",
                    "first_response_at": "2026-03-23 09:20",
                    "resolved_at": "",
                },
            ),
        ],
        "zendesk_tickets": [
            # Z4 1004 deleted (spam): no longer an interaction, its day's count drops
            _ticket(1004, "2026-03-06T22:00:00Z", "2026-03-23T15:30:00Z", "deleted", priority=None),
            # an older version of Z6 1006 landed late: the latest version still wins
            _ticket(
                1006,
                "2025-10-31T21:00:00Z",
                "2025-11-01T10:00:00Z",
                "new",
                priority="urgent",
                group=100,
            ),
            # Z7 1007: Mon 09:00 CDT, answered 09:30 -> 30.
            _ticket(
                1007,
                "2026-03-23T14:00:00Z",
                "2026-03-23T14:30:00Z",
                "open",
                priority="high",
                tags=("threat",),
            ),
            # Z1 reopened six months later: no longer resolved, reopened.
            _ticket(
                1001,
                "2025-09-03T14:00:00Z",
                "2026-03-23T15:00:00Z",
                "open",
                priority="normal",
                group=100,
                org=500,
            ),
        ],
        "zendesk_ticket_events": [
            _event(1007, "2026-03-23T14:00:00Z", status("new"), comment(PARENT)),
            _event(
                1007, "2026-03-23T14:30:00Z", comment(AGENT), status("open", "new"), updater=AGENT
            ),
            _event(1001, "2026-03-23T15:00:00Z", comment(PARENT), status("open", "solved")),
        ],
        # a late Zendesk rating for Z6 (newer than the file-drop 9/10): good -> 5
        "zendesk_satisfaction_ratings": [
            _row(
                "zendesk",
                ZD,
                LINCOLN,
                70006,
                "2026-03-23T16:00:00Z",
                {
                    "id": 70006,
                    "ticket_id": 1006,
                    "score": "good",
                    "created_at": "2026-03-23T16:00:00Z",
                    "updated_at": "2026-03-23T16:00:00Z",
                },
            ),
        ],
    }


LOADED_NOW = dt.timedelta(0)


def insert_rows(
    url: str, tables: dict[str, list[dict]], batch_id: str, loaded_ago: dt.timedelta = LOADED_NOW
) -> int:
    """Land rows as a load `loaded_ago` back (_loaded_at), so that a later night's incremental
    run recomputes only what that night loaded (and what its lookback reaches). Each table's
    rows land as one page through the writer's statement (packing.land_sql): packed payloads,
    and the projection kept on the latest version of each record only."""
    n = 0
    packers = packing.TablePackers()  # raw holds what the writer would land (packed payloads)
    columns = (
        "source_system, source_instance, district_id, source_id, updated_at, person_hash,"
        " payload, _batch_id, _loaded_at, payload_z, payload_dict"
    )
    with psycopg.connect(url) as conn:
        for table, rows in tables.items():
            packers.prepare(conn, table, (packing.encode(r["payload"]) for r in rows))
            conn.execute(
                "create temp table if not exists _landing"
                " (like raw.zendesk_tickets including defaults)"
            )
            conn.execute("delete from _landing")
            for r in rows:
                payload, payload_z, payload_dict = packers.columns(table, r["payload"])
                conn.execute(
                    f"insert into _landing ({columns}) values (%s, %s, %s, %s, %s, %s,"
                    " %s::jsonb, %s, now() - %s::interval, %s, %s)",
                    (
                        r["source_system"],
                        r["source_instance"],
                        r["district_id"],
                        r["source_id"],
                        r["updated_at"],
                        r["person_hash"],
                        payload,
                        batch_id,
                        loaded_ago,
                        payload_z,
                        payload_dict,
                    ),
                )
                n += 1
            conn.execute(
                packing.land_sql(table, [c.strip() for c in columns.split(",")], "_landing")
            )
    return n

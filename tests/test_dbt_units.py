"""Below the district: schools, departments, stakeholder types and languages of interactions
(docs/metrics.md "Who, where and how"), built with real dbt on a small hand-written world.

One Chicago district with two schools and three departments; a Zendesk source that maps school
by organisation then by brand, department by group then by a custom field, and stakeholder by
a user field then by the requester's organisation; an ordinary help mailbox that belongs to one
school as a whole, with a community domain mapped; an internal HR mailbox with one responder.
Every expected value below is worked out by hand beside the record it comes from.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from schoolcx.config import DeploymentConfig
from schoolcx.refsync import sync_config
from tests import fixture_dbt_core as fx
from tests.test_dbt_core import _dbt, _rows

LINCOLN = fx.LINCOLN
HIGH, MIDDLE = "170000100001", "170000100002"
ZD, FD, HELP, HR = "u-zendesk", "u-freshdesk", "u-help", "u-hr"
HRBOX = "hr@lincoln.k12.il.us"

CONFIG = {
    "name": "units-test",
    "districts": [
        {
            "district_id": LINCOLN,
            "name": "Lincoln USD",
            "state": "IL",
            "timezone": "America/Chicago",
            "enrollment": {2025: 4000, 2026: 4200},
            "mail_domains": ["lincoln.k12.il.us"],
            "student_domains": ["students.lincoln.k12.il.us"],
            "departments": ["transportation", "special_education", "human_resources"],
            "schools": [
                {"school_id": HIGH, "name": "Lincoln High", "enrollment": {2025: 1100, 2026: 1200}},
                {"school_id": MIDDLE, "name": "Lincoln Middle", "enrollment": {2025: 800}},
            ],
            "sources": [
                {
                    "name": ZD,
                    "type": "zendesk",
                    "conn_id": "zd",
                    "start_date": "2025-08-01",
                    "mappings": {
                        "school": [
                            {"field": "organization_id", "values": {"500": MIDDLE}},
                            {"field": "brand_id", "values": {"2": HIGH, "3": MIDDLE}},
                        ],
                        "department": [
                            {"field": "group_id", "values": {"100": "transportation"}},
                            {
                                "field": "custom_field:360005",
                                "values": {
                                    "bus_route": "transportation",
                                    "IEP": "special_education",
                                },
                            },
                        ],
                        "stakeholder": [
                            {"field": "user_field:relationship", "values": {"guardian": "parent"}},
                            {"field": "requester_organization_id", "values": {"700": "staff"}},
                        ],
                    },
                },
                {
                    "name": FD,
                    "type": "freshdesk",
                    "conn_id": "fd",
                    "start_date": "2025-08-01",
                    "mappings": {
                        "school": [
                            {"field": "company_id", "values": {"41": HIGH}},
                            {"field": "product_id", "values": {"9": MIDDLE}},
                        ],
                        "department": {
                            "field": "custom_field:cf_department",
                            "values": {"Bus": "transportation"},
                        },
                        "stakeholder": {
                            "field": "contact_field:cf_role",
                            "values": {"Teacher": "staff"},
                        },
                    },
                },
                {
                    "name": HELP,
                    "type": "imap",
                    "conn_id": "mail",
                    "start_date": "2025-08-01",
                    "school_id": HIGH,
                    "options": {"mailbox_address": "help@lincoln.k12.il.us"},
                    "mappings": {
                        "stakeholder": {
                            "field": "domain",
                            "values": {"lincolnpta.org": "community"},
                        }
                    },
                },
                {
                    "name": HR,
                    "type": "imap",
                    "conn_id": "mail",
                    "start_date": "2025-08-01",
                    "department": "human_resources",
                    "options": {
                        "mailbox_address": HRBOX,
                        "internal": True,
                        "responders": ["hr.lead@lincoln.k12.il.us"],
                    },
                },
            ],
        }
    ],
}

AGENT, GUARDIAN, TEACHER, STUDENT, STRANGER = 8101, 9101, 9102, 9103, 9104
USERS = {
    # id: (role, email, locale, user organisation, user fields)
    AGENT: ("agent", "agent@lincoln.k12.il.us", "en-US", None, {}),
    GUARDIAN: ("end-user", "ana@gmail.com", "es-419", None, {"relationship": "Guardian"}),
    TEACHER: ("end-user", "t.smith@gmail.com", None, 700, {}),
    STUDENT: ("end-user", "kid@students.lincoln.k12.il.us", "pt_BR", None, {}),
    STRANGER: ("end-user", "someone@yahoo.com", "", None, {"relationship": "neighbour"}),
}


def _user(uid: int) -> dict:
    role, email, locale, org, fields = USERS[uid]
    payload = {
        "id": uid,
        "name": f"User {uid}",
        "email": email,
        "role": role,
        "locale": locale,
        "organization_id": org,
        "user_fields": fields,
    }
    return fx._row("zendesk", ZD, LINCOLN, uid, "2025-08-01T00:00:00Z", payload, email)


def _ticket(tid: int, requester: int, *, group=None, org=None, brand=1, custom=None) -> dict:
    created = "2025-09-03T14:00:00Z"  # Wed 09:00 CDT
    payload = {
        "id": tid,
        "created_at": created,
        "updated_at": "2025-09-03T15:00:00Z",
        "generated_timestamp": int(fx._ts("2025-09-03T15:00:00Z").timestamp()),
        "subject": f"Ticket {tid}",
        "status": "open",
        "priority": "normal",
        "type": "question",
        "tags": [],
        "via": {"channel": "web", "source": {}},
        "requester_id": requester,
        "submitter_id": requester,
        "assignee_id": AGENT,
        "group_id": group,
        "organization_id": org,
        "brand_id": brand,
        "custom_fields": [{"id": 360005, "value": custom}, {"id": 360009, "value": "IEP"}],
        "metric_set": None,
    }
    return fx._row("zendesk", ZD, LINCOLN, tid, "2025-09-03T15:00:00Z", payload)


def _events(tid: int, requester: int) -> list[dict]:
    # opened 09:00 CDT, the agent answers 10:00 CDT: 60 business minutes
    return [
        fx._event(
            tid, "2025-09-03T14:00:00Z", fx.status("new"), fx.comment(requester), updater=requester
        ),
        fx._event(
            tid,
            "2025-09-03T15:00:00Z",
            fx.comment(AGENT),
            fx.status("open", "new"),
            updater=AGENT,
        ),
    ]


def _fd_ticket(tid: int, contact: int, *, company=None, product=None, department=None) -> dict:
    payload = {
        "id": tid,
        "subject": "s",
        "status": 2,
        "priority": 1,
        "source": 2,  # portal: web
        "requester_id": contact,
        "responder_id": None,
        "group_id": None,
        "company_id": company,
        "product_id": product,
        "tags": [],
        "custom_fields": {"cf_department": department},
        "type": None,
        "created_at": "2025-09-03T14:00:00Z",
        "updated_at": "2025-09-03T14:00:00Z",
        "stats": {"first_responded_at": None, "resolved_at": None, "closed_at": None},
    }
    return fx._row("freshdesk", FD, LINCOLN, tid, "2025-09-03T14:00:00Z", payload)


def _fd_contact(cid: int, email: str, language: str | None, fields: dict) -> dict:
    payload = {
        "id": cid,
        "name": "C",
        "email": email,
        "language": language,
        "company_id": None,
        "custom_fields": fields,
    }
    return fx._row("freshdesk", FD, LINCOLN, cid, "2025-08-01T00:00:00Z", payload, email)


def _rows_to_land() -> dict[str, list[dict]]:
    tickets = [
        # 3001: organisation 500 -> Middle, and brand 2 -> High: the organisation mapping comes
        # first in config, so Middle. Group 100 -> transportation, before the custom field's
        # IEP -> special_education (config order, not alphabetical). The guardian's field
        # ("Guardian", matched case-insensitively) -> parent; locale es-419 -> es.
        _ticket(3001, GUARDIAN, group=100, org=500, brand=2, custom="IEP"),
        # 3002: no organisation; brand 2 -> High. Group unmapped; custom field 360005 "iep"
        # -> special_education (360009 also says IEP but is not mapped). Requester in user
        # organisation 700 -> staff. No locale -> unknown.
        _ticket(3002, TEACHER, group=999, brand=2, custom="iep"),
        # 3003: nothing maps: brand 9, no group, relationship "neighbour" not in the mapping,
        # a yahoo address: school NULL, department NULL, stakeholder unknown; locale "" ->
        # unknown.
        _ticket(3003, STRANGER, brand=9),
        # 3004: a student-domain requester without any mapped field -> student; brand 3 ->
        # Middle; custom field bus_route -> transportation; locale pt_BR -> pt.
        _ticket(3004, STUDENT, brand=3, custom="bus_route"),
    ]
    events = [
        ev
        for tid, who in ((3001, GUARDIAN), (3002, TEACHER), (3003, STRANGER), (3004, STUDENT))
        for ev in _events(tid, who)
    ]
    mails = [
        # H1: a student writes to the help mailbox Wed 09:00 CDT: an interaction (a student
        # domain is not the district's own), stakeholder student; the mailbox belongs to
        # Lincoln High as a whole; the help desk answers 09:30 -> 30. Language unknown.
        fx._msg(
            HELP, "h1@s", "2025-09-03T14:00:00Z", "kid2@students.lincoln.k12.il.us", thread="h1@s"
        ),
        fx._msg(
            HELP,
            "h1-re@s",
            "2025-09-03T14:30:00Z",
            "help@lincoln.k12.il.us",
            thread="h1@s",
            reply_to="h1@s",
        ),
        # H2: the PTA writes from its own domain: community (domain mapping), High.
        fx._msg(HELP, "h2@pta", "2025-09-03T14:00:00Z", "chair@lincolnpta.org", thread="h2@pta"),
        # R1: internal HR mailbox. A teacher (district domain) writes Wed 09:00 CDT: staff. A
        # colleague answers 09:20 (not an agent there); the HR mailbox itself answers 09:45:
        # the first response, 45 business minutes; then the responder at 10:00. Two agent
        # responses. human_resources (the mailbox as a whole), no school.
        fx._msg(
            HR,
            "r1@l",
            "2025-09-03T14:00:00Z",
            "teacher@lincoln.k12.il.us",
            thread="r1@l",
            mailbox=HRBOX,
        ),
        fx._msg(
            HR,
            "r1-cc@l",
            "2025-09-03T14:20:00Z",
            "colleague@lincoln.k12.il.us",
            thread="r1@l",
            reply_to="r1@l",
            mailbox=HRBOX,
        ),
        fx._msg(
            HR,
            "r1-box@l",
            "2025-09-03T14:45:00Z",
            HRBOX,
            thread="r1@l",
            reply_to="r1@l",
            mailbox=HRBOX,
        ),
        fx._msg(
            HR,
            "r1-lead@l",
            "2025-09-03T15:00:00Z",
            "hr.lead@lincoln.k12.il.us",
            thread="r1@l",
            reply_to="r1@l",
            mailbox=HRBOX,
        ),
        # R2: an applicant from outside writes HR: an interaction, stakeholder unknown (no
        # domain mapping says who they are), unanswered.
        fx._msg(
            HR, "r2@g", "2025-09-03T14:00:00Z", "applicant@gmail.com", thread="r2@g", mailbox=HRBOX
        ),
        # R3: the responder writes first (to a colleague): an agent's message, no interaction.
        fx._msg(
            HR,
            "r3@l",
            "2025-09-03T14:00:00Z",
            "hr.lead@lincoln.k12.il.us",
            thread="r3@l",
            mailbox=HRBOX,
        ),
    ]
    freshdesk = [
        # 4001: company 41 -> High (before product 9 -> Middle); custom field cf_department
        # "Bus" -> transportation; the contact's cf_role "teacher" -> staff; language es.
        _fd_ticket(4001, 61, company=41, product=9, department="Bus"),
        # 4002: no company, product 9 (Freshdesk's brand) -> Middle; no department; a
        # student-domain contact without a role -> student; no language -> unknown.
        _fd_ticket(4002, 62, product=9),
    ]
    contacts = [
        _fd_contact(61, "m.lee@gmail.com", "es", {"cf_role": "teacher"}),
        _fd_contact(62, "kid3@students.lincoln.k12.il.us", None, {}),
    ]
    return {
        "freshdesk_tickets": freshdesk,
        "freshdesk_contacts": contacts,
        "zendesk_tickets": tickets,
        "zendesk_ticket_events": events,
        "zendesk_users": [_user(u) for u in USERS],
        "imap_messages": mails,
    }


SELECTION = ["+fct_interactions", "+dim_school", "+dim_department", "+unit_mapping_coverage"]


@pytest.fixture(scope="module")
def built(module_warehouse, tmp_path_factory):
    url = module_warehouse
    tmp = tmp_path_factory.mktemp("dbt_units")
    sync_config(url, DeploymentConfig.model_validate(CONFIG), today=fx.CONFIG_TODAY)
    fx.insert_rows(url, _rows_to_land(), "units-1")
    done = _dbt(url, tmp, "build", as_of=fx.AS_OF_NIGHT_ONE, select=SELECTION)
    return url, done.stdout


def test_a_unit_of_another_district_fails_the_build(built, tmp_path):
    url, stdout = built
    test = "assert_interaction_units_belong_to_their_district"
    assert f"PASS {test}" in stdout.replace("\x1b[32m", "").replace("\x1b[0m", "")
    with psycopg.connect(url) as conn:
        conn.execute(
            "update build.fct_interactions set department = 'nutrition' where source_id = '3001'"
        )
    try:
        done = _dbt(url, tmp_path, "test", as_of=fx.AS_OF_NIGHT_ONE, select=[test], check=False)
        assert done.returncode == 1 and "Got 1 result" in done.stdout, done.stdout[-3000:]
    finally:
        with psycopg.connect(url) as conn:
            conn.execute(
                "update build.fct_interactions set department = 'transportation'"
                " where source_id = '3001'"
            )


def _facts(url) -> dict[str, dict]:
    return {r["source_id"]: r for r in _rows(url, "select * from build.fct_interactions")}


UNITS = ("school_id", "department", "stakeholder_type", "language", "channel")


def test_units_of_helpdesk_tickets_by_hand(built):
    url, _ = built
    fct = _facts(url)
    assert {k: tuple(fct[k][c] for c in UNITS) for k in ("3001", "3002", "3003", "3004")} == {
        "3001": (MIDDLE, "transportation", "parent", "es", "web"),
        "3002": (HIGH, "special_education", "staff", "unknown", "web"),
        "3003": (None, None, "unknown", "unknown", "web"),
        "3004": (MIDDLE, "transportation", "student", "pt", "web"),
    }


def test_units_of_freshdesk_tickets_by_hand(built):
    url, _ = built
    fct = _facts(url)
    assert {k: tuple(fct[k][c] for c in UNITS) for k in ("4001", "4002")} == {
        "4001": (HIGH, "transportation", "staff", "es", "web"),
        "4002": (MIDDLE, None, "student", "unknown", "web"),
    }


def test_units_of_mail_threads_and_the_internal_mailbox(built):
    url, _ = built
    fct = _facts(url)
    assert "r3@l" not in fct  # the responder's own thread is no contact
    got = {
        k: (*(fct[k][c] for c in UNITS), fct[k]["first_response_business_minutes"])
        for k in ("h1@s", "h2@pta", "r1@l", "r2@g")
    }
    assert got == {
        "h1@s": (HIGH, None, "student", "unknown", "email", Decimal(30)),
        "h2@pta": (HIGH, None, "community", "unknown", "email", None),
        "r1@l": (None, "human_resources", "staff", "unknown", "email", Decimal(45)),
        "r2@g": (None, "human_resources", "unknown", "unknown", "email", None),
    }
    assert fct["r1@l"]["agent_response_count"] == 2  # the mailbox and the responder, not the cc


def test_school_and_department_dimensions(built):
    url, _ = built
    schools = _rows(url, "select * from build.dim_school order by school_id")
    # as of 2026-03-20: school year 2026; Middle has no 2026 figure, so its 2025 one
    assert [
        (s["school_id"], s["name"], s["enrollment_school_year"], s["enrollment"]) for s in schools
    ] == [
        (HIGH, "Lincoln High", 2026, 1200),
        (MIDDLE, "Lincoln Middle", 2026, 800),
    ]
    departments = _rows(url, "select * from build.dim_department order by department")
    # special_education and human_resources have contacts, all three are listed
    assert [(d["department"], d["label"]) for d in departments] == [
        ("human_resources", "Human resources"),
        ("special_education", "Special education"),
        ("transportation", "Transportation"),
    ]
    per_year = _rows(
        url,
        "select school_year, enrollment from int.int_school_enrollment where school_id = %s "
        "and school_year in (2024, 2025, 2026, 2027) order by 1",
        MIDDLE,
    )
    # the earliest figure before it, the nearest earlier one after
    assert [(r["school_year"], r["enrollment"]) for r in per_year] == [
        (2024, 800),
        (2025, 800),
        (2026, 800),
        (2027, 800),
    ]


def test_unmapped_interactions_are_counted_and_warned(built):
    url, stdout = built
    rows = _rows(
        url,
        "select source_instance, unit_type, interactions, unmapped_interactions, unmapped_share "
        "from build.unit_mapping_coverage where school_year = 2026",
    )
    got = {(r["source_instance"], r["unit_type"]): r for r in rows}
    zd_school = got[(ZD, "school")]
    # 1 of 4 tickets (3003) has no school: 25 %
    assert (zd_school["interactions"], zd_school["unmapped_interactions"]) == (4, 1)
    assert zd_school["unmapped_share"] == Decimal("0.2500")
    assert got[(ZD, "department")]["unmapped_interactions"] == 1  # 3003
    assert got[(ZD, "stakeholder_type")]["unmapped_interactions"] == 1  # 3003
    assert got[(ZD, "language")]["unmapped_interactions"] == 2  # 3002, 3003
    assert got[(HR, "school")]["unmapped_share"] == Decimal("1.0000")  # HR is central
    assert got[(HR, "stakeholder_type")]["unmapped_interactions"] == 1  # the applicant
    # every unit type's interactions add up to the facts
    total = _rows(url, "select count(*) as n from build.fct_interactions")[0]["n"]
    for unit in ("school", "department", "stakeholder_type", "channel", "language"):
        assert sum(r["interactions"] for (_, u), r in got.items() if u == unit) == total
    # the build warns with the number of unmapped interactions of the current school year:
    # schools 1 (3003) + 2 (HR) = 3; departments 1 (3003) + 1 (4002) + 2 (help mailbox) = 4;
    # stakeholders 1 (3003) + 1 (applicant) = 2; channels 0 -> 9
    assert "Got 9 results, configured to warn if != 0" in stdout

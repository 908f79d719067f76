"""A Zendesk Support API v2 emulator that renders a World's interactions over real sockets.

Endpoints (under a per-source path prefix, e.g. http://127.0.0.1:PORT/<source_name>):
- GET /api/v2/incremental/tickets/cursor.json  (start_time | cursor, per_page <= 1000,
  include=metric_sets): cursor export ordered by generated_timestamp, after_cursor,
  end_of_stream; items changed in the last minute before "now" are excluded, like Zendesk.
- GET /api/v2/incremental/users/cursor.json: the same for users (ordered by updated_at).
- GET /api/v2/incremental/ticket_events.json (start_time, include=comment_events): time-based
  export; next start_time = end_time = the last item's time, so items sharing that second are
  served again on the next page (Zendesk's documented boundary duplicates). The envelope has
  count, next_page and end_time and no end_of_stream, as real responses show.
- GET /api/v2/satisfaction_ratings (start_time/end_time on created_at, page[size]/page[after]),
  /api/v2/groups, /api/v2/organizations: cursor pagination (meta.has_more, links.next); like
  real responses, links.next is set on the last page too (meta.has_more false).

Shapes real accounts send (tests/fixtures/recorded/SOURCES.md): a World channel "other" is a
ticket an integration made (via.channel "api"); a share of tickets has a deleted twin (status
"deleted", subject "SCRUBBED": spam or a duplicate, in the export but no interaction, not in the
World); the comments of every third ticket come in the compact form (comment_present,
comment_public, the author only as the event's updater) even when the sideload is asked, and
every ticket's do when it is not.

Metric sets (include=metric_sets) carry the documented duration objects, whole minutes
`{"calendar": n, "business": n}` and both null while no reply has come; business minutes are on
the account's schedule (`vendor_schedule`): the district's hours and federal holidays, not the
district's own closures, as a real account is often configured.

Basic auth `{email}/token:{api_token}`; anything else is a 401. The World is "now-free": the
server's now is the end of world.as_of (UTC) unless set. Tests can mutate the World between runs,
append raw records (`add_raw`) to exercise validation, and have pages served twice.

`serve_synthetic(n)` serves N tickets synthesised from their index (nothing materialised), for
the extraction benchmark; it runs in a child process so the server does not share the client's
GIL.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import multiprocessing
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.sandbox.demo.clock import ServiceClock
from schoolcx.sandbox.demo.world import Interaction, Person, World
from schoolcx.sandbox.emulators.http_base import EmulatorServer, Faults, Request, Response

UTC = dt.UTC
SYSTEM_USER_ID = -1
BRAND_ID = 360000001
CUSTOM_FIELD_TOPIC = 360010001
CUSTOM_FIELD_SCHOOL = 360010002
MAX_PAGE = 1000
EMULATOR_TOKEN = "zd-emulator-token"  # noqa: S105 - a fake credential for a local emulator
EXCLUDE_RECENT_SECONDS = 60  # Zendesk leaves out items changed in the last minute

# World channel -> Zendesk via.channel. walk_in has no Zendesk channel; the emulator uses the
# value the staging model maps to walk_in so that end-to-end tests can see it.
CHANNEL = {
    "web": "web",
    "email": "email",
    "phone": "voice",
    "chat": "chat",
    "social": "twitter",
    "walk_in": "walk_in",
    "other": "api",
}
# The audit's `via` string for a person writing through that channel.
VIA_TEXT = {
    "web": "Web form",
    "email": "Mail",
    "phone": "Voice",
    "chat": "Chat",
    "social": "Twitter",
    "walk_in": "Web form",
    "other": "Web service",
}


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(t: dt.datetime) -> int:
    return int(t.timestamp())


def world_now(world: World) -> dt.datetime:
    """The end of the world's last date, in UTC: the emulated server's clock."""
    return dt.datetime.combine(world.as_of + dt.timedelta(days=1), dt.time(), tzinfo=UTC)


def encode_cursor(ts: int, key: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}|{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int] | None:
    try:
        ts, key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        return int(ts), int(key)
    except (ValueError, UnicodeDecodeError):
        return None


def _locale(lang: str) -> str:
    return "en-US" if lang == "en" else lang


def _user_id(person: Person) -> int:
    return SYSTEM_USER_ID if person.role == "system" else person.person_id


# --------------------------------------------------------------------------------------------
# Rendering a World source into Zendesk records
# --------------------------------------------------------------------------------------------


@dataclass
class Rendered:
    tickets: list[dict] = field(default_factory=list)
    metric_sets: dict[int, dict] = field(default_factory=dict)
    users: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    organizations: list[dict] = field(default_factory=list)
    ticket_events: list[dict] = field(default_factory=list)
    satisfaction_ratings: list[dict] = field(default_factory=list)


def _named_ids(its: list[Interaction], attr: str, base: int) -> dict[str, int]:
    """name -> vendor id: the World's own id when it gives one, else a stable derived one."""
    given = {getattr(i, attr): getattr(i, f"{attr}_id", None) for i in its if getattr(i, attr)}
    derived = {name: base + n for n, name in enumerate(sorted(given))}
    return {name: given[name] or derived[name] for name in given}


def _status_history(it: Interaction) -> list[tuple[dt.datetime, str, str]]:
    """(at, previous, new) for each status change, starting from `new`."""
    current, out = "new", []
    for e in sorted(it.events, key=lambda e: (e.at, e.event_id)):
        if e.kind == "status" and e.status and e.status != current:
            out.append((e.at, current, e.status))
            current = e.status
    return out


def _current_status(it: Interaction) -> str:
    history = _status_history(it)
    if history:
        return history[-1][2]
    return "open" if any(e.kind == "agent_reply" for e in it.events) else "new"


def vendor_schedule(world: World, source_name: str) -> ServiceClock | None:
    """The Zendesk schedule of a source's account: the district's weekly hours in its time zone
    with the federal holidays as schedule holidays, but none of the district's own closures
    (breaks, snow days), which accounts rarely enter. Our calendar has them: this is the
    difference the vendor_reconciliation mart explains. None when the World's config does not
    name the source (a hand-made World)."""
    try:
        cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
        district, _source = cfg.source(source_name)
    except (KeyError, ValueError, TypeError, AttributeError, yaml.YAMLError):
        return None
    vendor = district.model_copy(
        update={"calendar": district.calendar.model_copy(update={"closures": []})}
    )
    its = world.for_source(source_name)
    first = min((i.created_at for i in its), default=world_now(world)).date()
    return ServiceClock(vendor, first - dt.timedelta(days=7), world.as_of + dt.timedelta(days=60))


def _minutes(a: dt.datetime, b: dt.datetime | None, schedule: ServiceClock | None = None) -> dict:
    """A duration metric as Zendesk writes it: whole minutes, calendar and business (on the
    account's schedule), both null while the clock runs (no reply yet)."""
    if b is None:
        return {"calendar": None, "business": None}
    m = int((b - a).total_seconds() // 60)
    if schedule is None:
        return {"calendar": m, "business": m}  # no schedule: Zendesk counts calendar time
    return {"calendar": m, "business": int(schedule.minutes_between(a.timestamp(), b.timestamp()))}


def _metric_set(it: Interaction, ticket: dict, schedule: ServiceClock | None = None) -> dict:
    opening = it.opening_comment
    replies = [
        e
        for e in sorted(it.events, key=lambda e: (e.at, e.event_id))
        if e.kind == "agent_reply" and e is not opening
    ]
    history = _status_history(it)
    solves = [at for at, _prev, new in history if new in ("solved", "closed")]
    reopens = sum(
        1
        for _at, prev, new in history
        if prev in ("solved", "closed") and new not in ("solved", "closed")
    )
    solved_at = solves[-1] if solves and _current_status(it) in ("solved", "closed") else None
    comments = [e.at for e in it.events if e.kind != "status"]
    tid = it.interaction_id
    return {
        "url": f"https://example.zendesk.com/api/v2/ticket_metrics/{7_000_000_000 + tid}.json",
        "id": 7_000_000_000 + tid,
        "ticket_id": tid,
        "created_at": ticket["created_at"],
        "updated_at": ticket["updated_at"],
        "group_stations": 1 if it.group else 0,
        "assignee_stations": 1 if it.assignee else 0,
        "reopens": reopens,
        "replies": len(replies),
        "assignee_updated_at": None,
        "requester_updated_at": None,
        "status_updated_at": iso(history[-1][0]) if history else ticket["created_at"],
        "initially_assigned_at": ticket["created_at"] if it.assignee else None,
        "assigned_at": ticket["created_at"] if it.assignee else None,
        "solved_at": iso(solved_at) if solved_at else None,
        "latest_comment_added_at": iso(max(comments)) if comments else ticket["created_at"],
        "reply_time_in_minutes": _minutes(
            it.created_at, replies[0].at if replies else None, schedule
        ),
        "first_resolution_time_in_minutes": _minutes(
            it.created_at, solves[0] if solves else None, schedule
        ),
        "full_resolution_time_in_minutes": _minutes(it.created_at, solved_at, schedule),
        "agent_wait_time_in_minutes": {"calendar": None, "business": None},
        "requester_wait_time_in_minutes": {"calendar": None, "business": None},
        "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
    }


def _ticket(it: Interaction, groups: dict, orgs: dict) -> dict:
    tid = it.interaction_id
    updated = it.updated_at
    good_bad = [r for r in it.ratings if r.scale == "good_bad"]
    opener = it.assignee if it.opened_by_agent and it.assignee else it.requester
    custom = [
        {"id": CUSTOM_FIELD_TOPIC, "value": it.topic},
        {"id": CUSTOM_FIELD_SCHOOL, "value": it.school_id},
    ]
    return {
        "url": f"https://example.zendesk.com/api/v2/tickets/{tid}.json",
        "id": tid,
        "external_id": None,
        "via": {"channel": CHANNEL[it.channel], "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": iso(it.created_at),
        "updated_at": iso(updated),
        "generated_timestamp": epoch(updated),
        "type": "question",
        "subject": it.subject,
        "raw_subject": it.subject,
        "description": it.subject,
        "priority": it.priority,
        "status": _current_status(it),
        "recipient": None,
        "requester_id": it.requester.person_id,
        "submitter_id": _user_id(opener),
        "assignee_id": it.assignee.person_id if it.assignee else None,
        "organization_id": orgs.get(it.organization),
        "group_id": groups.get(it.group),
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": list(it.tags),
        "custom_fields": custom,
        "fields": custom,
        "satisfaction_rating": (
            {"score": max(good_bad, key=lambda r: r.at).value} if good_bad else None
        ),
        "sharing_agreement_ids": [],
        "followup_ids": [],
        "ticket_form_id": 360000010,
        "brand_id": BRAND_ID,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }


def _comment(cid: int, via: str, author_id: int, public: bool, body: str) -> dict:
    return {
        "id": cid,
        "via": via,
        "event_type": "Comment",
        "type": "Comment",
        "author_id": author_id,
        "public": public,
        "body": body,
        "attachments": [],
    }


def _compact(child: dict) -> dict:
    """A comment child without the comment_events sideload: public flag only; the author is
    the event's updater (every audit here is made by its comment's author)."""
    if child.get("event_type") != "Comment":
        return child
    return {
        "id": child["id"],
        "via": child["via"],
        "via_reference_id": None,
        "comment_present": True,
        "comment_public": child["public"],
        "event_type": "Comment",
    }


COMPACT_EVERY = 3  # every third ticket's comments come compact even with the sideload asked
DELETED_EVERY = 10  # one ticket in ten has a deleted twin (spam, a duplicate)
DELETED_ID_BASE = 900_000_000


def _deleted_twin(it: Interaction) -> dict:
    """A ticket made through the API beside `it` and deleted: what a cursor export page carries
    for it (Zendesk scrubs the subject and description)."""
    created = it.created_at + dt.timedelta(minutes=7)
    deleted = created + dt.timedelta(hours=2)
    tid = DELETED_ID_BASE + it.interaction_id
    ticket = _ticket(it, {}, {})
    ticket.update(
        url=f"https://example.zendesk.com/api/v2/tickets/{tid}.json",
        id=tid,
        via={"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        created_at=iso(created),
        updated_at=iso(deleted),
        generated_timestamp=epoch(deleted),
        subject="SCRUBBED",
        raw_subject="SCRUBBED",
        description="X",
        status="deleted",
        assignee_id=None,
        organization_id=None,
        group_id=None,
        tags=[],
        satisfaction_rating=None,
        submitter_id=it.requester.person_id,
    )
    return ticket


def _audit(aid: int, tid: int, at: dt.datetime, updater: int, via: str, children) -> dict:
    return {
        "id": aid,
        "ticket_id": tid,
        "timestamp": epoch(at),
        "created_at": iso(at),
        "updater_id": updater,
        "via": via,
        "event_type": "Audit",
        "child_events": children,
    }


def _ticket_events(it: Interaction) -> list[dict]:
    """One audit for the creation and one per World event, with Create/Change/Comment children."""
    tid = it.interaction_id
    opening = it.opening_comment
    opener = it.assignee if it.opened_by_agent and it.assignee else it.requester
    via = VIA_TEXT[it.channel]
    aid = 2_000_000_000 + tid
    create = _audit(
        aid,
        tid,
        it.created_at,
        _user_id(opener),
        via,
        [
            {"id": aid * 10 + 1, "via": via, "event_type": "Create", "status": "new"},
            {"id": aid * 10 + 2, "via": via, "event_type": "Create", "priority": it.priority},
            {"id": aid * 10 + 3, "via": via, "event_type": "Create", "subject": it.subject},
            _comment(aid * 10 + 4, via, _user_id(opener), True, it.subject),
        ],
    )
    out = [create]
    current = "new"
    for e in sorted(it.events, key=lambda e: (e.at, e.event_id)):
        if e is opening:
            continue
        aid = 1_000_000_000 + e.event_id
        author = _user_id(e.author)
        if e.kind == "status":
            if not e.status or e.status == current:
                continue
            ev_via = "Rule" if author == SYSTEM_USER_ID else "Web form"
            child = {
                "id": aid * 10 + 1,
                "via": ev_via,
                "event_type": "Change",
                "status": e.status,
                "previous_value": current,
                "field_name": "status",
            }
            current = e.status
            out.append(_audit(aid, tid, e.at, author, ev_via, [child]))
            continue
        if e.kind == "auto_reply":
            ev_via, public = "Rule", True
        elif e.kind == "agent_note":
            ev_via, public = "Web form", False
        elif e.kind == "requester_reply":
            ev_via, public = via, True
        else:
            ev_via, public = "Web form", True
        out.append(
            _audit(
                aid,
                tid,
                e.at,
                author,
                ev_via,
                [_comment(aid * 10 + 1, ev_via, author, public, f"{e.kind} {tid}")],
            )
        )
    return out


def _users(its: list[Interaction], orgs: dict) -> list[dict]:
    first_seen: dict[int, tuple[dt.datetime, Person]] = {}
    org_of: dict[int, int | None] = {}
    for it in sorted(its, key=lambda i: i.created_at):
        people = [it.requester] + ([it.assignee] if it.assignee else [])
        people += [e.author for e in it.events]
        for p in people:
            if p.role == "system" or p.person_id in first_seen:
                continue
            first_seen[p.person_id] = (it.created_at, p)
        if it.requester.person_id not in org_of:
            org_of[it.requester.person_id] = orgs.get(it.organization)
    out = []
    for pid, (seen, p) in first_seen.items():
        at = iso(seen - dt.timedelta(days=1))
        out.append(
            {
                "id": pid,
                "url": f"https://example.zendesk.com/api/v2/users/{pid}.json",
                "name": p.name,
                "email": p.email,
                "role": "agent" if p.role == "agent" else "end-user",
                "locale": _locale(p.locale),
                "time_zone": "America/Chicago",
                "organization_id": org_of.get(pid),
                "created_at": at,
                "updated_at": at,
                "active": True,
                "verified": True,
                "suspended": False,
                "tags": [],
                "user_fields": {
                    "stakeholder_type": (
                        None if p.role == "agent" or not p.role_on_file else p.role
                    )
                },
            }
        )
    return out


def _ratings(its: list[Interaction], groups: dict) -> list[dict]:
    out = []
    for it in its:
        good_bad = sorted((r for r in it.ratings if r.scale == "good_bad"), key=lambda r: r.at)
        if not good_bad:
            continue
        rid = 5_000_000_000 + it.interaction_id
        out.append(
            {
                "url": f"https://example.zendesk.com/api/v2/satisfaction_ratings/{rid}.json",
                "id": rid,
                "ticket_id": it.interaction_id,
                "score": good_bad[-1].value,
                "created_at": iso(good_bad[0].at),
                "updated_at": iso(good_bad[-1].at),
                "requester_id": it.requester.person_id,
                "assignee_id": it.assignee.person_id if it.assignee else None,
                "group_id": groups.get(it.group),
                "comment": None,
                "reason": None,
            }
        )
    return out


def render(world: World, source_name: str) -> Rendered:
    its = world.for_source(source_name)
    groups = _named_ids(its, "group", 360000100)
    orgs = _named_ids(its, "organization", 360000500)
    out = Rendered()
    schedule = vendor_schedule(world, source_name)
    for it in its:
        t = _ticket(it, groups, orgs)
        out.tickets.append(t)
        out.metric_sets[it.interaction_id] = _metric_set(it, t, schedule)
        events = _ticket_events(it)
        if it.interaction_id % COMPACT_EVERY == 0:
            for e in events:
                e["child_events"] = [_compact(c) for c in e["child_events"]]
        out.ticket_events.extend(events)
        if it.interaction_id % DELETED_EVERY == DELETED_EVERY - 3:
            out.tickets.append(_deleted_twin(it))
    out.users = _users(its, orgs)
    out.satisfaction_ratings = _ratings(its, groups)
    first = iso(min((i.created_at for i in its), default=world_now(world)) - dt.timedelta(days=30))
    out.groups = [
        {
            "id": gid,
            "name": name,
            "url": f"https://example.zendesk.com/api/v2/groups/{gid}.json",
            "default": False,
            "deleted": False,
            "description": "",
            "created_at": first,
            "updated_at": first,
        }
        for name, gid in groups.items()
    ]
    out.organizations = [
        {
            "id": oid,
            "name": name,
            "url": f"https://example.zendesk.com/api/v2/organizations/{oid}.json",
            "domain_names": [],
            "details": "",
            "external_id": None,
            "group_id": None,
            "shared_tickets": False,
            "tags": [],
            "organization_fields": {},
            "created_at": first,
            "updated_at": first,
        }
        for name, oid in orgs.items()
    ]
    return out


# --------------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------------


def _ts_of(record: dict, key: str) -> int:
    """Sort key of a raw record. A test's broken record says where it goes with `__at`."""
    if "__at" in record:
        return record["__at"]
    value = record.get(key)
    if isinstance(value, int):
        return value
    try:
        return epoch(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        return 0


def _id_of(record: dict) -> int:
    return record["id"] if isinstance(record.get("id"), int) else -1


def _clean(page: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "__at"} if "__at" in r else r for r in page]


def _error(status: int, error: str, description: str = "") -> Response:
    return Response.json({"error": error, "description": description}, status=status)


def _int_arg(req: Request, name: str, default: int | None = None) -> int | None:
    value = req.arg(name)
    if value is None:
        return default
    return int(value)


class ZendeskEmulator:
    """A running emulator for one or more Zendesk sources of a World."""

    def __init__(
        self,
        world: World | None,
        source_names: list[str],
        faults: Faults | None = None,
        *,
        email: str = "api@district.example",
        token: str = EMULATOR_TOKEN,
        now: dt.datetime | None = None,
        serve_twice: dict[str, set[int]] | None = None,
        frozen: bool = False,
    ):
        self.world = world
        self.frozen = frozen
        self._rendered: dict[str, Rendered] = {}
        self.sources = list(source_names)
        self.email = email
        self.token = token
        self.now = now or (world_now(world) if world else dt.datetime.now(UTC))
        # endpoint kind -> 1-based request numbers of that kind answered with the previous page
        self.serve_twice = serve_twice or {}
        self.extra: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self._count: dict[str, int] = defaultdict(int)
        self._last: dict[str, Response] = {}
        self.server = EmulatorServer(self.handle, faults)

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> ZendeskEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def connection(self, source_name: str) -> dict:
        return {
            "conn_type": "http",
            "host": f"{self.server.url}/{source_name}",
            "login": self.email,
            "password": self.token,
        }

    def add_raw(self, source_name: str, kind: str, record: dict) -> None:
        """Serve `record` as-is in `kind` (tickets, users, ticket_events, ...): schema drift and
        broken records for validation tests."""
        self.extra[source_name][kind].append(record)

    def requests_to(self, fragment: str) -> list[tuple[str, str, int]]:
        return [r for r in self.server.requests if fragment in r[1]]

    # data ----------------------------------------------------------------------------------
    def records(self, source_name: str, kind: str) -> tuple[list[dict], Rendered]:
        """What the source holds now: the World rendered afresh (tests mutate it), or once when
        `frozen` (the demo: the World does not change while served), + raw extras."""
        assert self.world is not None
        if not self.frozen:
            rendered = render(self.world, source_name)
        elif source_name not in self._rendered:
            rendered = self._rendered[source_name] = render(self.world, source_name)
        else:
            rendered = self._rendered[source_name]
        extra = [dict(r) for r in self.extra[source_name][kind]]
        return list(getattr(rendered, kind)) + extra, rendered

    # routing -------------------------------------------------------------------------------
    def _authorised(self, req: Request) -> bool:
        header = req.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == f"{self.email}/token" and secret == self.token

    def handle(self, req: Request) -> Response:
        source, _, rest = req.path.strip("/").partition("/")
        if source not in self.sources:
            return _error(404, "InvalidEndpoint", "Not found")
        if not self._authorised(req):
            return _error(401, "Couldn't authenticate you")
        base = f"{self.server.url}/{source}"
        routes = {
            "api/v2/incremental/tickets/cursor.json": "tickets",
            "api/v2/incremental/users/cursor.json": "users",
            "api/v2/incremental/ticket_events.json": "ticket_events",
            "api/v2/satisfaction_ratings": "satisfaction_ratings",
            "api/v2/satisfaction_ratings.json": "satisfaction_ratings",
            "api/v2/groups": "groups",
            "api/v2/groups.json": "groups",
            "api/v2/organizations": "organizations",
            "api/v2/organizations.json": "organizations",
        }
        kind = routes.get(rest)
        if kind is None:
            return _error(404, "InvalidEndpoint", "Not found")
        self._count[kind] += 1
        if self._count[kind] in self.serve_twice.get(kind, ()) and kind in self._last:
            return self._last[kind]  # the same page again, as a flaky export sometimes does
        try:
            resp = self._route(kind, source, base, req)
        except ValueError as exc:
            return _error(400, "InvalidPaginationParameter", str(exc))
        self._last[kind] = resp
        return resp

    def _route(self, kind: str, source: str, base: str, req: Request) -> Response:
        if kind in ("tickets", "users"):
            key = "generated_timestamp" if kind == "tickets" else "updated_at"
            records, rendered = self.records(source, kind)
            items = sorted(records, key=lambda r: (_ts_of(r, key), _id_of(r)))
            body = cursor_export(kind, items, key, req, base, self.now)
            if kind == "tickets" and "metric_sets" in (req.arg("include") or ""):
                ms = rendered.metric_sets
                body["metric_sets"] = [
                    ms[t["id"]]
                    for t in body["tickets"]
                    if isinstance(t.get("id"), int) and t["id"] in ms
                ]
            return Response.json(body)
        if kind == "ticket_events":
            return Response.json(self._events(source, base, req))
        return Response.json(self._listing(kind, source, base, req))

    def _events(self, source: str, base: str, req: Request) -> dict:
        start = _int_arg(req, "start_time")
        if start is None:
            raise ValueError("start_time is required")
        per_page = min(_int_arg(req, "per_page", MAX_PAGE) or MAX_PAGE, MAX_PAGE)
        horizon = epoch(self.now) - EXCLUDE_RECENT_SECONDS
        events = sorted(
            (
                e
                for e in self.records(source, "ticket_events")[0]
                if start <= _ts_of(e, "timestamp") <= horizon
            ),
            key=lambda e: (_ts_of(e, "timestamp"), _id_of(e)),
        )
        page = events[:per_page]

        def more_needed() -> bool:
            # Every item of the last second goes on this page, and a page never ends on the
            # second it started from, so the next start_time always moves forward.
            if not page or len(page) == len(events):
                return False
            last = _ts_of(page[-1], "timestamp")
            return last == start or _ts_of(events[len(page)], "timestamp") == last

        while more_needed():
            page.append(events[len(page)])
        end_time = _ts_of(page[-1], "timestamp") if page else start
        if "comment_events" not in (req.arg("include") or ""):
            page = [
                {**e, "child_events": [_compact(c) for c in e.get("child_events", [])]}
                for e in page
            ]
        query = {"start_time": end_time, "include": req.arg("include") or "", "per_page": per_page}
        return {
            "ticket_events": _clean(page),
            "next_page": f"{base}/api/v2/incremental/ticket_events.json?{urlencode(query)}",
            "count": len(page),
            "end_time": end_time,
        }

    def _listing(self, kind: str, source: str, base: str, req: Request) -> dict:
        items = sorted(self.records(source, kind)[0], key=_id_of)
        if kind == "satisfaction_ratings":
            start = _int_arg(req, "start_time", 0)
            end = _int_arg(req, "end_time", 2**62)
            items = [r for r in items if start <= _ts_of(r, "created_at") <= end]
            items.sort(key=lambda r: (_ts_of(r, "created_at"), _id_of(r)))
        size = min(_int_arg(req, "page[size]", 100) or 100, 100)
        after = req.arg("page[after]")
        offset = int(decode_cursor(after)[1]) if after and decode_cursor(after) else 0
        page = items[offset : offset + size]
        has_more = offset + size < len(items)
        # Zendesk gives the cursor after the page, and a next link, on the last page too
        after_cursor = encode_cursor(0, offset + len(page))
        query = {k: v[0] for k, v in req.query.items() if k != "page[after]"}
        path = req.path.partition(source)[2]
        next_query = urlencode({**query, "page[after]": after_cursor})
        return {
            kind: _clean(page),
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": None},
            "links": {"next": f"{base}{path}?{next_query}", "prev": None},
        }


def cursor_export(
    kind: str, items: list[dict], key: str, req: Request, base: str, now: dt.datetime
) -> dict:
    """A page of a cursor-based incremental export over `items` sorted by (ts, id)."""
    per_page = min(_int_arg(req, "per_page", MAX_PAGE) or MAX_PAGE, MAX_PAGE)
    horizon = epoch(now) - EXCLUDE_RECENT_SECONDS
    cursor = req.arg("cursor")
    if cursor:
        position = decode_cursor(cursor)
        if position is None:
            raise ValueError("cursor is invalid")
    else:
        start = _int_arg(req, "start_time")
        if start is None:
            raise ValueError("start_time or cursor is required")
        position = (start, -2)  # before every item of that second
    visible = [
        r for r in items if (_ts_of(r, key), _id_of(r)) > position and _ts_of(r, key) <= horizon
    ]
    page = visible[:per_page]
    after = (_ts_of(page[-1], key), _id_of(page[-1])) if page else position
    after_cursor = encode_cursor(*after)
    include = req.arg("include")
    query = {
        "cursor": after_cursor,
        "per_page": per_page,
        **({"include": include} if include else {}),
    }
    return {
        kind: _clean(page),
        "after_cursor": after_cursor,
        "after_url": f"{base}/api/v2/incremental/{kind}/cursor.json?{urlencode(query)}",
        "before_cursor": None,
        "before_url": None,
        "end_of_stream": len(page) == len(visible),
    }


def serve(
    world: World, source_names: list[str], faults: Faults | None = None, **options
) -> ZendeskEmulator:
    """Start an emulator for these sources of `world`; use as a context manager or stop()."""
    return ZendeskEmulator(world, source_names, faults, **options).start()


# --------------------------------------------------------------------------------------------
# Synthetic tickets for the benchmark
# --------------------------------------------------------------------------------------------

SYNTH_T0 = 1_693_526_400  # 2023-09-01T00:00:00Z
STATUSES = ("new", "open", "pending", "solved", "closed")
PRIORITIES = ("low", "normal", "normal", "high", "urgent")
CHANNELS = ("web", "email", "voice", "chat")


def synthetic_ticket(i: int) -> tuple[dict, dict]:
    """Ticket number i (0-based) and its metric set: deterministic, one second apart."""
    tid = i + 1
    ts = SYNTH_T0 + i
    created = dt.datetime.fromtimestamp(ts - 3600 * (i % 48), UTC)
    updated = dt.datetime.fromtimestamp(ts, UTC)
    custom = [
        {"id": CUSTOM_FIELD_TOPIC, "value": ("transportation", "enrollment")[i % 2]},
        {"id": CUSTOM_FIELD_SCHOOL, "value": None},
    ]
    ticket = {
        "url": f"https://example.zendesk.com/api/v2/tickets/{tid}.json",
        "id": tid,
        "external_id": None,
        "via": {"channel": CHANNELS[i % 4], "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": iso(created),
        "updated_at": iso(updated),
        "generated_timestamp": ts,
        "type": "question",
        "subject": f"Question {tid} about the bus route",
        "raw_subject": f"Question {tid} about the bus route",
        "description": "Synthetic",
        "priority": PRIORITIES[i % 5],
        "status": STATUSES[i % 5],
        "recipient": None,
        "requester_id": 100_000 + i % 50_000,
        "submitter_id": 100_000 + i % 50_000,
        "assignee_id": 10 + i % 40,
        "organization_id": 360000500 + i % 30,
        "group_id": 360000100 + i % 8,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": ["synthetic", f"g{i % 8}"],
        "custom_fields": custom,
        "fields": custom,
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "followup_ids": [],
        "ticket_form_id": 360000010,
        "brand_id": BRAND_ID,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }
    reply = {"calendar": 5 + i % 600, "business": 5 + i % 300}
    metric = {
        "id": 7_000_000_000 + tid,
        "ticket_id": tid,
        "created_at": ticket["created_at"],
        "updated_at": ticket["updated_at"],
        "reopens": i % 3 == 0,
        "replies": 1 + i % 4,
        "solved_at": ticket["updated_at"] if i % 5 >= 3 else None,
        "reply_time_in_minutes": reply,
        "first_resolution_time_in_minutes": reply,
        "full_resolution_time_in_minutes": reply,
        "agent_wait_time_in_minutes": {"calendar": None, "business": None},
        "requester_wait_time_in_minutes": {"calendar": None, "business": None},
        "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
    }
    return ticket, metric


def _ticket_json(i: int) -> str:
    """synthetic_ticket(i)[0] as JSON text, formatted directly: json.dumps of 1,000 dicts a page
    would make the emulator, not the connector, the bottleneck of the benchmark."""
    tid, ts = i + 1, SYNTH_T0 + i
    created = iso(dt.datetime.fromtimestamp(ts - 3600 * (i % 48), UTC))
    updated = iso(dt.datetime.fromtimestamp(ts, UTC))
    subject = f"Question {tid} about the bus route"
    topic = ("transportation", "enrollment")[i % 2]
    custom = (
        f'[{{"id":{CUSTOM_FIELD_TOPIC},"value":"{topic}"}},'
        f'{{"id":{CUSTOM_FIELD_SCHOOL},"value":null}}]'
    )
    req = 100_000 + i % 50_000
    return (
        f'{{"url":"https://example.zendesk.com/api/v2/tickets/{tid}.json","id":{tid},'
        f'"external_id":null,"via":{{"channel":"{CHANNELS[i % 4]}","source":{{"from":{{}},'
        f'"to":{{}},"rel":null}}}},"created_at":"{created}","updated_at":"{updated}",'
        f'"generated_timestamp":{ts},"type":"question","subject":"{subject}",'
        f'"raw_subject":"{subject}","description":"Synthetic","priority":"{PRIORITIES[i % 5]}",'
        f'"status":"{STATUSES[i % 5]}","recipient":null,"requester_id":{req},'
        f'"submitter_id":{req},"assignee_id":{10 + i % 40},'
        f'"organization_id":{360000500 + i % 30},"group_id":{360000100 + i % 8},'
        f'"collaborator_ids":[],"follower_ids":[],"email_cc_ids":[],"forum_topic_id":null,'
        f'"problem_id":null,"has_incidents":false,"is_public":true,"due_at":null,'
        f'"tags":["synthetic","g{i % 8}"],"custom_fields":{custom},"fields":{custom},'
        f'"satisfaction_rating":null,"sharing_agreement_ids":[],"followup_ids":[],'
        f'"ticket_form_id":360000010,"brand_id":{BRAND_ID},"allow_channelback":false,'
        f'"allow_attachments":true,"from_messaging_channel":false}}'
    )


def _metric_json(i: int) -> str:
    """synthetic_ticket(i)[1] as JSON text."""
    tid, ts = i + 1, SYNTH_T0 + i
    created = iso(dt.datetime.fromtimestamp(ts - 3600 * (i % 48), UTC))
    updated = iso(dt.datetime.fromtimestamp(ts, UTC))
    reply = f'{{"calendar":{5 + i % 600},"business":{5 + i % 300}}}'
    solved = f'"{updated}"' if i % 5 >= 3 else "null"
    wait = '{"calendar":null,"business":null}'
    reopens = "true" if i % 3 == 0 else "false"
    return (
        f'{{"id":{7_000_000_000 + tid},"ticket_id":{tid},"created_at":"{created}",'
        f'"updated_at":"{updated}","reopens":{reopens},'
        f'"replies":{1 + i % 4},"solved_at":{solved},"reply_time_in_minutes":{reply},'
        f'"first_resolution_time_in_minutes":{reply},'
        f'"full_resolution_time_in_minutes":{reply},"agent_wait_time_in_minutes":{wait},'
        f'"requester_wait_time_in_minutes":{wait},'
        f'"on_hold_time_in_minutes":{{"calendar":0,"business":0}}}}'
    )


class SyntheticZendesk:
    """Serves `n_tickets` synthetic tickets by index; other streams are empty."""

    def __init__(
        self,
        n_tickets: int,
        source_name: str = "bench-zendesk",
        email: str = "api@district.example",
        token: str = EMULATOR_TOKEN,
    ):
        self.n = n_tickets
        self.source = source_name
        self.email, self.token = email, token
        self.server = EmulatorServer(self.handle)
        self._auth = "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()

    def handle(self, req: Request) -> Response:
        if req.headers.get("authorization") != self._auth:
            return _error(401, "Couldn't authenticate you")
        base = f"{self.server.url}/{self.source}"
        rest = req.path.strip("/").partition("/")[2]
        if rest != "api/v2/incremental/tickets/cursor.json":
            kind = rest.rsplit("/", 1)[-1].split(".")[0].replace("cursor", "users")
            empty = {
                "ticket_events": [],
                "count": 0,
                "end_time": epoch(dt.datetime.now(UTC)),
                "after_cursor": encode_cursor(SYNTH_T0, 0),
                "meta": {"has_more": False},
                "links": {"next": None},
                kind: [],
            }
            return Response.json(empty)
        per_page = min(_int_arg(req, "per_page", MAX_PAGE) or MAX_PAGE, MAX_PAGE)
        cursor = req.arg("cursor")
        if cursor:
            first = (decode_cursor(cursor) or (SYNTH_T0, 0))[1]  # the id is index + 1
        else:
            first = max(0, (_int_arg(req, "start_time") or 0) - SYNTH_T0)
        last = min(self.n, first + per_page)
        after = (
            encode_cursor(SYNTH_T0 + last - 1, last)
            if last > first
            else (cursor or encode_cursor(SYNTH_T0 + first - 1, first))
        )
        tail = json.dumps(
            {
                "after_cursor": after,
                "after_url": f"{base}/api/v2/incremental/tickets/cursor.json?cursor={after}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": last >= self.n,
            },
            separators=(",", ":"),
        )
        body = "".join(
            (
                '{"tickets":[',
                ",".join(_ticket_json(i) for i in range(first, last)),
                '],"metric_sets":[',
                ",".join(_metric_json(i) for i in range(first, last)),
                "],",
                tail[1:],
            )
        )
        return Response(200, body.encode(), {"Content-Type": "application/json"})


def _synthetic_main(n_tickets: int, source_name: str, conn) -> None:
    server = SyntheticZendesk(n_tickets, source_name)
    server.server.start()
    conn.send(server.server.url)
    conn.recv()  # block until told to stop
    server.server.stop()


class SyntheticRunning:
    def __init__(self, n_tickets: int, source_name: str):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_synthetic_main, args=(n_tickets, source_name, child), daemon=True
        )
        self._proc.start()
        self.url = self._conn.recv()
        self.source = source_name

    @property
    def pid(self) -> int:
        """The serving child's process id (the benchmark reads its CPU time)."""
        return self._proc.pid

    def connection(self, source_name: str | None = None) -> dict:
        return {
            "conn_type": "http",
            "host": f"{self.url}/{source_name or self.source}",
            "login": "api@district.example",
            "password": EMULATOR_TOKEN,
        }

    def stop(self) -> None:
        if self._proc.is_alive():
            self._conn.send("stop")
            self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def serve_synthetic(n_tickets: int, source_name: str = "bench-zendesk") -> SyntheticRunning:
    """Serve n synthetic tickets from a child process (so the server has its own GIL)."""
    return SyntheticRunning(n_tickets, source_name)

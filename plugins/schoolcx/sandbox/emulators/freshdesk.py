"""A Freshdesk API v2 emulator that renders a World's interactions over real sockets.

Endpoints (under a per-source path prefix, e.g. http://127.0.0.1:PORT/<source_name>):
- GET /api/v2/tickets: updated_since, include=stats, order_by (created_at | updated_at | due_by |
  status), order_type (asc | desc, default desc), page/per_page (max 100) with a `link` header.
  Without updated_since only tickets created in the last 30 days come back, and a page beyond
  the cap (300, configurable to test it) is a 400 validation error, as documented.
- GET /api/v2/tickets/{id}/conversations: replies (incoming or not) and private notes.
- GET /api/v2/contacts (_updated_since), /api/v2/surveys,
  /api/v2/surveys/satisfaction_ratings (created_since; default the last 30 days).
- GET /api/v2/ticket_fields: the account's ticket fields in the documented v2 shape: the
  `source` field's choices map label -> code (built-ins and a custom 101 "Walk-in"), the
  `status` field's map code -> [agent label, customer label] (custom 6 and 7), `priority`
  label -> code.

Basic auth with the API key as user name (the password is ignored, `X` by convention); every
response carries X-RateLimit-Total / -Remaining / -Used-CurrentRequest for a per-minute budget.
The server's now is the end of world.as_of unless set; tests mutate the World between runs and
add raw records (`add_raw`) to exercise validation. `after_page(kind, request, records)`, when set,
is called after each list page is computed and before it is sent: tests change the World there to
play a vendor whose records change while they are paged.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from urllib.parse import urlencode

from schoolcx.sandbox.demo.world import Event, Interaction, Person, World
from schoolcx.sandbox.emulators.http_base import EmulatorServer, Faults, Request, Response

UTC = dt.UTC
EMULATOR_KEY = "fd-emulator-key"
PAGE_CAP = 300
MAX_PER_PAGE = 100
DEFAULT_DAYS = 30  # lists without a since-filter only go this far back

STATUS = {"new": 2, "open": 2, "pending": 3, "solved": 4, "closed": 5}
PRIORITY = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
# World channel -> Freshdesk source code. Freshdesk has no built-in walk-in source: accounts
# add a custom one (ids above the built-ins), listed with its label by /api/v2/ticket_fields.
# "other" is source 11 (E-commerce), which no channel of ours names.
WALK_IN_SOURCE = 101
SOURCE = {
    "email": 1,
    "web": 2,
    "phone": 3,
    "social": 5,
    "chat": 7,
    "walk_in": WALK_IN_SOURCE,
    "other": 11,
}
# The source field's choices (label -> code) as an account with a walk-in desk lists them.
SOURCE_CHOICES = {
    "Email": 1,
    "Portal": 2,
    "Phone": 3,
    "Forum": 4,
    "Twitter": 5,
    "Facebook": 6,
    "Chat": 7,
    "MobiHelp": 8,
    "Feedback Widget": 9,
    "Outbound Email": 10,
    "Ecommerce": 11,
    "Bot": 12,
    "WhatsApp": 13,
    "Walk-in": WALK_IN_SOURCE,
}
# code -> [label for agents, label for customers]; 6 and 7 are custom statuses.
STATUS_CHOICES = {
    "2": ["Open", "Being Processed"],
    "3": ["Pending", "Awaiting your Reply"],
    "4": ["Resolved", "This ticket has been Resolved"],
    "5": ["Closed", "This ticket has been Closed"],
    "6": ["Waiting on Customer", "Awaiting your Reply"],
    "7": ["Waiting on Third Party", "Being Processed"],
}
PRIORITY_CHOICES = {"Low": 1, "Medium": 2, "High": 3, "Urgent": 4}
# Surveys: the codes each scale accepts, most unhappy first.
SURVEYS = {
    1: ("Default satisfaction survey", "1-5", [-103, -102, 100, 102, 103]),
    2: ("Thumbs up or down", "good_bad", [-103, 103]),
}


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def world_now(world: World) -> dt.datetime:
    return dt.datetime.combine(world.as_of + dt.timedelta(days=1), dt.time(), tzinfo=UTC)


def parse(value) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ids(its: list[Interaction], attr: str, base: int) -> dict[str, int]:
    """name -> vendor id: the World's own id when it gives one, else a stable derived one."""
    given = {getattr(i, attr): getattr(i, f"{attr}_id", None) for i in its if getattr(i, attr)}
    derived = {name: base + n for n, name in enumerate(sorted(given))}
    return {name: given[name] or derived[name] for name in given}


def _sorted_events(it: Interaction) -> list[Event]:
    return sorted(it.events, key=lambda e: (e.at, e.event_id))


def _stats(it: Interaction) -> tuple[int, dict]:
    """Current status code and the ticket's stats from its event history."""
    opening = it.opening_comment
    status, history = "open", []
    for e in _sorted_events(it):
        if e.kind == "status" and e.status and STATUS[e.status] != STATUS[status]:
            history.append((e.at, status, e.status))
            status = e.status
    replies = [e.at for e in _sorted_events(it) if e.kind == "agent_reply" and e is not opening]
    asks = [e.at for e in it.events if e.kind == "requester_reply"]
    # resolved_at is the entry into resolved/closed: resolved -> closed leaves it as it was
    done = [
        at
        for at, old, new in history
        if new in ("solved", "closed") and old not in ("solved", "closed")
    ]
    closed = [at for at, _o, new in history if new == "closed"]
    reopened = [
        at
        for at, old, new in history
        if old in ("solved", "closed") and new not in ("solved", "closed")
    ]
    current = STATUS[status]
    return current, {
        "agent_responded_at": iso(replies[-1]) if replies else None,
        "requester_responded_at": iso(asks[-1]) if asks else None,
        "first_responded_at": iso(replies[0]) if replies else None,
        "status_updated_at": iso(history[-1][0]) if history else iso(it.created_at),
        "reopened_at": iso(reopened[-1]) if reopened else None,
        "resolved_at": iso(done[-1]) if done and current in (4, 5) else None,
        "closed_at": iso(closed[-1]) if closed and current == 5 else None,
        "pending_since": iso(history[-1][0]) if current == 3 else None,
    }


def _ticket(it: Interaction, groups: dict, companies: dict) -> dict:
    status, stats = _stats(it)
    tags = list(it.tags)
    return {
        "id": it.interaction_id,
        "subject": it.subject,
        "description_text": it.subject,
        "status": status,
        "priority": PRIORITY[it.priority],
        "source": SOURCE[it.channel],
        "type": "Question",
        "requester_id": it.requester.person_id,
        "responder_id": it.assignee.person_id if it.assignee else None,
        "group_id": groups.get(it.group),
        "company_id": companies.get(it.organization),
        "product_id": None,
        "email_config_id": None,
        "fr_escalated": False,
        "is_escalated": False,
        "spam": False,
        "tags": tags,
        "custom_fields": {"cf_topic": it.topic, "cf_school_id": it.school_id},
        "cc_emails": [],
        "fwd_emails": [],
        "reply_cc_emails": [],
        "to_emails": None,
        "due_by": iso(it.created_at + dt.timedelta(days=3)),
        "fr_due_by": iso(it.created_at + dt.timedelta(days=1)),
        "created_at": iso(it.created_at),
        "updated_at": iso(it.updated_at),
        "stats": stats,
    }


def _conversations(it: Interaction) -> list[dict]:
    """Replies and notes. The agent's opening comment is the ticket's description, and
    automated acknowledgements are e-mails, not conversations, in Freshdesk."""
    opening = it.opening_comment
    out = []
    for e in _sorted_events(it):
        if e is opening or e.kind in ("status", "auto_reply"):
            continue
        incoming = e.kind == "requester_reply"
        out.append(
            {
                "id": 3_000_000_000 + e.event_id,
                "ticket_id": it.interaction_id,
                "user_id": e.author.person_id,
                "body_text": f"{e.kind} {it.interaction_id}",
                "incoming": incoming,
                "private": e.kind == "agent_note",
                "source": 2 if e.kind == "agent_note" else 0,
                "from_email": e.author.email if incoming else "help@district.example",
                "to_emails": [] if incoming else [it.requester.email],
                "cc_emails": [],
                "bcc_emails": [],
                "support_email": "help@district.example",
                "attachments": [],
                "created_at": iso(e.at),
                "updated_at": iso(e.at),
            }
        )
    return out


def _contacts(its: list[Interaction], companies: dict) -> list[dict]:
    seen: dict[int, tuple[dt.datetime, Person, int | None]] = {}
    for it in sorted(its, key=lambda i: i.created_at):
        people = [it.requester] + [e.author for e in it.events]
        for p in people:
            if p.role in ("agent", "system") or p.person_id in seen:
                continue
            seen[p.person_id] = (it.created_at, p, companies.get(it.organization))
    return [
        {
            "id": pid,
            "name": p.name,
            "email": p.email,
            "phone": None,
            "mobile": None,
            "language": p.locale,
            "time_zone": "Central Time (US & Canada)",
            "company_id": company,
            "active": True,
            "deleted": False,
            "view_all_tickets": False,
            "tags": [],
            "custom_fields": {"stakeholder_type": p.role if p.role_on_file else None},
            "created_at": iso(first - dt.timedelta(days=1)),
            "updated_at": iso(first - dt.timedelta(days=1)),
        }
        for pid, (first, p, company) in seen.items()
    ]


def _surveys(since: dt.datetime) -> list[dict]:
    at = iso(since)
    return [
        {
            "id": sid,
            "title": title,
            "active": True,
            "created_at": at,
            "updated_at": at,
            "questions": [
                {
                    "id": "default_question",
                    "label": "How would you rate your "
                    "overall satisfaction for the resolution provided by the agent?",
                    "accepted_ratings": list(codes),
                }
            ],
        }
        for sid, (title, _scale, codes) in SURVEYS.items()
    ]


def _rating_code(scale: str, value) -> tuple[int, int] | None:
    for sid, (_title, s, codes) in SURVEYS.items():
        if s == scale == "good_bad":
            return sid, codes[-1] if value == "good" else codes[0]
        if s == scale == "1-5":
            return sid, codes[int(value) - 1]
    return None  # 1-10 and 0-10 have no Freshdesk survey scale


def _ratings(its: list[Interaction], groups: dict) -> list[dict]:
    out = []
    for it in its:
        for k, r in enumerate(sorted(it.ratings, key=lambda r: r.at)):
            code = _rating_code(r.scale, r.value)
            if code is None:
                continue
            out.append(
                {
                    "id": 4_000_000_000 + it.interaction_id * 100 + k,
                    "survey_id": code[0],
                    "user_id": it.requester.person_id,
                    "ticket_id": it.interaction_id,
                    "agent_id": it.assignee.person_id if it.assignee else None,
                    "group_id": groups.get(it.group),
                    "feedback": "",
                    "ratings": {"default_question": code[1]},
                    "created_at": iso(r.at),
                    "updated_at": iso(r.at),
                }
            )
    return out


def _ticket_fields(at_time: dt.datetime) -> list[dict]:
    """The coded default fields (source, status, priority) and the topic custom field."""
    at = iso(at_time)

    def field(fid: int, name: str, label: str, kind: str, choices) -> dict:
        out = {
            "id": fid,
            "name": name,
            "label": label,
            "description": f"Ticket {label.lower()}",
            "position": fid,
            "type": kind,
            "default": kind.startswith("default_"),
            "label_for_customers": label,
            "required_for_closure": False,
            "required_for_agents": name == "status",
            "required_for_customers": False,
            "customers_can_edit": False,
            "displayed_to_customers": name == "status",
            "created_at": at,
            "updated_at": at,
        }
        if choices is not None:
            out["choices"] = choices
        return out

    return [
        field(4, "source", "Source", "default_source", dict(SOURCE_CHOICES)),
        field(
            5, "status", "Status", "default_status", {k: list(v) for k, v in STATUS_CHOICES.items()}
        ),
        field(6, "priority", "Priority", "default_priority", dict(PRIORITY_CHOICES)),
        field(13, "cf_topic", "Topic", "custom_text", None),
    ]


def render(world: World, source_name: str) -> dict[str, list[dict]]:
    """Every record a Freshdesk source of `world` holds, by kind."""
    its = world.for_source(source_name)
    groups = _ids(its, "group", 43000100)
    companies = _ids(its, "organization", 43000500)
    first = min((i.created_at for i in its), default=world_now(world))
    return {
        "tickets": [_ticket(i, groups, companies) for i in its],
        "conversations": [c for i in its for c in _conversations(i)],
        "contacts": _contacts(its, companies),
        "surveys": _surveys(first - dt.timedelta(days=60)),
        "satisfaction_ratings": _ratings(its, groups),
        "ticket_fields": _ticket_fields(first - dt.timedelta(days=60)),
    }


def _error(status: int, description: str, errors: list | None = None) -> Response:
    return Response.json({"description": description, "errors": errors or []}, status=status)


class FreshdeskEmulator:
    """A running emulator for one or more Freshdesk sources of a World."""

    def __init__(
        self,
        world: World,
        source_names: list[str],
        faults: Faults | None = None,
        *,
        api_key: str = EMULATOR_KEY,
        now: dt.datetime | None = None,
        page_cap: int = PAGE_CAP,
        rate_limit_total: int = 5000,
        frozen: bool = False,
    ):
        self.world = world
        self.sources = list(source_names)
        self.api_key = api_key
        self.now = now or world_now(world)
        self.page_cap = page_cap
        self.rate_limit_total = rate_limit_total
        # frozen: the World will not change while served (the demo), so render each source
        # once; tests that mutate the World between runs leave it False and re-render.
        self.frozen = frozen
        self._rendered: dict[str, dict[str, list[dict]]] = {}
        self._conversations: dict[str, dict[int, list[dict]]] = {}
        self.extra: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        # called with (kind, request, the page's records) after each list page is computed,
        # before it is sent
        self.after_page: Callable[[str, Request, list[dict]], None] | None = None
        self.server = EmulatorServer(self.handle, faults)

    def start(self) -> FreshdeskEmulator:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def connection(self, source_name: str) -> dict:
        # The API key is the secret: it goes in the password field, which Airflow masks.
        return {
            "conn_type": "http",
            "host": f"{self.server.url}/{source_name}",
            "login": "",
            "password": self.api_key,
        }

    def add_raw(self, source_name: str, kind: str, record: dict) -> None:
        self.extra[source_name][kind].append(record)

    def records(self, source_name: str, kind: str) -> list[dict]:
        if not self.frozen:
            rendered = render(self.world, source_name)
        elif source_name not in self._rendered:
            rendered = self._rendered[source_name] = render(self.world, source_name)
        else:
            rendered = self._rendered[source_name]
        return rendered[kind] + [dict(r) for r in self.extra[source_name][kind]]

    def conversations_of(self, source_name: str, ticket_id: int) -> list[dict]:
        if not self.frozen:
            return [
                c
                for c in self.records(source_name, "conversations")
                if c.get("ticket_id") == ticket_id
            ]
        if source_name not in self._conversations:
            index: dict[int, list[dict]] = defaultdict(list)
            for c in self.records(source_name, "conversations"):
                index[c.get("ticket_id")].append(c)
            self._conversations[source_name] = index
        return self._conversations[source_name].get(ticket_id, [])

    # ---- HTTP --------------------------------------------------------------------------
    def _authorised(self, req: Request) -> bool:
        header = req.headers.get("authorization", "")
        try:
            user = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")[0]
        except ValueError:
            return False
        return header.startswith("Basic ") and user == self.api_key

    def _rate_headers(self, cost: int) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            while self._calls and now - self._calls[0] > 60:
                self._calls.popleft()
            self._calls.extend([now] * cost)
            remaining = max(0, self.rate_limit_total - len(self._calls))
        return {
            "X-RateLimit-Total": str(self.rate_limit_total),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used-CurrentRequest": str(cost),
        }

    def handle(self, req: Request) -> Response:
        source, _, rest = req.path.strip("/").partition("/")
        if source not in self.sources:
            return _error(404, "Resource not found")
        if not self._authorised(req):
            return Response.json(
                {
                    "code": "invalid_credentials",
                    "message": "You have to be logged in to perform this action.",
                },
                status=401,
            )
        resp = self._route(source, rest, req)
        resp.headers.update(self._rate_headers(2 if req.arg("include") else 1))
        return resp

    def _route(self, source: str, rest: str, req: Request) -> Response:
        parts = rest.split("/")
        if parts[:2] != ["api", "v2"]:
            return _error(404, "Resource not found")
        parts = parts[2:]
        try:
            if parts == ["tickets"]:
                return self._tickets(source, req)
            if len(parts) == 3 and parts[0] == "tickets" and parts[2] == "conversations":
                tid = int(parts[1])
                return self._paged(source, req, self.conversations_of(source, tid), cap=None)
            if parts == ["contacts"]:
                return self._since_list(
                    source, req, "contacts", "_updated_since", "updated_at", default_days=None
                )
            if parts == ["surveys"]:
                return self._paged(source, req, self.records(source, "surveys"), cap=None)
            if parts == ["ticket_fields"]:
                # not paged (the documented list returns every field at once)
                return Response.json(self.records(source, "ticket_fields"))
            if parts == ["surveys", "satisfaction_ratings"]:
                return self._since_list(
                    source,
                    req,
                    "satisfaction_ratings",
                    "created_since",
                    "created_at",
                    default_days=DEFAULT_DAYS,
                )
        except ValueError as exc:
            return _error(
                400,
                "Validation failed",
                [{"field": "query", "message": str(exc), "code": "invalid_value"}],
            )
        return _error(404, "Resource not found")

    def _visible(self, items: list[dict]) -> list[dict]:
        """Nothing from after the server's now (tests move now forward between runs)."""
        return [r for r in items if (parse(r.get("updated_at")) or self.now) <= self.now]

    def _tickets(self, source: str, req: Request) -> Response:
        tickets = self._visible(self.records(source, "tickets"))
        since = req.arg("updated_since")
        if since:
            floor = parse(since)
            if floor is None:
                raise ValueError("updated_since is not a date-time")
            tickets = [t for t in tickets if (parse(t.get("updated_at")) or floor) >= floor]
        else:
            # The documented default: only tickets created in the past 30 days.
            floor = self.now - dt.timedelta(days=DEFAULT_DAYS)
            tickets = [t for t in tickets if (parse(t.get("created_at")) or floor) >= floor]
        order_by = req.arg("order_by", "created_at")
        if order_by not in ("created_at", "updated_at", "due_by", "status"):
            raise ValueError(f"order_by {order_by!r} is not allowed")
        desc = req.arg("order_type", "desc") == "desc"
        tickets.sort(key=lambda t: (str(t.get(order_by)), t.get("id") or 0), reverse=desc)
        if "stats" not in (req.arg("include") or ""):
            tickets = [{k: v for k, v in t.items() if k != "stats"} for t in tickets]
        return self._paged(source, req, tickets, cap=self.page_cap)

    def _since_list(
        self, source: str, req: Request, kind: str, param: str, field: str, default_days: int | None
    ) -> Response:
        items = self._visible(self.records(source, kind))
        since = req.arg(param)
        floor = (
            parse(since)
            if since
            else (self.now - dt.timedelta(days=default_days) if default_days else None)
        )
        if since and floor is None:
            raise ValueError(f"{param} is not a date-time")
        if floor is not None:
            items = [r for r in items if (parse(r.get(field)) or floor) >= floor]
        items.sort(key=lambda r: r.get("id") if isinstance(r.get("id"), int) else -1)
        return self._paged(source, req, items, cap=None)

    def _paged(self, source: str, req: Request, items: list[dict], cap: int | None) -> Response:
        page = int(req.arg("page", "1"))
        per_page = int(req.arg("per_page", "30"))
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if cap is not None and page > cap:
            return _error(
                400,
                "Validation failed",
                [
                    {
                        "field": "page",
                        "code": "invalid_value",
                        "message": f"You cannot access tickets beyond the {cap}th page. "
                        "Please provide a smaller page number.",
                    }
                ],
            )
        chunk = items[(page - 1) * per_page : page * per_page]
        if self.after_page is not None:
            self.after_page(req.path.split("/api/v2/", 1)[-1], req, chunk)
        headers = {}
        if page * per_page < len(items):
            query = {k: v[0] for k, v in req.query.items()}
            query["page"] = str(page + 1)
            headers["Link"] = f'<{self.server.url}{req.path}?{urlencode(query)}>; rel="next"'
        return Response.json(chunk, headers=headers)


def serve(
    world: World, source_names: list[str], faults: Faults | None = None, **options
) -> FreshdeskEmulator:
    """Start an emulator for these sources of `world`; use as a context manager or stop()."""
    return FreshdeskEmulator(world, source_names, faults, **options).start()

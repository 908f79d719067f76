"""Freshdesk API v2 connector: windowed, restartable, never past `until`.

Streams, in order:
- surveys: the full list each run; it also gives each question's accepted rating codes, which
  validate the ratings that follow.
- satisfaction_ratings: created_since a lookback window before the last rating seen. Listed
  by id: an updated rating keeps its place and new ones come last, so paging cannot shift
  (tests/test_freshdesk_paging.py plays an update between pages).
- contacts: _updated_since the last contact seen (minus an overlap); the list has no order, so
  its state is committed with the last page.
- ticket_fields: the full list each run; its `status` field lists the account's custom
  statuses (6 and up). A ticket whose status the account does not list, or whose priority is
  not 1-4, is quarantined with its code (unknown_status_code / unknown_priority_code).
- tickets (+ conversations): updated_since with include=stats, order_by=updated_at asc,
  per_page <= 100, paged by key: every request is page 1 of `updated_since` = the newest second
  the last page reached, and the tickets of that second read before are skipped by (id,
  updated_at). Page numbers would shift when a ticket already read is updated (it moves to the
  end of the list) and hide the one after it; a key never does. A second holding a full page
  or more is read by page numbers in passes until two agree (an update only moves a ticket out
  of a past second), then the key moves to the next second; past Freshdesk's 300-page cap it
  cannot be listed at all, and the connector stops with an error naming source, connection and
  window instead of asking again forever. The time range is walked in windows of
  options.window_days; resumed runs start an overlap earlier (the raw key drops the repeats).
  The state is a second before which everything is loaded, committed with each page. The
  conversations of each ticket on a page land before the page's state moves (one request per
  ticket; a ticket's conversations over several pages are read in passes until two agree, as
  a deleted one would pull the next onto a page already read).

Every response's X-RateLimit-Remaining is read: when little is left of the minute's budget the
connector slows down instead of running into 429s (which VendorClient still honours).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx

from schoolcx.connectors.base import (
    ApiConnector,
    ConnectorContext,
    ConnectorError,
    LandingRecord,
    Page,
)
from schoolcx.connectors.http import VendorClient, parsed_json
from schoolcx.connectors.records import check_record, parse_time, quarantine

log = logging.getLogger(__name__)
UTC = dt.UTC
MAX_PAGES = 300  # Freshdesk's documented cap on list pages
MAX_PASSES = 5  # reads of a list paged by number until two agree (see _stable_list)
OVERLAP = dt.timedelta(minutes=5)  # windows and resumed runs start this much earlier
LOW_WATER = 0.10  # slow down when less than this share of the minute's budget is left
MAX_PAUSE = 30.0
STATS_CHECKED = ("first_responded_at", "resolved_at", "closed_at")
CONVERSATION_PAGE = 1000  # conversation records per landed page
STREAMS = ("surveys", "satisfaction_ratings", "contacts", "ticket_fields", "tickets")
# Built-in codes. Custom statuses (6 and up) exist, listed with their labels by ticket_fields;
# priorities are these four only. Anything else is quarantined with its code, never guessed.
STATUS_CODES = frozenset({2, 3, 4, 5})
PRIORITY_CODES = frozenset({1, 2, 3, 4})


class PageCapReached(Exception):
    """The API refused a page beyond its cap: the window must be cut."""


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_stats(ticket: dict) -> tuple[str, str] | None:
    """A first response or resolution before the ticket was created is a data error."""
    created = parse_time(ticket["created_at"])
    stats = ticket.get("stats") or {}
    for name in STATS_CHECKED:
        value = stats.get(name)
        if value is None:
            continue
        at = parse_time(value)
        if at is None:
            return "unparsable_timestamp", f"stats.{name}"
        if at < created:
            return "stat_before_created", f"stats.{name}"
    return None


def second(t: dt.datetime) -> dt.datetime:
    """The second `t` falls in: Freshdesk's timestamps and its updated_since filter are whole
    seconds."""
    return t.astimezone(UTC).replace(microsecond=0)


def ticket_second(rec: Any) -> dt.datetime | None:
    updated = parse_time(rec.get("updated_at")) if isinstance(rec, dict) else None
    return None if updated is None else second(updated)


def ticket_key(rec: Any) -> tuple[str, str]:
    """A record version's identity: (id, updated_at) as the API wrote them."""
    if not isinstance(rec, dict):
        return ("", json.dumps(rec, default=str))
    return (str(rec.get("id")), str(rec.get("updated_at")))


def is_page_cap(response: httpx.Response) -> bool:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any(isinstance(e, dict) and e.get("field") == "page" for e in errors)


class FreshdeskConnector(ApiConnector):
    source_type = "freshdesk"
    STREAMS = STREAMS

    def __init__(self, ctx: ConnectorContext, **kwargs):
        super().__init__(ctx, **kwargs)
        self.scales: dict[int, dict[str, set]] = {}  # survey id -> question id -> codes
        self.status_codes: set[int] | None = None  # as ticket_fields lists them (custom too)
        self._bad_seen: set[tuple[str, str]] = set()  # quarantined this run (windows overlap)
        self.pauses: list[float] = []  # slow-downs taken for the rate limit (for the log)

    def _client(self) -> VendorClient:
        conn = self.ctx.connection
        assert conn is not None
        # The API key is the user name and the password is ignored ("X"); the key should sit in
        # the connection's (masked) password, a bare login is accepted too.
        key = conn.password or conn.login
        return VendorClient(
            self.opts.base_url or conn.base_url(),
            conn_id=conn.conn_id,
            source=self.name,
            auth=(key, "X"),
            headers={"Accept": "application/json"},
            policy=self.policy,
            sleep=self.sleep,
        )

    def pages(self, state: dict[str, dict[str, Any]], until: dt.datetime) -> Iterator[Page]:
        if until.tzinfo is None:
            raise ConnectorError(
                f"{self.name} (connection {self._conn_id}): `until` must be timezone-aware"
            )
        with self._client() as client:
            for stream in self.streams:
                yield from getattr(self, f"_{stream}")(client, state.get(stream) or {}, until)

    def _quarantine(self, page: Page, problem: tuple[str, str], rec: Any, position: str) -> None:
        """Quarantine a record once per run, though overlapping windows read it again."""
        q = quarantine(problem[0], rec, problem[1], position)
        if (page.stream, q.raw_text) not in self._bad_seen:
            self._bad_seen.add((page.stream, q.raw_text))
            page.quarantined.append(q)

    # ---- HTTP with the rate-limit budget ------------------------------------------------
    def _get(self, client: VendorClient, url: str, params: dict | None) -> httpx.Response:
        try:
            response = client.request("GET", url, expect_json=True, params=params)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 400 and is_page_cap(exc.response):
                raise PageCapReached() from None
            raise ConnectorError(
                f"{self.name} (connection {self._conn_id}): GET {exc.request.url.path} was "
                f"refused with "
                f"HTTP {exc.response.status_code}: "
                f"{exc.response.text[:300]}"
            ) from None
        self._respect_budget(response)
        return response

    def _respect_budget(self, response: httpx.Response) -> None:
        try:
            total = int(response.headers["X-RateLimit-Total"])
            remaining = int(response.headers["X-RateLimit-Remaining"])
        except (KeyError, ValueError):
            return
        if total > 0 and remaining < total * LOW_WATER:
            # Spread what is left over the rest of the minute rather than hitting 429.
            pause = min(MAX_PAUSE, 60.0 / max(remaining, 1))
            self.pauses.append(pause)
            self.sleep(pause)

    def _listing(
        self, client: VendorClient, path: str, params: dict
    ) -> Iterator[tuple[int, list, bool]]:
        """(page number, rows, is_last) following the link header."""
        url, query, n = path, {**params, "per_page": self.opts.per_page}, 1
        while True:
            response = self._get(client, url, query)
            rows = self._rows(response, path)
            nxt = response.links.get("next", {}).get("url")
            yield n, rows, not nxt
            if not nxt:
                return
            url, query, n = nxt, None, n + 1

    # ---- surveys and ratings -------------------------------------------------------------
    def _surveys(self, client, state, until) -> Iterator[Page]:
        for n, rows, last in self._listing(client, "/api/v2/surveys", {}):
            page = Page("surveys")
            for i, rec in enumerate(rows):
                position = f"surveys page {n} #{i}"
                problem = check_record(rec, ("updated_at",))
                if problem:
                    self._quarantine(page, problem, rec, position)
                    continue
                self.scales[rec["id"]] = {
                    q.get("id"): set(q.get("accepted_ratings") or [])
                    for q in rec.get("questions") or []
                    if isinstance(q, dict)
                }
                updated = parse_time(rec["updated_at"])
                if updated <= until:
                    page.records.append(
                        LandingRecord(
                            "freshdesk_surveys", str(rec["id"]), updated, rec, position=position
                        )
                    )
            page.state = {"synced_through": until.isoformat()} if last else None
            yield page

    def _rating_problem(self, rec: dict) -> tuple[str, str] | None:
        scale = self.scales.get(rec.get("survey_id"))
        if scale is None:
            return "unknown_survey", "survey_id"
        ratings = rec.get("ratings")
        if not isinstance(ratings, dict) or not ratings:
            return "rating_not_in_scale", "ratings"
        for question, code in ratings.items():
            if code not in scale.get(question, ()):
                return "rating_not_in_scale", f"ratings.{question}"
        return None

    def _satisfaction_ratings(self, client, state, until) -> Iterator[Page]:
        since = min(parse_time(state.get("created_since")) or self.start, until)
        lookback = dt.timedelta(days=self.opts.rating_lookback_days)
        newest = None
        params = {"created_since": iso(since)}
        for n, rows, last in self._listing(client, "/api/v2/surveys/satisfaction_ratings", params):
            page = Page("satisfaction_ratings")
            for i, rec in enumerate(rows):
                position = f"satisfaction_ratings created_since={iso(since)} page {n} #{i}"
                problem = check_record(rec, ("created_at", "updated_at")) or self._rating_problem(
                    rec
                )
                if problem:
                    self._quarantine(page, problem, rec, position)
                    continue
                created, updated = parse_time(rec["created_at"]), parse_time(rec["updated_at"])
                if created > until or updated > until:
                    continue  # after this run's window: the next run reads it
                newest = max(newest or created, created)
                page.records.append(
                    LandingRecord(
                        "freshdesk_satisfaction_ratings",
                        str(rec["id"]),
                        updated,
                        rec,
                        position=position,
                    )
                )
            if last:
                # Next run starts a lookback before the newest rating (never moving back).
                start = max(since, newest - lookback) if newest else since
                page.state = {"created_since": iso(start)}
            yield page

    # ---- contacts ----------------------------------------------------------------------
    def _contacts(self, client, state, until) -> Iterator[Page]:
        loaded = parse_time(state.get("updated_since"))
        # First run: every contact (a requester may predate start_date); later: what changed.
        params = {"_updated_since": iso(loaded - OVERLAP)} if loaded else {}
        newest = loaded
        for n, rows, last in self._listing(client, "/api/v2/contacts", params):
            page = Page("contacts")
            for i, rec in enumerate(rows):
                position = f"contacts page {n} #{i}"
                problem = check_record(rec, ("created_at", "updated_at"))
                if problem:
                    self._quarantine(page, problem, rec, position)
                    continue
                updated = parse_time(rec["updated_at"])
                if updated > until:
                    continue
                newest = max(newest or updated, updated)
                page.records.append(
                    LandingRecord(
                        "freshdesk_contacts",
                        str(rec["id"]),
                        updated,
                        rec,
                        person_email=rec.get("email"),
                        position=position,
                    )
                )
            # Unordered list: only the end of it proves everything up to `newest` is loaded.
            if last and newest:
                page.state = {"updated_since": iso(newest)}
            yield page

    # ---- ticket fields: the account's own codes and labels ------------------------------
    def _ticket_fields(self, client, state, until) -> Iterator[Page]:
        """The whole list each run (not paged): its `status` field lists the account's custom
        statuses, which tickets are checked against; staging reads the labels of custom sources
        and statuses from what lands here. The list is landed as a snapshot versioned `until`:
        nothing promises that a field's updated_at moves when a choice is added or relabelled,
        and a version keyed on it would then never land again (a few rows a night)."""
        path = "/api/v2/ticket_fields"
        rows = self._rows(self._get(client, path, None), path)
        page = Page("ticket_fields")
        for i, rec in enumerate(rows):
            position = f"ticket_fields #{i}"
            problem = check_record(rec, ())
            if problem:
                self._quarantine(page, problem, rec, position)
                continue
            self._learn_codes(rec)
            page.records.append(
                LandingRecord(
                    "freshdesk_ticket_fields", str(rec["id"]), until, rec, position=position
                )
            )
        self.status_codes = self.status_codes or set(STATUS_CODES)
        page.state = {"synced_through": until.isoformat()}
        yield page

    def _learn_codes(self, field: dict) -> None:
        choices = field.get("choices")
        if field.get("type") == "default_status" and isinstance(choices, dict):
            # {"2": ["Open", "Being Processed"], ..., "6": ["Waiting on Customer", ...]}
            codes = {int(k) for k in choices if str(k).strip().isdigit()}
            self.status_codes = set(STATUS_CODES) | codes

    def _code_problem(self, rec: dict) -> tuple[str, str] | None:
        """A status the account does not list, or a priority outside 1-4: quarantined with
        the code (in the record), never read as open / normal."""
        status, priority = rec.get("status"), rec.get("priority")
        known = self.status_codes if self.status_codes is not None else STATUS_CODES
        if not isinstance(status, int) or isinstance(status, bool) or status not in known:
            return "unknown_status_code", "status"
        if (
            not isinstance(priority, int)
            or isinstance(priority, bool)
            or priority not in PRIORITY_CODES
        ):
            return "unknown_priority_code", "priority"
        return None

    # ---- tickets in windows, with their conversations ---------------------------------
    def _tickets(self, client, state, until) -> Iterator[Page]:
        if self.status_codes is None:
            # run without the ticket_fields stream: read the account's statuses all the same;
            # if they cannot be read, custom statuses are quarantined (counted), never guessed
            try:
                for _page in self._ticket_fields(client, {}, until):
                    pass
            except ConnectorError as exc:
                log.warning(
                    "%s: ticket fields not read (%s); built-in statuses only", self.name, exc
                )
                self.status_codes = set(STATUS_CODES)
        loaded = min(parse_time(state.get("updated_since")) or self.start, until)
        since = loaded - OVERLAP if "updated_since" in state else loaded
        window = dt.timedelta(days=self.opts.window_days)
        while since < until:
            end = min(since + window, until)
            yield from self._ticket_window(client, since, end)
            since = end

    def _ticket_query(self, since: dt.datetime) -> dict:
        return {
            "updated_since": iso(since),
            "include": "stats",
            "order_by": "updated_at",
            "order_type": "asc",
        }

    def _ticket_window(
        self, client: VendorClient, since: dt.datetime, end: dt.datetime
    ) -> Iterator[Page]:
        """Load every ticket updated in [since, end], paging by key: each request asks for the
        first page updated since the newest second the last page reached (the API's
        updated_since is inclusive). A ticket updated meanwhile moves to the end of the list,
        after the key, so it is read again and can never push another off a page already read
        (what page numbers do). Tickets of the key's second read on the last page come back
        and are skipped by (id, updated_at). The state moves only to a second all of whose
        earlier tickets are loaded."""
        key = second(since)
        carry: set[tuple[str, str]] = set()  # tickets of second `key` already yielded
        while True:
            rows, more = self._key_page(client, key)
            page, beyond, newest = Page("tickets"), False, key
            for i, rec in enumerate(rows):
                updated = parse_time(rec.get("updated_at")) if isinstance(rec, dict) else None
                if updated is not None and updated > end:
                    # for a later window (not `break`: nothing here relies on the page's order)
                    beyond = True
                    continue
                if updated is not None:
                    newest = max(newest, second(updated))
                if ticket_key(rec) in carry:
                    continue  # read on the last page (same second)
                self._land_ticket(page, rec, f"tickets updated_since={iso(key)} #{i}")
            if beyond or not more:
                page.state = {"updated_since": iso(end)}
            elif newest > key:
                # Everything before `newest` is loaded; its second may continue past this page.
                carry = {ticket_key(r) for r in rows if ticket_second(r) == newest}
                key = newest
                page.state = {"updated_since": iso(key)}
            yield from self._conversations(client, [r.payload["id"] for r in page.records])
            yield page
            if beyond or not more:
                return
            if newest == key and page.state is None:
                # A full page within one second: the key cannot pass it. Read that second by
                # page numbers (stable passes), then go on from the next second.
                carry |= {ticket_key(r) for r in rows if ticket_second(r) == key}
                yield from self._ticket_second(client, key, since, end, carry)
                key, carry = key + dt.timedelta(seconds=1), set()

    def _key_page(self, client: VendorClient, key: dt.datetime) -> tuple[list, bool]:
        """Page 1 of the tickets updated since `key`: (rows, more). updated_since has no upper
        bound, so a page served again for a later key (a cache, a proxy) still holds every
        ticket past that key up to a full page: the key logic reads it like any page."""
        response = self._get(
            client,
            "/api/v2/tickets",
            {**self._ticket_query(key), "page": 1, "per_page": self.opts.per_page},
        )
        rows = self._rows(response, "/api/v2/tickets")
        return rows, bool(response.links.get("next", {}).get("url"))

    def _ticket_second(
        self,
        client: VendorClient,
        key: dt.datetime,
        since: dt.datetime,
        end: dt.datetime,
        done: set[tuple[str, str]],
    ) -> Iterator[Page]:
        """Every ticket updated within the second `key`, by page numbers. An update moves a
        ticket out of that second (never into it: it is in the past), so a pass can only miss
        one when a ticket it already read moved out; a pass that finds exactly the tickets of
        the pass before it missed none. Passes repeat until one does."""
        emitted = set(done)
        previous: set[tuple[str, str]] | None = None
        for _attempt in range(MAX_PASSES):
            seen: set[tuple[str, str]] = set()
            listing = self._listing(client, "/api/v2/tickets", self._ticket_query(key))
            while True:
                try:
                    n, rows, last = next(listing)
                except StopIteration:
                    break
                except PageCapReached:
                    raise self._cannot_pass(key, since, end) from None
                page, stop = Page("tickets"), False
                for i, rec in enumerate(rows):
                    if ticket_second(rec) is not None and ticket_second(rec) > key:
                        stop = True  # past the second; the key reads it
                        continue
                    k = ticket_key(rec)
                    seen.add(k)
                    if k not in emitted:
                        emitted.add(k)
                        self._land_ticket(
                            page, rec, f"tickets updated_since={iso(key)} page {n} #{i}"
                        )
                yield from self._conversations(client, [r.payload["id"] for r in page.records])
                if page.records or page.quarantined:
                    yield page
                if stop or last:
                    break
                if n >= MAX_PAGES:
                    raise self._cannot_pass(key, since, end)
            if seen == previous:
                # everything up to the end of that second is loaded (never past the window)
                after = min(key + dt.timedelta(seconds=1), end)
                page = Page("tickets", state={"updated_since": iso(after)})
                yield page
                return
            previous = seen
        raise ConnectorError(
            f"{self.name} (connection {self._conn_id}): the tickets updated in the second "
            f"{iso(key)} kept changing over {MAX_PASSES} reads (window {iso(since)} to "
            f"{iso(end)}); the next run reads them again"
        )

    def _cannot_pass(self, key: dt.datetime, since: dt.datetime, end: dt.datetime):
        return ConnectorError(
            f"{self.name} (connection {self._conn_id}): more than {MAX_PAGES} pages of tickets "
            f"(per_page {self.opts.per_page}) were updated in the second {iso(key)}; Freshdesk "
            f"lists no page past {MAX_PAGES}, so the window {iso(since)} to {iso(end)} cannot "
            f"advance. Raise per_page to 100 if it is lower, else the tickets of that second "
            f"cannot be listed through this API"
        )

    @property
    def _conn_id(self) -> str:
        return self.ctx.connection.conn_id if self.ctx.connection else "?"

    def _rows(self, response: httpx.Response, path: str) -> list:
        rows = parsed_json(response)
        if not isinstance(rows, list):
            raise ConnectorError(
                f"{self.name} (connection {self._conn_id}): {path} did not return a list"
            )
        return rows

    def _land_ticket(self, page: Page, rec: Any, position: str) -> None:
        problem = (
            check_record(rec, ("created_at", "updated_at"))
            or check_stats(rec)
            or self._code_problem(rec)
        )
        if problem:
            self._quarantine(page, problem, rec, position)
            return
        page.records.append(
            LandingRecord(
                "freshdesk_tickets",
                str(rec["id"]),
                parse_time(rec["updated_at"]),
                rec,
                position=position,
            )
        )

    def _conversations(self, client: VendorClient, ticket_ids: list) -> Iterator[Page]:
        page = Page("conversations")
        for tid in ticket_ids:
            path = f"/api/v2/tickets/{tid}/conversations"
            for position, rec in self._stable_list(client, path, f"conversations ticket {tid}"):
                problem = check_record(rec, ("created_at", "updated_at"))
                if problem:
                    self._quarantine(page, problem, rec, position)
                    continue
                page.records.append(
                    LandingRecord(
                        "freshdesk_conversations",
                        str(rec["id"]),
                        parse_time(rec["updated_at"]),
                        rec,
                        position=position,
                    )
                )
            if len(page.records) >= CONVERSATION_PAGE:
                yield page  # no state: the tickets page that follows moves it
                page = Page("conversations")
        if page.records or page.quarantined:
            yield page

    def _stable_list(self, client: VendorClient, path: str, what: str) -> list[tuple[str, Any]]:
        """Every record of a short list paged by number (a ticket's conversations, oldest
        first): one page needs nothing more. Over several pages, a record deleted from a page
        already read pulls the next one onto it, unseen (additions go to the end); a pass that
        finds exactly the records of the pass before it missed none, so passes repeat until
        one does. Returns (position, record) of every version seen, once."""
        out: dict[tuple[str, str], tuple[str, Any]] = {}
        previous: set[tuple[str, str]] | None = None
        for _attempt in range(MAX_PASSES):
            seen: set[tuple[str, str]] = set()
            pages = 0
            for n, rows, _last in self._listing(client, path, {}):
                pages = n
                for i, rec in enumerate(rows):
                    k = ticket_key(rec)
                    seen.add(k)
                    out.setdefault(k, (f"{what} page {n} #{i}", rec))
            if pages <= 1 or seen == previous:
                return list(out.values())
            previous = seen
        raise ConnectorError(
            f"{self.name} (connection {self._conn_id}): {path} kept changing over "
            f"{MAX_PASSES} reads"
        )

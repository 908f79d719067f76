"""Freshdesk API v2 connector: windowed, restartable, never past `until`.

Streams, in order:
- surveys: the full list each run; it also gives each question's accepted rating codes, which
  validate the ratings that follow.
- satisfaction_ratings: created_since a lookback window before the last rating seen.
- contacts: _updated_since the last contact seen (minus an overlap); the list has no order, so
  its state is committed with the last page.
- tickets (+ conversations): updated_since with include=stats, order_by=updated_at asc,
  per_page <= 100, following the `link` header. Freshdesk refuses pages beyond 300, so the time
  range is walked in windows of options.window_days; a window that reaches the cap (page 300,
  or the API's 400 for page 301) is cut at the newest ticket loaded and the next window starts
  there. Windows and resumed runs start an overlap earlier; the raw key (id, updated_at) drops
  the repeats. The state is the newest updated_at fully loaded, committed with each page. The
  conversations of each ticket on a page land before the page's state moves (one request per
  ticket, streamed so memory stays flat).

Every response's X-RateLimit-Remaining is read: when little is left of the minute's budget the
connector slows down instead of running into 429s (which VendorClient still honours).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

from schoolcx.connectors.base import (
    ConnectorContext,
    ConnectorError,
    LandingRecord,
    Page,
    QuarantinedRecord,
)
from schoolcx.connectors.http import RetryPolicy, VendorClient, parsed_json

UTC = dt.UTC
MAX_PAGES = 300  # Freshdesk's documented cap on list pages
OVERLAP = dt.timedelta(minutes=5)  # windows and resumed runs start this much earlier
LOW_WATER = 0.10  # slow down when less than this share of the minute's budget is left
MAX_PAUSE = 30.0
STATS_CHECKED = ("first_responded_at", "resolved_at", "closed_at")
CONVERSATION_PAGE = 1000  # conversation records per landed page
STREAMS = ("surveys", "satisfaction_ratings", "contacts", "tickets")


class PageCapReached(Exception):
    """The API refused a page beyond its cap: the window must be cut."""


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO-8601 timestamp with a zone (Freshdesk writes `...Z`), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quarantine(reason: str, record: Any, field: str | None, position: str) -> QuarantinedRecord:
    rid = record.get("id") if isinstance(record, dict) else None
    return QuarantinedRecord(
        reason=reason,
        raw_text=json.dumps(record, default=str),
        record_id=None if rid is None else str(rid),
        field=field,
        position=position,
    )


def check_record(record: Any, time_fields: Iterable[str]) -> tuple[str, str] | None:
    """(reason, field) when a record can't land: no id, or a timestamp that doesn't parse."""
    if not isinstance(record, dict) or record.get("id") in (None, ""):
        return "missing_id", "id"
    for name in time_fields:
        if parse_time(record.get(name)) is None:
            return "unparsable_timestamp", name
    return None


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


def is_page_cap(response: httpx.Response) -> bool:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any(isinstance(e, dict) and e.get("field") == "page" for e in errors)


class FreshdeskConnector:
    source_type = "freshdesk"

    def __init__(
        self,
        ctx: ConnectorContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        streams: tuple[str, ...] = STREAMS,
    ):
        if ctx.connection is None:
            raise ConnectorError(f"{ctx.source.name}: a freshdesk source needs a connection")
        self.ctx = ctx
        self.name = ctx.source.name
        self.opts = ctx.source.opts
        self.policy = policy
        self.sleep = sleep
        self.streams = streams
        self.start = dt.datetime.combine(ctx.source.start_date, dt.time(), tzinfo=UTC)
        self.scales: dict[int, dict[str, set]] = {}  # survey id -> question id -> codes
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
            raise ConnectorError(f"{self.name}: `until` must be timezone-aware")
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
                f"{self.name}: GET {exc.request.url.path} was refused with "
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
            rows = parsed_json(response)
            if not isinstance(rows, list):
                raise ConnectorError(f"{self.name}: {path} did not return a list")
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

    # ---- tickets in windows, with their conversations ---------------------------------
    def _tickets(self, client, state, until) -> Iterator[Page]:
        loaded = min(parse_time(state.get("updated_since")) or self.start, until)
        resumed = "updated_since" in state
        window = dt.timedelta(days=self.opts.window_days)
        while loaded < until:
            since = loaded - OVERLAP if resumed else loaded
            end = min(loaded + window, until)
            reached = yield from self._ticket_window(client, since, end, loaded)
            if reached <= since:
                raise ConnectorError(
                    f"{self.name}: {MAX_PAGES} pages of tickets changed within "
                    f"{OVERLAP} of {iso(since)}; the window cannot be cut any smaller"
                )
            loaded, resumed = reached, True

    def _ticket_window(
        self, client: VendorClient, since: dt.datetime, end: dt.datetime, floor: dt.datetime
    ) -> Iterator[Page]:
        """Load tickets updated in [since, end]; returns the newest updated_at fully loaded
        (end, or where the window was cut at the page cap)."""
        params = {
            "updated_since": iso(since),
            "include": "stats",
            "order_by": "updated_at",
            "order_type": "asc",
        }
        newest = floor
        pages = self._listing(client, "/api/v2/tickets", params)
        while True:
            try:
                n, rows, last = next(pages)
            except StopIteration:
                return end
            except PageCapReached:
                return newest  # page 301 refused: cut the window here
            page, beyond = Page("tickets"), False
            for i, rec in enumerate(rows):
                position = f"tickets updated_since={iso(since)} page {n} #{i}"
                updated = parse_time(rec.get("updated_at")) if isinstance(rec, dict) else None
                if updated is not None and updated > end:
                    beyond = True  # ordered by updated_at: the rest belongs to later windows
                    break
                problem = check_record(rec, ("created_at", "updated_at")) or check_stats(rec)
                if problem:
                    self._quarantine(page, problem, rec, position)
                    continue
                newest = max(newest, updated)
                page.records.append(
                    LandingRecord(
                        "freshdesk_tickets", str(rec["id"]), updated, rec, position=position
                    )
                )
            yield from self._conversations(client, [r.payload["id"] for r in page.records])
            if beyond or last:
                page.state = {"updated_since": iso(end)}
                yield page
                return end
            # Tickets sharing the newest second may continue on the next page: the restart
            # overlap re-reads them.
            page.state = {"updated_since": iso(newest)}
            yield page
            if n >= MAX_PAGES:
                return newest  # the API would refuse the next page

    def _conversations(self, client: VendorClient, ticket_ids: list) -> Iterator[Page]:
        page = Page("conversations")
        for tid in ticket_ids:
            path = f"/api/v2/tickets/{tid}/conversations"
            for n, rows, _last in self._listing(client, path, {}):
                for i, rec in enumerate(rows):
                    position = f"conversations ticket {tid} page {n} #{i}"
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

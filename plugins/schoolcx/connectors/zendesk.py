"""Zendesk Support API v2 connector: incremental, restartable, never past `until`.

Streams, in order (each yields Pages whose state is committed with their rows):
- groups, organizations: small; the full list each run (the raw key makes it idempotent).
- users: cursor-based incremental export, version = updated_at.
- tickets: cursor-based incremental export with include=metric_sets; each ticket's metric set
  is attached as `metric_set`; version = generated_timestamp, which moves on system updates too
  (updated_at does not: using it misses updates).
- ticket_events: time-based export with include=comment_events. Time-based pages repeat the
  items of their last second on the next page, so events already seen are dropped by id. The
  envelope may lack `end_of_stream` (only count, next_page, end_time): a page shorter than the
  one asked for is the end. Comments come in full (`public`, `author_id`) or compact
  (`comment_public`, author = the event's `updater_id`) form, as accounts honour the sideload
  or not; a comment that says neither whether it is public nor who wrote it is quarantined with
  its event, never landed as a private comment that would leave its ticket unanswered.
- satisfaction_ratings: scores change after a ticket is solved, so every run re-reads a lookback
  window (options.rating_lookback_days) before the last rating seen.

`until` bounds every stream: a record whose version is later than `until` is left for the next
run, and no state ever points past `until` (Zendesk itself holds back the last minute).
Records that break the landing contract are quarantined with a reason; unknown fields are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schoolcx.connectors.base import (
    ApiConnector,
    ConnectorError,
    LandingRecord,
    Page,
)
from schoolcx.connectors.http import VendorClient
from schoolcx.connectors.records import check_record, from_epoch, parse_time, quarantine

UTC = dt.UTC
TICKETS_PATH = "/api/v2/incremental/tickets/cursor.json"
USERS_PATH = "/api/v2/incremental/users/cursor.json"
EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
RATINGS_PATH = "/api/v2/satisfaction_ratings"
SCORES = ("good", "bad", "offered", "unoffered")
STREAMS = ("groups", "organizations", "users", "tickets", "ticket_events", "satisfaction_ratings")
MAX_EVENTS_PAGE = 1000  # the API's largest per_page


def epoch(t: dt.datetime) -> int:
    return int(t.timestamp())


def check_comments(event: dict) -> tuple[str, str] | None:
    """(reason, field) when a comment child of a ticket event can't be read in either form."""
    children = event.get("child_events")
    if not isinstance(children, list):
        return None
    for i, child in enumerate(children):
        if not isinstance(child, dict) or child.get("event_type", child.get("type")) != "Comment":
            continue
        if child.get("comment_present") is False:
            continue  # the compact form's "no comment in this update"
        if not any(isinstance(child.get(k), bool) for k in ("public", "comment_public")):
            return "comment_visibility_missing", f"child_events[{i}]"
        if child.get("author_id") in (None, "") and event.get("updater_id") in (None, ""):
            return "comment_author_missing", f"child_events[{i}]"
    return None


class ZendeskConnector(ApiConnector):
    source_type = "zendesk"
    STREAMS = STREAMS

    def _client(self) -> VendorClient:
        conn = self.ctx.connection
        assert conn is not None
        login = conn.login if conn.login.endswith("/token") else f"{conn.login}/token"
        return VendorClient(
            self.opts.base_url or conn.base_url(),
            conn_id=conn.conn_id,
            source=self.name,
            auth=(login, conn.password),
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

    # ---- small lists: full each run ------------------------------------------------------
    def _groups(self, client, state, until) -> Iterator[Page]:
        yield from self._listing(client, "groups", "/api/v2/groups", until)

    def _organizations(self, client, state, until) -> Iterator[Page]:
        yield from self._listing(client, "organizations", "/api/v2/organizations", until)

    def _listing(
        self, client: VendorClient, stream: str, path: str, until: dt.datetime
    ) -> Iterator[Page]:
        url, params, n = path, {"page[size]": 100}, 0
        while True:
            body = client.get_json(url, params=params)
            n += 1
            page = Page(stream)
            for i, rec in enumerate(body.get(stream) or []):
                position = f"{stream} page {n} #{i}"
                if (problem := check_record(rec, ("updated_at",))) is not None:
                    page.quarantined.append(quarantine(problem[0], rec, problem[1], position))
                    continue
                updated = parse_time(rec["updated_at"])
                if updated > until:
                    continue  # changed after this run's window: the next run lands it
                page.records.append(
                    LandingRecord(
                        f"zendesk_{stream}", str(rec["id"]), updated, rec, position=position
                    )
                )
            more = (body.get("meta") or {}).get("has_more") and (body.get("links") or {}).get(
                "next"
            )
            page.state = None if more else {"synced_through": until.isoformat()}
            yield page
            if not more:
                return
            url, params = body["links"]["next"], None

    # ---- cursor exports: users and tickets --------------------------------------------------
    def _users(self, client, state, until) -> Iterator[Page]:
        def land(rec, position):
            problem = check_record(rec, ("created_at", "updated_at"))
            if problem:
                return problem
            return LandingRecord(
                "zendesk_users",
                str(rec["id"]),
                parse_time(rec["updated_at"]),
                rec,
                person_email=rec.get("email"),
                position=position,
            )

        # Users are a dimension, not events: the first export starts at the beginning, since an
        # agent created before the source's start_date still answers tickets after it.
        yield from self._cursor_export(
            client, "users", USERS_PATH, {}, state, until, land, initial_start=1
        )

    def _tickets(self, client, state, until) -> Iterator[Page]:
        def land(rec, position, metric_sets):
            problem = check_record(rec, ("created_at", "updated_at"))
            if problem:
                return problem
            version = from_epoch(rec.get("generated_timestamp"))
            if version is None:
                return "unparsable_timestamp", "generated_timestamp"
            rec["metric_set"] = metric_sets.get(rec["id"])
            return LandingRecord("zendesk_tickets", str(rec["id"]), version, rec, position=position)

        params = {"include": "metric_sets"}
        yield from self._cursor_export(client, "tickets", TICKETS_PATH, params, state, until, land)

    def _cursor_export(
        self,
        client: VendorClient,
        stream: str,
        path: str,
        params: dict,
        state: dict,
        until: dt.datetime,
        land,
        initial_start: int | None = None,
    ) -> Iterator[Page]:
        """Follow after_cursor until end_of_stream; stop at the first version past `until`
        and remember where to start again (the export is ordered by version)."""
        params = {**params, "per_page": self.opts.page_size}
        if state.get("cursor"):
            params["cursor"] = state["cursor"]
        else:
            first = epoch(self.start) if initial_start is None else initial_start
            params["start_time"] = int(state.get("start_time") or first)
        # One page of read-ahead: the next page downloads while this one is validated and
        # written (the cursor for it is known as soon as this page is parsed).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-{stream}") as ex:
            pending = ex.submit(client.get_json, path, params=params)
            while True:
                body = pending.result()
                cursor = body.get("after_cursor")
                if not cursor:
                    raise ConnectorError(f"{self.name}: {stream} export page without after_cursor")
                where = params.get("cursor") or f"start_time={params.get('start_time')}"
                params = {
                    "cursor": cursor,
                    "per_page": self.opts.page_size,
                    **({"include": params["include"]} if "include" in params else {}),
                }
                if not body.get("end_of_stream"):
                    pending = ex.submit(client.get_json, path, params=params)
                page, beyond = self._export_page(stream, body, where, until, land)
                if beyond:
                    # Restart next time from `until` itself: versions at that second are
                    # re-read and skipped by the raw key; nothing after `until` is marked
                    # loaded. (A page read ahead past `until` is simply dropped.)
                    page.state = {"start_time": epoch(until)}
                    yield page
                    return
                page.state = {"cursor": cursor}
                yield page
                if body.get("end_of_stream"):
                    return

    def _export_page(
        self, stream: str, body: dict, where: str, until: dt.datetime, land
    ) -> tuple[Page, bool]:
        """The landing records of one export page within `until`, and whether the page held a
        version past it. Every record of the page is looked at: a page need not be ordered
        (a version past `until` before one within it must not hide the one within)."""
        metric_sets = {
            m.get("ticket_id"): m for m in body.get("metric_sets") or [] if isinstance(m, dict)
        }
        page, beyond = Page(stream), False
        for i, rec in enumerate(body.get(stream) or []):
            position = f"{stream} {where} #{i}"
            result = (
                land(rec, position, metric_sets) if stream == "tickets" else land(rec, position)
            )
            if isinstance(result, tuple):
                page.quarantined.append(quarantine(result[0], rec, result[1], position))
            elif result.updated_at > until:
                beyond = True
            else:
                page.records.append(result)
        return page, beyond

    # ---- time-based export: ticket events --------------------------------------------------
    def _ticket_events(self, client, state, until) -> Iterator[Page]:
        limit = epoch(until)
        start = min(int(state.get("start_time") or epoch(self.start)), limit)
        seen = set(state.get("boundary_ids") or [])  # ids already landed at `start`
        per_page = self.opts.page_size
        while True:
            body = client.get_json(
                EVENTS_PATH,
                params={"start_time": start, "include": "comment_events", "per_page": per_page},
            )
            page, page_ids, beyond = Page("ticket_events"), set(), False
            times: dict[str, int] = {}
            items = body.get("ticket_events") or []
            for i, rec in enumerate(items):
                position = f"ticket_events start_time={start} #{i}"
                problem = check_record(rec, ("created_at",)) or check_comments(rec)
                if problem:
                    page.quarantined.append(quarantine(problem[0], rec, problem[1], position))
                    continue
                created = parse_time(rec["created_at"])
                ts = epoch(created)
                if ts > limit:
                    beyond = True
                    continue
                key = str(rec["id"])
                duplicate = key in seen or key in page_ids
                page_ids.add(key)
                times[key] = ts
                if duplicate:
                    continue  # a page-boundary duplicate, or the same page served again
                page.records.append(
                    LandingRecord("zendesk_ticket_events", key, created, rec, position=position)
                )
            end_time = body.get("end_time")
            next_start = min(int(end_time) if isinstance(end_time, int) else start, limit)
            # Remember the ids of this page (and of the boundary second if it did not move) so
            # the next page's repeats of them are dropped; persist only the boundary second's.
            seen = page_ids | (seen if next_start == start else set())
            boundary = sorted(k for k in seen if times.get(k, next_start) == next_start)
            # end_of_stream when the envelope has it (recorded envelopes often lack it); else
            # a page shorter than asked is the last.
            short = len(items) < per_page
            done = beyond or bool(body.get("end_of_stream")) or short or next_start >= limit
            page.state = {"start_time": next_start, "boundary_ids": boundary}
            yield page
            if done:
                return
            if next_start == start and not page.records:
                # A full page of the second we started at, all of it landed already: either the
                # stream ends on a second holding exactly a page, or that second holds more
                # events than a page. Ask again with a larger page: a short answer proves the
                # end, new events go on. At the API's largest page it stays ambiguous, and a
                # loud error beats skipping the rest of that second in silence.
                if per_page >= MAX_EVENTS_PAGE:
                    raise ConnectorError(
                        f"{self.name}: ticket events export does not advance past start_time "
                        f"{start}; more events share one second than a page holds"
                    )
                per_page = min(per_page * 2, MAX_EVENTS_PAGE)
            else:
                per_page = self.opts.page_size
            start = next_start

    # ---- satisfaction ratings with a lookback ---------------------------------------------
    def _satisfaction_ratings(self, client, state, until) -> Iterator[Page]:
        limit = epoch(until)
        start = min(int(state.get("start_time") or epoch(self.start)), limit)
        lookback = dt.timedelta(days=self.opts.rating_lookback_days)
        url, params = RATINGS_PATH, {"start_time": start, "end_time": limit, "page[size]": 100}
        latest, n = None, 0
        while True:
            body = client.get_json(url, params=params)
            n += 1
            page = Page("satisfaction_ratings")
            for i, rec in enumerate(body.get("satisfaction_ratings") or []):
                position = f"satisfaction_ratings start_time={start} page {n} #{i}"
                problem = check_record(rec, ("created_at", "updated_at"))
                if problem is None and rec.get("score") not in SCORES:
                    problem = ("invalid_score", "score")
                if problem:
                    page.quarantined.append(quarantine(problem[0], rec, problem[1], position))
                    continue
                updated = parse_time(rec["updated_at"])
                if updated > until:
                    continue  # rated after this run's window: the next run re-reads it
                latest = max(latest or updated, updated)
                page.records.append(
                    LandingRecord(
                        "zendesk_satisfaction_ratings",
                        str(rec["id"]),
                        updated,
                        rec,
                        position=position,
                    )
                )
            more = (body.get("meta") or {}).get("has_more") and (body.get("links") or {}).get(
                "next"
            )
            if not more:
                # Next run starts a lookback before the newest rating seen (never moving back).
                newest = min(latest, until) if latest else None
                page.state = {
                    "start_time": max(start, epoch(newest - lookback)) if newest else start
                }
                yield page
                return
            yield page  # no state mid-stream: a crash re-reads the window, the key dedupes
            url, params = body["links"]["next"], None

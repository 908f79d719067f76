"""SurveyMonkey v3 survey responses: survey details once, then responses/bulk by date_modified.

1. GET /v3/surveys/{id}/details once per run: choice id -> (1-based position in the order the
   survey lists the question's choices, text, number of choices).
2. GET /v3/surveys/{id}/responses/bulk?start_modified_at=<state or start_date>
   &end_modified_at=<until>&sort_by=date_modified&sort_order=ASC&per_page=100&page=1. While
   links.next says there is more, the next request is page 1 again from the newest
   date_modified of the page just read (key-based paging, see pages()): following page numbers
   loses a response when one already read is modified mid-paging. A whole page within one
   second cannot be passed by key (the API's resolution is a second): that second is read by
   page numbers in passes until two find the same responses (a modification only moves a
   response out of a past second), then the key goes on from the next second; a second that
   keeps changing over MAX_PASSES reads, or needs more than MAX_SECOND_PAGES pages a pass,
   stops the run with an error naming source and connection. Each page of responses is
   one landed Page whose state is the greatest date_modified seen, so a crash resumes at the
   last committed page (the boundary responses are fetched again and skipped by the raw
   primary key).

Budget: private apps get a few hundred calls a day. Every answer's
X-Ratelimit-App-Global-Day-Remaining is read; when it falls to `day_reserve` (connection extra,
default 10) the run stops after committing its state and logs why, and `stopped_early` says so;
the next run continues from that state.

payload = the response as returned plus `_schoolcx.answers` (landing.md). Connection: host =
https://api.surveymonkey.com, password = the access token (Bearer).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Generator, Iterator
from typing import ClassVar
from urllib.parse import urlsplit

import httpx

from schoolcx.connectors.base import (
    ConnectorContext,
    ConnectorError,
    LandingRecord,
    Page,
    QuarantinedRecord,
)
from schoolcx.connectors.http import VendorClient
from schoolcx.connectors.records import parse_timestamp, start_of
from schoolcx.connectors.survey_common import (
    check_rating,
    interaction_reference,
    retry_policy,
    unmapped_climate_answers,
)

log = logging.getLogger(__name__)

TABLE = "surveymonkey_responses"
STREAM = "responses"
DAY_REMAINING = "X-Ratelimit-App-Global-Day-Remaining"
MAX_PASSES = 5  # reads of a crowded second by page numbers until two agree (see _second)
# Pages of one second in one pass: two agreeing passes of 100 pages already cost 200 of a
# private app's 500 calls a day; more than that cannot be read within the budget.
MAX_SECOND_PAGES = 100


def _sm_time(at: dt.datetime) -> str:
    # The API takes YYYY-MM-DDTHH:MM:SS (UTC).
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _modified(response) -> dt.datetime | None:
    return parse_timestamp(response.get("date_modified")) if isinstance(response, dict) else None


def _version(response) -> tuple[str, str]:
    """(id, date_modified) of a response: the same version read twice in a run lands once. A
    response without an id is keyed by its whole text (it is quarantined once)."""
    if isinstance(response, dict) and response.get("id"):
        return str(response["id"]), str(response.get("date_modified"))
    return "", json.dumps(response, sort_keys=True)


def choice_map(details: dict) -> dict[str, dict[str, dict]]:
    """question id -> choice id -> {position, text, choices} from a survey's details."""
    out: dict[str, dict[str, dict]] = {}
    for page in details.get("pages") or []:
        for q in page.get("questions") or []:
            choices = (q.get("answers") or {}).get("choices") or []
            out[str(q["id"])] = {
                str(c["id"]): {"position": n, "text": c.get("text"), "choices": len(choices)}
                for n, c in enumerate(choices, start=1)
            }
    return out


def resolve_answers(response: dict, choices: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """landing.md `_schoolcx.answers`: question id -> the (first) answer, resolved."""
    out: dict[str, dict] = {}
    for page in response.get("pages") or []:
        for q in page.get("questions") or []:
            qid = str(q.get("id"))
            for a in q.get("answers") or []:
                if a.get("choice_id") is not None:
                    found = choices.get(qid, {}).get(str(a["choice_id"]))
                    out[qid] = {
                        "choice_id": str(a["choice_id"]),
                        "position": found["position"] if found else None,
                        "text": found["text"] if found else None,
                        "choices": found["choices"] if found else None,
                    }
                elif a.get("text") is not None:
                    out[qid] = {
                        "choice_id": None,
                        "position": None,
                        "text": a["text"],
                        "choices": None,
                    }
                else:
                    continue
                break  # the first answer of a single-answer question
    return out


class SurveyMonkeyConnector:
    source_type: ClassVar[str] = "surveymonkey"

    def __init__(self, ctx: ConnectorContext):
        if ctx.connection is None:
            raise ConnectorError(f"{ctx.source.name}: a surveymonkey source needs a connection")
        self.ctx = ctx
        self.opts = ctx.source.opts
        self.conn = ctx.connection
        base = (self.opts.base_url or self.conn.base_url()).rstrip("/")
        self.base = base if base.endswith("/v3") else f"{base}/v3"
        self.day_reserve = int(self.conn.extra.get("day_reserve", 10))
        self.stopped_early: str | None = None
        self.day_remaining: int | None = None

    def _get(self, client: VendorClient, url: str, **kwargs) -> dict:
        try:
            resp = client.request("GET", url, expect_json=True, **kwargs)
        except httpx.HTTPStatusError as exc:
            r = exc.response
            raise ConnectorError(
                f"{self.ctx.source.name}: GET {r.request.url.path} answered "
                f"HTTP {r.status_code}: {r.text[:300]}"
            ) from exc
        remaining = resp.headers.get(DAY_REMAINING)
        if remaining is not None and remaining.strip().lstrip("-").isdigit():
            self.day_remaining = int(remaining)
        return resp.json()

    def _budget_low(self) -> bool:
        return self.day_remaining is not None and self.day_remaining <= self.day_reserve

    def pages(self, state: dict[str, dict], until: dt.datetime) -> Iterator[Page]:
        saved = state.get(STREAM) or {}
        survey = self.opts.survey_id
        last = parse_timestamp(saved.get("last_modified"))
        start = last or start_of(self.ctx.source.start_date)
        if start >= until:
            return  # a rerun of a window already read past
        with VendorClient(
            self.base,
            conn_id=self.conn.conn_id,
            source=self.ctx.source.name,
            headers={"Authorization": f"Bearer {self.conn.password}"},
            policy=retry_policy(self.conn),
        ) as client:
            choices = choice_map(self._get(client, f"/surveys/{survey}/details"))
            if self._budget_low():
                yield from self._stop(last)
                return
            url = f"/surveys/{survey}/responses/bulk"
            query_from, n_page = start, 0
            seen: set[tuple[str, str]] = set()  # versions landed (or quarantined) in this run
            while True:
                body = self._bulk(client, url, query_from, until, 1)
                n_page += 1
                page = Page(STREAM)
                newest: dt.datetime | None = None
                for n, response in enumerate(body.get("data") or [], start=1):
                    if _version(response) in seen:
                        continue  # the overlap of a re-query: already landed in this run
                    seen.add(_version(response))
                    modified = self._add(page, response, choices, f"page {n_page} #{n}")
                    if modified and (newest is None or modified > newest):
                        newest = modified
                if newest and (last is None or newest > last):
                    last = newest
                page.state = {"last_modified": last.isoformat()} if last else None
                yield page
                if not (body.get("links") or {}).get("next"):
                    return
                self._check_next_host(body["links"]["next"])
                if self._budget_low():
                    yield from self._stop(last)
                    return
                # Key-based paging: the next request starts again at page 1 from this page's
                # newest date_modified (inclusive, so responses sharing that second come again
                # and are skipped above). Page numbers over a list ordered by date_modified
                # shift when a response already read is modified (it moves to the end), and
                # the response after it would never be read.
                if newest is not None and newest > query_from:
                    query_from = newest
                    continue
                # A whole page within one second: the key cannot pass it (the API's resolution
                # is a second). Read that second in stable passes, then go on from the next.
                after = yield from self._second(client, url, query_from, until, choices, seen)
                if after is None:
                    return  # stopped early for the day's budget (state saved at the second)
                if after >= until:
                    return
                query_from = last = after

    def _bulk(
        self, client: VendorClient, url: str, since: dt.datetime, until: dt.datetime, number: int
    ) -> dict:
        return self._get(
            client,
            url,
            params={
                "start_modified_at": _sm_time(since),
                "end_modified_at": _sm_time(until),
                "sort_by": "date_modified",
                "sort_order": "ASC",
                "per_page": self.opts.per_page,
                "page": number,
            },
        )

    def _second(
        self,
        client: VendorClient,
        url: str,
        since: dt.datetime,
        until: dt.datetime,
        choices: dict,
        seen: set[tuple[str, str]],
    ) -> Generator[Page, None, dt.datetime | None]:
        """Every response modified within the second of `since`, by page numbers; returns the
        next second (everything before it is loaded), or None after stopping for the budget.
        A modification moves a response out of that past second (to the end of the list),
        never into it, so a pass by page numbers can miss one only when a response it already
        read moved out and shifted the pages; a pass that finds exactly the responses of the
        pass before it missed none. Passes repeat until one does (as Freshdesk's tickets)."""
        key = since.replace(microsecond=0)
        state = {"last_modified": key.isoformat()}  # a crash resumes at this second (again)
        previous: set[tuple[str, str]] | None = None
        for n_pass in range(1, MAX_PASSES + 1):
            found: set[tuple[str, str]] = set()
            number = 1
            while True:
                if self._budget_low():
                    yield from self._stop(key)
                    return None
                body = self._bulk(client, url, key, until, number)
                page, past = Page(STREAM, state=state), False
                for n, response in enumerate(body.get("data") or [], start=1):
                    modified = _modified(response)
                    if modified is not None and modified.replace(microsecond=0) > key:
                        past = True  # beyond the second: the key-based paging reads it next
                        continue
                    version = _version(response)
                    found.add(version)
                    if version not in seen:
                        seen.add(version)
                        position = f"second {_sm_time(key)} pass {n_pass} page {number} #{n}"
                        self._add(page, response, choices, position)
                if page.records or page.quarantined:
                    yield page
                more = bool((body.get("links") or {}).get("next"))
                if past or not more:
                    break
                self._check_next_host(body["links"]["next"])
                if number >= MAX_SECOND_PAGES:
                    raise ConnectorError(
                        f"{self.ctx.source.name} (connection {self.conn.conn_id}): more than "
                        f"{MAX_SECOND_PAGES} pages of responses (per_page {self.opts.per_page}) "
                        f"were modified in the second {_sm_time(key)}; reading them until two "
                        f"passes agree would cost more calls than a day's budget allows, so "
                        f"the run cannot pass that second. Raise per_page to 100 if it is lower"
                    )
                number += 1
            if found == previous:
                after = min(key + dt.timedelta(seconds=1), until)
                yield Page(STREAM, state={"last_modified": after.isoformat()})
                return after
            previous = found
        raise ConnectorError(
            f"{self.ctx.source.name} (connection {self.conn.conn_id}): the responses modified "
            f"in the second {_sm_time(key)} kept changing over {MAX_PASSES} reads; the state "
            f"stays at that second and the next run reads it again"
        )

    def _check_next_host(self, url: str) -> None:
        netloc = urlsplit(url).netloc
        if netloc and netloc != urlsplit(self.base).netloc:
            # Never send the bearer token to a host the connection does not name.
            raise ConnectorError(
                f"{self.ctx.source.name}: links.next points at another host ({netloc}); "
                "refusing to follow it"
            )

    def _stop(self, last: dt.datetime | None) -> Iterator[Page]:
        self.stopped_early = (
            f"{self.ctx.source.name}: stopped early with {self.day_remaining} SurveyMonkey calls "
            f"left today (reserve {self.day_reserve}); state saved at "
            f"{last.isoformat() if last else 'the start'}, the next run continues from there"
        )
        log.warning("%s", self.stopped_early)
        if last is not None:
            yield Page(STREAM, state={"last_modified": last.isoformat()})

    def _add(self, page: Page, response, choices: dict, position: str) -> dt.datetime | None:
        raw_text = json.dumps(response)[:20000]
        if not isinstance(response, dict) or not response.get("id"):
            page.quarantined.append(QuarantinedRecord("missing_id", raw_text, None, "id", position))
            return None
        rid = str(response["id"])
        modified = parse_timestamp(response.get("date_modified"))
        if modified is None:
            page.quarantined.append(
                QuarantinedRecord("unparsable_timestamp", raw_text, rid, "date_modified", position)
            )
            return None
        answers = resolve_answers(response, choices)
        extra: dict = {"answers": answers}
        if self.opts.kind == "climate":
            bad = unmapped_climate_answers(
                list(answers), self.opts.item_map, rid, raw_text, position
            )
            if bad:
                page.quarantined.append(bad)
                return modified
        if self.opts.kind == "point_of_contact":
            for question, scale in self.opts.rating_scales().items():
                problem = _rating_problem(answers.get(question), scale, question, rid, raw_text)
                if problem:
                    page.quarantined.append(
                        QuarantinedRecord(problem.reason, raw_text, rid, question, position)
                    )
                    return modified
            extra["interaction_ref"] = _reference(response, self.opts.interaction_ref_question)
        payload = {**response, "_schoolcx": extra}
        page.records.append(
            LandingRecord(
                TABLE,
                rid,
                modified,
                payload,
                person_email=response.get("email_address") or None,
                position=position,
            )
        )
        return modified


def _rating_problem(rating, scale, question: str, rid: str, raw_text: str):
    """The quarantine of one answered rating question, or None."""
    if not rating:
        return None
    if rating["choice_id"] is not None and rating["position"] is None:
        return QuarantinedRecord("unknown_choice", raw_text, rid, question)
    text = str(rating.get("text") or "").strip()
    # A numeric choice text is the rating (0-10 scales start at 0); else the position.
    value = text if _is_number(text) else rating["position"]
    return check_rating(value, scale, question, rid, raw_text, None)


def _reference(response: dict, question: str | None) -> str | None:
    """The open-ended answer of the interaction reference question, as given."""
    if not question:
        return None
    for page in response.get("pages") or []:
        for q in page.get("questions") or []:
            if str(q.get("id")) == question:
                for a in q.get("answers") or []:
                    if a.get("text") is not None:
                        return interaction_reference(a["text"])
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

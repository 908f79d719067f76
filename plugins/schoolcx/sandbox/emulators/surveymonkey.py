"""SurveyMonkey v3 emulator: survey details, bulk responses with links.next, rate-limit headers.

    GET /v3/surveys/{id}/details          pages[].questions[].answers.choices[{id, text, position}]
    GET /v3/surveys/{id}/responses/bulk   ?start_modified_at&end_modified_at&per_page&page
                                          &sort_by=date_modified&sort_order=ASC

Auth: `Authorization: Bearer <token>` (401 with SurveyMonkey's error body otherwise). Every
answer carries the X-Ratelimit-App-Global-{Day,Minute}-{Limit,Remaining,Reset} headers; the
day's budget (`day_limit`) is spent per request and a request past it gets 429.

World rendering: each climate item becomes a single-choice question whose six choices are the
agreement scale (positions 1..5) and "Don't know" (6); a point-of-contact survey adds an
open-ended question holding the interaction id and a rating question whose choices are the
scale's numbers.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from schoolcx.config import Source
from schoolcx.sandbox.demo.world import SurveyAnswerSet, World
from schoolcx.sandbox.emulators.http_base import EmulatorServer, Faults, Request, Response
from schoolcx.sandbox.emulators.qualtrics import (
    LABELS,
    rating_number,
    rating_question_for,
    reference_text,
    survey_sources,
)

MAX_PER_PAGE = 100


def _choice_id(question_id: str, position: int) -> str:
    return f"{question_id}{position:02d}"


def rating_values(source: Source, responses: list[SurveyAnswerSet] = ()) -> dict[str, list[int]]:
    """Each rating question's choices: its configured scale, plus any value the world's
    responses use outside it (a survey whose choices disagree with the config)."""
    out = {}
    for qid, (lo, hi) in source.opts.rating_scales().items():
        used = set()
        for r in responses:
            question = rating_question_for(source, r.rating)
            if question and question[0] == qid:
                n = rating_number(r.rating, question[1])
                if n is not None:
                    used.add(int(n))
        out[qid] = sorted(set(range(int(lo), int(hi) + 1)) | used)
    return out


def survey_details(source: Source, values: dict[str, list[int]] | None = None) -> dict:
    opts = source.opts
    questions = []
    for qid, code in opts.item_map.items():
        questions.append(
            {
                "id": qid,
                "family": "single_choice",
                "subtype": "vertical",
                "headings": [{"heading": code}],
                "answers": {
                    "choices": [
                        {
                            "id": _choice_id(qid, pos),
                            "text": LABELS[pos],
                            "position": pos,
                            "visible": True,
                        }
                        for pos in range(1, 7)
                    ]
                },
            }
        )
    if opts.kind == "point_of_contact":
        if opts.interaction_ref_question:
            questions.append(
                {
                    "id": opts.interaction_ref_question,
                    "family": "open_ended",
                    "subtype": "single",
                    "headings": [{"heading": "Ticket number"}],
                }
            )
        values = values or rating_values(source)
        for qid in opts.rating_scales():
            questions.append(
                {
                    "id": qid,
                    "family": "single_choice",
                    "subtype": "vertical",
                    "headings": [{"heading": "How satisfied are you with the answer?"}],
                    "answers": {
                        "choices": [
                            {
                                "id": _choice_id(qid, n),
                                "text": str(v),
                                "position": n,
                                "visible": True,
                            }
                            for n, v in enumerate(values[qid], start=1)
                        ]
                    },
                }
            )
    return {
        "id": opts.survey_id,
        "title": f"Survey {opts.survey_id}",
        "language": "en",
        "question_count": len(questions),
        "pages": [
            {"id": "1", "position": 1, "question_count": len(questions), "questions": questions}
        ],
    }


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def render_response(r: SurveyAnswerSet, source: Source, values: dict[str, list[int]]) -> dict:
    opts = source.opts
    by_code = {code: qid for qid, code in opts.item_map.items()}
    questions = []
    for code, answer in r.answers.items():
        qid = by_code.get(code)
        if qid is None or answer is None:
            continue
        pos = 6 if answer == "dont_know" else int(answer)
        questions.append({"id": qid, "answers": [{"choice_id": _choice_id(qid, pos)}]})
    if opts.kind == "point_of_contact":
        if opts.interaction_ref_question and reference_text(r) is not None:
            questions.append(
                {"id": opts.interaction_ref_question, "answers": [{"text": reference_text(r)}]}
            )
        question = rating_question_for(source, r.rating)
        number = rating_number(r.rating, question[1] if question else None)
        if question and number is not None:
            pos = values[question[0]].index(int(number)) + 1
            questions.append(
                {"id": question[0], "answers": [{"choice_id": _choice_id(question[0], pos)}]}
            )
    modified = r.rating.at if r.rating and r.rating.at > r.submitted_at else r.submitted_at
    return {
        "id": r.response_id,
        "survey_id": opts.survey_id,
        "collector_id": "400000001",
        "recipient_id": "",
        "total_time": 240,
        "custom_value": "",
        "ip_address": "203.0.113.7",
        "custom_variables": {},
        "logic_path": {},
        "metadata": {},
        "response_status": "completed",
        "page_path": [],
        "collection_mode": "default",
        "date_created": _stamp(r.submitted_at - dt.timedelta(minutes=4)),
        "date_modified": _stamp(modified),
        "href": f"https://api.surveymonkey.com/v3/surveys/{opts.survey_id}/responses/"
        f"{r.response_id}",
        "pages": [{"id": "1", "questions": questions}],
    }


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass
class SurveyMonkeyEmulator:
    world: World
    sources: dict[str, Source]
    day_limit: int = 500
    minute_limit: int = 120
    tokens: dict[str, str] = field(default_factory=dict)  # survey id -> bearer token
    base_url: str = ""
    day_used: int = 0
    # Called after each bulk page is built (tests change responses between page requests).
    on_bulk: Callable[[int], None] | None = None
    bulk_served: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.by_survey = {s.opts.survey_id: (name, s) for name, s in self.sources.items()}
        for name, s in self.sources.items():
            self.tokens.setdefault(s.opts.survey_id, f"surveymonkey-token-{name}")
        self.rating_choices: dict[str, dict[str, list[int]]] = {}
        # Mutable (tests add or break responses): per survey id, sorted by date_modified.
        self.responses: dict[str, list[dict]] = {}
        for name, s in self.sources.items():
            answers = self.world.responses_for_source(name)
            values = rating_values(s, answers)
            self.rating_choices[s.opts.survey_id] = values
            self.responses[s.opts.survey_id] = sorted(
                (render_response(r, s, values) for r in answers),
                key=lambda x: (x["date_modified"], x["id"]),
            )

    def _limits(self) -> dict[str, str]:
        return {
            "X-Ratelimit-App-Global-Day-Limit": str(self.day_limit),
            "X-Ratelimit-App-Global-Day-Remaining": str(max(0, self.day_limit - self.day_used)),
            "X-Ratelimit-App-Global-Day-Reset": "43200",
            "X-Ratelimit-App-Global-Minute-Limit": str(self.minute_limit),
            "X-Ratelimit-App-Global-Minute-Remaining": str(self.minute_limit - 1),
            "X-Ratelimit-App-Global-Minute-Reset": "60",
        }

    def handle(self, req: Request) -> Response:
        m = re.fullmatch(r"/v3/surveys/([^/]+)/(details|responses/bulk)", req.path)
        if not m:
            return _error(404, "1020", "Resource Not Found", "not found", self._limits())
        survey_id, what = m.groups()
        if survey_id not in self.by_survey:
            return _error(
                404,
                "1020",
                "Resource Not Found",
                "There was an error retrieving the requested resource.",
                {},
            )
        if req.headers.get("authorization") != f"Bearer {self.tokens[survey_id]}":
            return _error(
                401,
                "1011",
                "Authorization Error",
                "The authorization token provided was invalid.",
                {},
            )
        with self._lock:
            if self.day_used >= self.day_limit:
                return _error(
                    429,
                    "1040",
                    "Rate limit reached",
                    "Too many requests were made, try again later.",
                    {**self._limits(), "Retry-After": "43200"},
                )
            self.day_used += 1
            limits = self._limits()
        _name, source = self.by_survey[survey_id]
        if what == "details":
            return Response.json(
                survey_details(source, self.rating_choices[survey_id]), headers=limits
            )
        return self._bulk(survey_id, req, limits)

    def _bulk(self, survey_id: str, req: Request, limits: dict) -> Response:
        try:
            per_page = min(MAX_PER_PAGE, int(req.arg("per_page", "50")))
            page = max(1, int(req.arg("page", "1")))
            start = _parse(req.arg("start_modified_at"))
            end = _parse(req.arg("end_modified_at"))
        except ValueError as exc:
            return _error(400, "1001", "Invalid Request", str(exc), limits)

        def wanted(row) -> bool:
            try:
                at = _parse(row.get("date_modified"))
            except ValueError:
                return True  # a damaged record is served as it is
            return at is None or ((start is None or at >= start) and (end is None or at < end))

        # Sorted at every request, as the vendor's index is: a response modified while a
        # client pages moves to the end and shifts the pages after it.
        rows = sorted(
            (r for r in self.responses[survey_id] if wanted(r)),
            key=lambda r: (str(r.get("date_modified")), str(r.get("id"))),
        )
        if req.arg("sort_order", "DESC").upper() == "DESC":
            rows = rows[::-1]
        chunk = rows[(page - 1) * per_page : page * per_page]
        query = {k: v[0] for k, v in req.query.items()}
        base = f"{self.base_url}{req.path}"
        links = {"self": f"{base}?{urlencode({**query, 'page': page})}"}
        if page * per_page < len(rows):
            links["next"] = f"{base}?{urlencode({**query, 'page': page + 1})}"
            links["last"] = f"{base}?{urlencode({**query, 'page': -(-len(rows) // per_page)})}"
        body = {"data": chunk, "per_page": per_page, "page": page, "total": len(rows)}
        response = Response.json({**body, "links": links}, headers=limits)
        self.bulk_served += 1
        if self.on_bulk is not None:
            self.on_bulk(self.bulk_served)
        return response


def _error(status: int, code: str, name: str, message: str, headers: dict) -> Response:
    return Response.json(
        {
            "error": {
                "id": code,
                "name": name,
                "message": message,
                "http_status_code": status,
                "docs": "https://developer.surveymonkey.com/api/v3/#error-codes",
            }
        },
        status=status,
        headers=headers,
    )


@dataclass
class RunningSurveyMonkey:
    server: EmulatorServer
    emulator: SurveyMonkeyEmulator

    @property
    def url(self) -> str:
        return self.server.url

    def connection(self, source_name: str) -> dict:
        """kwargs for schoolcx.connections.connection_json."""
        source = self.emulator.sources[source_name]
        return {
            "conn_type": "http",
            "host": self.server.url,
            "password": self.emulator.tokens[source.opts.survey_id],
            "extra": {},
        }

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> RunningSurveyMonkey:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    world: World, source_names: list[str], faults: Faults | None = None, day_limit: int = 500
) -> RunningSurveyMonkey:
    """Start a SurveyMonkey emulator for these surveymonkey sources; stop() when done."""
    emulator = SurveyMonkeyEmulator(
        world, survey_sources(world, source_names, "surveymonkey"), day_limit=day_limit
    )
    server = EmulatorServer(emulator.handle, faults).start()
    emulator.base_url = server.url
    return RunningSurveyMonkey(server, emulator)

"""Qualtrics v3 response export emulator: the real paths, JSON envelopes and async export job.

    POST /API/v3/surveys/{surveyId}/export-responses          start a job -> progressId
    GET  /API/v3/surveys/{surveyId}/export-responses/{progressId}   poll: inProgress, complete
    GET  /API/v3/surveys/{surveyId}/export-responses/{fileId}/file  the zip (one .json inside)

Auth is the X-API-TOKEN header (401 otherwise). A job reports `inProgress` for the first
`polls_in_progress` polls, then `complete` with a fileId, and, when the export asked for
`allowContinuation`, a continuationToken that a later export passes instead of dates to get the
responses recorded since. Everything goes through EmulatorServer, so faults and rate limits
apply as for every vendor.

World rendering: climate answers by stable item code are written under the survey's own
question ids (the source's item_map inverted); "dont_know" is code 6, a blank answer is absent.
A point-of-contact response carries the rated interaction's reference (its id, or an email
thread's root Message-ID) in interaction_ref_question and the rating in the rating question
whose scale is the rating's (rating_questions: one question per respondent's variant).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
import json
import re
import threading
import zipfile
from dataclasses import dataclass, field

import yaml

from schoolcx.config import DeploymentConfig, Source
from schoolcx.sandbox.demo.world import SurveyAnswerSet, World
from schoolcx.sandbox.emulators.http_base import EmulatorServer, Faults, Request, Response

DONT_KNOW_CODE = 6
LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neither agree nor disagree",
    4: "Agree",
    5: "Strongly agree",
    6: "Don't know",
}


def survey_sources(world: World, names: list[str], kind: str) -> dict[str, Source]:
    """The configured sources of type `kind` named in `names`, from the world's config."""
    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    out = {}
    for name in names:
        _district, source = cfg.source(name)
        if source.type != kind:
            raise ValueError(f"source {name!r} is a {source.type} source, not {kind}")
        out[name] = source
    return out


def rating_number(rating, scale: tuple[float, float] | None) -> float | int | None:
    if rating is None:
        return None
    value = rating.value
    if value in ("good", "bad"):
        lo, hi = scale or (1, 5)
        return hi if value == "good" else lo
    return value


def rating_question_for(source: Source, rating) -> tuple[str, tuple[float, float]] | None:
    """The rating question a response answers: the one whose scale is the rating's own (one
    question per respondent's variant), else the first configured."""
    scales = source.opts.rating_scales()
    if not scales or rating is None:
        return None
    for qid, (lo, hi) in scales.items():
        if rating.scale == f"{lo:g}-{hi:g}":
            return qid, (lo, hi)
    return next(iter(scales.items()))


def reference_text(r: SurveyAnswerSet) -> str | None:
    """What the response's reference question holds: the world's reference, else the id."""
    if r.interaction_ref is not None:
        return r.interaction_ref
    return None if r.interaction_id is None else str(r.interaction_id)


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_response(r: SurveyAnswerSet, source: Source) -> dict:
    opts = source.opts
    by_code = {code: qid for qid, code in opts.item_map.items()}
    values: dict = {
        "startDate": _iso(r.submitted_at - dt.timedelta(minutes=4)),
        "endDate": _iso(r.submitted_at),
        "status": 0,
        "ipAddress": "203.0.113.7",
        "progress": 100,
        "duration": 240,
        "finished": 1,
        "recordedDate": _iso(r.submitted_at),
        "_recordId": r.response_id,
        "distributionChannel": "anonymous",
        "userLanguage": "EN",
    }
    labels: dict = {"status": "IP Address", "finished": "True"}
    for code, answer in r.answers.items():
        qid = by_code.get(code)
        if qid is None or answer is None:
            continue
        value = DONT_KNOW_CODE if answer == "dont_know" else int(answer)
        values[qid] = value
        labels[qid] = LABELS.get(value, str(value))
    if opts.kind == "point_of_contact":
        if opts.interaction_ref_question and reference_text(r) is not None:
            values[opts.interaction_ref_question] = reference_text(r)
        question = rating_question_for(source, r.rating)
        number = rating_number(r.rating, question[1] if question else None)
        if question and number is not None:
            values[question[0]] = number
    return {
        "responseId": r.response_id,
        "values": values,
        "labels": labels,
        "displayedFields": sorted(k for k in values if k.startswith("QID")),
        "displayedValues": {},
    }


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _recorded(row: dict) -> dt.datetime | None:
    try:
        return _parse_time((row.get("values") or {}).get("recordedDate"))
    except ValueError:
        return None


@dataclass
class _Job:
    survey_id: str
    responses: list[dict]
    continuation: str | None
    polls_left: int
    file_id: str


@dataclass
class QualtricsEmulator:
    world: World
    sources: dict[str, Source]
    polls_in_progress: int = 2
    tokens: dict[str, str] = field(default_factory=dict)  # survey id -> API token
    exports: list[dict] = field(default_factory=list)  # request bodies, for tests
    _jobs: dict[str, _Job] = field(default_factory=dict)
    _files: dict[str, _Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self):
        self.by_survey = {s.opts.survey_id: (name, s) for name, s in self.sources.items()}
        for name, s in self.sources.items():
            self.tokens.setdefault(s.opts.survey_id, f"qualtrics-token-{name}")

    def responses(self, survey_id: str) -> list[dict]:
        name, source = self.by_survey[survey_id]
        rows = sorted(self.world.responses_for_source(name), key=lambda r: r.submitted_at)
        return [render_response(r, source) for r in rows]

    def handle(self, req: Request) -> Response:
        m = re.fullmatch(r"/API/v3/surveys/([^/]+)/export-responses(?:/([^/]+)(/file)?)?", req.path)
        if not m:
            return _error(404, "Not Found", "RP_0.1")
        survey_id, job_id, file = m.groups()
        if survey_id not in self.by_survey:
            return _error(404, f"Survey {survey_id} not found", "QM_0.2")
        if req.headers.get("x-api-token") != self.tokens[survey_id]:
            return _error(401, "Invalid API token", "AUTH_0.1")
        if req.method == "POST" and job_id is None:
            return self._start(survey_id, req)
        if req.method == "GET" and job_id and not file:
            return self._progress(survey_id, job_id)
        if req.method == "GET" and job_id and file:
            return self._file(survey_id, job_id)
        return _error(405, "Method not allowed", "RP_0.2")

    def _start(self, survey_id: str, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return _error(400, "Body is not JSON", "RP_0.3")
        if body.get("format") != "json":
            return _error(400, "This emulator exports format json only", "RP_0.4")
        token = body.get("continuationToken")
        if token and (body.get("startDate") or body.get("endDate")):
            return _error(400, "continuationToken cannot be combined with dates", "RP_0.5")
        self.exports.append(body)
        rows = self.responses(survey_id)
        try:
            after = _decode_token(token, survey_id) if token else None
            start = _parse_time(body.get("startDate"))
            end = _parse_time(body.get("endDate"))
        except ValueError as exc:
            return _error(400, f"Invalid date or continuation token: {exc}", "RP_0.6")

        def wanted(row) -> bool:
            at = _recorded(row)
            if at is None:
                return True  # a damaged record is exported as it is
            if after is not None:
                return at > after
            return (start is None or at >= start) and (end is None or at < end)

        chosen = [r for r in rows if wanted(r)]
        continuation = None
        if body.get("allowContinuation"):
            # The next continuation export returns what was recorded after this export's end.
            times = [t for t in map(_recorded, chosen) if t is not None]
            if after is not None:
                base = max([after, *times])
            else:
                base = end or max(times, default=None) or dt.datetime.now(dt.UTC)
                base = base - dt.timedelta(microseconds=1)
            continuation = _encode_token(survey_id, base)
        with self._lock:
            n = next(self._ids)
        job = _Job(
            survey_id, chosen, continuation, self.polls_in_progress, f"{n:04d}-fileid-{survey_id}"
        )
        progress_id = f"ES_{n:06d}{survey_id[-6:]}"
        self._jobs[progress_id] = job
        return _ok({"progressId": progress_id, "percentComplete": 0.0, "status": "inProgress"})

    def _progress(self, survey_id: str, progress_id: str) -> Response:
        job = self._jobs.get(progress_id)
        if job is None or job.survey_id != survey_id:
            return _error(404, "Export not found", "RP_0.7")
        with self._lock:
            if job.polls_left > 0:
                job.polls_left -= 1
                done = self.polls_in_progress - job.polls_left
                pct = round(100.0 * done / (self.polls_in_progress + 1), 1)
                return _ok({"fileId": None, "percentComplete": pct, "status": "inProgress"})
        self._files[job.file_id] = job
        result = {"fileId": job.file_id, "percentComplete": 100.0, "status": "complete"}
        if job.continuation:
            result["continuationToken"] = job.continuation
        return _ok(result)

    def _file(self, survey_id: str, file_id: str) -> Response:
        job = self._files.get(file_id)
        if job is None or job.survey_id != survey_id:
            return _error(404, "File not found", "RP_0.8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(
                f"{survey_id} export.json", json.dumps({"responses": job.responses}, indent=1)
            )
        return Response(200, buf.getvalue(), {"Content-Type": "application/zip"})


def _ok(result: dict) -> Response:
    return Response.json(
        {"result": result, "meta": {"requestId": "emulator", "httpStatus": "200 - OK"}}
    )


def _error(status: int, message: str, code: str) -> Response:
    phrase = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        405: "Method Not Allowed",
    }.get(status, "Error")
    return Response.json(
        {
            "meta": {
                "httpStatus": f"{status} - {phrase}",
                "requestId": "emulator",
                "error": {"errorMessage": message, "errorCode": code},
            }
        },
        status=status,
    )


def _encode_token(survey_id: str, after: dt.datetime) -> str:
    raw = json.dumps({"s": survey_id, "a": after.isoformat()}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, survey_id: str) -> dt.datetime:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError("malformed continuation token") from exc
    if data.get("s") != survey_id:
        raise ValueError("continuation token of another survey")
    return dt.datetime.fromisoformat(data["a"])


@dataclass
class RunningQualtrics:
    server: EmulatorServer
    emulator: QualtricsEmulator

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
            "extra": {"poll_interval": 0.05},
        }

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> RunningQualtrics:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    world: World, source_names: list[str], faults: Faults | None = None, polls_in_progress: int = 2
) -> RunningQualtrics:
    """Start a Qualtrics emulator for these qualtrics sources of the world; stop() when done."""
    emulator = QualtricsEmulator(
        world, survey_sources(world, source_names, "qualtrics"), polls_in_progress=polls_in_progress
    )
    server = EmulatorServer(emulator.handle, faults).start()
    return RunningQualtrics(server, emulator)

"""Qualtrics survey responses through the v3 response export job.

1. POST /API/v3/surveys/{id}/export-responses with format=json and allowContinuation=true:
   with the continuationToken kept from the last export when there is one (responses recorded
   since), else startDate = the last recordedDate seen (or the source's start_date) and
   endDate = `until`. A continuation token the server no longer accepts (HTTP 400) falls back
   to the dates.
2. Poll /export-responses/{progressId} until `complete` (bounded by `export_timeout`).
3. Download /export-responses/{fileId}/file (a zip) to a temporary file in chunks, and decode
   the responses of the JSON inside one object at a time, so memory follows one page, not the
   export.

State (stream "responses"): {"continuationToken": ..., "last_recorded_date": ...}, written with
the export's last page only: a crash mid-file re-exports the same window and the raw primary key
skips what already landed. Connection: host = the data-centre URL (https://iad1.qualtrics.com),
password = the API token; extra `poll_interval` (s, default 2), `export_timeout` (s, 900).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator
from typing import IO, ClassVar

import httpx

from schoolcx.connectors.base import (
    ConnectorContext,
    ConnectorError,
    LandingRecord,
    Page,
    QuarantinedRecord,
)
from schoolcx.connectors.http import AuthError, RetryBudgetExhausted, VendorClient
from schoolcx.connectors.records import parse_timestamp, start_of
from schoolcx.connectors.survey_common import (
    check_rating,
    interaction_reference,
    retry_policy,
    unmapped_climate_answers,
)
from schoolcx.runtime import download_timeout

log = logging.getLogger(__name__)

TABLE = "qualtrics_responses"
# An answer in `values` (QID12, a matrix row QID12_3, QID12_TEXT); metadata keys and display
# orders (QID12_DO) are not answers.
ANSWER_KEY = re.compile(r"^QID\d+(?:_\d+)*(?:_TEXT)?$")
STREAM = "responses"
PAGE_SIZE = 1000


class QualtricsConnector:
    source_type: ClassVar[str] = "qualtrics"

    def __init__(self, ctx: ConnectorContext):
        if ctx.connection is None:
            raise ConnectorError(f"{ctx.source.name}: a qualtrics source needs a connection")
        self.ctx = ctx
        self.opts = ctx.source.opts
        self.conn = ctx.connection
        base = (self.opts.base_url or self.conn.base_url()).rstrip("/")
        self.base = base if base.endswith("/API/v3") else f"{base}/API/v3"
        self.poll_interval = float(self.conn.extra.get("poll_interval", 2.0))
        self.export_timeout = float(self.conn.extra.get("export_timeout", 900.0))
        self.sleep = time.sleep
        self.headers = {"X-API-TOKEN": self.conn.password, "Accept": "application/json"}

    def _client(self) -> VendorClient:
        return VendorClient(
            self.base,
            conn_id=self.conn.conn_id,
            source=self.ctx.source.name,
            headers=self.headers,
            policy=retry_policy(self.conn),
            sleep=self.sleep,
        )

    def pages(self, state: dict[str, dict], until: dt.datetime) -> Iterator[Page]:
        saved = state.get(STREAM) or {}
        survey = self.opts.survey_id
        with self._client() as client:
            progress_id, used_token = self._start(client, saved, until)
            if progress_id is None:
                return
            result = self._wait(client, progress_id)
            token = result.get("continuationToken") or (
                saved.get("continuationToken") if used_token else None
            )
            with tempfile.TemporaryFile() as tmp:
                self._download(
                    client, f"/surveys/{survey}/export-responses/{result['fileId']}/file", tmp
                )
                last = saved.get("last_recorded_date")
                page = Page(STREAM)
                for n, response in enumerate(_zip_responses(tmp), start=1):
                    recorded = self._add(page, response, f"export {progress_id} #{n}")
                    if recorded and (last is None or recorded > parse_timestamp(last)):
                        last = recorded.isoformat()
                    if len(page.records) + len(page.quarantined) >= PAGE_SIZE:
                        yield page
                        page = Page(STREAM)
                new_state = {"last_recorded_date": last}
                if token:
                    new_state["continuationToken"] = token
                page.state = new_state
                yield page

    # -- export job ---------------------------------------------------------------------------

    def _start(
        self, client: VendorClient, saved: dict, until: dt.datetime
    ) -> tuple[str | None, bool]:
        path = f"/surveys/{self.opts.survey_id}/export-responses"
        token = saved.get("continuationToken")
        if token:
            try:
                body = client.request(
                    "POST",
                    path,
                    expect_json=True,
                    json={
                        "format": "json",
                        "continuationToken": token,
                        "allowContinuation": True,
                    },
                ).json()
                return body["result"]["progressId"], True
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 400:
                    raise self._http_error(exc) from exc
                log.warning(
                    "%s: continuation token refused (%s); exporting by date instead",
                    self.ctx.source.name,
                    exc.response.text[:200],
                )
        start = parse_timestamp(saved.get("last_recorded_date")) or start_of(
            self.ctx.source.start_date
        )
        if start >= until:
            return None, False  # a rerun of a window already exported past: nothing to ask
        try:
            body = client.request(
                "POST",
                path,
                expect_json=True,
                json={
                    "format": "json",
                    "startDate": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endDate": until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "allowContinuation": True,
                },
            ).json()
        except httpx.HTTPStatusError as exc:
            raise self._http_error(exc) from exc
        return body["result"]["progressId"], False

    def _wait(self, client: VendorClient, progress_id: str) -> dict:
        path = f"/surveys/{self.opts.survey_id}/export-responses/{progress_id}"
        deadline = time.monotonic() + self.export_timeout
        polls = 0
        while True:
            try:
                result = client.get_json(path)["result"]
            except httpx.HTTPStatusError as exc:
                raise self._http_error(exc) from exc
            polls += 1
            status = result.get("status")
            if status == "complete" and result.get("fileId"):
                log.info(
                    "%s: export %s complete after %d polls",
                    self.ctx.source.name,
                    progress_id,
                    polls,
                )
                return result
            if status == "failed":
                raise ConnectorError(
                    f"{self.ctx.source.name}: Qualtrics export {progress_id} "
                    "failed on the server; the next run starts it again"
                )
            if time.monotonic() > deadline:
                raise ConnectorError(
                    f"{self.ctx.source.name}: export {progress_id} still {status} "
                    f"({result.get('percentComplete')}%) after {self.export_timeout:.0f}s"
                )
            self.sleep(self.poll_interval)

    def _download(self, client: VendorClient, path: str, dest: IO[bytes]) -> None:
        """Stream the zip to `dest`, retrying transient failures like every other call."""
        policy = client.policy
        problem = ""
        with httpx.Client(
            base_url=self.base, headers=self.headers, timeout=download_timeout()
        ) as http:
            for attempt in range(1, policy.max_attempts + 1):
                dest.seek(0)
                dest.truncate()
                try:
                    with http.stream("GET", path) as resp:
                        if resp.status_code in (401, 403):
                            raise AuthError(
                                f"{self.ctx.source.name}: GET {path} was refused with HTTP "
                                f"{resp.status_code}; check the credentials of Airflow "
                                f"connection {self.conn.conn_id!r}"
                            )
                        if resp.status_code == 429 or resp.status_code >= 500:
                            problem = f"HTTP {resp.status_code}"
                        elif resp.status_code >= 400:
                            raise ConnectorError(
                                f"{self.ctx.source.name}: GET {path}: HTTP "
                                f"{resp.status_code} {resp.text[:200]}"
                            )
                        else:
                            for chunk in resp.iter_bytes(1 << 16):
                                dest.write(chunk)
                            dest.seek(0)
                            if zipfile.is_zipfile(dest):
                                dest.seek(0)
                                return
                            problem = "the download is not a complete zip"
                except (
                    httpx.TimeoutException,
                    httpx.NetworkError,
                    httpx.RemoteProtocolError,
                ) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                if attempt < policy.max_attempts:
                    self.sleep(min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1)))
        raise RetryBudgetExhausted(
            f"{self.ctx.source.name}: GET {path} failed after "
            f"{policy.max_attempts} attempts; last problem: {problem}"
        )

    def _http_error(self, exc: httpx.HTTPStatusError) -> ConnectorError:
        r = exc.response
        return ConnectorError(
            f"{self.ctx.source.name}: {r.request.method} {r.request.url.path}"
            f" answered HTTP {r.status_code}: {r.text[:300]}"
        )

    # -- records ------------------------------------------------------------------------------

    def _add(self, page: Page, response, position: str) -> dt.datetime | None:
        raw_text = json.dumps(response)[:20000]
        if not isinstance(response, dict) or not response.get("responseId"):
            page.quarantined.append(
                QuarantinedRecord("missing_id", raw_text, None, "responseId", position)
            )
            return None
        rid = str(response["responseId"])
        values = response.get("values") or {}
        recorded = parse_timestamp(values.get("recordedDate"))
        if recorded is None:
            page.quarantined.append(
                QuarantinedRecord(
                    "unparsable_timestamp", raw_text, rid, "values.recordedDate", position
                )
            )
            return None
        payload = response
        if self.opts.kind == "climate":
            answered = [k for k, v in values.items() if ANSWER_KEY.match(k) and v not in ("", None)]
            bad = unmapped_climate_answers(answered, self.opts.item_map, rid, raw_text, position)
            if bad:
                page.quarantined.append(bad)
                return recorded
        if self.opts.kind == "point_of_contact":
            for question, scale in self.opts.rating_scales().items():
                bad = check_rating(values.get(question), scale, question, rid, raw_text, position)
                if bad:
                    page.quarantined.append(bad)
                    return recorded
            ref = self.opts.interaction_ref_question
            reference = interaction_reference(values.get(ref)) if ref else None
            payload = {**response, "_schoolcx": {"interaction_ref": reference}}
        email = values.get("recipientEmail") or None
        page.records.append(
            LandingRecord(TABLE, rid, recorded, payload, person_email=email, position=position)
        )
        return recorded


def _zip_responses(fileobj: IO[bytes]) -> Iterator:
    with zipfile.ZipFile(fileobj) as zf:
        members = [n for n in zf.namelist() if n.lower().endswith(".json")]
        if len(members) != 1:
            raise ConnectorError(
                f"Qualtrics export zip holds {zf.namelist()}, expected one .json file"
            )
        with zf.open(members[0]) as raw:
            yield from iter_json_array(io.TextIOWrapper(raw, encoding="utf-8-sig"), "responses")


def iter_json_array(text: IO[str], key: str, chunk: int = 1 << 16) -> Iterator:
    """Yield the items of the array under top-level `key` of a JSON document, one at a time.

    Reads `chunk` characters at a time and decodes each item with raw_decode, so memory holds
    one item plus a chunk. Assumes (as Qualtrics writes it) that `key` is the first key whose
    value is an array.
    """
    decoder = json.JSONDecoder()
    buf = ""
    eof = False

    def more() -> bool:
        nonlocal buf, eof
        data = text.read(chunk)
        if not data:
            eof = True
            return False
        buf += data
        return True

    marker = f'"{key}"'
    while marker not in buf:
        if not more():
            raise ConnectorError(f"export file has no {key!r} array")
    pos = buf.index(marker) + len(marker)
    while True:  # skip to the opening bracket
        stripped = buf[pos:].lstrip()
        if stripped.startswith(":"):
            pos = len(buf) - len(stripped) + 1
            continue
        if stripped.startswith("["):
            pos = len(buf) - len(stripped) + 1
            break
        if stripped or not more():
            raise ConnectorError(f"export file: {key!r} is not an array")
    while True:
        buf = buf[pos:]
        pos = 0
        while True:
            stripped = buf.lstrip().lstrip(",").lstrip()
            if stripped or eof:
                break
            more()
        buf = stripped
        if buf.startswith("]"):
            return
        if not buf and eof:
            raise ConnectorError("export file ends inside the responses array")
        try:
            item, end = decoder.raw_decode(buf)
        except json.JSONDecodeError:
            if not more():
                raise ConnectorError("export file ends inside a response") from None
            continue
        yield item
        pos = end

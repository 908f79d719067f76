"""Climate survey files as the tools export them (file_drop kind `climate_wide`).

Google Forms, Microsoft Forms or a spreadsheet: one row per respondent, one column per question
(the header is the question text), answers as labels ("Strongly agree" ... "Strongly disagree")
or as numbers 1-5; "Don't know" and blanks are not valid answers (docs/metrics.md "Climate survey
items"). The config maps each question header to a stable item code (`items`) and may add or
override answer labels (`labels`: label -> point 1..5, or null for not valid).

Each (respondent, item) lands as one long climate row, the shape the `climate` kind lands, so
staging and int_survey_answers read both alike: payload.row = {id: respondent, submitted_at,
item_code, answer: "1".."5" | "dont_know" | ""}. source_id = `<respondent>:<item code>`, where
the respondent is the mapped `id` column or, when the export has none (Google Forms), a hash of
the row's timestamp and cells: the same response in two overlapping exports is the same row.
Nothing is dropped in silence: a header that maps to no item code (and is not the timestamp, id
or an ignored column) is quarantined once per file (`unmapped_column`, row 1, that column); an
answer label not in the label map is quarantined (`unknown_answer_label`, its row and column)
and the respondent's other answers land.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from schoolcx.config import FileDropOptions
from schoolcx.connectors.base import LandingRecord, Page, QuarantinedRecord
from schoolcx.connectors.records import check_unchanged, missing_columns, unreadable_file

TABLE = "file_drop_rows"
STREAM = "files"
PAGE_ROWS = 5000
DONT_KNOW = "dont_know"
DEFAULT_LABELS: dict[str, int | None] = {
    "strongly disagree": 1,
    "disagree": 2,
    "neither agree nor disagree": 3,
    "neutral": 3,
    "agree": 4,
    "strongly agree": 5,
    **{str(n): n for n in range(1, 6)},
    "": None,
    "don't know": None,
    "dont know": None,
    "do not know": None,
    "n/a": None,
    "na": None,
    "not applicable": None,
}
# Timestamps as the tools write them (Google Forms, Microsoft Forms, spreadsheets), read as
# the district's local time (naive); staging converts with the district's time zone.
TIME_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%y %H:%M",
    "%Y/%m/%d %I:%M:%S %p",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y",
)


def label_key(text: str) -> str:
    """A label as compared: trimmed, lower case, typographic apostrophes straightened."""
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


def parse_submitted(text: str) -> str | None:
    """The timestamp as ISO 8601 (an offset kept when given), None when unreadable."""
    value = text.strip()
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    # Google Forms may append a zone name ("... GMT-5"); the district's zone is used instead.
    cleaned = value.split(" GMT")[0].strip()
    for fmt in TIME_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).isoformat()
        except ValueError:
            continue
    return None


def answer_point(text: str, labels: dict[str, int | None]) -> tuple[bool, str]:
    """(known, landed answer): "1".."5", "dont_know" for a not-valid label, "" for a blank."""
    key = label_key(text)
    if key not in labels:
        return False, ""
    point = labels[key]
    if point is not None:
        return True, str(point)
    return True, "" if key == "" else DONT_KNOW


def wide_file_pages(
    source_name: str, opts: FileDropOptions, path: Path, sha: str, done: dict
) -> Iterator[Page]:
    """The pages of one wide survey file; the last carries the file's state."""
    labels = {**DEFAULT_LABELS, **{label_key(k): v for k, v in opts.labels.items()}}
    items = {h.strip(): code for h, code in opts.items.items()}
    time_column = opts.columns.get("submitted_at", "Timestamp")
    id_column = opts.columns.get("id")
    updated_column = opts.columns.get("updated_at")
    ignored = {h.strip() for h in opts.ignore_columns}
    before = path.stat()
    version = dt.datetime.fromtimestamp(before.st_mtime, dt.UTC)
    page = Page(STREAM)
    seen: set[str] = set()
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text, delimiter=opts.delimiter)
        try:
            header = [h.strip() for h in next(reader, [])]
            known = {time_column, id_column, updated_column, *ignored} - {None}
            missing = [c for c in (time_column, id_column) if c and c not in header]
            if missing:
                page.quarantined.append(missing_columns(header, missing, path.name, sha))
                header = []
            for column in header:
                if column not in items and column not in known:
                    page.quarantined.append(
                        QuarantinedRecord(
                            "unmapped_column",
                            json.dumps({"file": path.name, "column": column}),
                            None,
                            column,
                            f"{path.name}:1",
                        )
                    )
            questions = [(n, h, items[h]) for n, h in enumerate(header) if h in items]
            for row_number, values in enumerate(reader if header else (), start=2):
                _row(
                    page, path, sha, row_number, values, header, questions, labels, version, seen,
                    (time_column, id_column, updated_column),
                )  # fmt: skip
                if len(page.records) + len(page.quarantined) >= PAGE_ROWS:
                    yield page
                    page = Page(STREAM)
        except (UnicodeDecodeError, csv.Error) as exc:
            page.quarantined.append(unreadable_file(path.name, sha, str(exc)))
    check_unchanged(source_name, path, before)
    page.state = {**done, path.name: sha}
    yield page


def _row(
    page: Page,
    path: Path,
    sha: str,
    row_number: int,
    values: list[str],
    header: list[str],
    questions: list[tuple[int, str, str]],
    labels: dict[str, int | None],
    version: dt.datetime,
    seen: set[str],
    special: tuple[str, str | None, str | None],
) -> None:
    if not any(v.strip() for v in values):
        return  # blank line
    position = f"{path.name}:{row_number}"
    cells = dict(zip(header, values, strict=False))
    raw_text = json.dumps(cells)
    time_column, id_column, updated_column = special
    if len(values) > len(header):
        page.quarantined.append(QuarantinedRecord("malformed_row", raw_text, None, None, position))
        return
    submitted = parse_submitted(cells.get(time_column, ""))
    if submitted is None:
        reason = "missing_value" if not cells.get(time_column, "").strip() else None
        page.quarantined.append(
            QuarantinedRecord(
                reason or "unparsable_timestamp", raw_text, None, time_column, position
            )
        )
        return
    if id_column:
        respondent = cells.get(id_column, "").strip()
        if not respondent:
            page.quarantined.append(
                QuarantinedRecord("missing_id", raw_text, None, id_column, position)
            )
            return
    else:
        # No id in the export: the response is its timestamp and answers; the same response
        # in another overlapping export hashes the same.
        digest = hashlib.sha256(json.dumps(values[: len(header)]).encode()).hexdigest()
        respondent = f"h{digest[:20]}"
    if respondent in seen:
        page.quarantined.append(
            QuarantinedRecord("duplicate_id", raw_text, respondent, id_column, position)
        )
        return
    seen.add(respondent)
    own_version = None
    if updated_column and cells.get(updated_column, "").strip():
        parsed = parse_submitted(cells[updated_column])
        if parsed is None:
            page.quarantined.append(
                QuarantinedRecord(
                    "unparsable_timestamp", raw_text, respondent, updated_column, position
                )
            )
            return
        own = dt.datetime.fromisoformat(parsed)
        own_version = own if own.tzinfo else own.replace(tzinfo=dt.UTC)
    for index, column, item_code in questions:
        cell = values[index] if index < len(values) else ""
        known, answer = answer_point(cell, labels)
        if not known:
            page.quarantined.append(
                QuarantinedRecord(
                    "unknown_answer_label",
                    json.dumps({"file": path.name, "column": column, "answer": cell}),
                    respondent,
                    column,
                    position,
                )
            )
            continue
        payload = {
            "file": path.name,
            "file_sha256": sha,
            "row_number": row_number,
            "kind": "climate",
            "layout": "wide",
            "column": column,
            "row": {
                "id": respondent,
                "submitted_at": submitted,
                "item_code": item_code,
                "answer": answer,
            },
        }
        page.records.append(
            LandingRecord(
                TABLE, f"{respondent}:{item_code}", own_version or version, payload,
                position=position,
            )
        )  # fmt: skip

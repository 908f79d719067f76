"""CSV files dropped in a folder (districts without an API: exports from a phone system, a
paper survey keyed in, a legacy helpdesk).

Files (*.csv in opts.path) are read in name order. A file is loaded once per content: state
(stream "files") maps file name -> sha256 of the version loaded, so an unchanged file is skipped
and a changed one is loaded again as a new version (updated_at = the file's modification time;
staging keeps the latest version of each row). Rows are streamed with the csv module in pages
of PAGE_ROWS; a file's hash is stored with its last page only, so a crash mid-file reloads that
file and the raw primary key skips the rows already landed.

Each row keeps the config's landing fields (opts.columns: landing field -> CSV column) as text.
A row with a missing id or required field, an unparsable timestamp or a value out of range goes
to quarantine with its row number (the header is row 1) and the offending field.

Key and version: districts send overlapping "last 7 days" exports, so the same row arrives in
several files. source_id is the row's own id (the mapped `id` column) within the source, not the
file name, and the newest version wins in staging: the version is the mapped `updated_at` column
when there is one (an unchanged row re-delivered is the same version and skipped), else the
file's modification time (a re-delivered row lands as a newer version of the same key). A file
without an id column keys its rows `<file>:<row number>` (nothing else identifies them).

kind climate_wide (climate_wide.py) reads survey files as the tools export them.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from schoolcx.config import PRIORITIES
from schoolcx.connectors.base import (
    ConnectorContext,
    ConnectorError,
    LandingRecord,
    Page,
    QuarantinedRecord,
)
from schoolcx.connectors.records import (
    check_unchanged,
    missing_columns,
    parse_timestamp,
    unreadable_file,
)
from schoolcx.paths import project_path

TABLE = "file_drop_rows"
STREAM = "files"
PAGE_ROWS = 5000
CHANNELS = ("web", "email", "phone", "chat", "social", "walk_in", "other")
DONT_KNOW = {"dont_know", "don't know", "dk", "n/a", "na", "6"}

REQUIRED = {
    "interactions": ("id", "created_at"),
    "climate": ("id", "submitted_at", "item_code"),
    "ratings": ("id", "interaction_id", "rated_at", "rating"),
}
TIMESTAMPS = {
    "interactions": ("created_at", "first_response_at", "resolved_at", "updated_at"),
    "climate": ("submitted_at", "updated_at"),
    "ratings": ("rated_at", "updated_at"),
}


def _is_timestamp(text: str) -> bool:
    return parse_timestamp(text) is not None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def check_row(kind: str, row: dict[str, str]) -> tuple[str, str] | None:
    """(reason, field) of the first problem of a mapped row, or None when it may land."""
    for name in REQUIRED[kind]:
        if name in row and not row[name]:
            return ("missing_id" if name == "id" else "missing_value"), name
    for name in TIMESTAMPS[kind]:
        if row.get(name) and not _is_timestamp(row[name]):
            return "unparsable_timestamp", name
    if kind == "interactions":
        if row.get("priority") and row["priority"].lower() not in PRIORITIES:
            return "value_out_of_range", "priority"
        if row.get("channel") and row["channel"].lower() not in CHANNELS:
            return "value_out_of_range", "channel"
    elif kind == "climate":
        answer = row.get("answer", "")
        if answer and answer.lower() not in DONT_KNOW:
            value = _number(answer)
            if value is None or value != int(value) or not 1 <= value <= 5:
                return "value_out_of_range", "answer"
    elif kind == "ratings":
        bounds = {}
        for name in ("scale_lo", "scale_hi"):
            bounds[name] = _number(row[name]) if row.get(name) else None
            if row.get(name) and bounds[name] is None:
                return "value_out_of_range", name
        rating = row.get("rating", "").lower()
        if rating and rating not in ("good", "bad"):
            value = _number(rating)
            lo, hi = bounds["scale_lo"], bounds["scale_hi"]
            if value is None or (lo is not None and hi is not None and not lo <= value <= hi):
                return "value_out_of_range", "rating"
    return None


def _sha256_and_encoding(path: Path) -> tuple[str, str | None]:
    """The file's SHA-256 and, in the same pass, why it is not UTF-8 (None when it is).

    Checked before any row is read: a file whose first bad byte sits after the first page
    would otherwise land its first rows and lose the rest. A file that is not UTF-8 (Excel's
    cp1252 "CSV") is quarantined whole, so it is counted once and none of it is half-loaded."""
    sha = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, problem = 0, None
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
            if problem is None:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    problem = (
                        f"not UTF-8: byte 0x{block[exc.start]:02x} at offset {offset + exc.start}"
                    )
            offset += len(block)
    if problem is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            problem = "not UTF-8: the file ends inside a character"
    return sha.hexdigest(), problem


class FileDropConnector:
    source_type: ClassVar[str] = "file_drop"

    def __init__(self, ctx: ConnectorContext):
        self.ctx = ctx
        self.opts = ctx.source.opts
        self.folder = project_path(self.opts.path)
        unknown = set(self.opts.columns) - set(_fields(self.opts.kind)) - {"updated_at"}
        if unknown:
            raise ConnectorError(
                f"{ctx.source.name}: columns maps unknown landing fields "
                f"{sorted(unknown)} for kind {self.opts.kind!r}"
            )

    def pages(self, state: dict[str, dict], until: dt.datetime) -> Iterator[Page]:
        # `until` does not apply: a dropped file is a delivery, loaded whenever it arrives.
        if not self.folder.is_dir():
            raise ConnectorError(
                f"{self.ctx.source.name}: drop folder {self.folder} does not "
                "exist or is not a folder"
            )
        done = dict(state.get(STREAM) or {})
        files = sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file() and p.suffix.lower() == ".csv" and not p.name.startswith(".")
        )
        for path in files:
            sha, not_utf8 = _sha256_and_encoding(path)
            if done.get(path.name) == sha:
                continue
            if not_utf8:
                bad = unreadable_file(path.name, sha, not_utf8)
                yield Page(STREAM, quarantined=[bad], state={**done, path.name: sha})
            else:
                yield from self._file_pages(path, sha, done)
            done[path.name] = sha

    def _file_pages(self, path: Path, sha: str, done: dict) -> Iterator[Page]:
        if self.opts.kind == "climate_wide":
            from schoolcx.connectors.climate_wide import wide_file_pages

            yield from wide_file_pages(self.ctx.source.name, self.opts, path, sha, done)
            return
        before = path.stat()
        version = dt.datetime.fromtimestamp(before.st_mtime, dt.UTC)
        columns = self.opts.columns
        page = Page(STREAM)
        seen: set[str] = set()
        with path.open(encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text, delimiter=self.opts.delimiter)
            try:
                header = [h.strip() for h in next(reader, [])]
                missing = [f for f, col in columns.items() if col not in header]
                if missing:
                    page.quarantined.append(missing_columns(header, missing, path.name, sha))
                else:
                    index = {f: header.index(col) for f, col in columns.items()}
                    for row_number, values in enumerate(reader, start=2):
                        self._row(
                            page, path.name, sha, row_number, values, index, header, version, seen
                        )
                        if len(page.records) + len(page.quarantined) >= PAGE_ROWS:
                            yield page
                            page = Page(STREAM)
            except (UnicodeDecodeError, csv.Error) as exc:
                page.quarantined.append(unreadable_file(path.name, sha, str(exc)))
        check_unchanged(self.ctx.source.name, path, before)
        page.state = {**done, path.name: sha}
        yield page

    def _row(
        self,
        page: Page,
        name: str,
        sha: str,
        row_number: int,
        values: list[str],
        index: dict[str, int],
        header: list[str],
        version: dt.datetime,
        seen: set[str],
    ) -> None:
        position = f"{name}:{row_number}"
        if not any(v.strip() for v in values):
            return  # blank line
        row = {f: (values[i].strip() if i < len(values) else "") for f, i in index.items()}
        raw_text = json.dumps(dict(zip(header, values, strict=False)))
        if len(values) > len(header):
            page.quarantined.append(
                QuarantinedRecord("malformed_row", raw_text, row.get("id"), None, position)
            )
            return
        problem = check_row(self.opts.kind, row)
        if problem:
            page.quarantined.append(
                QuarantinedRecord(problem[0], raw_text, row.get("id") or None, problem[1], position)
            )
            return
        key = row.get("id", f"{name}:{row_number}")
        if key in seen:
            page.quarantined.append(
                QuarantinedRecord("duplicate_id", raw_text, key, "id", position)
            )
            return
        seen.add(key)
        payload = {
            "file": name,
            "file_sha256": sha,
            "row_number": row_number,
            "kind": self.opts.kind,
            "row": row,
        }
        email = (row.get("requester_email") or None) if self.opts.kind == "interactions" else None
        own_version = parse_timestamp(row["updated_at"]) if row.get("updated_at") else None
        page.records.append(
            LandingRecord(
                TABLE, key, own_version or version, payload, person_email=email, position=position
            )
        )


def _fields(kind: str) -> tuple[str, ...]:
    return {
        "climate_wide": ("id", "submitted_at"),
        "interactions": (
            "id",
            "created_at",
            "channel",
            "topic",
            "priority",
            "requester_email",
            "first_response_at",
            "resolved_at",
        ),
        "climate": ("id", "submitted_at", "item_code", "answer"),
        "ratings": ("id", "interaction_id", "rated_at", "rating", "scale_lo", "scale_hi"),
    }[kind]

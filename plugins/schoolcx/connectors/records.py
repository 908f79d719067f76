"""What every connector does to a record, written once: read its timestamps, check the landing
contract (an id and version timestamps that parse), build its quarantine row, and notice a
dropped file that changed while it was read."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from schoolcx.connectors.base import ConnectorError, QuarantinedRecord

UTC = dt.UTC


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO-8601 timestamp with a zone, as helpdesk APIs write them (`...Z`), or None.

    Strict on purpose: a helpdesk timestamp without a zone is a broken record, not UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An ISO-8601 timestamp as aware UTC, naive taken as UTC (survey exports and files, whose
    tools often omit the zone), or None when unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def from_epoch(value: Any) -> dt.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return dt.datetime.fromtimestamp(value, UTC)


def start_of(day: dt.date) -> dt.datetime:
    """Midnight UTC of a configured date (a source's start_date)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=UTC)


def quarantine(reason: str, record: Any, field: str | None, position: str) -> QuarantinedRecord:
    """The quarantine row of a vendor record: as received, its id when it has one."""
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


def check_unchanged(source_name: str, path: Path, before) -> None:
    """A dropped file still being written while read: fail now, load the finished file later
    (its rows would otherwise land from a half-written version)."""
    after = path.stat()
    if (after.st_mtime_ns, after.st_size) != (before.st_mtime_ns, before.st_size):
        raise ConnectorError(
            f"{source_name}: {path.name} changed while it was read; the next run loads the "
            "finished file"
        )


def file_identity(file_name: str, sha: str) -> str:
    """The quarantine identity of a whole dropped file: its name and content hash, so the same
    file re-read counts once, while another file (or a new version) with the same fault is a
    record of its own (the fault's text alone would make them one row and lose the second)."""
    return f"{file_name}@sha256:{sha}"


def unreadable_file(file_name: str, sha: str, why: str) -> QuarantinedRecord:
    """A dropped file that cannot be read (not UTF-8, broken CSV): quarantined whole."""
    return QuarantinedRecord("unreadable_file", why, file_identity(file_name, sha), None, file_name)


def missing_columns(
    header: list[str], missing: list[str], file_name: str, sha: str
) -> QuarantinedRecord:
    """A dropped file whose header lacks configured columns: quarantined whole, naming them."""
    return QuarantinedRecord(
        "missing_column",
        json.dumps({"header": header}),
        file_identity(file_name, sha),
        ",".join(missing),
        f"{file_name}:1",
    )

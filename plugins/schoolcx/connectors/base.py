"""The interface every connector implements, and what it yields.

A connector turns a vendor's API into a stream of Pages. Each Page carries the landing records
of one stream, the records it had to quarantine, and the extraction state that is true once this
page is loaded. The loader commits a page's rows and its state in one transaction, so a crash
resumes from the last committed page: nothing lost, nothing doubled.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from schoolcx.config import District, Source
from schoolcx.connections import Connection


@dataclass(frozen=True)
class LandingRecord:
    table: str  # raw table, e.g. "zendesk_tickets"
    source_id: str
    updated_at: dt.datetime  # timezone-aware version timestamp
    payload: dict[str, Any]  # vendor record as returned (+ optional "_schoolcx" key)
    person_email: str | None = None  # hashed by the loader into person_hash; never stored
    position: str | None = None  # where in the source it came from (page, cursor, uid...)


@dataclass(frozen=True)
class QuarantinedRecord:
    reason: str  # short machine-friendly reason, e.g. "unparsable_timestamp"
    raw_text: str  # the record as received
    record_id: str | None = None
    field: str | None = None  # the offending field
    position: str | None = None


@dataclass
class Page:
    stream: str  # e.g. "tickets", "ticket_events", "INBOX"
    records: list[LandingRecord] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    state: dict[str, Any] | None = None  # new state of `stream` once this page is committed


class Connector(Protocol):
    source_type: ClassVar[str]

    def pages(self, state: dict[str, dict[str, Any]], until: dt.datetime) -> Iterator[Page]:
        """Yield pages from where `state` (stream -> state) left off, up to `until`.

        Must stream: hold at most a page in memory. Must be restartable from any committed
        state. `until` bounds the window (a run's data interval end) so reruns are repeatable.
        """
        ...


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a connector needs, resolved by the runner."""

    district: District
    source: Source
    connection: Connection | None  # None for file_drop
    run_id: str = "manual"
    # Read-only lookups into already-landed raw rows (IMAP threading across runs); None: the
    # connector works from what it sees in this run only.
    warehouse_url: str | None = None


class ConnectorError(RuntimeError):
    """A failure with a message fit for an operator (names the source, never a secret)."""


class ApiConnector:
    """What a vendor-API connector holds: its context, retry policy, sleep (tests pass a no-op)
    and the streams it extracts (default: the class's STREAMS), and the source's start."""

    source_type: ClassVar[str]
    STREAMS: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        ctx: ConnectorContext,
        *,
        policy=None,  # connectors.http.RetryPolicy; None: the client's default
        sleep: Callable[[float], None] = time.sleep,
        streams: tuple[str, ...] | None = None,
    ):
        if ctx.connection is None:
            raise ConnectorError(
                f"{ctx.source.name}: a {self.source_type} source needs a connection"
            )
        self.ctx = ctx
        self.name = ctx.source.name
        self.opts = ctx.source.opts
        self.policy = policy
        self.sleep = sleep
        self.streams = self.STREAMS if streams is None else streams
        self.start = dt.datetime.combine(ctx.source.start_date, dt.time(), tzinfo=dt.UTC)


def registry() -> dict[str, type]:
    """source type -> connector class (imported lazily so one vendor's import can't break all)."""
    from importlib import import_module

    modules = {
        "zendesk": ("schoolcx.connectors.zendesk", "ZendeskConnector"),
        "freshdesk": ("schoolcx.connectors.freshdesk", "FreshdeskConnector"),
        "imap": ("schoolcx.connectors.imap", "ImapConnector"),
        "qualtrics": ("schoolcx.connectors.qualtrics", "QualtricsConnector"),
        "surveymonkey": ("schoolcx.connectors.surveymonkey", "SurveyMonkeyConnector"),
        "file_drop": ("schoolcx.connectors.file_drop", "FileDropConnector"),
    }
    out = {}
    for kind, (module, cls) in modules.items():
        try:
            out[kind] = getattr(import_module(module), cls)
        except (ImportError, AttributeError):
            continue
    return out

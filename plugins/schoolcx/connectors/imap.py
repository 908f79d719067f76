"""IMAP mailboxes: message headers of INBOX and Sent, incremental by UIDVALIDITY + UID.

State per stream (= IMAP folder name): {"uidvalidity": V, "last_uid": U}. Each run SELECTs the
folder read-only, and when the server's UIDVALIDITY differs from the stored one, every UID is
new: the folder is read again from UID 1 and the landed rows dedupe on the normalised Message-ID
(raw primary key source_instance, source_id, updated_at), so a resync never doubles a message.
A message without a Message-ID is keyed by an id made from its headers (email_threads.
fallback_message_id), never by its UID, so it dedupes the same way.

Only headers are fetched (BODY.PEEK[HEADER] + INTERNALDATE: no bodies, nothing marked \\Seen),
UID batch by UID batch (opts.batch_size), one Page per batch with the folder's state after it,
so memory stays flat and a crash resumes at the last committed batch.

Threads: see email_threads. Before the extraction a cheap pre-pass reads only Message-ID,
In-Reply-To and References of the new messages of every folder, so a reply in INBOX whose parent
is an agent's message in Sent (extracted after INBOX) still finds its root. Messages landed by
earlier runs are found with a read-only query on ctx.warehouse_url (skipped when it is None).

`until`: a folder stops at the first message whose INTERNALDATE is after `until` (UIDs follow
arrival), so a rerun of the same window reads the same messages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import imaplib
import logging
import re
import ssl
from collections.abc import Iterator
from typing import Any, ClassVar

from schoolcx.connectors.base import (
    ConnectorContext,
    ConnectorError,
    LandingRecord,
    Page,
    QuarantinedRecord,
)
from schoolcx.connectors.email_threads import (
    SUBJECT_FALLBACK_WINDOW,
    MailboxRules,
    ThreadIndex,
    UnparsableHeaders,
    fallback_message_id,
    message_id_list,
    normalise_message_id,
    normalise_subject,
    parse_headers,
)
from schoolcx.runtime import imap_timeout

log = logging.getLogger(__name__)

TABLE = "imap_messages"
_UID = re.compile(rb"\bUID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
LINK_FIELDS = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES)]"


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _internaldate(text: bytes) -> dt.datetime | None:
    try:
        parsed = dt.datetime.strptime(text.decode(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC)


def _fetch_items(data: list) -> Iterator[tuple[int, dt.datetime | None, bytes]]:
    """(uid, internaldate, header bytes) from imaplib's FETCH answer.

    imaplib returns, per message, a (prefix, literal) tuple and a closing b')' (which may carry
    items the server sent after the literal); UID and INTERNALDATE can sit in either part.
    """
    current: list[Any] | None = None
    for part in data:
        if isinstance(part, tuple):
            if current is not None:
                yield _finish(current)
            current = [part[0], part[1], b""]
        elif isinstance(part, bytes) and current is not None:
            current[2] += part
            yield _finish(current)
            current = None
    if current is not None:
        yield _finish(current)


def _finish(item: list) -> tuple[int, dt.datetime | None, bytes]:
    meta = item[0] + b" " + item[2]
    uid = _UID.search(meta)
    if uid is None:
        raise ConnectorError(f"FETCH answer without a UID: {meta[:200]!r}")
    idate = _INTERNALDATE.search(meta)
    return int(uid.group(1)), _internaldate(idate.group(1)) if idate else None, item[1] or b""


class WarehouseThreadLookup:
    """Read-only lookups of this source's landed messages, for threads spanning runs.

    Message lookups use the primary key (source_instance, source_id). Subject lookups load the
    landed messages from 30 days before the first date asked about once, so a night costs one
    bounded query rather than one scan per new thread.
    """

    def __init__(self, url: str, source_instance: str):
        self.url = url
        self.source_instance = source_instance
        self._conn = None
        self._subjects: dict[tuple[str, str], list[tuple[dt.datetime, str]]] | None = None
        self._subjects_from: dt.datetime | None = None

    def _connection(self):
        if self._conn is None:
            import psycopg

            self._conn = psycopg.connect(self.url, autocommit=True)
            self._conn.read_only = True
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __call__(self, kind: str, key: object, when: dt.datetime) -> str | None:
        if kind == "message":
            row = (
                self._connection()
                .execute(
                    # the latest version: only it keeps its projection (schoolcx.load.packing)
                    "select payload->'_schoolcx'->>'thread_id' from raw.imap_messages"
                    " where source_instance = %s and source_id = %s"
                    " order by updated_at desc limit 1",
                    (self.source_instance, key),
                )
                .fetchone()
            )
            return row[0] if row else None
        subject, counterpart = key  # type: ignore[misc]
        if self._subjects is None or (
            self._subjects_from and when - SUBJECT_FALLBACK_WINDOW < self._subjects_from
        ):
            self._load_subjects(when - SUBJECT_FALLBACK_WINDOW)
        best = None
        for at, thread in (self._subjects or {}).get((subject, counterpart), []):
            if abs(when - at) <= SUBJECT_FALLBACK_WINDOW and (best is None or at > best[0]):
                best = (at, thread)
        return best[1] if best else None

    def _load_subjects(self, since: dt.datetime) -> None:
        self._subjects, self._subjects_from = {}, since
        # each message's latest version: only it keeps its projection (schoolcx.load.packing)
        rows = self._connection().execute(
            "select distinct on (source_id) payload->>'subject',"
            " payload->'_schoolcx'->>'counterpart', updated_at,"
            " payload->'_schoolcx'->>'thread_id' from raw.imap_messages"
            " where source_instance = %s and updated_at >= %s"
            " order by source_id, updated_at desc",
            (self.source_instance, since),
        )
        for subject, counterpart, at, thread in rows:
            key = (normalise_subject(subject), counterpart or "")
            self._subjects.setdefault(key, []).append((at, thread))


class ImapConnector:
    source_type: ClassVar[str] = "imap"

    def __init__(self, ctx: ConnectorContext):
        self.ctx = ctx
        self.opts = ctx.source.opts
        conn = ctx.connection
        if conn is None:
            raise ConnectorError(f"{ctx.source.name}: an imap source needs a connection")
        self.conn = conn
        self.host = self.opts.host or conn.host
        self.port = self.opts.port or conn.port or (993 if self.opts.ssl else 143)
        mailbox = self.opts.mailbox_address.lower()
        self.folders = [
            self.opts.folders.get("inbox", "INBOX"),
            self.opts.folders.get("sent", "Sent"),
        ]
        self.rules = MailboxRules(
            mailbox_address=mailbox,
            district_domains=frozenset(d.lower() for d in ctx.district.mail_domains),
            internal=self.opts.internal,
            responders=frozenset(r.lower() for r in self.opts.responders),
            sent_folder=self.folders[1],
        )

    # -- IMAP session -------------------------------------------------------------------------

    def _connect(self) -> imaplib.IMAP4:
        name = self.ctx.source.name
        try:
            if self.opts.ssl:
                ctx = ssl.create_default_context(cafile=self.conn.extra.get("ca_file"))
                client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    self.host, self.port, ssl_context=ctx, timeout=imap_timeout()
                )
            else:
                client = imaplib.IMAP4(self.host, self.port, timeout=imap_timeout())
        except (OSError, ssl.SSLError) as exc:
            raise ConnectorError(
                f"{name}: cannot reach IMAP server {self.host}:{self.port}"
                f" ({'IMAPS' if self.opts.ssl else 'plain IMAP'}): {exc}"
            ) from exc
        try:
            client.login(self.conn.login, self.conn.password)
        except imaplib.IMAP4.error as exc:
            client.shutdown()
            raise ConnectorError(
                f"{name}: IMAP login refused for {self.conn.login!r}; check the credentials of "
                f"Airflow connection {self.conn.conn_id!r}"
            ) from exc
        return client

    def _select(self, client: imaplib.IMAP4, folder: str) -> int:
        typ, data = client.select(_quote(folder), readonly=True)
        if typ != "OK":
            raise ConnectorError(f"{self.ctx.source.name}: cannot open folder {folder!r}: {data}")
        validity = client.response("UIDVALIDITY")[1]
        if not validity or validity[0] is None:
            raise ConnectorError(f"{self.ctx.source.name}: {folder!r} reports no UIDVALIDITY")
        return int(validity[0])

    @staticmethod
    def _uids_after(client: imaplib.IMAP4, last_uid: int) -> list[int]:
        typ, data = client.uid("SEARCH", f"UID {last_uid + 1}:*")
        if typ != "OK":
            raise ConnectorError(f"UID SEARCH failed: {data}")
        # 'n:*' always matches the highest UID, even when it is below n.
        return sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)

    # -- extraction ---------------------------------------------------------------------------

    def pages(self, state: dict[str, dict], until: dt.datetime) -> Iterator[Page]:
        lookup = (
            WarehouseThreadLookup(self.ctx.warehouse_url, self.ctx.source.name)
            if self.ctx.warehouse_url
            else None
        )
        index = ThreadIndex(lookup)
        client = self._connect()
        folder = None
        try:
            plan = []
            for folder in self.folders:
                validity = self._select(client, folder)
                saved = state.get(folder) or {}
                last_uid = int(saved.get("last_uid", 0))
                if saved and int(saved.get("uidvalidity", -1)) != validity:
                    log.warning(
                        "%s: %s UIDVALIDITY changed (%s -> %s): resyncing from UID 1;"
                        " landed messages dedupe on Message-ID",
                        self.ctx.source.name,
                        folder,
                        saved.get("uidvalidity"),
                        validity,
                    )
                    last_uid = 0
                uids = self._uids_after(client, last_uid)
                self._prefetch_links(client, uids, index)
                plan.append((folder, validity, uids))
            for folder, validity, uids in plan:
                self._select(client, folder)
                yield from self._folder_pages(client, folder, validity, uids, until, index)
        except (imaplib.IMAP4.error, OSError) as exc:
            # A session the server dropped (restart, kick, idle timeout) mid-fetch: what was
            # committed stays, the next run resumes from its state; say which source it was.
            conn_id = self.ctx.connection.conn_id if self.ctx.connection else None
            raise ConnectorError(
                f"{self.ctx.source.name} (connection {conn_id}): IMAP session failed in "
                f"folder {folder!r}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()
            if lookup is not None:
                lookup.close()

    def _batches(self, uids: list[int]) -> Iterator[list[int]]:
        size = self.opts.batch_size
        for i in range(0, len(uids), size):
            yield uids[i : i + size]

    @staticmethod
    def _uid_set(batch: list[int]) -> str:
        return ",".join(str(u) for u in batch) if len(batch) < 50 else f"{batch[0]}:{batch[-1]}"

    def _prefetch_links(self, client: imaplib.IMAP4, uids: list[int], index: ThreadIndex) -> None:
        for batch in self._batches(uids):
            typ, data = client.uid("FETCH", self._uid_set(batch), f"(UID {LINK_FIELDS})")
            if typ != "OK":
                raise ConnectorError(f"{self.ctx.source.name}: header pre-pass failed: {data}")
            for _uid, _idate, raw in _fetch_items(data):
                text = raw.decode("utf-8", "replace")
                fields = dict(_simple_fields(text))
                refs = message_id_list(fields.get("references"))
                irt = message_id_list(fields.get("in-reply-to"))
                index.add_link(
                    normalise_message_id(fields.get("message-id")), refs, irt[-1] if irt else None
                )

    def _folder_pages(
        self,
        client: imaplib.IMAP4,
        folder: str,
        validity: int,
        uids: list[int],
        until: dt.datetime,
        index: ThreadIndex,
    ) -> Iterator[Page]:
        for batch in self._batches(uids):
            typ, data = client.uid(
                "FETCH", self._uid_set(batch), "(UID INTERNALDATE BODY.PEEK[HEADER])"
            )
            if typ != "OK":
                raise ConnectorError(f"{self.ctx.source.name}: FETCH in {folder} failed: {data}")
            wanted = set(batch)
            items = sorted((i for i in _fetch_items(data) if i[0] in wanted), key=lambda i: i[0])
            page = Page(stream=folder)
            last = None
            stop = False
            for uid, idate, raw in items:
                if idate is not None and idate > until:
                    stop = True
                    break
                self._record(page, folder, validity, uid, idate, raw, index)
                last = uid
            if last is not None:
                page.state = {"uidvalidity": validity, "last_uid": last}
                yield page
            if stop:
                return

    def _record(
        self,
        page: Page,
        folder: str,
        validity: int,
        uid: int,
        idate: dt.datetime | None,
        raw: bytes,
        index: ThreadIndex,
    ) -> None:
        position = f"{folder}:{validity}:{uid}"
        # a quarantined message's identity: its header block, which a UIDVALIDITY change does
        # not alter (the position does), so a re-read finds the same record
        header_id = "headers-sha256:" + hashlib.sha256(raw).hexdigest()[:32]
        try:
            h = parse_headers(raw)
        except UnparsableHeaders as exc:
            page.quarantined.append(
                QuarantinedRecord(
                    "unparsable_headers",
                    raw.decode("utf-8", "replace"),
                    record_id=header_id,
                    field=exc.field,
                    position=position,
                )
            )
            return
        if h.message_id is None and h.date is None:
            # Neither a Message-ID nor a usable Date: no stable identity can be made for it (the
            # UID changes with UIDVALIDITY), and it could not be placed in time.
            page.quarantined.append(
                QuarantinedRecord(
                    "missing_message_id_and_date",
                    raw.decode("utf-8", "replace"),
                    record_id=header_id,
                    field="message-id",
                    position=position,
                )
            )
            return
        updated_at = h.date or idate
        if updated_at is None:
            page.quarantined.append(
                QuarantinedRecord(
                    "unparsable_timestamp",
                    raw.decode("utf-8", "replace"),
                    record_id=h.message_id,
                    field="date",
                    position=position,
                )
            )
            return
        source_id = h.message_id or fallback_message_id(h)
        outbound = self.rules.is_outbound(h, folder)
        counterpart = self.rules.counterpart(h, outbound)
        thread_id = index.resolve(source_id, h, counterpart, updated_at)
        payload = {
            "message_id": h.message_id,
            "in_reply_to": h.in_reply_to,
            "references": h.references,
            "subject": h.subject,
            "date": h.date.isoformat() if h.date else None,
            "internaldate": idate.isoformat() if idate else None,
            "from_address": h.from_address,
            "from_domain": h.from_domain,
            "to_domains": sorted({a.rsplit("@", 1)[1] for a in h.to_addresses}),
            "folder": folder,
            "uid": uid,
            "uidvalidity": validity,
            "mailbox": self.rules.mailbox_address,
            "headers": {
                "auto_submitted": h.auto_submitted,
                "x_autoreply": h.x_autoreply,
                "x_autorespond": h.x_autorespond,
                "precedence": h.precedence,
                "list_id": h.list_id,
            },
            "_schoolcx": {
                "thread_id": thread_id,
                "direction": "outbound" if outbound else "inbound",
                "is_automated": h.is_automated,
                "sender_is_district": self.rules.sender_is_district(h),
                # The outside party, kept for the subject fallback of later runs.
                "counterpart": counterpart,
            },
        }
        page.records.append(
            LandingRecord(
                TABLE,
                source_id,
                updated_at,
                payload,
                person_email=h.from_address,
                position=position,
            )
        )


def _simple_fields(text: str) -> Iterator[tuple[str, str]]:
    """Unfolded (name, value) pairs of a small header block (the pre-pass's three fields)."""
    name, value = None, []
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and name:
            value.append(line.strip())
            continue
        if name:
            yield name, " ".join(value)
        name, value = None, []
        if ":" in line:
            key, rest = line.split(":", 1)
            name, value = key.strip().lower(), [rest.strip()]
    if name:
        yield name, " ".join(value)

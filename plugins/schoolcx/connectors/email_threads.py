"""Email header logic for the IMAP connector: parsing, normalising, direction, automation, threads.

Kept apart from the IMAP I/O so the rules docs/metrics.md sets (who is an agent, what is automated,
which messages form one thread) can be read and tested on their own.

Threading (landing.md: thread_id = normalised root message id):
1. References present: its first entry is the root (RFC 5322 puts the thread's origin first).
2. Else In-Reply-To: the thread of the parent, found in this run's messages, then among messages
   already landed (a read-only lookup, see ThreadIndex); an unknown parent is taken as the root.
3. Else (both missing) the subject fallback, for a subject marked as a reply or forward
   (Re:, Fwd:, AW:, ... after any [tags]): the same normalised subject (no Re:/Fwd:/[tags]) with
   the same counterpart within 30 days of that thread's latest message joins that thread;
   otherwise the message starts its own thread. Only here, because subjects are reused across
   unrelated mail; an unmarked subject is a new contact even when it repeats an old one.
   The counterpart is the outside party: the sender of an inbound message, the first
   recipient outside the mailbox (and, on a non-internal mailbox, outside the district's
   domains) of an outbound one.

A message without a Message-ID gets one made from its own headers (fallback_message_id), so it
lands, dedupes and roots a thread like any other message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

SUBJECT_FALLBACK_WINDOW = dt.timedelta(days=30)
_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|antw)\s*(?:\[\d+\])?\s*:|\[[^\]]*\])\s*", re.I)
_REPLY_MARK = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)*(?:re|fwd?|aw|wg|sv|antw)\s*(?:\[\d+\])?\s*:", re.I
)
_MSGID = re.compile(r"<([^<>\s]+)>")
AUTOMATED_PRECEDENCE = {"auto_reply", "bulk", "list"}


class UnparsableHeaders(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def normalise_message_id(value: str | None) -> str | None:
    """'<AbC@x.org>' -> 'abc@x.org'; None for nothing usable."""
    if not value:
        return None
    found = _MSGID.search(value)
    if found:
        return found.group(1).lower()
    words = value.strip().strip("<>").split()
    return words[0].lower() if words else None


def message_id_list(value: str | None) -> list[str]:
    if not value:
        return []
    ids = [m.lower() for m in _MSGID.findall(value)]
    if not ids and value.strip():  # a client that forgot the angle brackets
        ids = [v.strip().lower() for v in value.split() if "@" in v]
    return ids


def is_reply_subject(subject: str | None) -> bool:
    """'Re: x', '[Ext] RE: x', 'Fwd: x' -> True; 'x' or '[Ext] x' -> False."""
    return bool(_REPLY_MARK.match(subject or ""))


def normalise_subject(subject: str | None) -> str:
    text = (subject or "").strip()
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.lower().split())


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[1].lower() if "@" in address else ""


def _header_text(value) -> str | None:
    if value is None:
        return None
    text = str(value)
    if "=?" in text:  # RFC 2047 encoded words (non-ASCII subjects)
        from email.header import decode_header, make_header

        with contextlib.suppress(ValueError, LookupError):
            text = str(make_header(decode_header(text)))
    return " ".join(text.split())


@dataclass(frozen=True)
class ParsedHeaders:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    date: dt.datetime | None  # the Date header in UTC, None when missing/unparsable
    from_address: str
    to_addresses: list[str]  # To then Cc, lower-cased, in order
    auto_submitted: str | None
    x_autoreply: str | None
    x_autorespond: str | None
    precedence: str | None
    list_id: str | None

    @property
    def from_domain(self) -> str:
        return _domain(self.from_address)

    @property
    def is_automated(self) -> bool:
        # the value without parameters or comments (RFC 3834): `no; x` and `no (manual)` are no
        auto = re.sub(r"\([^)]*\)", "", self.auto_submitted or "").split(";")[0].strip().lower()
        return bool(
            (auto and auto != "no")
            or self.x_autoreply
            or self.x_autorespond
            or (self.precedence or "").strip().lower() in AUTOMATED_PRECEDENCE
            or self.list_id
        )


def parse_headers(raw: bytes) -> ParsedHeaders:
    """Parse a header block; UnparsableHeaders when it has no headers or no usable From."""
    try:
        msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
    except Exception as exc:  # the stdlib parser is lenient; anything raised is fatal here
        raise UnparsableHeaders("headers", f"header block could not be parsed: {exc}") from exc
    if not msg.keys():
        raise UnparsableHeaders("headers", "no header fields")
    senders = [
        a.lower() for _, a in getaddresses([str(v) for v in msg.get_all("From", [])]) if "@" in a
    ]
    if not senders:
        raise UnparsableHeaders("from", f"no usable From address in {msg.get('From')!r}")
    recipients = [
        a.lower()
        for _, a in getaddresses([str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])])
        if "@" in a
    ]
    date = None
    if msg.get("Date"):
        try:
            parsed = parsedate_to_datetime(str(msg["Date"]))
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            # A Date without a zone (RFC 5322 '-0000' or none) is taken as UTC.
            date = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    return ParsedHeaders(
        message_id=normalise_message_id(_header_text(msg.get("Message-ID"))),
        in_reply_to=(message_id_list(_header_text(msg.get("In-Reply-To"))) or [None])[-1],
        references=message_id_list(_header_text(msg.get("References"))),
        subject=_header_text(msg.get("Subject")) or "",
        date=date,
        from_address=senders[0],
        to_addresses=list(dict.fromkeys(recipients)),
        auto_submitted=_header_text(msg.get("Auto-Submitted")),
        x_autoreply=_header_text(msg.get("X-Autoreply")),
        x_autorespond=_header_text(msg.get("X-Autorespond")),
        precedence=_header_text(msg.get("Precedence")),
        list_id=_header_text(msg.get("List-Id")),
    )


# The domain of the identities made for messages that have no Message-ID: `.invalid` (RFC 2606)
# can never be a real sender's domain, so a made-up id never collides with a real one.
FALLBACK_ID_DOMAIN = "no-message-id.invalid"


def fallback_message_id(h: ParsedHeaders) -> str:
    """A stable identity for a message without a Message-ID (needs its Date).

    Made from what the sender wrote (Date, From, To and Cc, Subject, In-Reply-To, References),
    never from the folder, UID or UIDVALIDITY: a server that renumbers a folder, or the same
    message seen in two folders, gives the same id, so the raw key dedupes it as it would a
    real Message-ID. Two messages identical in all of these are one message to the warehouse.
    """
    if h.date is None:
        raise ValueError("a fallback message id needs the Date header")
    parts = (
        h.date.isoformat(),
        h.from_address,
        ",".join(h.to_addresses),
        h.subject,
        h.in_reply_to or "",
        " ".join(h.references),
    )
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{digest}@{FALLBACK_ID_DOMAIN}"


@dataclass(frozen=True)
class MailboxRules:
    """Who counts as the district in one monitored mailbox (docs/metrics.md)."""

    mailbox_address: str
    district_domains: frozenset[str]
    internal: bool = False
    responders: frozenset[str] = frozenset()
    sent_folder: str = "Sent"

    def sender_is_district(self, h: ParsedHeaders) -> bool:
        return h.from_domain in self.district_domains

    def is_outbound(self, h: ParsedHeaders, folder: str) -> bool:
        if folder == self.sent_folder:
            return True
        if self.internal:
            # Staff writing to HR or IT are the requesters there: only the mailbox itself and
            # its configured responders answer.
            return h.from_address in {self.mailbox_address, *self.responders}
        return self.sender_is_district(h)

    def counterpart(self, h: ParsedHeaders, outbound: bool) -> str:
        """The outside party of the conversation: who wrote in, or whom the district answered."""
        if not outbound:
            return h.from_address
        ours = {self.mailbox_address, *self.responders}
        for address in h.to_addresses:
            if address in ours:
                continue
            if not self.internal and _domain(address) in self.district_domains:
                continue
            return address
        return h.to_addresses[0] if h.to_addresses else h.from_address


# A lookup into messages landed by earlier runs: (kind, key, when) -> thread id or None, where
# kind is "message" (key = a message id) or "subject" (key = (normalised subject, counterpart)).
Lookup = Callable[[str, object, dt.datetime], str | None]


class ThreadIndex:
    """Resolves thread ids across one run, falling back to an injected lookup of landed mail.

    `links` (message id -> the id it points at: first Reference, else In-Reply-To, else None)
    may be pre-filled from a header pre-pass over every folder, so that a reply whose parent sits
    in a folder not yet extracted in this run still finds its root.
    """

    def __init__(self, lookup: Lookup | None = None):
        self.lookup = lookup
        self.threads: dict[str, str] = {}  # message id -> thread id (resolved)
        self.links: dict[str, tuple[str | None, bool]] = {}  # id -> (target, target_is_root)
        self.subjects: dict[tuple[str, str], tuple[str, dt.datetime]] = {}

    def add_link(
        self, message_id: str | None, references: list[str], in_reply_to: str | None
    ) -> None:
        if message_id and message_id not in self.links:
            if references:
                self.links[message_id] = (references[0], True)
            else:
                self.links[message_id] = (in_reply_to, False)

    def _thread_of(self, message_id: str, when: dt.datetime) -> str | None:
        seen: set[str] = set()
        current = message_id
        while current not in seen and len(seen) < 100:
            seen.add(current)
            if current in self.threads:
                return self.threads[current]
            target, is_root = self.links.get(current, (None, False))
            if current in self.links:
                if target is None:
                    # Known message without reply headers: its thread comes from the subject
                    # fallback when it is processed; until then it is its own root.
                    return current
                if is_root:
                    return target
                current = target
                continue
            if self.lookup is not None:
                found = self.lookup("message", current, when)
                if found:
                    return found
            return current  # an unknown parent: the earliest message we know of
        return current

    def resolve(self, own_id: str, h: ParsedHeaders, counterpart: str, when: dt.datetime) -> str:
        if h.references:
            thread = h.references[0]
        elif h.in_reply_to:
            thread = self._thread_of(h.in_reply_to, when)
        else:
            # Only a subject marked as a reply or forward joins an earlier thread: a fresh
            # message with a reused subject is a new contact, not a lost reply.
            thread = (
                self._by_subject(normalise_subject(h.subject), counterpart, when)
                if is_reply_subject(h.subject)
                else None
            ) or own_id
        self.threads[own_id] = thread
        key = (normalise_subject(h.subject), counterpart)
        if key[0]:
            previous = self.subjects.get(key)
            if previous is None or previous[1] <= when:
                self.subjects[key] = (thread, when)
        return thread

    def _by_subject(self, subject: str, counterpart: str, when: dt.datetime) -> str | None:
        if not subject:
            return None
        hit = self.subjects.get((subject, counterpart))
        if hit and abs(when - hit[1]) <= SUBJECT_FALLBACK_WINDOW:
            return hit[0]
        if self.lookup is not None:
            return self.lookup("subject", (subject, counterpart), when)
        return None

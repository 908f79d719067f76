"""What the two survey connectors share: timestamps, the rating check, connection tuning."""

from __future__ import annotations

from schoolcx.connections import Connection
from schoolcx.connectors.base import QuarantinedRecord
from schoolcx.connectors.http import RetryPolicy


def check_rating(
    value,
    scale: tuple[float, float] | None,
    question: str,
    record_id: str,
    raw_text: str,
    position: str,
) -> QuarantinedRecord | None:
    """A point-of-contact rating outside its configured scale goes to quarantine
    (docs/metrics.md)."""
    if value is None or value == "":
        return None  # not rated: a valid, empty answer
    try:
        number = float(value)
    except (TypeError, ValueError):
        return QuarantinedRecord("unparsable_rating", raw_text, record_id, question, position)
    if scale is not None and not scale[0] <= number <= scale[1]:
        return QuarantinedRecord("rating_out_of_scale", raw_text, record_id, question, position)
    return None


def interaction_reference(value) -> str | None:
    """A point-of-contact answer naming the rated interaction, as given (trimmed): a helpdesk
    ticket id, '<source>:<id>', or an email thread's root Message-ID ('<AbC.1@x.org>'). Kept
    whole under `_schoolcx.interaction_ref` so staging compares it as docs/metrics.md says (the
    address inside the angle brackets, case-insensitively) instead of filtering it as text."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text[:998] or None  # an RFC 5322 line; a reference is never longer


def retry_policy(conn: Connection) -> RetryPolicy:
    """The default retry policy, with the base delay tunable per connection (extra)."""
    base = conn.extra.get("retry_base_delay")
    return RetryPolicy(base_delay=float(base)) if base is not None else RetryPolicy()


def unmapped_climate_answers(
    answered: list[str], item_map: dict[str, str], record_id: str, raw_text: str, position
) -> QuarantinedRecord | None:
    """A climate response that answers questions but none of the mapped ones would land and
    never be counted (items are matched through item_map): quarantine it, naming the ids, so
    an edited survey (new question ids) shows up instead of shrinking percent_agree. A
    response that also answers mapped questions lands: unmapped extra questions (demographics,
    comments) are normal."""
    if not item_map or not answered or any(q in item_map for q in answered):
        return None
    ids = ",".join(sorted(answered))
    return QuarantinedRecord("unknown_question_ids", raw_text, record_id, ids, position)

"""SQL rendering of a plan row as the Zendesk payloads the connector lands (tickets, audits
and their child events), and the HMAC pads that make SQL compute privacy.person_hash."""

from __future__ import annotations

import hashlib

from schoolcx.sandbox.bench.dbt.sqlparts import _iso

# Status and version of a plan row `p` as of instant T (the last event before T).
EVENT_TIMES = ("t0", "ta", "t1", "tf", "t2", "tr", "t3", "tc")


def _status_at(t: str) -> str:
    return f"""case
        when p.tc < {t} then 'closed' when p.t3 < {t} then 'solved' when p.tr < {t} then 'open'
        when p.t2 < {t} then p.s2 when p.tf < {t} then 'open' when p.t1 < {t} then p.s1
        else 'new' end"""


def _version_at(t: str) -> str:
    later = ", ".join(f"case when p.{c} < {t} then p.{c} end" for c in EVENT_TIMES[1:])
    return f"greatest(p.t0, {later})"


def _int(cond: str) -> str:
    return f"(({cond}) is true)::int"


def _ticket_payload(t: str, v: str) -> str:
    """The ticket as the cursor export serves it at version time v (state as of T), with its
    sideloaded metric set (connectors/zendesk.py attaches it as `metric_set`)."""
    status = _status_at(t)
    solved = (
        f"case when ({status}) in ('solved', 'closed')"
        f" then coalesce(case when p.t3 < {t} then p.t3 end, p.ts) end"
    )
    reply = "(extract(epoch from p.t1 - p.t0) / 60)::int"
    first_solve = "(extract(epoch from p.ts - p.t0) / 60)::int"
    full_solve = f"(extract(epoch from ({solved}) - p.t0) / 60)::int"
    null_minutes = """'{"calendar": null, "business": null}'::jsonb"""
    assigned = f"(p.opened_by_agent or p.t1 < {t})"
    custom = (
        "jsonb_build_array(jsonb_build_object('id', 360010001, 'value', p.topic),"
        " jsonb_build_object('id', 360010002, 'value', p.school_id))"
    )
    subject = "initcap(replace(p.topic, '_', ' ')) || ' question (' || p.ticket_id || ')'"
    metric = f"""jsonb_build_object(
        'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/ticket_metrics/'
            || (7000000000 + p.ticket_id) || '.json',
        'id', 7000000000 + p.ticket_id, 'ticket_id', p.ticket_id,
        'created_at', {_iso("p.t0")}, 'updated_at', {_iso(v)},
        'group_stations', 1, 'assignee_stations', {_int(assigned)},
        'reopens', {_int(f"p.tr < {t}")},
        'replies', {_int(f"p.t1 < {t}")} + {_int(f"p.t2 < {t}")} + {_int(f"p.t3 < {t}")},
        'assignee_updated_at', null, 'requester_updated_at', null,
        'status_updated_at', {_iso(v)},
        'initially_assigned_at', case when {assigned} then {_iso("coalesce(p.t1, p.t0)")} end,
        'assigned_at', case when {assigned} then {_iso("coalesce(p.t1, p.t0)")} end,
        'solved_at', {_iso(solved)}, 'latest_comment_added_at', {_iso(v)},
        'reply_time_in_minutes', case when p.t1 < {t}
            then jsonb_build_object('calendar', {reply}, 'business', {reply})
            else {null_minutes} end,
        'first_resolution_time_in_minutes', case when p.ts < {t}
            then jsonb_build_object('calendar', {first_solve}, 'business', {first_solve})
            else {null_minutes} end,
        'full_resolution_time_in_minutes', case when ({solved}) is not null
            then jsonb_build_object('calendar', {full_solve}, 'business', {full_solve})
            else {null_minutes} end,
        'agent_wait_time_in_minutes', {null_minutes},
        'requester_wait_time_in_minutes', {null_minutes},
        'on_hold_time_in_minutes', '{{"calendar": 0, "business": 0}}'::jsonb)"""
    return f"""jsonb_build_object(
        'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/tickets/' || p.ticket_id
            || '.json',
        'id', p.ticket_id, 'external_id', null,
        'via', jsonb_build_object('channel', p.channel,
            'source', '{{"from": {{}}, "to": {{}}, "rel": null}}'::jsonb),
        'created_at', {_iso("p.t0")}, 'updated_at', {_iso(v)},
        'generated_timestamp', extract(epoch from {v})::bigint,
        'type', 'question', 'subject', {subject}, 'raw_subject', {subject},
        'description', {subject},
        'priority', p.priority, 'status', {status}, 'recipient', null,
        'requester_id', p.requester_id,
        'submitter_id', case when p.opened_by_agent then p.agent_id else p.requester_id end,
        'assignee_id', case when {assigned} then p.agent_id end,
        'organization_id', p.organization_id, 'group_id', p.group_id,
        'collaborator_ids', '[]'::jsonb, 'follower_ids', '[]'::jsonb,
        'email_cc_ids', '[]'::jsonb, 'forum_topic_id', null, 'problem_id', null,
        'has_incidents', false, 'is_public', true, 'due_at', null,
        'tags', p.tags, 'custom_fields', {custom}, 'fields', {custom},
        'satisfaction_rating', case when p.rated_at < {t}
            then jsonb_build_object('score', p.score) end,
        'sharing_agreement_ids', '[]'::jsonb, 'followup_ids', '[]'::jsonb,
        'ticket_form_id', 360000010, 'brand_id', 360000001, 'allow_channelback', false,
        'allow_attachments', true, 'from_messaging_channel', false)
        || jsonb_build_object('metric_set', {metric})"""


def _comment(cid: str, via: str, author: str, public: str, body: str) -> str:
    return (
        f"jsonb_build_object('id', {cid}, 'via', {via}, 'event_type', 'Comment', 'type',"
        f" 'Comment', 'author_id', {author}, 'public', {public}, 'body', {body},"
        f" 'attachments', '[]'::jsonb)"
    )


def _status_change(cid: str, via: str, new: str, previous: str) -> str:
    return (
        f"jsonb_build_object('id', {cid}, 'via', {via}, 'event_type', 'Change', 'status', {new},"
        f" 'previous_value', {previous}, 'field_name', 'status')"
    )


OPENER = "case when p.opened_by_agent then p.agent_id else p.requester_id end"
TOPIC_TEXT = "replace(p.topic, '_', ' ')"
BODIES = {
    OPENER: f"initcap({TOPIC_TEXT}) || ' question. ' || e.body_tail",
    "-1": "'We received your request #' || p.ticket_id || ' and will reply soon.'",
    "p.agent_id": f"'Thank you for contacting us about ' || {TOPIC_TEXT} || '. ' || e.body_tail",
    "p.requester_id": f"'Following up on my ' || {TOPIC_TEXT} || ' question. ' || e.body_tail",
}
# One audit per moment of a ticket's life: kind, its time in the plan, updater (= the comment's
# author), via, whether it has a public comment, and its status change (new, previous).
AUDITS = (
    ("create", "t0", OPENER, "p.via_text", True, None),
    ("auto", "ta", "-1", "'Rule'", True, None),
    ("reply1", "t1", "p.agent_id", "'Web form'", True, ("p.s1", "'new'")),
    ("follow", "tf", "p.requester_id", "p.via_text", True, ("'open'", "'pending'")),
    ("reply2", "t2", "p.agent_id", "'Web form'", True, ("p.s2", "'open'")),
    ("reopen", "tr", "p.requester_id", "p.via_text", True, ("'open'", "'solved'")),
    ("resolve2", "t3", "p.agent_id", "'Web form'", True, ("'solved'", "'open'")),
    ("close", "tc", "-1", "'Rule'", False, ("'closed'", "'solved'")),
)


def _audit_children(kind: str, author: str, via: str, comment: bool, change) -> str:
    """The audit's child events (jsonb array), ids = audit id * 10 + position."""
    children = []
    if kind == "create":
        children += [
            f"jsonb_build_object('id', e.aid * 10 + 1, 'via', {via}, 'event_type', 'Create',"
            " 'status', 'new')",
            f"jsonb_build_object('id', e.aid * 10 + 2, 'via', {via}, 'event_type', 'Create',"
            " 'priority', p.priority)",
        ]
    if comment:
        cid = f"e.aid * 10 + {len(children) + 1}"
        children.append(_comment(cid, via, author, "true", BODIES[author]))
    if change:
        cid = f"e.aid * 10 + {len(children) + 1}"
        children.append(_status_change(cid, via, *change))
    array = f"jsonb_build_array({', '.join(children)})"
    if kind == "reply1":  # an internal note on some first replies
        note = _comment("e.aid * 10 + 3", via, author, "false", "'Internal note.'")
        array += f" || case when p.r_note < 0.1 then jsonb_build_array({note}) else '[]'::jsonb end"
    return array


def _hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA-256 inner and outer padded keys, so SQL's sha256() computes privacy.person_hash."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)

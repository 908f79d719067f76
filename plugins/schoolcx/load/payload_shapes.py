"""The part of each vendor record that staging reads: the projection kept in raw.<t>.payload.

The whole record lands compressed beside it (payload_z, schoolcx.load.packing); `payload` keeps
only what dbt_project/models/staging reads, so staging SQL and latest_versions are unchanged and
rows stay small (issue 19: raw was half the warehouse's bytes). Person data that staging reads
(subjects for the high-risk match, addresses for domains and agents) stays in the projection as
before: raw is where it lives; fields nobody reads (descriptions, comment bodies, urls, unused
metric_set fields) are only in payload_z.

A shape maps a key to:
- WHOLE: the value is kept as it came (staging reads it whole: tags, custom_fields, ratings);
- a nested shape: an object keeps those keys; an array keeps its elements, each object projected
  by the nested shape (arrays of objects: child_events, questions); a scalar is kept as it came
  (a key that is sometimes a string, sometimes an object: Zendesk's `via`).
A key absent from the record stays absent (`payload ? 'status'` answers the same); a null stays.

Adding a path to a staging model: add it here too; tests/test_payload_shapes.py reads every
staging model and fails naming the model, the path and the table whose shape lacks it. Landed
rows are re-projected from payload_z by `schoolcx raw repack` (the nightly prepare runs it when a
table's shape fingerprint changed).
"""

from __future__ import annotations

WHOLE = True

# Paths read from raw by code other than the staging models (kept in the shapes above too): the
# IMAP connector threads a reply without headers by subject and counterpart among the messages
# it landed before (connectors/imap.py).
READ_OUTSIDE_STAGING = {
    "imap_messages": [("_schoolcx", "thread_id"), ("_schoolcx", "counterpart"), ("subject",)],
}

_ZENDESK_VIA = {"channel": WHOLE}

SHAPES: dict[str, dict] = {
    # stg_zendesk__tickets
    "zendesk_tickets": {
        "created_at": WHOLE,
        "updated_at": WHOLE,
        "status": WHOLE,
        "priority": WHOLE,
        "type": WHOLE,
        "tags": WHOLE,
        "subject": WHOLE,
        "via": _ZENDESK_VIA,
        "requester_id": WHOLE,
        "submitter_id": WHOLE,
        "assignee_id": WHOLE,
        "group_id": WHOLE,
        "organization_id": WHOLE,
        "brand_id": WHOLE,
        "custom_fields": WHOLE,
        "metric_set": {
            "reopens": WHOLE,
            "replies": WHOLE,
            "solved_at": WHOLE,
            "reply_time_in_minutes": {"business": WHOLE, "calendar": WHOLE},
        },
    },
    # stg_zendesk__ticket_child_events
    "zendesk_ticket_events": {
        "ticket_id": WHOLE,
        "created_at": WHOLE,
        "via": _ZENDESK_VIA,
        "updater_id": WHOLE,
        "child_events": {
            "event_type": WHOLE,
            "type": WHOLE,
            "comment_present": WHOLE,
            "public": WHOLE,
            "comment_public": WHOLE,
            "author_id": WHOLE,
            "via": _ZENDESK_VIA,
            "status": WHOLE,
            "previous_value": WHOLE,
        },
    },
    # stg_zendesk__users
    "zendesk_users": {
        "role": WHOLE,
        "locale": WHOLE,
        "organization_id": WHOLE,
        "user_fields": WHOLE,
        "email": WHOLE,
    },
    # stg_zendesk__satisfaction_ratings
    "zendesk_satisfaction_ratings": {
        "ticket_id": WHOLE,
        "score": WHOLE,
        "created_at": WHOLE,
        "requester_id": WHOLE,
        "assignee_id": WHOLE,
        "group_id": WHOLE,
    },
    "zendesk_groups": {"name": WHOLE},  # stg_zendesk__groups
    "zendesk_organizations": {"name": WHOLE},  # stg_zendesk__organizations
    # stg_freshdesk__tickets
    "freshdesk_tickets": {
        "created_at": WHOLE,
        "status": WHOLE,
        "priority": WHOLE,
        "source": WHOLE,
        "type": WHOLE,
        "tags": WHOLE,
        "subject": WHOLE,
        "requester_id": WHOLE,
        "responder_id": WHOLE,
        "group_id": WHOLE,
        "company_id": WHOLE,
        "product_id": WHOLE,
        "custom_fields": WHOLE,
        "stats": {
            "first_responded_at": WHOLE,
            "resolved_at": WHOLE,
            "closed_at": WHOLE,
            "reopened_at": WHOLE,
            "agent_responded_at": WHOLE,
            "status_updated_at": WHOLE,
        },
    },
    # stg_freshdesk__conversations
    "freshdesk_conversations": {
        "ticket_id": WHOLE,
        "user_id": WHOLE,
        "incoming": WHOLE,
        "private": WHOLE,
        "source": WHOLE,
        "created_at": WHOLE,
    },
    # stg_freshdesk__contacts
    "freshdesk_contacts": {
        "language": WHOLE,
        "company_id": WHOLE,
        "custom_fields": WHOLE,
        "email": WHOLE,
    },
    # stg_freshdesk__satisfaction_ratings
    "freshdesk_satisfaction_ratings": {
        "survey_id": WHOLE,
        "ticket_id": WHOLE,
        "user_id": WHOLE,
        "agent_id": WHOLE,
        "group_id": WHOLE,
        "ratings": WHOLE,
        "created_at": WHOLE,
    },
    # stg_freshdesk__surveys
    "freshdesk_surveys": {
        "title": WHOLE,
        "active": WHOLE,
        "questions": {"id": WHOLE, "accepted_ratings": WHOLE},
    },
    # stg_freshdesk__ticket_fields
    "freshdesk_ticket_fields": {"name": WHOLE, "type": WHOLE, "choices": WHOLE},
    # stg_imap__messages
    "imap_messages": {
        "message_id": WHOLE,
        "in_reply_to": WHOLE,
        "date": WHOLE,
        "from_address": WHOLE,
        "from_domain": WHOLE,
        "to_domains": WHOLE,
        "subject": WHOLE,
        "folder": WHOLE,
        "mailbox": WHOLE,
        "_schoolcx": {
            "thread_id": WHOLE,
            "counterpart": WHOLE,  # read by the connector (READ_OUTSIDE_STAGING)
            "direction": WHOLE,
            "sender_is_district": WHOLE,
            "is_automated": WHOLE,
        },
        "headers": {
            "auto_submitted": WHOLE,
            "x_autoreply": WHOLE,
            "x_autorespond": WHOLE,
            "precedence": WHOLE,
            "list_id": WHOLE,
        },
    },
    # stg_qualtrics__responses (jsonb_each over values: kept whole)
    "qualtrics_responses": {
        "values": WHOLE,
        "_schoolcx": {"interaction_ref": WHOLE},
    },
    # stg_surveymonkey__responses
    "surveymonkey_responses": {
        "survey_id": WHOLE,
        "date_created": WHOLE,
        "_schoolcx": {"answers": WHOLE, "interaction_ref": WHOLE},
        "pages": {"questions": {"id": WHOLE, "answers": {"text": WHOLE, "choice_id": WHOLE}}},
    },
    # stg_file_drop__rows
    "file_drop_rows": {
        "file": WHOLE,
        "file_sha256": WHOLE,
        "row_number": WHOLE,
        "kind": WHOLE,
        "row": {
            "id": WHOLE,
            "created_at": WHOLE,
            "channel": WHOLE,
            "topic": WHOLE,
            "priority": WHOLE,
            "first_response_at": WHOLE,
            "resolved_at": WHOLE,
            "submitted_at": WHOLE,
            "item_code": WHOLE,
            "answer": WHOLE,
            "interaction_id": WHOLE,
            "rated_at": WHOLE,
            "rating": WHOLE,
            "scale_lo": WHOLE,
            "scale_hi": WHOLE,
        },
    },
}

{{
    config(
        unique_key=['source_instance', 'message_key'],
        indexes=[
            {'columns': ['source_instance', 'message_key'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['source_instance', 'thread_id']},
        ],
    )
}}
-- One row per mail message of a monitored mailbox (deduplicated on Message-ID by the landing
-- key). Headers and connector-derived thread/direction only: no subjects (only the high-risk
-- term a subject matches) and no bodies; the sender address is used by int_imap__threads only to
-- tell agents and is never carried past it.
with

source as (
    {{ latest_versions(source('imap', 'imap_messages')) }}
),

high_risk_terms as (
    {{ high_risk_term_lists(ref('stg_ref__high_risk_terms')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as message_key,
        lower(trim(both '<>' from source.payload ->> 'message_id')) as message_id,
        lower(trim(both '<>' from source.payload ->> 'in_reply_to')) as in_reply_to,
        coalesce(
            source.payload -> '_schoolcx' ->> 'thread_id', source.source_id
        ) as thread_id,
        coalesce((source.payload ->> 'date')::timestamptz, source.updated_at) as sent_at,
        -- staging only: internal mailboxes tell agents by address (mailbox + responders);
        -- intermediate models turn it into a flag and never carry it further
        lower(trim(source.payload ->> 'from_address')) as from_address,
        lower(source.payload ->> 'from_domain') as from_domain,
        {{ jsonb_text_array("source.payload -> 'to_domains'") }} as to_domains,
        -- docs/metrics.md high-risk: the district's term the subject matches (macros/classification.sql)
        {{ high_risk_term('subject_text.words', 'high_risk_terms.term_words') }}
            as subject_high_risk_term,
        source.payload ->> 'folder' as folder,
        lower(source.payload ->> 'mailbox') as mailbox,
        lower(coalesce(source.payload -> '_schoolcx' ->> 'direction', 'inbound')) as direction,
        coalesce(
            (source.payload -> '_schoolcx' ->> 'sender_is_district')::boolean, false
        ) as sender_is_district,
        -- automated (docs/metrics.md): the connector's flag, or any auto-reply / bulk / list header
        (
            coalesce((source.payload -> '_schoolcx' ->> 'is_automated')::boolean, false)
            -- Auto-Submitted's value without its parameters or comments (RFC 3834): `no; x` is no
            or coalesce(
                nullif(
                    lower(trim(split_part(
                        regexp_replace(source.payload -> 'headers' ->> 'auto_submitted', '[(][^)]*[)]', '', 'g'),
                        ';',
                        1
                    ))),
                    ''
                ),
                'no'
            ) != 'no'
            or source.payload -> 'headers' ->> 'x_autoreply' is not null
            or source.payload -> 'headers' ->> 'x_autorespond' is not null
            or lower(trim(coalesce(source.payload -> 'headers' ->> 'precedence', '')))
            in ('auto_reply', 'bulk', 'list')
            or source.payload -> 'headers' ->> 'list_id' is not null
        ) as is_automated,
        source.person_hash,
        source.updated_at,
        source._loaded_at
    from source
    {{ subject_high_risk_joins("source.payload ->> 'subject'") }}
)

select * from renamed

{{
    config(
        unique_key=['source_instance', 'ticket_id'],
        indexes=[
            {'columns': ['source_instance', 'ticket_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['source_instance', 'requester_id']},
        ],
    )
}}
-- One row per Zendesk ticket (latest landed version). Subject and descriptions stay in raw:
-- of the subject only the high-risk term it matches comes through.
with

source as (
    {{ latest_versions(source('zendesk', 'zendesk_tickets')) }}
),

high_risk_terms as (
    {{ high_risk_term_lists(ref('stg_ref__high_risk_terms')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as ticket_id,
        source.updated_at as version_at,
        source._loaded_at,
        (source.payload ->> 'created_at')::timestamptz as created_at,
        (source.payload ->> 'updated_at')::timestamptz as ticket_updated_at,
        lower(source.payload ->> 'status') as status,
        lower(source.payload ->> 'priority') as priority,
        lower(source.payload ->> 'type') as ticket_type,
        {{ jsonb_text_array("source.payload -> 'tags'") }} as tags,
        -- docs/metrics.md high-risk: the district's term the subject matches (macros/classification.sql)
        {{ high_risk_term('subject_text.words', 'high_risk_terms.term_words') }}
            as subject_high_risk_term,
        source.payload -> 'via' ->> 'channel' as via_channel,
        {{ zendesk_channel('source.source_instance', "source.payload -> 'via' ->> 'channel'") }} as channel,
        {{ zendesk_mapped_channel('source.source_instance', "source.payload -> 'via' ->> 'channel'") }} is null
            as is_channel_unmapped,
        source.payload ->> 'requester_id' as requester_id,
        source.payload ->> 'submitter_id' as submitter_id,
        source.payload ->> 'assignee_id' as assignee_id,
        source.payload ->> 'group_id' as group_id,
        source.payload ->> 'organization_id' as organization_id,
        source.payload ->> 'brand_id' as brand_id,
        coalesce(source.payload -> 'custom_fields', '[]'::jsonb) as custom_fields,
        source.person_hash,
        (source.payload -> 'metric_set' ->> 'reopens')::int as zendesk_reopens,
        (source.payload -> 'metric_set' ->> 'replies')::int as zendesk_replies,
        (source.payload -> 'metric_set' ->> 'solved_at')::timestamptz as zendesk_solved_at,
        -- Zendesk's own first reply time (its schedule), for vendor_reconciliation only: a
        -- value that is not a number reads as NULL (no figure) rather than failing the build
        {{ generate_schema_name('stg', none) }}.try_numeric(
            source.payload -> 'metric_set' -> 'reply_time_in_minutes' ->> 'business'
        ) as zendesk_reply_business_minutes,
        {{ generate_schema_name('stg', none) }}.try_numeric(
            source.payload -> 'metric_set' -> 'reply_time_in_minutes' ->> 'calendar'
        ) as zendesk_reply_calendar_minutes
    from source
    {{ subject_high_risk_joins("source.payload ->> 'subject'") }}
)

select * from renamed

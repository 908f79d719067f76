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
-- One row per Freshdesk ticket (latest version), codes decoded. Subject stays in raw: only the
-- high-risk term it matches comes through.
with

source as (
    {{ latest_versions(source('freshdesk', 'freshdesk_tickets')) }}
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
        (source.payload ->> 'status')::int as status_code,
        -- custom statuses (6 and up) as config status_map or their label says, else open
        -- and flagged (macros/channel.sql)
        {{ freshdesk_status('source.source_instance', "(source.payload ->> 'status')::int") }} as status,
        {{ freshdesk_mapped_status('source.source_instance', "(source.payload ->> 'status')::int") }} is null
            as is_status_unmapped,
        (source.payload ->> 'priority')::int as priority_code,
        case (source.payload ->> 'priority')::int
            when 1 then 'low'
            when 2 then 'normal'
            when 3 then 'high'
            when 4 then 'urgent'
            else 'normal'
        end as priority,
        (source.payload ->> 'source')::int as source_code,
        source.payload ->> 'source' as vendor_channel,
        {{ freshdesk_channel('source.source_instance', "(source.payload ->> 'source')::int") }} as channel,
        {{ freshdesk_mapped_channel('source.source_instance', "(source.payload ->> 'source')::int") }} is null
            as is_channel_unmapped,
        lower(source.payload ->> 'type') as ticket_type,
        {{ jsonb_text_array("source.payload -> 'tags'") }} as tags,
        -- docs/metrics.md high-risk: the district's term the subject matches (macros/classification.sql)
        {{ high_risk_term('subject_text.words', 'high_risk_terms.term_words') }}
            as subject_high_risk_term,
        source.payload ->> 'requester_id' as requester_id,
        source.payload ->> 'responder_id' as responder_id,
        source.payload ->> 'group_id' as group_id,
        source.payload ->> 'company_id' as company_id,
        -- Freshdesk's brands are products (a multi-product helpdesk): a unit mapping may read it
        source.payload ->> 'product_id' as product_id,
        coalesce(source.payload -> 'custom_fields', '{}'::jsonb) as custom_fields,
        source.person_hash,
        (source.payload -> 'stats' ->> 'first_responded_at')::timestamptz as first_responded_at,
        (source.payload -> 'stats' ->> 'resolved_at')::timestamptz as stats_resolved_at,
        (source.payload -> 'stats' ->> 'closed_at')::timestamptz as stats_closed_at,
        (source.payload -> 'stats' ->> 'reopened_at')::timestamptz as stats_reopened_at,
        (source.payload -> 'stats' ->> 'agent_responded_at')::timestamptz as agent_responded_at,
        (source.payload -> 'stats' ->> 'status_updated_at')::timestamptz as status_updated_at
    from source
    {{ subject_high_risk_joins("source.payload ->> 'subject'") }}
)

select * from renamed

-- One row per Zendesk ticket event (audit). Child events stay as jsonb here; comment and status
-- children are one row each in stg_zendesk__ticket_child_events (without bodies).
with

source as (
    {{ latest_versions(source('zendesk', 'zendesk_ticket_events')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as event_id,
        source.payload ->> 'ticket_id' as ticket_id,
        coalesce(
            (source.payload ->> 'created_at')::timestamptz, source.updated_at
        ) as created_at,
        source.payload ->> 'updater_id' as updater_id,
        case
            when jsonb_typeof(source.payload -> 'via') = 'object'
                then source.payload -> 'via' ->> 'channel'
            else source.payload ->> 'via'
        end as via,
        source.payload ->> 'event_type' as event_type,
        jsonb_array_length(coalesce(source.payload -> 'child_events', '[]'::jsonb)) as child_count,
        source._loaded_at
    from source
)

select * from renamed

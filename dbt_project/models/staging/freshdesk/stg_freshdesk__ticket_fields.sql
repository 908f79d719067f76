{{
    config(
        materialized='table',
        indexes=[
            {'columns': ['source_instance', 'field_name', 'choice_code'], 'unique': True},
        ],
    )
}}
-- One row per choice of Freshdesk's coded ticket fields (source, status, priority) as the
-- account lists them (GET /api/v2/ticket_fields, latest version), with the channel a source
-- code maps to and the status a status code is read as (macros/channel.sql uses both); NULL
-- when nothing maps it (tickets then count it as other / open, flagged unmapped). Small: rebuilt
-- whole each run, so a removed choice goes with it.
with

source as (
    {{ latest_versions(source('freshdesk', 'freshdesk_ticket_fields')) }}
),

fields as (
    select distinct on (source.source_instance, source.payload ->> 'type')
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as field_id,
        source.payload ->> 'name' as field_name_given,
        source.payload ->> 'type' as field_type,
        source.payload -> 'choices' as choices,
        source.updated_at,
        source._loaded_at
    from source
    where
        source.payload ->> 'type' in ('default_source', 'default_status', 'default_priority')
        and jsonb_typeof(source.payload -> 'choices') = 'object'
    -- one field of each coded type per account; the newest if the list ever held two
    order by source.source_instance asc, source.payload ->> 'type' asc, source.updated_at desc
),

choices as (
    -- source and priority map label -> code; status maps code -> [agent label, customer label]
    select
        fields.source_system,
        fields.source_instance,
        fields.district_id,
        fields.field_id,
        replace(fields.field_type, 'default_', '') as field_name,
        fields.field_type,
        case
            when fields.field_type = 'default_status' then trim(choice.key)
            else trim(choice.value #>> '{}')
        end as choice_code,
        case
            when fields.field_type = 'default_status' then choice.value ->> 0
            else choice.key
        end as choice_label,
        case
            when fields.field_type = 'default_status' then choice.value ->> 1
        end as customer_label,
        fields.updated_at,
        fields._loaded_at
    from fields
    cross join lateral jsonb_each(fields.choices) as choice (key, value)
),

resolved as (
    select
        choices.source_system,
        choices.source_instance,
        choices.district_id,
        choices.field_id,
        choices.field_name,
        choices.field_type,
        choices.choice_code,
        choices.choice_label,
        choices.customer_label,
        case
            when choices.field_name = 'source'
                then coalesce(
                    {{ mapped_value('choices.source_instance', 'channel', 'choices.choice_code') }},
                    {{ mapped_value('choices.source_instance', 'channel', 'choices.choice_label') }},
                    {{ freshdesk_known_channel('choices.choice_code::bigint') }},
                    case
                        when {{ channel_label_name('choices.choice_label') }} in {{ channel_names() }}
                            then {{ channel_label_name('choices.choice_label') }}
                    end
                )
        end as channel,
        case
            when choices.field_name = 'status'
                then coalesce(
                    {{ mapped_value('choices.source_instance', 'status', 'choices.choice_code') }},
                    {{ mapped_value('choices.source_instance', 'status', 'choices.choice_label') }},
                    {{ freshdesk_known_status('choices.choice_code::bigint') }},
                    {{ freshdesk_label_status('choices.choice_label') }}
                )
        end as status,
        choices.updated_at,
        choices._loaded_at
    from choices
    where choices.choice_code ~ '^[0-9]+$'
)

select * from resolved

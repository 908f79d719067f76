{{
    config(
        unique_key=['source_instance', 'event_id'],
        indexes=[
            {'columns': ['source_instance', 'event_id', 'child_position'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['source_instance', 'ticket_id']},
        ],
    )
}}
-- One row per child event of a Zendesk ticket event: comments (public flag, author, automated
-- or not) and status changes. Other field changes are kept with their event_type only. Comment
-- bodies never leave raw. The widest derived table (three to four rows per audit, and a second
-- copy in stg_intraday), so it holds only what int_zendesk__ticket_activity reads: the source
-- system, district, child id and via texts stay in raw (DECISIONLOG "Warehouse bytes").
-- Comments come in two forms. With the comment_events sideload: `public`, `author_id`, `body`.
-- Without it (or where an account does not honour it): a compact child with only
-- `comment_present` and `comment_public`; its author is the event's updater. Both are read
-- (the connector quarantines an event whose comment carries neither flag). The child's kind is
-- `event_type`, or `type` in the generic form.
with

source as (
    {{ latest_versions(source('zendesk', 'zendesk_ticket_events')) }}
),

children as (
    select
        source.source_instance,
        source.source_id as event_id,
        source.payload ->> 'ticket_id' as ticket_id,
        coalesce(
            (source.payload ->> 'created_at')::timestamptz, source.updated_at
        ) as created_at,
        case
            when jsonb_typeof(source.payload -> 'via') = 'object'
                then source.payload -> 'via' ->> 'channel'
            else source.payload ->> 'via'
        end as event_via,
        source.payload ->> 'updater_id' as updater_id,
        child.value as child,
        child.ordinality::int as child_position,  -- int4: narrower rows and key index
        source._loaded_at
    from source
    cross join lateral jsonb_array_elements(
        case
            when jsonb_typeof(source.payload -> 'child_events') = 'array'
                then source.payload -> 'child_events'
            else '[]'::jsonb
        end
    ) with ordinality as child (value, ordinality)
),

renamed as (
    select
        children.source_instance,
        children.event_id,
        children.child_position,
        children.ticket_id,
        children.created_at,
        coalesce(children.child ->> 'event_type', children.child ->> 'type') as child_event_type,
        (
            coalesce(children.child ->> 'event_type', children.child ->> 'type') = 'Comment'
            and coalesce((children.child ->> 'comment_present')::boolean, true)
        ) as is_comment,
        coalesce(
            (children.child ->> 'public')::boolean,
            (children.child ->> 'comment_public')::boolean,
            false
        ) as is_public,
        coalesce(children.child ->> 'author_id', children.updater_id) as author_id,
        -- automated: a trigger/automation (via Rule, on the child or the event) or the system user
        (
            coalesce(children.child ->> 'via', '') = 'Rule'
            or coalesce(children.child -> 'via' ->> 'channel', '') = 'rule'
            or coalesce(children.event_via, '') in ('Rule', 'rule')
            or coalesce(children.child ->> 'author_id', children.updater_id) = '-1'
        ) as is_automated,
        case
            when
                children.child ? 'status'
                and coalesce(children.child ->> 'event_type', children.child ->> 'type')
                in ('Create', 'Change')
                then lower(children.child ->> 'status')
        end as status,
        case
            when
                children.child ? 'status'
                and coalesce(children.child ->> 'event_type', children.child ->> 'type')
                in ('Create', 'Change')
                then lower(children.child ->> 'previous_value')
        end as previous_status,
        children._loaded_at
    from children
)

select * from renamed

{{ config(materialized='view') }}
-- One row per child event of a Zendesk ticket event: comments (public flag, author, automated
-- or not) and status changes. Other field changes are kept with their event_type only. Comment
-- bodies never leave raw.
-- A view over raw, not a table: it was the widest derived table (seven rows a ticket, 1.5 kB a
-- ticket with its indexes, and a second copy in stg_intraday) and only re-shapes the audits
-- int_zendesk__ticket_activity reads per changed ticket (DECISIONLOG "Child events read from
-- raw"). Nothing here may stop PostgreSQL from flattening the view into its reader (no DISTINCT,
-- aggregate, window or OFFSET): a predicate on (source_instance, ticket_id) or _loaded_at then
-- reaches raw's indexes (migration 0031: source_instance, payload ->> 'ticket_id'); ticket_id
-- stays `payload ->> 'ticket_id'` of the stored column, as that index has it.
-- Comments come in two forms. With the comment_events sideload: `public`, `author_id`, `body`.
-- Without it (or where an account does not honour it): a compact child with only
-- `comment_present` and `comment_public`; its author is the event's updater. Both are read
-- (the connector quarantines an event whose comment carries neither flag). The child's kind is
-- `event_type`, or `type` in the generic form.
with

source as (
    -- the latest version of each audit, as latest_versions: an audit is immutable (its version
    -- is its created_at), so this drops nothing in practice; an anti-join by raw's primary key
    -- rather than DISTINCT ON lets a predicate on the ticket or the load time reach raw's indexes.
    -- Only an unpacked row (no payload_z: its payload is the record's only copy) is looked up:
    -- a packed version that is not the latest keeps no projection (payload '{}', packing's rule)
    -- and so yields no child events. Anti-joined whole, a full build hashed every audit's key,
    -- spilled every audit (20 GB at M) to temporary files beside it, and ran out of disk.
    select
        audits.source_instance,
        audits.source_id,
        audits.updated_at,
        audits.payload,
        audits._loaded_at
    from {{ source('zendesk', 'zendesk_ticket_events') }} as audits
    where audits.payload_z is not null or not exists (
        select 1
        from {{ source('zendesk', 'zendesk_ticket_events') }} as later
        where
            later.source_instance = audits.source_instance
            and later.source_id = audits.source_id
            and later.updated_at > audits.updated_at
    )
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
        child.ordinality::int as child_position,  -- int4, as the table had it
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

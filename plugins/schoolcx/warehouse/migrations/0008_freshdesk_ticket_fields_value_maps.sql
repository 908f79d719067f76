-- Freshdesk's ticket fields (GET /api/v2/ticket_fields): the labels of custom sources (a
-- walk-in desk, 101 "Walk-in") and custom statuses (6 and up), which staging maps to our
-- channels and statuses (docs/landing.md).
select ops.create_raw_table('freshdesk_ticket_fields');

-- Per-source mappings of vendor values to our vocabulary, from the deployment config
-- (schoolcx.refsync): `channel_map` (a helpdesk source's channel value or label -> channel)
-- and a Freshdesk source's `status_map` (custom status code or label -> status). vendor_value
-- is the configured key, trimmed and lower-cased; staging compares it with the vendor's code
-- and with its label, both lower-cased.
create table if not exists ref.source_value_maps (
    source_instance text not null,
    field text not null check (field in ('channel', 'status')),
    vendor_value text not null,
    mapped_value text not null,
    primary key (source_instance, field, vendor_value),
    check (
        (field = 'channel' and mapped_value in (
            'web', 'email', 'phone', 'chat', 'social', 'walk_in', 'other'
        ))
        or (field = 'status' and mapped_value in ('open', 'pending', 'solved', 'closed'))
    )
);

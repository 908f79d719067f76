{#- Channels and statuses from the vendors' own codes (docs/metrics.md "Channel"), through the
    per-source config maps (ref.source_value_maps, synced from `channel_map` / `status_map`).
    Each macro is a scalar expression over one ticket, so a staging model calls it on its own
    line. Lookups read small tables once per query (keyed_lookup). -#}

{#- The channel list, for the label rule: a label that names a channel after lower-casing and
    '-' / ' ' -> '_' ("Walk-in" -> walk_in) is that channel. -#}
{% macro channel_names() -%}
    ('web', 'email', 'phone', 'chat', 'social', 'walk_in', 'other')
{%- endmacro %}

{% macro channel_label_name(label) -%}
    replace(replace(lower(trim({{ label }})), '-', '_'), ' ', '_')
{%- endmacro %}

{#- A lookup table as one jsonb object ("<source_instance> <key>" -> value), built once per
    query (an uncorrelated subquery is an InitPlan), then one key lookup per row: cheaper than a
    correlated subquery (an index probe per row). Source names hold no space. -#}
{% macro keyed_lookup(relation, key_expr, value_expr, where) -%}
    (
        select coalesce(jsonb_object_agg({{ key_expr }}, {{ value_expr }}), '{}'::jsonb)
        from {{ relation }} as lookup
        where {{ where }}
    )
{%- endmacro %}

{#- A configured mapping of one source's vendor value (trimmed, lower-cased); NULL if none. -#}
{% macro mapped_value(source_instance, field, vendor_value) -%}
    (
        {{ keyed_lookup(
            ref('stg_ref__source_value_maps'),
            "lookup.source_instance || ' ' || lookup.vendor_value",
            'lookup.mapped_value',
            "lookup.field = '" ~ field ~ "'",
        ) }}
        ->> ({{ source_instance }} || ' ' || lower(trim({{ vendor_value }})))
    )
{%- endmacro %}

{#- What stg_freshdesk__ticket_fields resolved for one source's code of a coded field. -#}
{% macro ticket_field_value(source_instance, field_name, column, code) -%}
    (
        {{ keyed_lookup(
            ref('stg_freshdesk__ticket_fields'),
            "lookup.source_instance || ' ' || lookup.choice_code",
            'lookup.' ~ column,
            "lookup.field_name = '" ~ field_name ~ "' and lookup." ~ column ~ " is not null",
        ) }}
        ->> ({{ source_instance }} || ' ' || ({{ code }})::text)
    )
{%- endmacro %}

{#- Zendesk via.channel values we know -> channel; NULL for a value we do not know. `api` (and
    its older name `web_service`) is a ticket created by an integration: `other`. -#}
{% macro zendesk_known_channel(expr) -%}
    case
        when lower({{ expr }}) in ('web', 'web_form', 'web_widget', 'help_center', 'mobile',
                                   'mobile_sdk', 'portal')
            then 'web'
        when lower({{ expr }}) in ('email', 'mail') then 'email'
        when lower({{ expr }}) in ('voice', 'phone', 'phone_call_inbound', 'phone_call_outbound',
                                   'voicemail')
            then 'phone'
        when lower({{ expr }}) in ('chat', 'chat_transcript', 'native_messaging', 'messaging',
                                   'sms', 'whatsapp', 'sunshine_conversations_api')
            then 'chat'
        when lower({{ expr }}) in ('facebook', 'twitter', 'instagram_dm', 'messenger', 'social',
                                   'line', 'wechat', 'any_channel')
            then 'social'
        when lower({{ expr }}) in ('walk_in', 'walkin', 'in_person') then 'walk_in'
        when lower({{ expr }}) in ('api', 'web_service') then 'other'
    end
{%- endmacro %}

{#- Zendesk: config first, then the values we know; NULL when neither maps it. -#}
{% macro zendesk_mapped_channel(source_instance, expr) -%}
    coalesce(
        {{ mapped_value(source_instance, 'channel', expr) }},
        {{ zendesk_known_channel(expr) }}
    )
{%- endmacro %}

{% macro zendesk_channel(source_instance, expr) -%}
    coalesce({{ zendesk_mapped_channel(source_instance, expr) }}, 'other')
{%- endmacro %}

{#- Freshdesk built-in source codes -> channel (1 email, 2 portal, 3 phone, 4 forum, 5 twitter,
    6 facebook, 7 chat, 8 mobihelp, 9 feedback widget, 10 outbound email, 11 e-commerce,
    12 bot, 13 whatsapp); NULL for a custom source (ids above the built-ins). -#}
{% macro freshdesk_known_channel(code) -%}
    case
        when {{ code }} in (1, 10) then 'email'
        when {{ code }} in (2, 4, 8, 9) then 'web'
        when {{ code }} = 3 then 'phone'
        when {{ code }} in (7, 12, 13) then 'chat'
        when {{ code }} in (5, 6) then 'social'
        when {{ code }} = 11 then 'other'
    end
{%- endmacro %}

{#- Freshdesk: the channel stg_freshdesk__ticket_fields resolved for the account's code (config
    by code or label, built-in, a label naming a channel), else config by code, else built-in;
    NULL when nothing maps it. -#}
{% macro freshdesk_mapped_channel(source_instance, code) -%}
    coalesce(
        {{ ticket_field_value(source_instance, 'source', 'channel', code) }},
        {{ mapped_value(source_instance, 'channel', '(' ~ code ~ ')::text') }},
        {{ freshdesk_known_channel(code) }}
    )
{%- endmacro %}

{% macro freshdesk_channel(source_instance, code) -%}
    coalesce({{ freshdesk_mapped_channel(source_instance, code) }}, 'other')
{%- endmacro %}

{#- Freshdesk built-in status codes -> status; NULL for a custom status (6 and up). -#}
{% macro freshdesk_known_status(code) -%}
    case {{ code }}
        when 2 then 'open'
        when 3 then 'pending'
        when 4 then 'solved'
        when 5 then 'closed'
    end
{%- endmacro %}

{#- The label rule for a custom status: a label that IS a status name (trimmed, lower case;
    Freshdesk calls solved "Resolved") is that status. A label that only contains one
    ("Resolved - awaiting parent") is not read: it may well mean pending (DECISIONLOG). -#}
{% macro freshdesk_label_status(label) -%}
    case lower(trim({{ label }}))
        when 'open' then 'open'
        when 'pending' then 'pending'
        when 'resolved' then 'solved'
        when 'solved' then 'solved'
        when 'closed' then 'closed'
    end
{%- endmacro %}

{#- Freshdesk status: as stg_freshdesk__ticket_fields resolved the account's code (config
    `status_map` by code or label, built-in, a label that is a status name), else config by
    code, else built-in; NULL when nothing maps it. -#}
{% macro freshdesk_mapped_status(source_instance, code) -%}
    coalesce(
        {{ ticket_field_value(source_instance, 'status', 'status', code) }},
        {{ mapped_value(source_instance, 'status', '(' ~ code ~ ')::text') }},
        {{ freshdesk_known_status(code) }}
    )
{%- endmacro %}

{#- Unmapped is open: the connector quarantines a code the account does not list, so this is a
    custom status that is listed, and it is still being worked on (DECISIONLOG); staging flags
    it is_status_unmapped and a warn test counts it. -#}
{% macro freshdesk_status(source_instance, code) -%}
    coalesce({{ freshdesk_mapped_status(source_instance, code) }}, 'open')
{%- endmacro %}

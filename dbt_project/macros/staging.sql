{#- Helpers shared by the staging models. -#}

{#- The latest landed version of each record: latest updated_at per (source_instance, source_id);
    a tie (same version landed twice cannot happen: primary key) falls back to the last load.
    In an incremental run only the records with a version loaded since the model's watermark
    are recomputed (from all their versions, so a late, older version never wins); the raw
    primary key (source_instance, source_id, updated_at) serves both lookups. -#}
{% macro latest_versions(relation) -%}
    select distinct on (src.source_instance, src.source_id)
        src.source_system,
        src.source_instance,
        src.district_id,
        src.source_id,
        src.updated_at,
        src.person_hash,
        -- decompressed once here (`|| '{}'` returns the detoasted value): raw payloads are
        -- stored pglz-compressed, and every `->>` on the stored value would decompress it again
        -- (a staging model reads 10-25 fields: 3x the time)
        src.payload || '{}'::jsonb as payload,
        src._loaded_at,
        src._batch_id,
        src._source_position
    {%- if is_incremental() %}
    from (
        select distinct
            changed.source_instance,
            changed.source_id
        from {{ relation }} as changed
        where changed._loaded_at > {{ incremental_watermark('_loaded_at') }}
    ) as changed_records
    -- every version of each changed record, one primary-key lookup per record ("offset 0"
    -- keeps the lateral subquery a parameterized scan; as a join, the planner hashes a scan of
    -- the whole raw table)
    cross join lateral (
        select versions.*
        from {{ relation }} as versions
        where
            versions.source_instance = changed_records.source_instance
            and versions.source_id = changed_records.source_id
        offset 0
    ) as src
    {%- else %}
    from {{ relation }} as src
    {%- endif %}
    order by src.source_instance asc, src.source_id asc, src.updated_at desc, src._loaded_at desc
{%- endmacro %}

{#- A jsonb array of scalars as text[] (empty array for null / not an array). -#}
{% macro jsonb_text_array(expr) -%}
    coalesce(
        array(
            select lower(trim(elem.value))
            from jsonb_array_elements_text(
                case when jsonb_typeof({{ expr }}) = 'array' then {{ expr }} else '[]'::jsonb end
            ) as elem (value)
        ),
        '{}'::text []
    )
{%- endmacro %}

{#- ISO 639-1 language from a locale such as 'en-US', 'es_MX', 'pt-br'; NULL when not one. -#}
{% macro iso_language(expr) -%}
    case
        when lower(split_part(replace(trim({{ expr }}), '_', '-'), '-', 1)) ~ '^[a-z]{2}$'
            then lower(split_part(replace(trim({{ expr }}), '_', '-'), '-', 1))
    end
{%- endmacro %}

{#- An instant from file text: with an offset (or Z) as given, without one as local wall-clock
    time in the district's zone. NULL when it does not parse. -#}
{% macro parse_instant(text_expr, tz_expr) -%}
    case
        when trim({{ text_expr }}) ~* '(z|[+-][0-9]{2}(:?[0-9]{2})?)$'
            then {{ generate_schema_name('stg', none) }}.try_timestamptz({{ text_expr }})
        else {{ generate_schema_name('stg', none) }}.try_timestamp({{ text_expr }}) at time zone {{ tz_expr }}
    end
{%- endmacro %}

{#- The topic of a helpdesk ticket: a 'topic:x' / 'topic_x' tag, else a topic custom field
    (var topic_custom_fields: Freshdesk field names / Zendesk field ids), else a ticket type that
    is not a generic one, else the first tag. -#}
{% macro ticket_topic(tags, ticket_type, custom_topic) -%}
    coalesce(
        (
            select substring(topic_tag.tag from '^topic[:_](.+)$')
            from unnest({{ tags }}) with ordinality as topic_tag (tag, position)
            where topic_tag.tag ~ '^topic[:_].+'
            order by topic_tag.position
            limit 1
        ),
        lower(nullif(trim({{ custom_topic }}), '')),
        case
            when {{ ticket_type }} not in (
                'question', 'incident', 'problem', 'task', 'feature request', 'refund'
            )
                then {{ ticket_type }}
        end,
        ({{ tags }})[1]
    )
{%- endmacro %}

{#- Zendesk: the value of the first custom field whose id is in var topic_custom_fields. -#}
{% macro zendesk_custom_topic(custom_fields) -%}
    (
        select topic_field.value ->> 'value'
        from jsonb_array_elements(
            case when jsonb_typeof({{ custom_fields }}) = 'array' then {{ custom_fields }} else '[]'::jsonb end
        ) as topic_field (value)
        where
            topic_field.value ->> 'id' in ('{{ var("topic_custom_fields") | join("', '") }}')
            and nullif(topic_field.value ->> 'value', '') is not null
        limit 1
    )
{%- endmacro %}

{#- Freshdesk: the first non-empty custom field named in var topic_custom_fields. -#}
{% macro freshdesk_custom_topic(custom_fields) -%}
    coalesce(
        {%- for name in var("topic_custom_fields") %}
        nullif({{ custom_fields }} ->> '{{ name }}', ''){{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{{
    config(
        materialized='incremental',
        unique_key='interaction_key',
        indexes=[
            {'columns': ['interaction_key'], 'unique': True},
            {'columns': ['last_loaded_at']},
            {'columns': ['district_id', 'reference_id']},
        ],
        post_hook=[
            "delete from {{ this }} where not is_interaction",
            "{{ analyze_when_new(this) }}",
        ],
    )
}}
-- Every interaction of every channel in one shape (docs/metrics.md "Interaction"): Zendesk and
-- Freshdesk tickets, inbound email threads, file-drop interactions. Deduplicated on (source
-- system, source instance, source id) (staging keeps the latest version of each record);
-- interaction_key = md5 of the three. Adds units (school, department, stakeholder type) from the
-- config mappings, high-risk classification (the flag and the matched term), effective priority
-- and SLA target, and the reject_reason of records that break the contract (response or
-- resolution before creation, unparseable times): those go to int_interactions_rejected, never
-- to the facts.
-- Incremental: the records of each source loaded since the watermark (a ticket, its events or
-- conversations, its requester; a mail thread; a file row) are recomputed. A record that stopped
-- being an interaction (a ticket deleted since) comes through with is_interaction false, so it
-- replaces the old row, and the post-hook removes it.
with

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

sources as (
    select * from {{ ref('stg_ref__sources') }}
),

unit_mappings as (
    select * from {{ ref('stg_ref__unit_mappings') }}
),

high_risk_terms as (
    select * from {{ ref('stg_ref__high_risk_terms') }}
),

sla_targets as (
    -- one row per district (a hash join on district_id; the target is picked by priority below)
    select
        targets.district_id,
        max(targets.target_business_minutes) filter (where targets.priority = 'urgent') as urgent,
        max(targets.target_business_minutes) filter (where targets.priority = 'high') as high,
        max(targets.target_business_minutes) filter (where targets.priority = 'normal') as normal,
        max(targets.target_business_minutes) filter (where targets.priority = 'low') as low
    from {{ ref('stg_ref__sla_targets') }} as targets
    group by targets.district_id
),

zendesk_tickets as (
    select * from {{ ref('stg_zendesk__tickets') }}
),

zendesk_users as (
    select * from {{ ref('stg_zendesk__users') }}
),

zendesk_activity as (
    select * from {{ ref('int_zendesk__ticket_activity') }}
),

freshdesk_tickets as (
    select * from {{ ref('stg_freshdesk__tickets') }}
),

freshdesk_contacts as (
    select * from {{ ref('stg_freshdesk__contacts') }}
),

freshdesk_activity as (
    select * from {{ ref('int_freshdesk__ticket_activity') }}
),

imap_threads as (
    select * from {{ ref('int_imap__threads') }}
),

file_drop_rows as (
    select all_rows.*
    from {{ ref('stg_file_drop__rows') }} as all_rows
    {%- if is_incremental() %}
    where all_rows._loaded_at > {{ incremental_watermark('last_loaded_at') }}
    {%- endif %}
),

zendesk as (
    select
        zendesk_tickets.source_system,
        zendesk_tickets.source_instance,
        zendesk_tickets.ticket_id as source_id,
        zendesk_tickets.district_id,
        zendesk_tickets.ticket_id as reference_id,
        zendesk_tickets.created_at,
        zendesk_activity.first_response_at,
        case
            when zendesk_tickets.status in ('solved', 'closed')
                then coalesce(zendesk_activity.last_solved_entry_at, zendesk_tickets.zendesk_solved_at)
        end as resolved_at,
        false as has_unparseable_time,
        -- a deleted ticket (spam, a duplicate) is in the export but is no contact
        coalesce(zendesk_tickets.status, '') != 'deleted' as is_interaction,
        zendesk_tickets.status,
        zendesk_tickets.channel,
        {{ ticket_topic('zendesk_tickets.tags', 'zendesk_tickets.ticket_type', zendesk_custom_topic('zendesk_tickets.custom_fields')) }} as topic,
        case
            when zendesk_tickets.priority in ('urgent', 'high', 'normal', 'low')
                then zendesk_tickets.priority
            else 'normal'
        end as base_priority,
        zendesk_tickets.tags,
        zendesk_tickets.subject_high_risk_term,
        coalesce(zendesk_users.person_hash, zendesk_tickets.person_hash) as requester_hash,
        zendesk_users.language,
        zendesk_users.email_domain as requester_domain,
        false as is_district_sender,
        (
            coalesce(zendesk_activity.is_ever_solved, false)
            or zendesk_tickets.status in ('solved', 'closed')
        ) as is_ever_solved,
        (
            coalesce(zendesk_activity.is_reopened, false)
            or coalesce(zendesk_tickets.zendesk_reopens, 0) > 0
        ) as is_reopened,
        coalesce(zendesk_activity.agent_response_count, 0) as agent_response_count,
        greatest(
            zendesk_tickets._loaded_at, zendesk_activity.events_loaded_at, zendesk_users._loaded_at
        ) as last_loaded_at,
        jsonb_strip_nulls(
            jsonb_build_object(
                'group_id', zendesk_tickets.group_id,
                'organization_id', zendesk_tickets.organization_id,
                'brand_id', zendesk_tickets.brand_id,
                'channel', zendesk_tickets.channel,
                'via_channel', zendesk_tickets.via_channel,
                'type', zendesk_tickets.ticket_type,
                'role', zendesk_users.role,
                'requester_organization_id', zendesk_users.organization_id,
                'domain', zendesk_users.email_domain
            )
        )
        || coalesce(
            (
                select jsonb_object_agg('custom_field:' || (field.value ->> 'id'), field.value ->> 'value')
                from
                    jsonb_array_elements(
                        case
                            when jsonb_typeof(zendesk_tickets.custom_fields) = 'array'
                                then zendesk_tickets.custom_fields
                            else '[]'::jsonb
                        end
                    ) as field (value)
                where field.value ->> 'value' is not null
            ),
            '{}'::jsonb
        )
        || coalesce(
            (
                select jsonb_object_agg('user_field:' || user_field.key, user_field.value #>> '{}')
                from jsonb_each(zendesk_users.user_fields) as user_field
                where jsonb_typeof(user_field.value) in ('string', 'number', 'boolean')
            ),
            '{}'::jsonb
        ) as attributes
    from zendesk_tickets
    left join zendesk_activity
        on
            zendesk_tickets.source_instance = zendesk_activity.source_instance
            and zendesk_tickets.ticket_id = zendesk_activity.ticket_id
    left join zendesk_users
        on
            zendesk_tickets.source_instance = zendesk_users.source_instance
            and zendesk_tickets.requester_id = zendesk_users.user_id
    {%- if is_incremental() %}
    where (zendesk_tickets.source_instance, zendesk_tickets.ticket_id) in (
        {{ changed_helpdesk_tickets(
            ref('stg_zendesk__tickets'), ref('int_zendesk__ticket_activity'),
            ref('stg_zendesk__users'), 'user_id'
        ) }}
    )
    {%- endif %}
),

freshdesk as (
    select
        freshdesk_tickets.source_system,
        freshdesk_tickets.source_instance,
        freshdesk_tickets.ticket_id as source_id,
        freshdesk_tickets.district_id,
        freshdesk_tickets.ticket_id as reference_id,
        freshdesk_tickets.created_at,
        -- an agent-opened ticket's stats count the opening message: use replies only
        case
            when freshdesk_activity.is_opened_by_agent then freshdesk_activity.first_reply_at
            else coalesce(freshdesk_activity.first_reply_at, freshdesk_tickets.first_responded_at)
        end as first_response_at,
        case
            when freshdesk_tickets.status in ('solved', 'closed')
                then coalesce(
                    -- the entry into resolved/closed after the last reopen
                    least(
                        case
                            when
                                freshdesk_tickets.stats_resolved_at
                                > coalesce(freshdesk_tickets.stats_reopened_at, '-infinity')
                                then freshdesk_tickets.stats_resolved_at
                        end,
                        case
                            when
                                freshdesk_tickets.stats_closed_at
                                > coalesce(freshdesk_tickets.stats_reopened_at, '-infinity')
                                then freshdesk_tickets.stats_closed_at
                        end
                    ),
                    -- a custom status mapped to solved/closed sets neither stats time: the last
                    -- status change is the entry into it (docs/metrics.md resolved_at, DECISIONLOG)
                    case
                        when
                            freshdesk_tickets.status_updated_at
                            > coalesce(freshdesk_tickets.stats_reopened_at, '-infinity')
                            then freshdesk_tickets.status_updated_at
                    end,
                    greatest(freshdesk_tickets.stats_resolved_at, freshdesk_tickets.stats_closed_at)
                )
        end as resolved_at,
        false as has_unparseable_time,
        -- an outbound email (source 10) is started by the district: no contact to it (docs/metrics.md
        -- "Interaction"), as for email threads started by a district sender
        coalesce(freshdesk_tickets.source_code, 0) != 10 as is_interaction,
        freshdesk_tickets.status,
        freshdesk_tickets.channel,
        {{ ticket_topic('freshdesk_tickets.tags', 'freshdesk_tickets.ticket_type', freshdesk_custom_topic('freshdesk_tickets.custom_fields')) }} as topic,
        freshdesk_tickets.priority as base_priority,
        freshdesk_tickets.tags,
        freshdesk_tickets.subject_high_risk_term,
        coalesce(freshdesk_contacts.person_hash, freshdesk_tickets.person_hash) as requester_hash,
        freshdesk_contacts.language,
        freshdesk_contacts.email_domain as requester_domain,
        false as is_district_sender,
        (
            freshdesk_tickets.status in ('solved', 'closed')
            or freshdesk_tickets.stats_resolved_at is not null
            or freshdesk_tickets.stats_closed_at is not null
        ) as is_ever_solved,
        freshdesk_tickets.stats_reopened_at is not null as is_reopened,
        case
            when freshdesk_activity.is_opened_by_agent then freshdesk_activity.agent_reply_count
            else greatest(
                coalesce(freshdesk_activity.agent_reply_count, 0),
                case when freshdesk_tickets.first_responded_at is not null then 1 else 0 end
            )
        end as agent_response_count,
        greatest(
            freshdesk_tickets._loaded_at,
            freshdesk_activity.conversations_loaded_at,
            freshdesk_contacts._loaded_at
        ) as last_loaded_at,
        jsonb_strip_nulls(
            jsonb_build_object(
                'group_id', freshdesk_tickets.group_id,
                'company_id', freshdesk_tickets.company_id,
                'organization_id', freshdesk_tickets.company_id,
                'product_id', freshdesk_tickets.product_id,
                'brand_id', freshdesk_tickets.product_id,
                'channel', freshdesk_tickets.channel,
                'source', freshdesk_tickets.source_code::text,
                'type', freshdesk_tickets.ticket_type,
                'requester_company_id', freshdesk_contacts.company_id,
                'domain', freshdesk_contacts.email_domain
            )
        )
        || coalesce(
            (
                select jsonb_object_agg('custom_field:' || field.key, field.value #>> '{}')
                from
                    jsonb_each(
                        case
                            when jsonb_typeof(freshdesk_tickets.custom_fields) = 'object'
                                then freshdesk_tickets.custom_fields
                            else '{}'::jsonb
                        end
                    ) as field
                where jsonb_typeof(field.value) in ('string', 'number', 'boolean')
            ),
            '{}'::jsonb
        )
        || coalesce(
            (
                select jsonb_object_agg('contact_field:' || field.key, field.value #>> '{}')
                from
                    jsonb_each(
                        case
                            when jsonb_typeof(freshdesk_contacts.custom_fields) = 'object'
                                then freshdesk_contacts.custom_fields
                            else '{}'::jsonb
                        end
                    ) as field
                where jsonb_typeof(field.value) in ('string', 'number', 'boolean')
            ),
            '{}'::jsonb
        ) as attributes
    from freshdesk_tickets
    left join freshdesk_activity
        on
            freshdesk_tickets.source_instance = freshdesk_activity.source_instance
            and freshdesk_tickets.ticket_id = freshdesk_activity.ticket_id
    left join freshdesk_contacts
        on
            freshdesk_tickets.source_instance = freshdesk_contacts.source_instance
            and freshdesk_tickets.requester_id = freshdesk_contacts.contact_id
    {%- if is_incremental() %}
    where (freshdesk_tickets.source_instance, freshdesk_tickets.ticket_id) in (
        {{ changed_helpdesk_tickets(
            ref('stg_freshdesk__tickets'), ref('int_freshdesk__ticket_activity'),
            ref('stg_freshdesk__contacts'), 'contact_id'
        ) }}
    )
    {%- endif %}
),

imap as (
    select
        imap_threads.source_system,
        imap_threads.source_instance,
        imap_threads.thread_id as source_id,
        imap_threads.district_id,
        imap_threads.thread_id as reference_id,
        imap_threads.created_at,
        imap_threads.first_response_at,
        null::timestamptz as resolved_at,
        false as has_unparseable_time,
        imap_threads.is_interaction,
        null::text as status,
        'email' as channel,
        null::text as topic,
        'normal' as base_priority,
        '{}'::text[] as tags,
        -- docs/metrics.md: email is `normal` unless high-risk, by the thread's first subject
        imap_threads.subject_high_risk_term,
        imap_threads.requester_hash,
        null::text as language,
        imap_threads.from_domain as requester_domain,
        imap_threads.sender_is_district as is_district_sender,
        false as is_ever_solved,
        false as is_reopened,
        imap_threads.agent_response_count,
        imap_threads.thread_loaded_at as last_loaded_at,
        jsonb_strip_nulls(jsonb_build_object('domain', imap_threads.from_domain)) as attributes
    from imap_threads
    {%- if is_incremental() %}
    where imap_threads.thread_loaded_at > {{ incremental_watermark('last_loaded_at') }}
    {%- endif %}
),

file_drop_parsed as (
    select
        file_drop_rows.*,
        {{ parse_instant('file_drop_rows.created_at_text', 'districts.timezone') }} as created_at,
        {{ parse_instant('file_drop_rows.first_response_at_text', 'districts.timezone') }}
            as first_response_at,
        {{ parse_instant('file_drop_rows.resolved_at_text', 'districts.timezone') }} as resolved_at
    from file_drop_rows
    left join districts
        on file_drop_rows.district_id = districts.district_id
    where file_drop_rows.kind = 'interactions'
),

file_drop as (
    select
        file_drop_parsed.source_system,
        file_drop_parsed.source_instance,
        file_drop_parsed.row_key as source_id,
        file_drop_parsed.district_id,
        coalesce(file_drop_parsed.row_id, file_drop_parsed.row_key) as reference_id,
        file_drop_parsed.created_at,
        file_drop_parsed.first_response_at,
        file_drop_parsed.resolved_at,
        (
            (
                nullif(trim(file_drop_parsed.first_response_at_text), '') is not null
                and file_drop_parsed.first_response_at is null
            )
            or (
                nullif(trim(file_drop_parsed.resolved_at_text), '') is not null
                and file_drop_parsed.resolved_at is null
            )
        ) as has_unparseable_time,
        true as is_interaction,
        case when file_drop_parsed.resolved_at is not null then 'solved' end as status,
        case
            when file_drop_parsed.channel_text in (
                'web', 'email', 'phone', 'chat', 'social', 'walk_in', 'other'
            ) then file_drop_parsed.channel_text
            when replace(file_drop_parsed.channel_text, '-', '_') = 'walk_in' then 'walk_in'
            else 'other'
        end as channel,
        file_drop_parsed.topic,
        case
            when file_drop_parsed.priority_text in ('urgent', 'high', 'normal', 'low')
                then file_drop_parsed.priority_text
            else 'normal'
        end as base_priority,
        case
            when file_drop_parsed.topic is not null then array[file_drop_parsed.topic]
            else '{}'::text[]
        end as tags,
        null::text as subject_high_risk_term,
        file_drop_parsed.person_hash as requester_hash,
        null::text as language,
        null::text as requester_domain,
        false as is_district_sender,
        file_drop_parsed.resolved_at is not null as is_ever_solved,
        false as is_reopened,
        case when file_drop_parsed.first_response_at is not null then 1 else 0 end
            as agent_response_count,
        file_drop_parsed._loaded_at as last_loaded_at,
        jsonb_strip_nulls(
            jsonb_build_object(
                'channel', file_drop_parsed.channel_text,
                'topic', file_drop_parsed.topic,
                'file', file_drop_parsed.file_name
            )
        ) as attributes
    from file_drop_parsed
),

unioned as (
    select * from zendesk
    union all
    select * from freshdesk
    union all
    select * from imap
    union all
    select * from file_drop
),

keyed as (
    select
        md5(unioned.source_system || '|' || unioned.source_instance || '|' || unioned.source_id)
            as interaction_key,
        unioned.*
    from unioned
),

mapped_fields as (
    select distinct
        unit_mappings.source_instance,
        unit_mappings.unit_type,
        unit_mappings.source_field
    from unit_mappings
    where unit_mappings.source_field != 'tag'
),

field_values as materialized (
    -- each interaction's value of each field its source maps, so that the match below is an
    -- equality join; materialized, or the planner folds the lookup back into a join filter that
    -- tests every mapping of the source against every interaction
    select
        keyed.interaction_key,
        keyed.source_instance,
        mapped_fields.unit_type,
        mapped_fields.source_field,
        lower(trim(keyed.attributes ->> mapped_fields.source_field)) as field_value
    from keyed
    inner join mapped_fields
        on keyed.source_instance = mapped_fields.source_instance
),

unit_matches as (
    -- every mapping that matches an interaction, with its place in the config's order
    select
        field_values.interaction_key,
        unit_mappings.unit_type,
        unit_mappings.precedence,
        unit_mappings.unit_value
    from field_values
    inner join unit_mappings
        on
            field_values.source_instance = unit_mappings.source_instance
            and field_values.unit_type = unit_mappings.unit_type
            and field_values.source_field = unit_mappings.source_field
            and field_values.field_value = lower(unit_mappings.source_value)
    union all
    select
        keyed.interaction_key,
        unit_mappings.unit_type,
        unit_mappings.precedence,
        unit_mappings.unit_value
    from keyed
    cross join lateral unnest(keyed.tags) as ticket_tag (tag)
    inner join unit_mappings
        on
            keyed.source_instance = unit_mappings.source_instance
            and unit_mappings.source_field = 'tag'
            and lower(ticket_tag.tag) = lower(unit_mappings.source_value)
),

first_matches as (
    -- per interaction and unit type, the first mapping in config order that matches (several
    -- tags matching one tag mapping: the first unit value alphabetically)
    select distinct on (unit_matches.interaction_key, unit_matches.unit_type)
        unit_matches.interaction_key,
        unit_matches.unit_type,
        unit_matches.unit_value
    from unit_matches
    order by
        unit_matches.interaction_key asc,
        unit_matches.unit_type asc,
        unit_matches.precedence asc,
        unit_matches.unit_value asc
),

units as (
    select
        first_matches.interaction_key,
        max(first_matches.unit_value) filter (where first_matches.unit_type = 'school') as school_id,
        max(first_matches.unit_value) filter (where first_matches.unit_type = 'department')
            as department,
        max(lower(first_matches.unit_value)) filter (where first_matches.unit_type = 'stakeholder')
            as stakeholder_type
    from first_matches
    group by first_matches.interaction_key
),

district_risk_terms as (
    {{ high_risk_term_lists('high_risk_terms') }}
),

district_risky_labels as (
    -- Per district, the labels (tags and topics, as they appear) that match a high-risk term,
    -- and the term. Labels repeat across interactions, so the match runs once per distinct
    -- label (macros/classification.sql), not once per interaction.
    select
        district_labels.district_id,
        district_labels.label,
        district_labels.term
    from (
        select
            labels.district_id,
            labels.label,
            {{ high_risk_term('label_text.words', 'district_risk_terms.term_words') }} as term
        from (
            select distinct
                keyed.district_id,
                label.value as label
            from keyed
            cross join lateral unnest(keyed.tags || coalesce(keyed.topic, '')) as label (value)
            where trim(label.value) != ''
        ) as labels
        inner join district_risk_terms
            on labels.district_id = district_risk_terms.district_id
        -- the label's normal form once (a function scan: not folded into each term's test)
        cross join lateral unnest(array[{{ high_risk_words('labels.label') }}]) as label_text (words)
    ) as district_labels
    where district_labels.term is not null
),

label_risks as (
    -- each interaction with a risky tag or topic: its term, the first alphabetically
    select
        keyed.interaction_key,
        min(district_risky_labels.term) as term
    from keyed
    cross join lateral unnest(keyed.tags || coalesce(keyed.topic, '')) as label (value)
    inner join district_risky_labels
        on
            keyed.district_id = district_risky_labels.district_id
            and label.value = district_risky_labels.label
    group by keyed.interaction_key
),

enriched as (
    select
        keyed.interaction_key,
        keyed.source_system,
        keyed.source_instance,
        keyed.source_id,
        keyed.district_id,
        keyed.reference_id,
        keyed.created_at,
        keyed.first_response_at,
        keyed.resolved_at,
        keyed.is_interaction,
        keyed.status,
        keyed.channel,
        keyed.topic,
        keyed.tags,
        -- docs/metrics.md high-risk: a term matching a tag or the topic, or the subject (matched in
        -- staging); the first in alphabetical order when several match (least ignores NULL)
        least(label_risks.term, keyed.subject_high_risk_term) as high_risk_term,
        least(label_risks.term, keyed.subject_high_risk_term) is not null as high_risk,
        -- high-risk interactions are at least `high`
        case
            when
                least(label_risks.term, keyed.subject_high_risk_term) is not null
                and keyed.base_priority in ('normal', 'low')
                then 'high'
            else keyed.base_priority
        end as priority,
        keyed.base_priority,
        keyed.requester_hash,
        coalesce(keyed.language, 'unknown') as language,
        coalesce(units.school_id, sources.school_id) as school_id,
        coalesce(units.department, sources.department) as department,
        case
            when units.stakeholder_type in ('parent', 'student', 'staff', 'community')
                then units.stakeholder_type
            when keyed.requester_domain = any(districts.student_domains) then 'student'
            when
                keyed.requester_domain = any(districts.mail_domains)
                or keyed.is_district_sender
                then 'staff'
            else 'unknown'
        end as stakeholder_type,
        keyed.is_ever_solved,
        keyed.is_reopened,
        keyed.agent_response_count,
        keyed.last_loaded_at,
        districts.timezone,
        {{ local_date('keyed.created_at', 'districts.timezone') }} as local_date,
        sources.start_date as source_start_date,
        keyed.has_unparseable_time
    from keyed
    left join districts
        on keyed.district_id = districts.district_id
    left join sources
        on keyed.source_instance = sources.source_instance
    left join units
        on keyed.interaction_key = units.interaction_key
    left join label_risks
        on keyed.interaction_key = label_risks.interaction_key
),

final as (
    select
        enriched.interaction_key,
        enriched.source_system,
        enriched.source_instance,
        enriched.source_id,
        enriched.district_id,
        enriched.reference_id,
        enriched.created_at,
        enriched.local_date,
        {{ school_year('enriched.local_date') }} as school_year,
        enriched.timezone,
        enriched.first_response_at,
        enriched.resolved_at,
        enriched.is_interaction,
        enriched.status,
        enriched.channel,
        enriched.topic,
        enriched.tags,
        enriched.high_risk,
        enriched.high_risk_term,
        enriched.priority,
        case enriched.priority
            when 'urgent' then sla_targets.urgent
            when 'high' then sla_targets.high
            when 'normal' then sla_targets.normal
            when 'low' then sla_targets.low
        end as sla_target_minutes,
        enriched.requester_hash,
        enriched.language,
        enriched.school_id,
        enriched.department,
        enriched.stakeholder_type,
        enriched.is_ever_solved,
        enriched.is_reopened,
        enriched.agent_response_count,
        enriched.last_loaded_at,
        case
            when enriched.timezone is null then 'unknown district'
            when enriched.created_at is null then 'missing or unparseable created_at'
            when enriched.has_unparseable_time then 'unparseable response or resolution time'
            when enriched.first_response_at < enriched.created_at
                then 'first response before created_at'
            when enriched.resolved_at < enriched.created_at then 'resolution before created_at'
            -- an old ticket updated since the source's start: outside the configured history,
            -- which would otherwise count it in periods the warehouse does not observe
            when enriched.local_date < enriched.source_start_date
                then 'created before the source start_date'
        end as reject_reason
    from enriched
    left join sla_targets
        on enriched.district_id = sla_targets.district_id
    {%- if not is_incremental() %}
    where enriched.is_interaction
    {%- endif %}
)

select * from final

{{
    config(
        indexes=[{'columns': ['interaction_key']}, {'columns': ['last_loaded_at']}],
        post_hook=["{{ analyze_when_new(this) }}"]
    )
}}
-- Every point-of-contact rating, kept as given and normalised to 1-5 (docs/metrics.md "Ratings"):
-- * Zendesk good = 5, bad = 1 (offered / unoffered are not ratings and are left out);
-- * Freshdesk survey codes ranked 1..p in the survey question's accepted_ratings order
--   (most unhappy first) and normalised as a 1..p scale;
-- * survey-tool (point-of-contact) ratings on the configured scale and file-drop ratings on
--   their row's scale_lo..scale_hi: r5 = 1 + 4 * (r - lo) / (hi - lo).
-- reject_reason says why a rating is quarantined (out of scale, unknown or ambiguous interaction,
-- interaction itself quarantined, unparseable, no configured rating question answered);
-- is_latest marks the rating that counts for its interaction (the latest valid one).
-- int_interactions_unioned is joined by name where needed, not through a CTE: a CTE read
-- several times is materialized without statistics, and the planner then sorts it for merge
-- joins instead of hashing.
with

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

sources as (
    select * from {{ ref('stg_ref__sources') }}
),

zendesk_ratings as (
    select * from {{ ref('stg_zendesk__satisfaction_ratings') }}
),

freshdesk_ratings as (
    select * from {{ ref('stg_freshdesk__satisfaction_ratings') }}
),

freshdesk_surveys as (
    select * from {{ ref('stg_freshdesk__surveys') }}
),

qualtrics_responses as (
    select * from {{ ref('stg_qualtrics__responses') }}
),

surveymonkey_responses as (
    select * from {{ ref('stg_surveymonkey__responses') }}
),

rating_questions as (
    select * from {{ ref('stg_ref__survey_rating_questions') }}
),

file_drop_rows as (
    select * from {{ ref('stg_file_drop__rows') }}
),

-- helpdesk ratings name their ticket directly
zendesk as (
    select
        zendesk_ratings.source_system,
        zendesk_ratings.source_instance,
        zendesk_ratings.district_id,
        zendesk_ratings.rating_id,
        zendesk_ratings.source_instance as target_instance,
        zendesk_ratings.ticket_id as interaction_ref,
        coalesce(zendesk_ratings.updated_at, zendesk_ratings.created_at) as rated_at,
        zendesk_ratings.score as rating_value,
        'good_bad' as rating_scale,
        case zendesk_ratings.score when 'good' then 5.0 when 'bad' then 1.0 end as rating_1_5,
        case
            when zendesk_ratings.score not in ('good', 'bad') then 'not a good/bad score'
        end as value_reason,
        zendesk_ratings._loaded_at
    from zendesk_ratings
    where zendesk_ratings.score not in ('offered', 'unoffered')
),

freshdesk_scales as (
    select
        freshdesk_surveys.source_instance,
        freshdesk_surveys.survey_id,
        freshdesk_surveys.accepted_ratings,
        cardinality(freshdesk_surveys.accepted_ratings) as scale_points
    from freshdesk_surveys
    where freshdesk_surveys.question_id = 'default_question'
),

freshdesk as (
    select
        freshdesk_ratings.source_system,
        freshdesk_ratings.source_instance,
        freshdesk_ratings.district_id,
        freshdesk_ratings.rating_id,
        freshdesk_ratings.source_instance as target_instance,
        freshdesk_ratings.ticket_id as interaction_ref,
        coalesce(freshdesk_ratings.created_at, freshdesk_ratings.updated_at) as rated_at,
        freshdesk_ratings.default_rating as rating_value,
        'codes_' || coalesce(freshdesk_scales.scale_points, 0) as rating_scale,
        1 + 4.0 * (
            array_position(
                freshdesk_scales.accepted_ratings,
                {{ generate_schema_name('stg', none) }}.try_numeric(freshdesk_ratings.default_rating)::int
            ) - 1
        ) / nullif(freshdesk_scales.scale_points - 1, 0) as rating_1_5,
        case
            when freshdesk_scales.survey_id is null then 'unknown survey scale'
            when freshdesk_scales.scale_points < 2 then 'survey scale has fewer than 2 codes'
            when freshdesk_ratings.default_rating is null then 'no rating on the default question'
            when
                {{ generate_schema_name('stg', none) }}.try_numeric(freshdesk_ratings.default_rating) is null
                or array_position(
                    freshdesk_scales.accepted_ratings,
                    {{ generate_schema_name('stg', none) }}.try_numeric(freshdesk_ratings.default_rating)::int
                ) is null
                then 'out of scale'
        end as value_reason,
        freshdesk_ratings._loaded_at
    from freshdesk_ratings
    left join freshdesk_scales
        on
            freshdesk_ratings.source_instance = freshdesk_scales.source_instance
            and freshdesk_ratings.survey_id = freshdesk_scales.survey_id
),

-- survey tools and file drops name the interaction by reference: '<source instance>:<id>' or a
-- bare id, looked up within the district; an email thread by its root Message-ID, normalised
-- as staging does (normalise_reference). Each rating question has its own scale
-- (ref.survey_rating_questions); a response answering several is rejected, not counted twice.
-- Left joined: a response answering none of them comes through once with question_id NULL, so
-- a question id typo in config quarantines the responses instead of emptying the ratings.
survey_answered as (
    select
        qualtrics_responses.source_system,
        qualtrics_responses.source_instance,
        qualtrics_responses.district_id,
        qualtrics_responses.response_id as rating_id,
        coalesce(
            qualtrics_responses.interaction_ref,
            {{ normalise_reference("qualtrics_responses.answers ->> sources.interaction_ref_question") }}
        ) as interaction_ref,
        qualtrics_responses.submitted_at as rated_at,
        rating_questions.question_id,
        qualtrics_responses.answers ->> rating_questions.question_id as rating_value,
        {{ generate_schema_name('stg', none) }}.try_numeric(
            qualtrics_responses.answers ->> rating_questions.question_id
        ) as rating_number,
        rating_questions.scale_lo,
        rating_questions.scale_hi,
        qualtrics_responses._loaded_at
    from qualtrics_responses
    inner join sources
        on qualtrics_responses.source_instance = sources.source_instance
    left join rating_questions
        on
            qualtrics_responses.source_instance = rating_questions.source_instance
            and qualtrics_responses.answers ? rating_questions.question_id
    where sources.survey_kind = 'point_of_contact'
    union all
    select
        surveymonkey_responses.source_system,
        surveymonkey_responses.source_instance,
        surveymonkey_responses.district_id,
        surveymonkey_responses.response_id as rating_id,
        coalesce(
            surveymonkey_responses.interaction_ref,
            {{ normalise_reference("surveymonkey_responses.text_references ->> sources.interaction_ref_question") }},
            surveymonkey_responses.answers -> sources.interaction_ref_question ->> 'choice_id'
        ) as interaction_ref,
        surveymonkey_responses.submitted_at as rated_at,
        rating_questions.question_id,
        -- a choice whose text is a number is that rating (a 0-10 question may list 10 first);
        -- else choice position 1..n on a lo..hi scale: lo + position - 1
        coalesce(
            surveymonkey_responses.answers -> rating_questions.question_id ->> 'number',
            (
                rating_questions.scale_lo
                + (surveymonkey_responses.answers -> rating_questions.question_id ->> 'position')::numeric
                - 1
            )::float8::text
        ) as rating_value,
        coalesce(
            (surveymonkey_responses.answers -> rating_questions.question_id ->> 'number')::numeric,
            rating_questions.scale_lo
            + (surveymonkey_responses.answers -> rating_questions.question_id ->> 'position')::numeric
            - 1
        ) as rating_number,
        rating_questions.scale_lo,
        rating_questions.scale_hi,
        surveymonkey_responses._loaded_at
    from surveymonkey_responses
    inner join sources
        on surveymonkey_responses.source_instance = sources.source_instance
    left join rating_questions
        on
            surveymonkey_responses.source_instance = rating_questions.source_instance
            and surveymonkey_responses.answers ? rating_questions.question_id
    where sources.survey_kind = 'point_of_contact'
),

-- one rating per response: the first answered question (by id); several answered is an error
survey_one_per_response as (
    select
        survey_answered.*,
        count(survey_answered.question_id) over (
            partition by survey_answered.source_instance, survey_answered.rating_id
        ) as answered_questions,
        row_number() over (
            partition by survey_answered.source_instance, survey_answered.rating_id
            order by survey_answered.question_id
        ) as question_rank
    from survey_answered
),

survey_values as (
    select
        survey_one_per_response.source_system,
        survey_one_per_response.source_instance,
        survey_one_per_response.district_id,
        survey_one_per_response.rating_id,
        survey_one_per_response.interaction_ref,
        survey_one_per_response.rated_at,
        survey_one_per_response.rating_value,
        survey_one_per_response.rating_number,
        survey_one_per_response.scale_lo,
        survey_one_per_response.scale_hi,
        null::text as scale_label,
        case
            when survey_one_per_response.answered_questions > 1
                then 'several rating questions answered'
            when survey_one_per_response.answered_questions = 0
                then 'no rating question answered'
        end as response_reason,
        survey_one_per_response._loaded_at
    from survey_one_per_response
    where
        survey_one_per_response.question_rank = 1
        -- no rating and no reference (an abandoned survey): nothing to count or to attach
        and (
            survey_one_per_response.answered_questions > 0
            or survey_one_per_response.interaction_ref is not null
        )
    union all
    select
        file_drop_rows.source_system,
        file_drop_rows.source_instance,
        file_drop_rows.district_id,
        file_drop_rows.row_key as rating_id,
        file_drop_rows.interaction_ref,
        coalesce(
            {{ parse_instant('file_drop_rows.rated_at_text', 'districts.timezone') }},
            file_drop_rows.updated_at
        ) as rated_at,
        file_drop_rows.rating_text as rating_value,
        -- good/bad (docs/metrics.md: good = 5, bad = 1), else a number on the row's own scale
        case lower(file_drop_rows.rating_text)
            when 'good' then 5
            when 'bad' then 1
            else {{ generate_schema_name('stg', none) }}.try_numeric(file_drop_rows.rating_text)
        end as rating_number,
        case
            when lower(file_drop_rows.rating_text) in ('good', 'bad') then 1 else file_drop_rows.scale_lo
        end as scale_lo,
        case
            when lower(file_drop_rows.rating_text) in ('good', 'bad') then 5 else file_drop_rows.scale_hi
        end as scale_hi,
        case when lower(file_drop_rows.rating_text) in ('good', 'bad') then 'good_bad' end as scale_label,
        null::text as response_reason,
        file_drop_rows._loaded_at
    from file_drop_rows
    left join districts
        on file_drop_rows.district_id = districts.district_id
    where file_drop_rows.kind = 'ratings'
),

surveys as (
    select
        survey_values.source_system,
        survey_values.source_instance,
        survey_values.district_id,
        survey_values.rating_id,
        null::text as target_instance,
        survey_values.interaction_ref,
        survey_values.rated_at,
        coalesce(survey_values.rating_value, '') as rating_value,
        coalesce(
            survey_values.scale_label,
            coalesce(survey_values.scale_lo::float8::text, '?')
            || '-'
            || coalesce(survey_values.scale_hi::float8::text, '?')
        ) as rating_scale,
        1 + 4.0 * (survey_values.rating_number - survey_values.scale_lo)
        / nullif(survey_values.scale_hi - survey_values.scale_lo, 0) as rating_1_5,
        case
            when survey_values.response_reason is not null then survey_values.response_reason
            when survey_values.scale_lo is null or survey_values.scale_hi is null
                then 'no rating scale'
            when survey_values.scale_hi <= survey_values.scale_lo then 'invalid rating scale'
            when survey_values.rating_number is null then 'unparseable rating'
            when
                survey_values.rating_number < survey_values.scale_lo
                or survey_values.rating_number > survey_values.scale_hi
                then 'out of scale'
        end as value_reason,
        survey_values._loaded_at
    from survey_values
),

ratings as (
    select * from zendesk
    union all
    select * from freshdesk
    union all
    select * from surveys
),

-- helpdesk: the ticket in the rating's own instance
direct_matches as (
    select
        ratings.source_instance,
        ratings.rating_id,
        interactions.interaction_key
    from ratings
    inner join {{ ref('int_interactions_unioned') }} as interactions
        on
            ratings.target_instance = interactions.source_instance
            and ratings.interaction_ref = interactions.source_id
    where ratings.target_instance is not null
),

-- survey / file drop: '<instance>:<reference>' or a bare reference within the district
reference_matches as (
    select
        ratings.source_instance,
        ratings.rating_id,
        interactions.interaction_key
    from ratings
    inner join {{ ref('int_interactions_unioned') }} as interactions
        on
            ratings.district_id = interactions.district_id
            and ratings.interaction_ref = interactions.reference_id
    where ratings.target_instance is null
    union all
    -- two equality joins, not one join on an OR (which cannot be hashed)
    select
        ratings.source_instance,
        ratings.rating_id,
        interactions.interaction_key
    from ratings
    inner join {{ ref('int_interactions_unioned') }} as interactions
        on
            ratings.district_id = interactions.district_id
            and ratings.interaction_ref = interactions.source_instance || ':' || interactions.reference_id
    where ratings.target_instance is null
),

matches as (
    select
        all_matches.source_instance,
        all_matches.rating_id,
        min(all_matches.interaction_key) as interaction_key,
        count(distinct all_matches.interaction_key) as match_count
    from (
        select * from direct_matches
        union all
        select * from reference_matches
    ) as all_matches
    group by all_matches.source_instance, all_matches.rating_id
),

checked as (
    select
        ratings.source_system,
        ratings.source_instance,
        ratings.rating_id,
        case when matches.match_count = 1 then matches.interaction_key end as interaction_key,
        coalesce(interactions.district_id, ratings.district_id) as district_id,
        ratings.interaction_ref,
        ratings.rated_at,
        ratings.rating_value,
        ratings.rating_scale,
        -- not rounded: feedback_score (two decimals) averages these, and 4-decimal inputs could
        -- move a mean across a rounding boundary; trim_scale only drops padding zeros (4.0000 -> 4)
        trim_scale(ratings.rating_1_5) as rating_1_5,
        coalesce(
            ratings.value_reason,
            case
                when ratings.interaction_ref is null then 'no interaction reference'
                when matches.match_count is null then 'unknown interaction'
                when matches.match_count > 1 then 'ambiguous interaction reference'
                when interactions.reject_reason is not null then 'interaction quarantined'
                when ratings.rated_at is null then 'missing rated_at'
            end
        ) as reject_reason,
        ratings._loaded_at as rating_loaded_at,
        greatest(ratings._loaded_at, interactions.last_loaded_at) as last_loaded_at
    from ratings
    left join matches
        on
            ratings.source_instance = matches.source_instance
            and ratings.rating_id = matches.rating_id
    left join {{ ref('int_interactions_unioned') }} as interactions
        on
            matches.interaction_key = interactions.interaction_key
            and matches.match_count = 1
),

final as (
    select
        checked.*,
        checked.reject_reason is null
        and row_number() over (
            partition by checked.interaction_key, checked.reject_reason is null
            order by
                checked.rated_at desc,
                checked.rating_loaded_at desc,
                checked.source_instance desc,
                checked.rating_id desc
        ) = 1 as is_latest
    from checked
)

select * from final

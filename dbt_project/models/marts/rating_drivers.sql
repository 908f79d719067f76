-- What moves the rating (docs/metrics.md "Service health"), per district and school year of
-- the interaction's creation (a rating counts in the period its interaction was created in):
-- one row per first-response bucket with rating_count, feedback_score and positive_share, and
-- on every row of the district and year the Spearman rank correlation between first-response
-- business minutes and r5 over its rated, answered interactions, with that n.
-- * Buckets by first-response business minutes, the service day being the district's
--   service_day_minutes: [0, 60), [60, 240), [240, one day), [one, two days), two days or more;
--   and unanswered_when_rated (no first response, or one after the rating). All six buckets
--   are listed for every district and year that has a rating, empty ones with rating_count 0.
-- * n applies: a bucket under var('n_min_observations') ratings shows its count with NULL
--   score and share (suppressed_below_n); the correlation likewise under n pairs.
-- * Spearman = Pearson correlation (corr()) of average ranks: rank() + (ties - 1) / 2 per
--   variable. NULL when either variable is constant (corr's zero variance).
with

districts as (
    select
        districts.district_id,
        districts.service_day_minutes
    from {{ ref('stg_ref__districts') }} as districts
),

as_of as (
    select as_of.as_of_date from {{ ref('int_as_of') }} as as_of
),

rated as (
    select
        interactions.district_id,
        interactions.school_year,
        interactions.first_response_at,
        interactions.first_response_business_minutes,
        ratings.rating_1_5,
        case
            when
                interactions.first_response_at is null
                or interactions.first_response_at > ratings.rated_at
                then 'unanswered_when_rated'
            when interactions.first_response_business_minutes < 60 then 'under_1_hour'
            when interactions.first_response_business_minutes < 240 then '1_to_4_hours'
            when interactions.first_response_business_minutes < districts.service_day_minutes
                then '4_hours_to_1_day'
            when interactions.first_response_business_minutes < 2 * districts.service_day_minutes
                then '1_to_2_days'
            else '2_days_or_more'
        end as response_bucket
    from {{ ref('fct_interactions') }} as interactions
    inner join {{ ref('fct_ratings') }} as ratings
        on interactions.interaction_key = ratings.interaction_key
    inner join districts
        on interactions.district_id = districts.district_id
    cross join as_of
    where interactions.local_date <= as_of.as_of_date
),

ranked as (
    -- average ranks: ties share the mean of the ranks they span
    select
        rated.district_id,
        rated.school_year,
        rank()
            over (
                partition by rated.district_id, rated.school_year
                order by rated.first_response_business_minutes
            )
        + (
            count(*) over (
                partition by rated.district_id, rated.school_year, rated.first_response_business_minutes
            ) - 1
        ) / 2.0 as response_rank,
        rank()
            over (
                partition by rated.district_id, rated.school_year
                order by rated.rating_1_5
            )
        + (
            count(*) over (
                partition by rated.district_id, rated.school_year, rated.rating_1_5
            ) - 1
        ) / 2.0 as rating_rank
    from rated
    where rated.first_response_at is not null
),

correlations as (
    select
        ranked.district_id,
        ranked.school_year,
        count(*) as spearman_n,
        corr(ranked.response_rank, ranked.rating_rank) as spearman_rho
    from ranked
    group by ranked.district_id, ranked.school_year
),

buckets as (
    select
        bucket_list.response_bucket,
        bucket_list.bucket_order
    from (
        values
        ('under_1_hour', 1),
        ('1_to_4_hours', 2),
        ('4_hours_to_1_day', 3),
        ('1_to_2_days', 4),
        ('2_days_or_more', 5),
        ('unanswered_when_rated', 6)
    ) as bucket_list (response_bucket, bucket_order)
),

district_years as (
    select distinct
        rated.district_id,
        rated.school_year
    from rated
),

bucket_figures as (
    select
        rated.district_id,
        rated.school_year,
        rated.response_bucket,
        count(*) as rating_count,
        avg(rated.rating_1_5) as mean_rating_1_5,
        count(*) filter (where rated.rating_1_5 >= 4) as positive_ratings
    from rated
    group by rated.district_id, rated.school_year, rated.response_bucket
),

final as (
    select
        district_years.district_id::text as district_id,
        district_years.school_year::integer as school_year,
        buckets.response_bucket::text as response_bucket,
        buckets.bucket_order::integer as bucket_order,
        coalesce(bucket_figures.rating_count, 0)::integer as rating_count,
        (
            case
                when coalesce(bucket_figures.rating_count, 0) >= {{ var('n_min_observations') }}
                    then round(bucket_figures.mean_rating_1_5, 2)
            end
        )::numeric as feedback_score,
        (
            case
                when coalesce(bucket_figures.rating_count, 0) >= {{ var('n_min_observations') }}
                    then trim_scale(bucket_figures.positive_ratings::numeric / bucket_figures.rating_count)
            end
        )::numeric as positive_share,
        (coalesce(bucket_figures.rating_count, 0) < {{ var('n_min_observations') }})::boolean
            as suppressed_below_n,
        coalesce(correlations.spearman_n, 0)::integer as spearman_n,
        (
            case
                when coalesce(correlations.spearman_n, 0) >= {{ var('n_min_observations') }}
                    then round(correlations.spearman_rho::numeric, 4)
            end
        )::numeric as spearman_rho
    from district_years
    cross join buckets
    left join bucket_figures
        on
            district_years.district_id = bucket_figures.district_id
            and district_years.school_year = bucket_figures.school_year
            and buckets.response_bucket = bucket_figures.response_bucket
    left join correlations
        on
            district_years.district_id = correlations.district_id
            and district_years.school_year = correlations.school_year
)

select * from final

-- Consortium pooling (hub side): the district-level aggregates districts send, one row per
-- district and period, loaded by `schoolcx pool import` and read by the benchmark models when
-- dbt runs with var benchmark_input = 'pooled'. The columns mirror the published mart
-- marts.district_period_figures a district exports (counts behind every figure, never a row
-- about a person), plus the extract each row came from. A newer extract for the same district
-- replaces its rows period by period; ops.pool_imports says which extract that was.
create schema if not exists pool;

-- One row per pooled district: what peer grouping needs (state, consortium memberships).
create table if not exists pool.districts (
    district_id text primary key,
    name text not null,
    state text not null,
    timezone text not null,
    consortium_ids text [] not null,
    extract_id text not null
);

create table if not exists pool.district_period_figures (
    district_id text not null,
    period_type text not null,
    period_start date not null,
    period_end date not null,
    enrollment integer,
    service_days integer not null,
    interactions integer not null,
    high_risk_interactions integer not null,
    answered_interactions integer not null,
    sla_evaluated_interactions integer not null,
    sla_met_interactions integer not null,
    rating_count integer not null,
    positive_ratings integer not null,
    interactions_per_1000_students_per_service_day numeric,
    high_risk_share numeric,
    answered_share numeric,
    median_first_response_business_minutes numeric,
    p90_first_response_business_minutes numeric,
    sla_met_share numeric,
    feedback_score numeric,
    positive_share numeric,
    extract_id text not null,
    primary key (district_id, period_type, period_start),
    check (
        period_type in (
            'school_year', 'month', 'week', 'school_year_to_date', 'prior_school_year_to_date'
        )
    )
);

create table if not exists pool.survey_item_results (
    district_id text not null,
    school_year integer not null,
    item_code text not null,
    valid_answers integer not null,
    agree_answers integer not null,
    percent_agree numeric,
    extract_id text not null,
    primary key (district_id, school_year, item_code)
);

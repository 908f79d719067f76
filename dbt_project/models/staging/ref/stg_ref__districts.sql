-- ref.districts, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'districts') }}
),

renamed as (
    select
        source.district_id,
        source.name as district_name,
        source.state,
        source.timezone,
        source.open_time,
        source.close_time,
        source.service_weekdays,
        source.service_day_minutes,
        source.mail_domains,
        source.student_domains,
        source.calendar_start,
        source.calendar_end,
        source.past_due_service_days
    from source
)

select * from renamed

{{ config(tags=["intraday"]) }}
-- today_status: each figure within its population (answered within contacts, past due and
-- high-risk open within the backlog), a median only with an answer, one instant per build.
select
    status.district_id,
    status.contacts_today,
    status.answered_today,
    status.backlog_now,
    status.past_due_now,
    status.high_risk_open_now
from {{ ref('today_status') }} as status
where
    status.answered_today > status.contacts_today
    or status.past_due_now > status.backlog_now
    or status.high_risk_open_now > status.backlog_now
    or least(
        status.contacts_today, status.answered_today, status.backlog_now, status.past_due_now,
        status.high_risk_open_now
    ) < 0
    or ((status.answered_today = 0) != (status.median_first_response_business_minutes is null))
    or status.median_first_response_business_minutes < 0
    or status.as_of_at != (select max(latest.as_of_at) from {{ ref('today_status') }} as latest)

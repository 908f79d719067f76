{{ config(tags=["intraday"]) }}
-- today_status: each figure within its population (answered within contacts, past due and
-- high-risk open within the backlog), a median only with an answer, one instant per build.
select
    district_id,
    contacts_today,
    answered_today,
    backlog_now,
    past_due_now,
    high_risk_open_now
from {{ ref('today_status') }}
where
    answered_today > contacts_today
    or past_due_now > backlog_now
    or high_risk_open_now > backlog_now
    or least(contacts_today, answered_today, backlog_now, past_due_now, high_risk_open_now) < 0
    or ((answered_today = 0) != (median_first_response_business_minutes is null))
    or median_first_response_business_minutes < 0
    or as_of_at != (select max(as_of_at) from {{ ref('today_status') }})

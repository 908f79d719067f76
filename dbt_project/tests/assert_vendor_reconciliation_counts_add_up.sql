-- vendor_reconciliation: the reasons split the differing tickets, which are the compared ones
-- not within a minute; the share is a fraction. A row returned is a failure.
select
    reconciliation.district_id,
    reconciliation.source_instance,
    reconciliation.period_type,
    reconciliation.period_start
from {{ ref('vendor_reconciliation') }} as reconciliation
where
    reconciliation.equal_within_one_minute_share not between 0 and 1
    or round(reconciliation.compared_count * (1 - reconciliation.equal_within_one_minute_share))
    != reconciliation.different_first_reply_count
    + reconciliation.district_closure_count
    + reconciliation.business_hours_differ_count
    or reconciliation.closure_spanning_count > reconciliation.compared_count

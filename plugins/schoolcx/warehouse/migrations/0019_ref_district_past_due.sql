-- Service health (issue 18): a ticket unresolved for more than this many service days is past
-- due (docs/metrics.md "Service health", default 5), configurable per district
-- (District.past_due_service_days). Synced by schoolcx.refsync with the rest of ref.districts.
alter table ref.districts
add column if not exists past_due_service_days numeric not null default 5
check (past_due_service_days > 0);

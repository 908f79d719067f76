-- Service health in the pool (issue 18): the counts behind after_hours_share, reopen_rate and
-- one_touch_share and the backlog at the period's end, as marts.district_period_figures now
-- publishes them, so a consortium hub benchmarks them like a single warehouse. Appended after
-- extract_id (ALTER TABLE appends): readers name columns, and the importer stages extracts
-- `like` this table. Nullable: rows pooled from an extract made before these columns existed
-- have none (the importer requires them in every new extract).
alter table pool.district_period_figures
add column if not exists after_hours_interactions integer,
add column if not exists ever_solved_tickets integer,
add column if not exists reopened_tickets integer,
add column if not exists solved_tickets integer,
add column if not exists one_touch_tickets integer,
add column if not exists backlog_end integer,
add column if not exists past_due_end integer,
add column if not exists after_hours_share numeric,
add column if not exists reopen_rate numeric,
add column if not exists one_touch_share numeric;

-- Each source's configured history start: the warehouse observes a district from its earliest
-- source's start_date, so dates before it are not counted as zero-contact days, and an
-- interaction created before its source's start_date (an old ticket updated since) is outside
-- the configured history and is quarantined with that reason rather than filling old periods.
alter table ref.sources add column if not exists start_date date;

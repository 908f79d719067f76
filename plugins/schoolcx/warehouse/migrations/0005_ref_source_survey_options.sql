-- Point-of-contact survey options dbt needs to turn a survey response into an interaction's
-- rating (METRICS.md "Ratings"): which question holds the interaction reference, which the
-- rating, and the rating's scale. NULL for every other kind of source.
alter table ref.sources add column if not exists survey_kind text
    check (survey_kind in ('climate', 'point_of_contact'));
alter table ref.sources add column if not exists interaction_ref_question text;
alter table ref.sources add column if not exists rating_question text;
alter table ref.sources add column if not exists rating_scale_lo numeric;
alter table ref.sources add column if not exists rating_scale_hi numeric;

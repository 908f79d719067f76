-- Point-of-contact rating questions, one row per question (METRICS.md "Ratings": a survey may
-- ask the rating on several questions with different scales, one per respondent's variant;
-- each question id has its own scale). Replaces ref.sources.rating_question / rating_scale_*,
-- which stay filled for a source with exactly one rating question.
create table if not exists ref.survey_rating_questions (
    source_instance text not null,
    question_id text not null,
    scale_lo numeric not null,
    scale_hi numeric not null,
    primary key (source_instance, question_id),
    check (scale_lo < scale_hi)
);

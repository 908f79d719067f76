-- Reference data synced from the deployment config on every run (replaced whole, in one
-- transaction). dbt reads these as sources; nothing here is about a person.
create table if not exists ref.consortiums (
    consortium_id text primary key,
    name text not null
);
create table if not exists ref.districts (
    district_id text primary key,
    name text not null,
    state text not null,
    timezone text not null,
    open_time time not null,
    close_time time not null,
    service_weekdays int[] not null,          -- ISO weekday numbers, 1 = Monday
    service_day_minutes numeric not null,
    mail_domains text[] not null,
    student_domains text[] not null,
    calendar_start date not null,             -- service intervals are generated for this range
    calendar_end date not null
);
create table if not exists ref.district_enrollment (
    district_id text not null,
    school_year int not null,
    enrollment int not null check (enrollment > 0),
    primary key (district_id, school_year)
);
create table if not exists ref.consortium_members (
    consortium_id text not null,
    district_id text not null,
    primary key (consortium_id, district_id)
);
create table if not exists ref.closures (
    district_id text not null,
    closure_date date not null,
    reason text not null,
    primary key (district_id, closure_date)
);
create table if not exists ref.sla_targets (
    district_id text not null,
    priority text not null check (priority in ('urgent', 'high', 'normal', 'low')),
    target_business_minutes numeric not null,
    primary key (district_id, priority)
);
create table if not exists ref.high_risk_terms (
    district_id text not null,
    term text not null,
    primary key (district_id, term)
);
create table if not exists ref.sources (
    source_instance text primary key,
    district_id text not null,
    source_type text not null,
    internal boolean not null default false,
    mailbox_address text,
    responders text[] not null default '{}',
    max_lag_hours numeric not null,
    school_id text,
    department text
);
create table if not exists ref.schools (
    school_id text primary key,
    district_id text not null,
    name text not null
);
create table if not exists ref.school_enrollment (
    school_id text not null,
    school_year int not null,
    enrollment int not null check (enrollment > 0),
    primary key (school_id, school_year)
);
create table if not exists ref.unit_mappings (
    source_instance text not null,
    unit_type text not null check (unit_type in ('school', 'department', 'stakeholder')),
    source_field text not null,
    source_value text not null,
    unit_value text not null,
    primary key (source_instance, unit_type, source_field, source_value)
);
create table if not exists ref.survey_items (
    source_instance text not null,
    question_id text not null,
    item_code text not null,
    primary key (source_instance, question_id)
);

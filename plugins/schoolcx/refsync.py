"""Sync the deployment config into the warehouse's `ref` schema, for dbt to read.

Replaced whole in one transaction, so dbt never sees half of an old config and half of a new.
Closures are resolved here because the holiday rules live in Python (`holidays.US`, observed
days included, no subdivision; docs/metrics.md), and dbt then only joins dates.
"""

from __future__ import annotations

import datetime as dt

import holidays
import psycopg

from schoolcx.config import DEFAULT_HIGH_RISK_TERMS, DeploymentConfig, District

REF_TABLES = (
    "consortiums",
    "districts",
    "district_enrollment",
    "consortium_members",
    "closures",
    "sla_targets",
    "high_risk_terms",
    "sources",
    "schools",
    "school_enrollment",
    "departments",
    "unit_mappings",
    "source_value_maps",
    "survey_items",
    "survey_rating_questions",
)

# Explicit so the copy does not depend on the physical column order of ref.sources.
SOURCE_COLUMNS = (
    "source_instance, district_id, source_type, internal, mailbox_address, responders, "
    "max_lag_hours, school_id, department, survey_kind, interaction_ref_question, "
    "rating_question, rating_scale_lo, rating_scale_hi, start_date"
)
COLUMNS = {
    "sources": SOURCE_COLUMNS,
    "unit_mappings": (
        "source_instance, unit_type, source_field, source_value, unit_value, precedence"
    ),
}


def calendar_bounds(district: District, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Range of dates to build service intervals for: the earliest source start (or school
    year) minus a year for prior-year comparisons, to a year past today."""
    today = today or dt.date.today()
    starts = [s.start_date for s in district.sources] or [today]
    first_year = min(min(starts).year, min(district.enrollment) - 1)
    start = dt.date(first_year - 1, 7, 1)
    end = dt.date(max(today.year, max(district.enrollment)) + 1, 12, 31)
    return start, end


def closures(district: District, start: dt.date, end: dt.date) -> dict[dt.date, str]:
    out: dict[dt.date, str] = {}
    if district.calendar.federal_holidays:
        for day, name in holidays.US(years=range(start.year, end.year + 1)).items():
            out[day] = name
    for closure in district.calendar.closure_list():
        for day in closure.dates():
            out.setdefault(day, closure.reason)
    return out


def _survey_options(source) -> tuple:
    """Point-of-contact survey columns of ref.sources (migration 0005). The rating question and
    scale columns are kept for a source with one rating question; every rating question with
    its own scale is in ref.survey_rating_questions (migration 0009)."""
    opts = source.opts
    if source.type not in ("qualtrics", "surveymonkey"):
        return (None, None, None, None, None)
    scales = opts.rating_scales()
    qid, (lo, hi) = next(iter(scales.items())) if len(scales) == 1 else (None, (None, None))
    return (opts.kind, opts.interaction_ref_question, qid, lo, hi)


def _value_maps(source) -> list[tuple]:
    """ref.source_value_maps (migration 0008): channel_map and a Freshdesk status_map, keys
    trimmed and lower-cased (staging compares them with the vendor's code and label)."""
    maps = {"channel": source.channel_map}
    if source.type == "freshdesk":
        maps["status"] = source.opts.status_map
    return [
        (source.name, field, key.strip().lower(), value)
        for field, mapping in maps.items()
        for key, value in mapping.items()
    ]


def _rows(cfg: DeploymentConfig, today: dt.date | None) -> dict[str, list[tuple]]:
    from schoolcx.config import WEEKDAYS

    rows: dict[str, list[tuple]] = {t: [] for t in REF_TABLES}
    rows["consortiums"] = [(c.consortium_id, c.name) for c in cfg.consortiums]
    for d in cfg.districts:
        cal = d.calendar
        start, end = calendar_bounds(d, today)
        rows["districts"].append(
            (
                d.district_id,
                d.name,
                d.state,
                d.timezone,
                cal.open,
                cal.close,
                sorted(WEEKDAYS[w] for w in cal.weekdays),
                cal.service_day_minutes,
                [m.lower() for m in d.mail_domains],
                [m.lower() for m in d.student_domains],
                start,
                end,
            )
        )
        rows["district_enrollment"] += [(d.district_id, y, n) for y, n in d.enrollment.items()]
        rows["consortium_members"] += [(c, d.district_id) for c in d.consortium_ids]
        rows["closures"] += [
            (d.district_id, day, why) for day, why in sorted(closures(d, start, end).items())
        ]
        rows["sla_targets"] += [(d.district_id, p, m) for p, m in d.sla_minutes().items()]
        terms = {t.lower() for t in (*DEFAULT_HIGH_RISK_TERMS, *d.high_risk_terms)}
        rows["high_risk_terms"] += [(d.district_id, t) for t in sorted(terms)]
        rows["departments"] += [(d.district_id, dep) for dep in d.departments]
        for school in d.schools:
            rows["schools"].append((school.school_id, d.district_id, school.name))
            rows["school_enrollment"] += [
                (school.school_id, y, n) for y, n in school.enrollment.items()
            ]
        for s in d.sources:
            opts = s.opts
            rows["sources"].append(
                (
                    s.name,
                    d.district_id,
                    s.type,
                    bool(getattr(opts, "internal", False)),
                    (getattr(opts, "mailbox_address", None) or None),
                    [r.lower() for r in getattr(opts, "responders", [])],
                    s.max_lag_hours,
                    s.school_id,
                    s.department,
                    *_survey_options(s),
                    s.start_date,
                )
            )
            # (migration 0017) precedence: a unit type mapped from several fields takes the
            # first that matches, in config order
            rows["unit_mappings"] += [
                (s.name, unit_type, mapping.field.strip(), k, v, precedence)
                for unit_type, precedence, mapping in s.mappings.items()
                for k, v in mapping.values.items()
            ]
            rows["source_value_maps"] += _value_maps(s)
            for qid, code in (getattr(opts, "item_map", None) or {}).items():
                rows["survey_items"].append((s.name, qid, code))
            if s.type in ("qualtrics", "surveymonkey"):
                rows["survey_rating_questions"] += [
                    (s.name, qid, lo, hi) for qid, (lo, hi) in opts.rating_scales().items()
                ]
    return rows


def sync_config(url_or_conn, cfg: DeploymentConfig, today: dt.date | None = None) -> dict[str, int]:
    """Replace the ref tables with this config's content; returns row counts per table."""
    rows = _rows(cfg, today)
    own = not isinstance(url_or_conn, psycopg.Connection)
    conn = psycopg.connect(url_or_conn) if own else url_or_conn
    try:
        with conn.transaction():
            conn.execute("lock table " + ", ".join(f"ref.{t}" for t in REF_TABLES))
            for table in REF_TABLES:
                conn.execute(f"delete from ref.{table}")
                if rows[table]:
                    columns = f" ({COLUMNS[table]})" if table in COLUMNS else ""
                    with conn.cursor().copy(f"copy ref.{table}{columns} from stdin") as copy:
                        for row in rows[table]:
                            copy.write_row(row)
    finally:
        if own:
            conn.close()
    return {t: len(r) for t, r in rows.items()}

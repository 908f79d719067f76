"""What the report reads, and only from the published `marts` schema: what a district's page
shows is what its BI users see, never a `build` that the gate has not passed.

Each function takes an open connection and returns plain dicts (column -> value, numerics as
Decimal). Peer figures come through `peer_rows` alone, so a deployment that receives its peer
statistics from a consortium hub changes that one function.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.rows import dict_row

Row = dict


def _rows(conn: psycopg.Connection, query: str, params: dict | tuple = ()) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(query, params))


def districts(conn: psycopg.Connection) -> list[Row]:
    return _rows(
        conn,
        "select district_id, name, state, timezone, enrollment, enrollment_band,"
        " consortium_ids from marts.dim_district order by name, district_id",
    )


def scorecard(
    conn: psycopg.Connection, district_id: str, period_type: str, first: dt.date, last: dt.date
) -> list[Row]:
    """The district's own figures for periods of `period_type` starting in [first, last]."""
    return _rows(
        conn,
        "select * from marts.district_scorecard where district_id = %s and period_type = %s"
        " and period_start between %s and %s order by period_start",
        (district_id, period_type, first, last),
    )


def peer_rows(conn: psycopg.Connection, district_id: str) -> list[Row]:
    """Every peer benchmark row of the district (all metrics and periods).

    The one door to peer figures. Where a consortium hub has returned its statistics
    (`schoolcx pool receive` into marts.consortium_peer_benchmarks), they stand for the
    district's peers: a district benchmarked only against itself, or a few neighbours in its
    own warehouse, reads the figures of peers it never saw the data of. Per metric and
    period, the latest received hub row wins; the local peer_benchmarks row fills the rest.
    `peer_source` says which: 'local', or the consortium id of the hub.
    """
    columns = (
        "district_id, metric, period_type, period_start, peer_group, peer_group_key,"
        " n_districts, district_value, peer_p25, peer_median, peer_p75, percentile_rank,"
        " delta_from_median, suppression_reason"
    )
    local = (
        f"select {columns}, 'local' as peer_source, null::timestamptz as received_at"
        " from marts.peer_benchmarks where district_id = %(d)s"
        if _has_table(conn, "marts", "peer_benchmarks")
        # a deployment that has never published has no peer_benchmarks yet
        else f"select {columns}, 'local' as peer_source, null::timestamptz as received_at"
        " from marts.consortium_peer_benchmarks where false"
    )
    order = " order by metric, period_type, period_start"
    if not _has_table(conn, "marts", "consortium_peer_benchmarks"):
        if not _has_table(conn, "marts", "peer_benchmarks"):
            return []
        return _rows(conn, local + order, {"d": district_id})
    return _rows(
        conn,
        f"select distinct on (metric, period_type, period_start) * from ("
        f" select {columns}, consortium_id as peer_source, received_at, 0 as preference"
        " from marts.consortium_peer_benchmarks where district_id = %(d)s"
        f" union all select *, 1 from ({local}) as local_rows"
        f") as rows{order}, preference, received_at desc nulls last",
        {"d": district_id},
    )


def _has_table(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (f"{schema}.{table}",)).fetchone()[0]


def yoy_rows(conn: psycopg.Connection, district_id: str) -> list[Row]:
    return _rows(
        conn,
        "select * from marts.yoy_trends where district_id = %s order by metric",
        (district_id,),
    )


def survey_rows(conn: psycopg.Connection, district_id: str) -> list[Row]:
    return _rows(
        conn,
        "select school_year, item_code, valid_answers, agree_answers, percent_agree"
        " from marts.fct_survey_item_results where district_id = %s"
        " order by school_year, item_code",
        (district_id,),
    )


def sla_by_priority(
    conn: psycopg.Connection, district_id: str, first: dt.date, last: dt.date
) -> list[Row]:
    """Per priority, interactions created in [first, last] whose SLA is decided (sla_met not
    NULL: answered, or unanswered past the target) and how many met it."""
    return _rows(
        conn,
        """
        select priority,
               count(*) filter (where sla_met is not null) as evaluated,
               count(*) filter (where sla_met) as met,
               count(*) as interactions
        from marts.fct_interactions
        where district_id = %s and local_date between %s and %s
        group by priority
        """,
        (district_id, first, last),
    )


def high_risk_by_term(
    conn: psycopg.Connection, district_id: str, first: dt.date, last: dt.date
) -> list[Row]:
    """High-risk interactions created in [first, last] per matched term (the term only: the
    subject it matched never leaves raw)."""
    return _rows(
        conn,
        """
        select coalesce(high_risk_term, 'other') as term, count(*) as interactions
        from marts.fct_interactions
        where district_id = %s and local_date between %s and %s and high_risk
        group by 1 order by 2 desc, 1
        """,
        (district_id, first, last),
    )


def rating_drivers(conn: psycopg.Connection, district_id: str, school_year: int) -> list[Row]:
    """The district's ratings by first-response bucket for the school year (six rows)."""
    return _rows(
        conn,
        "select * from marts.rating_drivers where district_id = %s and school_year = %s"
        " order by bucket_order",
        (district_id, school_year),
    )


def backlog_days(
    conn: psycopg.Connection, district_id: str, first: dt.date, last: dt.date
) -> list[Row]:
    """The backlog at each day's end in [first, last], with whether the day was a service day."""
    return _rows(
        conn,
        """
        select b.*, coalesce(v.is_service_day, false) as is_service_day
        from marts.fct_backlog_daily as b
        left join marts.fct_daily_volume as v
            on v.district_id = b.district_id and v.local_date = b.local_date
        where b.district_id = %s and b.local_date between %s and %s
        order by b.local_date
        """,
        (district_id, first, last),
    )


def summary_rows(conn: psycopg.Connection) -> list[Row]:
    """Every district's latest school-year figures with peers and last year, for the console."""
    return _rows(
        conn,
        """
        with latest as (
            select district_id, max(period_start) as period_start
            from marts.district_scorecard where period_type = 'school_year'
            group by district_id
        )
        select s.*, d.name
        from marts.dim_district as d
        join latest as l on l.district_id = d.district_id
        join marts.district_scorecard as s
            on s.district_id = d.district_id and s.period_type = 'school_year'
           and s.period_start = l.period_start
        order by d.district_id
        """,
    )


def published_as_of(conn: psycopg.Connection) -> dt.date | None:
    """The as-of date of what `marts` holds now: the last successful publish's."""
    row = conn.execute(
        "select as_of_date from ops.publish_log where published and as_of_date is not null"
        " order by logged_at desc limit 1"
    ).fetchone()
    return row[0] if row else None


def unit_rows(conn: psycopg.Connection, district_id: str, period_start: dt.date) -> list[Row]:
    """The district's units for the school year starting `period_start` (unit_scorecard)."""
    return _rows(
        conn,
        "select * from marts.unit_scorecard where district_id = %s"
        " and period_type = 'school_year' and period_start = %s"
        " order by unit_type, unit_key",
        (district_id, period_start),
    )


def school_rankings(conn: psycopg.Connection, district_id: str, period_start: dt.date) -> list[Row]:
    """The schools' rows of unit_rankings for the school year starting `period_start`."""
    return _rows(
        conn,
        "select unit_key, metric, observations, unit_value, n_units, percentile_rank,"
        " district_value, suppression_reason from marts.unit_rankings"
        " where district_id = %s and unit_type = 'school' and period_type = 'school_year'"
        " and period_start = %s order by unit_key, metric",
        (district_id, period_start),
    )


def today_status(conn: psycopg.Connection, district_id: str) -> Row | None:
    """The district's latest intraday cycle (marts.today_status), or None when no cycle has
    published (a deployment without the intraday DAG)."""
    if not _has_table(conn, "marts", "today_status"):
        return None
    rows = _rows(
        conn,
        "select local_date, as_of_at, contacts_today, answered_today,"
        " median_first_response_business_minutes, backlog_now, past_due_now,"
        " high_risk_open_now from marts.today_status where district_id = %s",
        (district_id,),
    )
    return rows[0] if rows else None

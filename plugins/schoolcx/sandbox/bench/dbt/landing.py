"""Landing the plan into raw.* as nightly runs would have (dimensions, then the ticket
tables), the ops.extract_runs rows RawWriter leaves, and the raw indexes dropped meanwhile.

The SQL synthesises whole vendor records into scratch tables (bench_gen.landing_<table>, the
raw table's columns and `_superseded`); pack_landed() then streams them through the product's
packing (COPY out, schoolcx.load.packing, COPY in) into raw.<table>, so raw holds what RawWriter
would land: the projection staging reads in payload (on the latest version of each record only,
packing.SUPERSEDED on the others), the whole record compressed in payload_z.
The history (a year, into raw tables with their indexes dropped, in chunks of disjoint tickets)
streams straight into raw: the generator knows which versions it made are superseded
(`_superseded`). Through a temporary table and the writer's statement (packing.land_sql), a
year of M held its tickets three times at once (scratch 25 GB, the packed copy, raw) and the
statement found the latest versions by a join over all of raw. The night lands through
land_sql like the writer: raw holds earlier versions of its records then."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import psycopg

from schoolcx.load import packing
from schoolcx.sandbox.bench.dbt.payloads import (
    AUDITS,
    _audit_children,
    _hmac_pads,
    _ticket_payload,
    _version_at,
)
from schoolcx.sandbox.bench.dbt.scales import (
    AGENT_BASE,
    DEPARTMENTS,
    GROUP_BASE,
    ORG_BASE,
    REQUESTER_BASE,
)
from schoolcx.sandbox.bench.dbt.sqlparts import _iso, _night_end

RAW_TABLES = (
    "zendesk_tickets",
    "zendesk_ticket_events",
    "zendesk_users",
    "zendesk_satisfaction_ratings",
    "zendesk_groups",
    "zendesk_organizations",
)
RAW_COLUMNS = (
    "source_system, source_instance, district_id, source_id, updated_at, person_hash, payload,"
    " _loaded_at, _batch_id, _source_position"
)
PAYLOAD_AT = 6  # payload's place in RAW_COLUMNS


def scratch(table: str) -> str:
    """Where the SQL lands a raw table's whole records before pack_landed packs them."""
    return f"bench_gen.landing_{table}"


def create_scratch(conn) -> None:
    for t in RAW_TABLES:
        conn.execute(
            f"create unlogged table if not exists {scratch(t)} (like raw.{t} including defaults)"
        )
        # a version the generator made older than another of the same record (module docstring)
        conn.execute(
            f"alter table {scratch(t)}"
            " add column if not exists _superseded boolean not null default false"
        )


def pack_landed(url: str, table: str, say: Callable[[str], None] | None = None) -> int:
    """Move the scratch table's rows into raw.<table>, packed as RawWriter packs them (the
    table's dictionary made from the first records, or the stored one); returns the rows."""
    started, n = time.monotonic(), 0
    packers = packing.TablePackers()
    columns = f"{RAW_COLUMNS}, payload_z, payload_dict"
    with psycopg.connect(url) as source, psycopg.connect(url) as target:
        target.execute("set synchronous_commit = off")
        first = source.execute(f"select payload::text from {scratch(table)} limit 8").fetchall()
        packers.prepare(target, table, (packing.encode(packing.decode(r[0])) for r in first))
        history = not target.execute(  # the history lands with raw's indexes dropped
            "select exists (select from pg_constraint where conrelid = %s::regclass"
            " and contype = 'p')",
            (f"raw.{table}",),
        ).fetchone()[0]
        if not history:  # the night: through the writer's statement (module docstring)
            target.execute(f"create temp table _landing (like raw.{table} including defaults)")
        into_table = f"raw.{table}" if history else "_landing"
        with (
            source.cursor().copy(
                f"copy (select {RAW_COLUMNS}, _superseded from {scratch(table)}) to stdout"
            ) as out,
            target.cursor().copy(f"copy {into_table} ({columns}) from stdin") as into,
        ):
            for row in out.rows():  # text values: passed through as they came
                payload, payload_z, payload_dict = packers.columns(
                    table, packing.decode(row[PAYLOAD_AT])
                )
                if row[-1] == "t" and payload_z is not None:
                    payload = packing.SUPERSEDED_TEXT
                into.write_row(
                    (*row[:PAYLOAD_AT], payload, *row[PAYLOAD_AT + 1 : -1], payload_z, payload_dict)
                )
                n += 1
                if say and n % 500_000 == 0:
                    say(f"raw.{table}: {n:,} packed ({time.monotonic() - started:.0f}s)")
        if not history:
            names = [c.strip() for c in columns.split(",")]
            target.execute(packing.land_sql(table, names, "_landing"))
        target.commit()
        source.execute(f"truncate {scratch(table)}")
        source.commit()
    if say:
        say(f"raw.{table}: {n:,} rows packed into raw ({time.monotonic() - started:.0f}s)")
    return n


def landing_sql(loaded: str, batch_of: str) -> dict[str, str]:
    # a session's part of one chunk of the plan's tickets (synthesis.Synthesiser.land)
    part = (
        "mod(p.ticket_id, %(parts)s) = %(part)s"
        " and mod(p.ticket_id / %(parts)s, %(chunks)s) = %(chunk)s"
    )
    values = ", ".join(
        f"({k}, '{kind}', p.{col}, {author}, {via})"
        for k, (kind, col, author, via, _comment, _change) in enumerate(AUDITS)
    )
    children = " ".join(f"when '{a[0]}' then {_audit_children(a[0], *a[2:])}" for a in AUDITS)
    children = f"case e.kind {children} end"
    return {
        # Versions: as of the end of the window, and (history) as of its creation night.
        "zendesk_tickets": f"""
            insert into {scratch("zendesk_tickets")} ({RAW_COLUMNS}, _superseded)
            select 'zendesk', d.source_instance, p.district_id, p.ticket_id::text, v.at, null,
                {_ticket_payload("c.cut", "v.at")},
                {loaded.format(v="v.at")}, {batch_of.format(v="v.at")},
                'tickets cursor=bench #' || p.ticket_id,
                -- the creation night's version, when the window's end made a later one
                c.cut <> %(hi)s
            from bench_gen.plan as p
            inner join bench_gen.districts as d on p.district_id = d.district_id
            cross join lateral (values
                (%(hi)s::timestamptz),
                (case when %(history)s and {_night_end("p.t0")} < %(hi)s
                    then {_night_end("p.t0")} end)
            ) as c (cut)
            cross join lateral (select {_version_at("c.cut")} as at) as v
            where {part} and p.t0 < %(hi)s and c.cut is not null and v.at >= %(lo)s
                and (c.cut = %(hi)s or v.at < {_version_at("%(hi)s::timestamptz")})
            """,
        "zendesk_ticket_events": f"""
            insert into {scratch("zendesk_ticket_events")} ({RAW_COLUMNS})
            select 'zendesk', d.source_instance, p.district_id, e.aid::text, e.at, null,
                jsonb_build_object('id', e.aid, 'ticket_id', p.ticket_id,
                    'timestamp', extract(epoch from e.at)::bigint,
                    'created_at', {_iso("e.at")}, 'updater_id', e.updater, 'via', e.via,
                    'event_type', 'Audit', 'child_events', {children}),
                {loaded.format(v="e.at")}, {batch_of.format(v="e.at")},
                'ticket_events start_time=' || extract(epoch from e.at)::bigint
            from bench_gen.plan as p
            inner join bench_gen.districts as d on p.district_id = d.district_id
            cross join lateral (
                select x.*, 20000000000 + p.ticket_id * 10 + x.k as aid,
                    'Ref ' || p.ticket_id || '.' as body_tail
                from (values {values}) as x (k, kind, at, updater, via)
            ) as e
            where {part} and e.at >= %(lo)s and e.at < %(hi)s
            """,
        "zendesk_satisfaction_ratings": f"""
            insert into {scratch("zendesk_satisfaction_ratings")} ({RAW_COLUMNS})
            select 'zendesk', d.source_instance, p.district_id,
                (5000000000 + p.ticket_id)::text, p.rated_at, null,
                jsonb_build_object(
                    'url', 'https://' || d.subdomain
                        || '.zendesk.com/api/v2/satisfaction_ratings/'
                        || (5000000000 + p.ticket_id) || '.json',
                    'id', 5000000000 + p.ticket_id, 'ticket_id', p.ticket_id,
                    'score', p.score, 'created_at', {_iso("p.rated_at")},
                    'updated_at', {_iso("p.rated_at")}, 'requester_id', p.requester_id,
                    'assignee_id', p.agent_id, 'group_id', p.group_id, 'comment', null,
                    'reason', null),
                {loaded.format(v="p.rated_at")}, {batch_of.format(v="p.rated_at")},
                'satisfaction_ratings start_time=bench'
            from bench_gen.plan as p
            inner join bench_gen.districts as d on p.district_id = d.district_id
            where {part} and p.rated_at >= %(lo)s and p.rated_at < %(hi)s
            """,
    }


def land_dimensions(conn, first_day: dt.date, loaded: str, batch_of: str) -> dict[str, int]:
    """Users (agents and requesters), groups (departments) and organizations (schools),
    all changed 30 days before the first day."""
    at = dt.datetime.combine(first_day - dt.timedelta(days=30), dt.time(12), tzinfo=dt.UTC)
    inner, outer = _hmac_pads(_hash_key())
    batch = batch_of.format(v="%(at)s::timestamptz")
    load = loaded.format(v="%(at)s::timestamptz")
    email = "u.email"
    person_hash = (
        f"encode(sha256(%(outer)s::bytea || sha256(%(inner)s::bytea"
        f" || convert_to(lower(btrim({email})), 'UTF8'))), 'hex')"
    )
    params = {"at": at, "inner": inner, "outer": outer}
    counts = {}
    cur = conn.execute(
        f"""
        insert into {scratch("zendesk_users")} ({RAW_COLUMNS})
        select 'zendesk', d.source_instance, d.district_id, u.id::text, %(at)s, {person_hash},
            jsonb_build_object(
                'id', u.id,
                'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/users/' || u.id
                    || '.json',
                'name', u.name, 'email', u.email, 'role', u.role, 'locale', u.locale,
                'time_zone', d.timezone, 'organization_id', null,
                'created_at', {_iso("%(at)s::timestamptz")},
                'updated_at', {_iso("%(at)s::timestamptz")},
                'active', true, 'verified', true, 'suspended', false, 'tags', '[]'::jsonb,
                'user_fields', jsonb_build_object('stakeholder_type', u.stakeholder)),
            {load}, {batch}, 'users cursor=bench #' || u.id
        from bench_gen.districts as d
        cross join lateral (
            select {AGENT_BASE} + k as id, 'Agent ' || k as name,
                'agent' || k || '@' || d.mail_domain as email,
                case when k = 0 then 'admin' else 'agent' end as role,
                'en-US' as locale, null::text as stakeholder
            from generate_series(0::bigint, d.n_agents - 1) as k
            union all
            select {REQUESTER_BASE} + r.k, initcap(r.stakeholder) || ' ' || r.k,
                case r.stakeholder
                    when 'parent' then 'parent' || r.k || '.' || d.district_idx || '@'
                        || (array['gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com'])
                            [1 + mod(r.k, 4)]
                    when 'student' then 's' || r.k || '@' || d.student_domain
                    when 'staff' then 'staff' || r.k || '@' || d.mail_domain
                    else 'c' || r.k || '.' || d.district_idx || '@example.org'
                end,
                'end-user',
                case
                    when mod(r.k * 104729, 1000) < 780 then 'en-US'
                    when mod(r.k * 104729, 1000) < 930 then 'es'
                    when mod(r.k * 104729, 1000) < 950 then 'vi'
                    when mod(r.k * 104729, 1000) < 970 then 'zh-CN'
                    when mod(r.k * 104729, 1000) < 985 then 'ar'
                    else 'so'
                end,
                r.stakeholder
            from (
                select k, case
                    when mod(k * 7919 + d.district_idx * 31, 100) < 70 then 'parent'
                    when mod(k * 7919 + d.district_idx * 31, 100) < 80 then 'student'
                    when mod(k * 7919 + d.district_idx * 31, 100) < 92 then 'staff'
                    else 'community' end as stakeholder
                from generate_series(0::bigint, d.n_requesters - 1) as k
            ) as r
        ) as u
        """,
        params,
    )
    counts["zendesk_users"] = cur.rowcount
    for table, base, names in (
        ("zendesk_groups", GROUP_BASE, "initcap(replace(x.name, '_', ' '))"),
        ("zendesk_organizations", ORG_BASE, "d.name || ' School ' || x.n"),
    ):
        rows = (
            f"unnest(array[{', '.join(map(repr, DEPARTMENTS))}]) with ordinality as x (name, n)"
            if table == "zendesk_groups"
            else "generate_series(1, d.n_schools) as x (n)"
        )
        cur = conn.execute(
            f"""
            insert into {scratch(table)} ({RAW_COLUMNS})
            select 'zendesk', d.source_instance, d.district_id, ({base} + x.n)::text, %(at)s,
                null,
                jsonb_build_object('id', {base} + x.n, 'name', {names},
                    'url', 'https://' || d.subdomain || '.zendesk.com/api/v2/{table[8:]}/'
                        || ({base} + x.n) || '.json',
                    'created_at', {_iso("%(at)s::timestamptz")},
                    'updated_at', {_iso("%(at)s::timestamptz")}, 'deleted', false),
                {load}, {batch}, '{table[8:]} page 1'
            from bench_gen.districts as d
            cross join lateral {rows}
            """,
            params,
        )
        counts[table] = cur.rowcount
    return counts


def record_runs(conn, night: bool) -> None:
    """ops.extract_runs rows for the batches landed, as RawWriter leaves them."""
    since = (
        "where _batch_id like 'bench_night:%%'"
        if night
        else "where _batch_id not like 'bench_night:%%'"
    )
    union = " union all ".join(
        f"select _batch_id, source_instance, _loaded_at from raw.{t} {since}" for t in RAW_TABLES
    )
    conn.execute(
        f"""
        insert into ops.extract_runs (run_id, batch_id, source_instance, source_type,
            started_at, finished_at, status, records_loaded, pages)
        select split_part(_batch_id, ':', 1), _batch_id, source_instance, 'zendesk',
            min(_loaded_at), max(_loaded_at), 'success', count(*), 0
        from ({union}) as landed
        group by _batch_id, source_instance
        on conflict (batch_id) do nothing
        """
    )


def _drop_raw_indexes(conn) -> list[tuple[str, str, str, str | None]]:
    """Drop the raw tables' indexes (primary keys included); returns what restores them."""
    rows = conn.execute(
        """
        select c.relname, i.relname, pg_get_indexdef(i.oid), con.conname,
            pg_get_constraintdef(con.oid)
        from pg_index as x
        inner join pg_class as i on x.indexrelid = i.oid
        inner join pg_class as c on x.indrelid = c.oid
        inner join pg_namespace as n on c.relnamespace = n.oid
        left join pg_constraint as con on con.conindid = i.oid and con.contype = 'p'
        where n.nspname = 'raw' and c.relname = any(%s)
        """,
        (list(RAW_TABLES),),
    ).fetchall()
    for table, index, _def, constraint, _cdef in rows:
        if constraint:
            conn.execute(f'alter table raw."{table}" drop constraint "{constraint}"')
        else:
            conn.execute(f'drop index raw."{index}"')
    return [
        (t, d if c is None else f'alter table raw."{t}" add constraint "{c}" {cd}', c, cd)
        for t, _i, d, c, cd in rows
    ]


def _restore_raw_indexes(conn, indexes) -> None:
    conn.execute("set maintenance_work_mem = '1GB'")
    for _table, ddl, _c, _cd in indexes:
        conn.execute(ddl)


def _hash_key() -> bytes:
    from schoolcx.privacy import hash_key

    return hash_key()

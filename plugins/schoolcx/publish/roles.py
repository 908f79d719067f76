"""BI access: reader roles from config, and the grants and row-level security of each mart.

Roles (migration 0004): `schoolcx_bi` reads every row of `marts`; `schoolcx_bi_district` is the
base of the per-district reader roles named in config `bi_readers`, which RLS limits to their
districts (mapping in ops.bi_reader_districts, read by ops.bi_visible_districts()). Reader roles
are NOLOGIN groups: a deployment grants its LOGIN users membership in one of them.

School readers (migration 0018, config `bi_school_readers`): members of `schoolcx_bi_school`,
which reads only the unit marts of schoolcx.marts.SCHOOL_READER_MARTS, and there only the rows
of its schools (unit_type 'school', unit_key mapped to the role in ops.bi_reader_schools).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from schoolcx.config import DeploymentConfig
from schoolcx.marts import SCHOOL_READER_MARTS
from schoolcx.publish.relations import MARTS_SCHEMA

BI_ROLE = "schoolcx_bi"
DISTRICT_BASE_ROLE = "schoolcx_bi_district"
SCHOOL_BASE_ROLE = "schoolcx_bi_school"
RESERVED_ROLES = {BI_ROLE, DISTRICT_BASE_ROLE, SCHOOL_BASE_ROLE, "postgres", "public"}

# Policy names carry a version: when a definition changes, bump it, and apply_mart_access
# drops the old one (policies named schoolcx_* that are not in this set).
POLICY_ALL = "schoolcx_bi_all_v1"
POLICY_DISTRICT = "schoolcx_bi_district_v1"
POLICY_SCHOOL = "schoolcx_bi_school_v1"


class RoleConfigError(ValueError):
    """A bi_readers entry that would be unsafe to apply."""


def sync_bi_roles(url: str, cfg: DeploymentConfig) -> dict[str, list[str]]:
    """Create/update the reader roles of config `bi_readers` and their district mapping.

    One transaction. A role no longer in the config loses its mapping and its membership in
    the district base role (it is not dropped: LOGIN users may still be members of it).
    Returns the mapping applied.
    """
    wanted = {role: sorted(set(ids)) for role, ids in cfg.bi_readers.items()}
    with psycopg.connect(url) as conn:
        # two syncs at once would race on creating the same (cluster-wide) roles
        conn.execute("select pg_advisory_xact_lock(hashtext('schoolcx.bi_roles'))")
        _sync_school_readers(conn, cfg)
        for role in wanted:
            _ensure_reader_role(conn, role)
        previous = {
            r[0] for r in conn.execute("select distinct role_name from ops.bi_reader_districts")
        }
        conn.execute("delete from ops.bi_reader_districts")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.bi_reader_districts (role_name, district_id) values (%s, %s)",
                [(role, d) for role, ids in wanted.items() for d in ids],
            )
        for role in sorted(previous - set(wanted)):
            if _is_direct_member(conn, role, DISTRICT_BASE_ROLE):
                conn.execute(
                    sql.SQL("revoke {} from {}").format(
                        sql.Identifier(DISTRICT_BASE_ROLE), sql.Identifier(role)
                    )
                )
    return wanted


def _sync_school_readers(conn: psycopg.Connection, cfg: DeploymentConfig) -> None:
    """The school reader roles of config `bi_school_readers` and their school mapping, as
    sync_bi_roles does for district readers (same transaction)."""
    wanted = {role: sorted(set(ids)) for role, ids in cfg.bi_school_readers.items()}
    for role in wanted:
        _ensure_reader_role(conn, role, base=SCHOOL_BASE_ROLE)
    previous = {r[0] for r in conn.execute("select distinct role_name from ops.bi_reader_schools")}
    conn.execute("delete from ops.bi_reader_schools")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ops.bi_reader_schools (role_name, school_id) values (%s, %s)",
            [(role, s) for role, ids in wanted.items() for s in ids],
        )
    for role in sorted(previous - set(wanted)):
        if _is_direct_member(conn, role, SCHOOL_BASE_ROLE):
            conn.execute(
                sql.SQL("revoke {} from {}").format(
                    sql.Identifier(SCHOOL_BASE_ROLE), sql.Identifier(role)
                )
            )


def _is_direct_member(conn: psycopg.Connection, member: str, group: str) -> bool:
    return (
        conn.execute(
            "select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid"
            " join pg_roles u on u.oid = m.member where g.rolname = %s and u.rolname = %s",
            (group, member),
        ).fetchone()
        is not None
    )


def _ensure_reader_role(
    conn: psycopg.Connection, role: str, base: str = DISTRICT_BASE_ROLE
) -> None:
    field = "bi_readers" if base == DISTRICT_BASE_ROLE else "bi_school_readers"
    if role in RESERVED_ROLES or role.startswith("pg_"):
        raise RoleConfigError(f"{field}: {role!r} is a reserved role name")
    ident = sql.Identifier(role)
    attrs = conn.execute(
        "select rolsuper, rolbypassrls from pg_roles where rolname = %s", (role,)
    ).fetchone()
    if attrs is None:
        conn.execute(sql.SQL("create role {} nologin inherit").format(ident))
    elif attrs[0] or attrs[1]:
        # RLS would not apply to it: a config typo must not hand out every district's rows
        raise RoleConfigError(f"{field}: role {role!r} exists and is superuser or bypasses RLS")
    if not _is_direct_member(conn, role, base):
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(base), ident))
    # A reader must not inherit schoolcx_bi's see-everything policy, and a school reader not
    # the district readers' policy (permissive policies add up).
    wider = [BI_ROLE] if base == DISTRICT_BASE_ROLE else [BI_ROLE, DISTRICT_BASE_ROLE]
    for other in wider:
        if _is_direct_member(conn, role, other):
            conn.execute(sql.SQL("revoke {} from {}").format(sql.Identifier(other), ident))
        still = conn.execute("select pg_has_role(%s, %s, 'MEMBER')", (role, other)).fetchone()[0]
        if still:
            raise RoleConfigError(
                f"{field}: role {role!r} is a member of {other} through another role; "
                "it would see rows beyond its own"
            )


def _has_column(conn: psycopg.Connection, schema: str, table: str, column: str) -> bool:
    return (
        conn.execute(
            "select 1 from pg_attribute where attrelid = to_regclass(%s) and attname = %s"
            " and not attisdropped",
            (f"{schema}.{table}", column),
        ).fetchone()
        is not None
    )


def apply_mart_access(conn: psycopg.Connection, table: str, schema: str = MARTS_SCHEMA) -> None:
    """Grants, RLS and policies on one published relation, inside the caller's transaction.

    Idempotent and lock-light: each statement runs only when something is missing, because
    ENABLE ROW LEVEL SECURITY and CREATE/DROP POLICY take an ACCESS EXCLUSIVE lock that would
    queue BI readers behind the publishing transaction.
    """
    rel = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    qualified = f"{schema}.{table}"
    district_level = _has_column(conn, schema, table, "district_id")
    readers = [BI_ROLE, DISTRICT_BASE_ROLE] if district_level else [BI_ROLE]
    # publish fills a re-created mart as <mart>__publishing and renames it (policies follow)
    school_level = (
        district_level
        and table.removesuffix("__publishing") in SCHOOL_READER_MARTS
        and schema == MARTS_SCHEMA
    )
    if school_level:
        readers.append(SCHOOL_BASE_ROLE)
    for role in readers:
        granted = conn.execute(
            "select has_table_privilege(%s, %s, 'SELECT')", (role, qualified)
        ).fetchone()[0]
        if not granted:
            conn.execute(sql.SQL("grant select on {} to {}").format(rel, sql.Identifier(role)))
    if not district_level:
        return
    enabled = conn.execute(
        "select relrowsecurity from pg_class where oid = to_regclass(%s)", (qualified,)
    ).fetchone()[0]
    if not enabled:
        conn.execute(sql.SQL("alter table {} enable row level security").format(rel))
    policies = {
        r[0]
        for r in conn.execute(
            "select policyname from pg_policies where schemaname = %s and tablename = %s",
            (schema, table),
        )
    }
    wanted = {
        POLICY_ALL: sql.SQL("create policy {} on {} for select to {} using (true)").format(
            sql.Identifier(POLICY_ALL), rel, sql.Identifier(BI_ROLE)
        ),
        # The uncorrelated subquery is evaluated once per query (a hashed subplan).
        POLICY_DISTRICT: sql.SQL(
            "create policy {} on {} for select to {} using"
            " (district_id in (select ops.bi_visible_districts(current_user)))"
        ).format(sql.Identifier(POLICY_DISTRICT), rel, sql.Identifier(DISTRICT_BASE_ROLE)),
    }
    if school_level:
        wanted[POLICY_SCHOOL] = sql.SQL(
            "create policy {} on {} for select to {} using (unit_type = 'school'"
            " and unit_key in (select ops.bi_visible_schools(current_user)))"
        ).format(sql.Identifier(POLICY_SCHOOL), rel, sql.Identifier(SCHOOL_BASE_ROLE))
    for name in sorted(p for p in policies if p.startswith("schoolcx_") and p not in wanted):
        conn.execute(sql.SQL("drop policy {} on {}").format(sql.Identifier(name), rel))
    for name, create in wanted.items():
        if name not in policies:
            conn.execute(create)

"""BI access through real connections as LOGIN users: what each role can and cannot read.

The embedded server trusts local connections, so a password does not gate the login here;
what is shown is what each role may read once connected, which is what privileges and
row-level security decide.
"""

from __future__ import annotations

import uuid
from importlib import resources

import psycopg
import pytest
from psycopg import sql

from schoolcx.marts import SCHOOL_READER_MARTS
from schoolcx.publish import publish, sync_bi_roles
from schoolcx.publish.relations import MARTS
from schoolcx.publish.roles import RoleConfigError
from schoolcx.quality.result import GateResult
from tests.fixture_marts import as_of, build_night, district_ids, fixture_config, school_ids

D1, D2, D3, D4 = district_ids()[:4]
# roles are cluster-wide and the test server is shared by the session: unique names
TAG = uuid.uuid4().hex[:6]
READER_ONE = f"reader_one_{TAG}"
READER_CONSORTIUM = f"reader_consortium_{TAG}"
READERS = {READER_ONE: [D1], READER_CONSORTIUM: [D2, D3]}
READER_SCHOOL = f"reader_school_{TAG}"
SCHOOL = school_ids(D1)[0]
SCHOOL_READERS = {READER_SCHOOL: [SCHOOL]}
PASSWORD = "s3cret-bi"


def _publish(url, night, cfg):
    build_night(url, night)
    gate = GateResult(run_id=f"night-{night}", passed=True)
    assert publish(url, cfg, gate.run_id, as_of(night - 1), as_of(night), gate).published


def _login_user(admin_url: str, name: str, member_of: str) -> str:
    """A LOGIN user with a password, member of `member_of`; returns its connection URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password {} in role {}").format(
                sql.Identifier(name), sql.Literal(PASSWORD), sql.Identifier(member_of)
            )
        )
    return psycopg.conninfo.make_conninfo(admin_url, user=name, password=PASSWORD)


@pytest.fixture(scope="module")
def wh(module_warehouse):
    cfg = fixture_config(bi_readers=READERS, bi_school_readers=SCHOOL_READERS)
    sync_bi_roles(module_warehouse, cfg)
    _publish(module_warehouse, 1, cfg)
    users = {
        "bi": _login_user(module_warehouse, f"bi_user_{TAG}", "schoolcx_bi"),
        "one": _login_user(module_warehouse, f"one_user_{TAG}", READER_ONE),
        "consortium": _login_user(module_warehouse, f"cons_user_{TAG}", READER_CONSORTIUM),
        "school": _login_user(module_warehouse, f"school_user_{TAG}", READER_SCHOOL),
    }
    return module_warehouse, cfg, users


def _districts_seen(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as conn:
        return {
            m: {r[0] for r in conn.execute(f"select distinct district_id from marts.{m}")}
            for m in MARTS
        }


def _denied(url: str, query: str) -> bool:
    with psycopg.connect(url) as conn:
        try:
            conn.execute(query)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


PRIVATE = [
    "select * from raw.zendesk_tickets",
    "select * from build.fct_interactions",
    "select * from ops.publish_log",
    "select * from ref.sources",
    "select * from quarantine.records",
    "select * from ops.bi_reader_districts",
    # a partition of a partitioned mart: readers read the parent, where RLS applies
    "select * from marts.fct_interactions_y2026",
]


def test_bi_user_reads_all_marts_and_nothing_else(wh):
    url, _, users = wh
    with psycopg.connect(users["bi"]) as conn:
        assert conn.execute("select current_user").fetchone()[0] == f"bi_user_{TAG}"
        for mart in MARTS:
            n = conn.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            with psycopg.connect(url) as admin:
                assert n == admin.execute(f"select count(*) from marts.{mart}").fetchone()[0]
    assert all(seen == set(district_ids()) for seen in _districts_seen(users["bi"]).values())
    for query in PRIVATE:
        assert _denied(users["bi"], query), query
    with (
        psycopg.connect(users["bi"]) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"),
    ):
        conn.execute("select count(*) from raw.zendesk_tickets")
    # read-only: no writes into marts
    assert _denied(users["bi"], "delete from marts.fct_ratings")


def test_district_reader_sees_only_its_rows(wh):
    _, _, users = wh
    assert all(seen == {D1} for seen in _districts_seen(users["one"]).values())
    with psycopg.connect(users["one"]) as conn:
        peers = conn.execute(
            "select n_districts, peer_median, district_value from marts.peer_benchmarks"
        ).fetchall()
        other = conn.execute(
            "select count(*) from marts.fct_interactions where district_id <> %s", (D1,)
        ).fetchone()[0]
    # its peer rows carry the peer aggregates, computed over districts it cannot see
    assert len(peers) == 2 and all(p[0] == 6 and p[1] is not None for p in peers)
    assert other == 0
    for query in [*PRIVATE, "select ops.bi_visible_districts('postgres')"]:
        assert _denied(users["one"], query), query


def test_consortium_reader_sees_its_members(wh):
    _, _, users = wh
    assert all(seen == {D2, D3} for seen in _districts_seen(users["consortium"]).values())


def test_school_reader_sees_only_its_school(wh):
    url, _, users = wh
    with psycopg.connect(users["school"]) as conn:
        assert conn.execute("select current_user").fetchone()[0] == f"school_user_{TAG}"
        for mart in SCHOOL_READER_MARTS:
            seen = conn.execute(
                f"select distinct district_id, unit_type, unit_key from marts.{mart}"
            ).fetchall()
            assert seen == [(D1, "school", SCHOOL)], mart
    with psycopg.connect(url) as admin:  # there is more to see: other schools, other districts
        other_schools = admin.execute(
            "select count(distinct unit_key) from marts.unit_scorecard"
            " where unit_type = 'school' and unit_key <> %s and not is_unmapped",
            (SCHOOL,),
        ).fetchone()[0]
    assert other_schools == 2 * len(district_ids()) - 1
    # its own school's ranking row carries the district's value beside its own
    with psycopg.connect(users["school"]) as conn:
        row = conn.execute(
            "select unit_value, district_value, percentile_rank from marts.unit_rankings"
        ).fetchone()
    assert row[1] is not None and row[2] == 1
    # nothing else of the district: no other mart, no private schema
    others = [m for m in MARTS if m not in SCHOOL_READER_MARTS]
    assert "unit_equity_gaps" in others and "district_scorecard" in others
    for query in [
        *(f"select count(*) from marts.{m}" for m in others),
        *PRIVATE,
        "select * from ops.bi_reader_schools",
        "select ops.bi_visible_schools('postgres')",
    ]:
        assert _denied(users["school"], query), query


def test_district_reader_sees_every_school_of_its_district(wh):
    _, _, users = wh
    with psycopg.connect(users["one"]) as conn:
        schools = {
            r[0]
            for r in conn.execute(
                "select unit_key from marts.unit_scorecard where unit_type = 'school'"
            )
        }
    assert schools == {*school_ids(D1), "(unmapped)"}


def test_school_reader_cannot_be_a_district_reader(wh):
    url, cfg, users = wh

    def grant(what: str, verb: str = "grant", prep: str = "to") -> None:
        with psycopg.connect(url, autocommit=True) as conn:  # a mistaken grant by hand
            conn.execute(
                sql.SQL(f"{verb} {{}} {prep} {{}}").format(
                    sql.Identifier(what), sql.Identifier(READER_SCHOOL)
                )
            )

    def member_of(group: str) -> bool:
        with psycopg.connect(url) as conn:
            q = "select pg_has_role(%s, %s, 'MEMBER')"
            return conn.execute(q, (READER_SCHOOL, group)).fetchone()[0]

    grant("schoolcx_bi_district")
    sync_bi_roles(url, cfg)  # revoked: permissive policies add up
    assert not member_of("schoolcx_bi_district")
    grant(READER_ONE)  # through a district reader it would see all of D1
    with pytest.raises(RoleConfigError, match="through another role"):
        sync_bi_roles(url, cfg)
    grant(READER_ONE, "revoke", "from")
    sync_bi_roles(url, cfg)
    with psycopg.connect(users["school"]) as conn:
        seen = conn.execute("select distinct unit_key from marts.unit_scorecard").fetchall()
    assert seen == [(SCHOOL,)]


def test_reader_never_inherits_the_unrestricted_policy(wh):
    url, cfg, users = wh
    with psycopg.connect(url, autocommit=True) as conn:  # a mistaken grant by hand
        conn.execute(sql.SQL("grant schoolcx_bi to {}").format(sql.Identifier(READER_ONE)))
    sync_bi_roles(url, cfg)
    assert all(seen == {D1} for seen in _districts_seen(users["one"]).values())


def test_mapping_changes_apply_without_republishing(wh):
    url, cfg, users = wh
    moved = fixture_config(bi_readers={**READERS, READER_ONE: [D4]})
    sync_bi_roles(url, moved)
    assert all(seen == {D4} for seen in _districts_seen(users["one"]).values())
    dropped = fixture_config(bi_readers={READER_CONSORTIUM: [D2, D3]})
    sync_bi_roles(url, dropped)  # a reader role removed from config loses marts altogether
    assert _denied(users["one"], "select count(*) from marts.dim_district")
    sync_bi_roles(url, cfg)
    assert all(seen == {D1} for seen in _districts_seen(users["one"]).values())


def test_access_survives_republish_and_recreated_marts(wh):
    url, cfg, users = wh
    _publish(url, 2, cfg)  # refilled in place
    build_night(url, 3)
    with psycopg.connect(url) as conn:  # a contract change: the mart is re-created
        conn.execute("alter table build.fct_ratings add column comment_length int")
    gate = GateResult(run_id="night-3", passed=True)
    assert "fct_ratings" in publish(url, cfg, "night-3", as_of(2), as_of(3), gate).recreated
    assert all(seen == {D1} for seen in _districts_seen(users["one"]).values())
    assert _districts_seen(users["bi"])["fct_ratings"] == set(district_ids())


def test_migration_0004_is_idempotent(wh):
    url, _, users = wh
    text = resources.files("schoolcx.warehouse") / "migrations" / "0004_bi_roles.sql"
    with psycopg.connect(url) as conn:
        conn.execute(text.read_text())
        conn.execute(text.read_text())
    assert all(seen == {D1} for seen in _districts_seen(users["one"]).values())

"""Hub side: verify each district extract, then load it into pool.* (or refuse it whole).

Checks, in order, each refusal naming the file and the check (ops.pool_imports.failed_check):
manifest (present, complete), schema_version (known), roster (this hub's consortium, a member
district), signature (HMAC of the manifest under the district's key), checksum (each file's
SHA-256 as signed), schema (columns, types, row counts, one district), periods (sane, none
after the as-of date, nothing in the future), counts (the figures agree with the counts behind
them), duplicate (already pooled), older (a newer extract of the district is pooled).

Loading is one transaction: the district's row, then its figures for the periods the extract
covers and its survey results for the school years it covers replace what was pooled. A
refused extract's transaction is rolled back, so nothing pooled changes; its refusal is
recorded afterwards in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

import psycopg

from schoolcx.asof import school_year_of
from schoolcx.pooling import files, layout
from schoolcx.pooling.hub_config import HubConfig
from schoolcx.pooling.manifest import KIND_EXTRACT, MANIFEST, SIGNATURE, parse_manifest, recency
from schoolcx.pooling.verify import Rejection, Verified, verify_folder

IMPORT_LOCK = 0x5C0C_9001  # one import at a time per hub warehouse
# Figures are exact decimals computed from the counts; a share recomputed here may differ
# from the sender's only in the last of its ~20 digits.
TOLERANCE = "1e-9"


@dataclass(frozen=True)
class FileOutcome:
    folder: str
    status: str  # accepted | rejected | already_pooled | incomplete
    district_id: str | None = None
    extract_id: str | None = None
    check: str | None = None
    reason: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        who = f"{self.district_id or '?'} {self.extract_id or ''}".strip()
        if self.status == "rejected":
            return f"REJECTED {self.folder} ({who}): {self.check}: {self.reason}"
        if self.status == "accepted":
            counts = ", ".join(
                f"{n} {f.removesuffix('.parquet')}" for f, n in self.row_counts.items()
            )
            return f"accepted {who}: {counts}"
        return f"{self.status} {self.folder}" + (f": {self.reason}" if self.reason else "")


@dataclass(frozen=True)
class Missing:
    district_id: str
    reason: str


@dataclass
class ImportResult:
    run_id: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    latest_month: dt.date | None = None

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> str:
        return (
            f"{self.count('accepted')} accepted, {self.count('rejected')} rejected, "
            f"{self.count('already_pooled')} already pooled, {self.count('incomplete')} "
            f"incomplete, {len(self.missing)} roster districts missing"
            + (f" for month {self.latest_month}" if self.latest_month else "")
        )


def _roster_check(hub: HubConfig):
    def check(manifest: dict) -> None:
        if manifest["consortium_id"] != hub.consortium_id:
            raise Rejection(
                "roster",
                f"extract is for consortium {manifest['consortium_id']!r}; this hub pools "
                f"{hub.consortium_id!r}",
            )
        if manifest["district_id"] not in hub.districts:
            raise Rejection(
                "roster",
                f"district {manifest['district_id']} is not in consortium "
                f"{hub.consortium_id}'s roster (hub config districts)",
            )

    return check


# (check, file, description, SQL selecting a short description of each offending row)
_FIG_ROW = "period_type || ' ' || period_start"
PERIOD_CHECKS = [
    (
        layout.FIGURES_FILE,
        "an unknown period_type",
        f"select {_FIG_ROW} from stage_figures where period_type <> all(%(types)s)",
    ),
    (
        layout.FIGURES_FILE,
        "period_end before period_start",
        f"select {_FIG_ROW} from stage_figures where period_end < period_start",
    ),
    (
        layout.FIGURES_FILE,
        "a period starting after the extract's as-of date (a period in the future)",
        f"select {_FIG_ROW} from stage_figures where period_start > %(as_of)s",
    ),
    (
        layout.SURVEY_FILE,
        "a school year after the as-of date's school year (in the future)",
        "select school_year || ' ' || item_code from stage_survey where school_year > %(sy)s",
    ),
]


def _share(share: str, num: str, den: str) -> tuple[str, str]:
    return (
        f"{share} inconsistent with {num}/{den}",
        f"select {_FIG_ROW} || ': ' || coalesce({share}::text, 'NULL') || ' vs ' || {num}"
        f" || '/' || {den} from stage_figures where case when {den} = 0 then {share} is not null"
        f" else {share} is null or abs({share} - {num}::numeric / {den}) > {TOLERANCE} end",
    )


def _le(a: str, b: str) -> tuple[str, str]:
    return (
        f"{a} > {b}",
        f"select {_FIG_ROW} || ': ' || {a} || ' > ' || {b} from stage_figures where {a} > {b}",
    )


COUNT_CHECKS = [
    (layout.FIGURES_FILE, *c)
    for c in [
        (
            "a negative count",
            f"select {_FIG_ROW} from stage_figures where least(service_days, interactions,"
            " high_risk_interactions, answered_interactions, sla_evaluated_interactions,"
            " sla_met_interactions, rating_count, positive_ratings) < 0 or enrollment <= 0",
        ),
        _le("high_risk_interactions", "interactions"),
        _le("answered_interactions", "interactions"),
        _le("sla_evaluated_interactions", "interactions"),
        _le("sla_met_interactions", "sla_evaluated_interactions"),
        _le("positive_ratings", "rating_count"),
        (
            "a service-health count missing (an extract older than issue 18's columns)",
            f"select {_FIG_ROW} from stage_figures where num_nulls(after_hours_interactions,"
            " ever_solved_tickets, reopened_tickets, solved_tickets, one_touch_tickets,"
            " backlog_end, past_due_end) > 0",
        ),
        (
            "a negative service-health count",
            f"select {_FIG_ROW} from stage_figures where least(after_hours_interactions,"
            " ever_solved_tickets, reopened_tickets, solved_tickets, one_touch_tickets,"
            " backlog_end, past_due_end) < 0",
        ),
        _le("after_hours_interactions", "interactions"),
        _le("ever_solved_tickets", "interactions"),
        _le("reopened_tickets", "ever_solved_tickets"),
        _le("solved_tickets", "ever_solved_tickets"),
        _le("one_touch_tickets", "solved_tickets"),
        _le("past_due_end", "backlog_end"),
        _share("high_risk_share", "high_risk_interactions", "interactions"),
        _share("answered_share", "answered_interactions", "interactions"),
        _share("sla_met_share", "sla_met_interactions", "sla_evaluated_interactions"),
        _share("positive_share", "positive_ratings", "rating_count"),
        _share("after_hours_share", "after_hours_interactions", "interactions"),
        _share("reopen_rate", "reopened_tickets", "ever_solved_tickets"),
        _share("one_touch_share", "one_touch_tickets", "solved_tickets"),
        (
            "feedback_score without ratings, missing with ratings, or outside 1-5",
            f"select {_FIG_ROW} from stage_figures where case when rating_count = 0 then"
            " feedback_score is not null else feedback_score is null or feedback_score"
            " not between 1 and 5 end",
        ),
        (
            "response times without answered interactions, negative, or median above p90",
            f"select {_FIG_ROW} from stage_figures where (answered_interactions = 0 and"
            " coalesce(median_first_response_business_minutes,"
            " p90_first_response_business_minutes) is not null)"
            " or median_first_response_business_minutes < 0"
            " or median_first_response_business_minutes > p90_first_response_business_minutes",
        ),
        (
            "interactions_per_1000_students_per_service_day inconsistent with"
            " interactions * 1000 / service_days / enrollment",
            f"select {_FIG_ROW} from stage_figures where"
            " interactions_per_1000_students_per_service_day is not null and (service_days = 0"
            " or enrollment is null or abs(interactions_per_1000_students_per_service_day"
            f" - interactions::numeric * 1000 / service_days / enrollment) > {TOLERANCE})",
        ),
    ]
] + [
    (
        layout.SURVEY_FILE,
        "agree_answers > valid_answers, or no valid answers",
        "select school_year || ' ' || item_code || ': ' || agree_answers || '/' || valid_answers"
        " from stage_survey where agree_answers > valid_answers or agree_answers < 0"
        " or valid_answers <= 0",
    ),
    (
        layout.SURVEY_FILE,
        "percent_agree inconsistent with 100 * agree_answers / valid_answers",
        "select school_year || ' ' || item_code || ': ' || coalesce(percent_agree::text, 'NULL')"
        " || ' vs 100*' || agree_answers || '/' || valid_answers from stage_survey"
        " where valid_answers > 0 and (percent_agree is null or abs(percent_agree"
        f" - 100.0 * agree_answers / valid_answers) > {TOLERANCE})",
    ),
]


def _stage(conn: psycopg.Connection, v: Verified) -> None:
    """The extract's rows in temporary tables shaped like pool.*, for the checks in SQL."""
    extract_id = v.manifest["extract_id"]
    for temp, table, name, columns in (
        ("stage_figures", "district_period_figures", layout.FIGURES_FILE, layout.FIGURES_COLUMNS),
        ("stage_survey", "survey_item_results", layout.SURVEY_FILE, layout.SURVEY_COLUMNS),
        ("stage_district", "districts", layout.DISTRICT_FILE, layout.DISTRICT_COLUMNS),
    ):
        conn.execute(f"create temp table {temp} (like pool.{table}) on commit drop")
        cols = [*layout.names(columns), "extract_id"]
        marks = ", ".join(["%s"] * len(cols))
        try:
            with conn.cursor() as cur:
                cur.executemany(
                    f"insert into {temp} ({', '.join(cols)}) values ({marks})",
                    [(*r, extract_id) for r in v.rows[name]],
                )
        except psycopg.DataError as exc:  # e.g. a NULL key, a count too large for integer
            raise Rejection("schema", f"{name}: {exc.diag.message_primary}") from None
        except psycopg.IntegrityError as exc:
            raise Rejection("schema", f"{name}: {exc.diag.message_primary}") from None
    dupes = (
        conn.execute(
            "select count(*) from (select 1 from stage_figures group by period_type, period_start"
            " having count(*) > 1) d"
        ).fetchone()[0]
        + conn.execute(
            "select count(*) from (select 1 from stage_survey group by school_year, item_code"
            " having count(*) > 1) d"
        ).fetchone()[0]
    )
    if dupes:
        raise Rejection("schema", f"{dupes} keys appear twice (a period or survey item)")
    if len(v.rows[layout.DISTRICT_FILE]) != 1:
        raise Rejection("schema", f"{layout.DISTRICT_FILE}: expected one row")


def _run_checks(conn: psycopg.Connection, check: str, checks: list, params: dict) -> None:
    for name, what, query in checks:
        bad = [r[0] for r in conn.execute(query, params).fetchall()]
        if bad:
            shown = "; ".join(str(b) for b in bad[:3])
            raise Rejection(check, f"{name}: {what} in {len(bad)} rows (e.g. {shown})")


def _check_periods(conn: psycopg.Connection, v: Verified, today: dt.date) -> None:
    m = v.manifest
    as_of = dt.date.fromisoformat(m["as_of"])
    created = dt.datetime.fromisoformat(m["created_at"])
    # A district west of the hub may be a day behind; never more than that ahead.
    if as_of > today + dt.timedelta(days=1):
        raise Rejection("periods", f"manifest.json: as_of {as_of} is in the future (today {today})")
    if created.date() > today + dt.timedelta(days=1):
        raise Rejection("periods", f"manifest.json: created_at {created} is in the future")
    params = {"types": list(layout.PERIOD_TYPES), "as_of": as_of, "sy": school_year_of(as_of)}
    _run_checks(conn, "periods", PERIOD_CHECKS, params)
    spans = {
        r[0]: {"first": r[1].isoformat(), "last": r[2].isoformat(), "count": r[3]}
        for r in conn.execute(
            "select period_type, min(period_start), max(period_start), count(*)"
            " from stage_figures group by period_type"
        )
    }
    years = [r[0] for r in conn.execute("select distinct school_year from stage_survey order by 1")]
    said = m["periods"]
    if said.get("district_period_figures") != spans or said.get("survey_school_years") != years:
        raise Rejection(
            "periods", "manifest.json: the periods it lists are not the periods in the files"
        )


def _pooled_extracts(conn: psycopg.Connection, district_id: str) -> list[tuple]:
    return conn.execute(
        "select extract_id, as_of, extract_created_at from ops.pool_imports"
        " where direction = 'hub_import' and status = 'accepted' and district_id = %s",
        (district_id,),
    ).fetchall()


def _check_order(conn: psycopg.Connection, v: Verified) -> None:
    m = v.manifest
    mine = recency(m)
    for extract_id, as_of, created in _pooled_extracts(conn, m["district_id"]):
        if extract_id == m["extract_id"]:
            raise Rejection("duplicate", f"extract {extract_id} is already pooled")
        if (as_of, created) > mine:
            raise Rejection(
                "older",
                f"extract {m['extract_id']} (as of {m['as_of']}) is older than the pooled "
                f"extract {extract_id} (as of {as_of}); an older extract never replaces a newer",
            )


def _load(conn: psycopg.Connection) -> None:
    conn.execute(
        "insert into pool.districts select * from stage_district on conflict (district_id) do"
        " update set name = excluded.name, state = excluded.state, timezone = excluded.timezone,"
        " consortium_ids = excluded.consortium_ids, extract_id = excluded.extract_id"
    )
    conn.execute(
        "delete from pool.district_period_figures p using stage_figures s"
        " where p.district_id = s.district_id and p.period_type = s.period_type"
        " and p.period_start = s.period_start"
    )
    conn.execute("insert into pool.district_period_figures select * from stage_figures")
    conn.execute(
        "delete from pool.survey_item_results p using (select distinct district_id,"
        " school_year from stage_survey) s where p.district_id = s.district_id"
        " and p.school_year = s.school_year"
    )
    conn.execute("insert into pool.survey_item_results select * from stage_survey")


def record(
    conn: psycopg.Connection, run_id: str, direction: str, outcome, manifest=None, sha=None
) -> bool:
    """Log one file's outcome in ops.pool_imports. A refusal the same folder already got last
    time (same bytes, same check, same reason) is not logged again: a hub that scans its inbox
    every run would otherwise log a file nobody removed once per run. Returns whether logged."""
    m = manifest or {}
    if outcome.status == "rejected":
        last = conn.execute(
            "select manifest_sha256, failed_check, reason from ops.pool_imports"
            " where direction = %s and file_url = %s order by import_id desc limit 1",
            (direction, outcome.folder),
        ).fetchone()
        if last == (sha, outcome.check, outcome.reason):
            return False
    conn.execute(
        "insert into ops.pool_imports (run_id, direction, status, file_url, consortium_id,"
        " district_id, extract_id, as_of, extract_created_at, manifest_sha256, failed_check,"
        " reason, row_counts) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            run_id,
            direction,
            outcome.status,
            outcome.folder,
            m.get("consortium_id"),
            m.get("district_id") or outcome.district_id,
            m.get("extract_id"),
            m.get("as_of"),
            m.get("created_at"),
            sha,
            outcome.check,
            outcome.reason,
            json.dumps(outcome.row_counts),
        ),
    )
    return True


def _manifest_or_none(folder: str) -> dict:
    """What a refused folder's manifest says, for the record, when it can be read at all."""
    try:
        body = files.read_or_none(folder, MANIFEST)
        return parse_manifest(body) if body is not None else {}
    except ValueError:
        return {}


def import_extract(
    url: str,
    hub: HubConfig,
    folder: str,
    run_id: str | None = None,
    today: dt.date | None = None,
    skip_pooled: bool = False,
) -> FileOutcome:
    """Verify one extract folder and pool it, or refuse it whole (recorded either way).

    skip_pooled: an extract already pooled is reported as already_pooled and not recorded
    again (an inbox scan sees every extract ever sent); otherwise it is refused as duplicate.
    """
    run_id = run_id or f"pool-import:{uuid.uuid4().hex[:12]}"
    today = today or dt.datetime.now(dt.UTC).date()
    v: Verified | None = None
    try:
        v = verify_folder(folder, KIND_EXTRACT, layout.EXTRACT_FILES, _roster_check(hub))
        m = v.manifest
        with psycopg.connect(url) as conn:
            conn.execute("select pg_advisory_xact_lock(%s)", (IMPORT_LOCK,))
            _stage(conn, v)
            _check_periods(conn, v, today)
            _run_checks(conn, "counts", COUNT_CHECKS, {})
            try:
                _check_order(conn, v)
            except Rejection as exc:
                if skip_pooled and exc.check == "duplicate":
                    conn.rollback()
                    return FileOutcome(folder, "already_pooled", m["district_id"], m["extract_id"])
                raise
            _load(conn)
            outcome = FileOutcome(
                folder,
                "accepted",
                m["district_id"],
                m["extract_id"],
                row_counts=dict(m["row_counts"]),
            )
            record(conn, run_id, "hub_import", outcome, m, v.manifest_sha256)
        return outcome
    except Rejection as exc:
        manifest = v.manifest if v else _manifest_or_none(folder)
        outcome = FileOutcome(
            folder,
            "rejected",
            manifest.get("district_id"),
            manifest.get("extract_id"),
            exc.check,
            exc.reason,
        )
        with psycopg.connect(url) as conn:
            record(conn, run_id, "hub_import", outcome, manifest, v.manifest_sha256 if v else None)
        return outcome


def missing_districts(
    conn: psycopg.Connection, hub: HubConfig
) -> tuple[dt.date | None, list[Missing]]:
    """Roster districts with no pooled figures for the latest month any member sent."""
    latest = conn.execute(
        "select max(period_start) from pool.district_period_figures where period_type = 'month'"
        " and district_id = any(%s)",
        (list(hub.districts),),
    ).fetchone()[0]
    have = {
        r[0]: r[1]
        for r in conn.execute(
            "select district_id, max(period_start) filter (where period_type = 'month')"
            " from pool.district_period_figures where district_id = any(%s) group by district_id",
            (list(hub.districts),),
        )
    }
    missing = []
    for district_id in hub.districts:
        if district_id not in have:
            missing.append(Missing(district_id, "never sent an extract"))
        elif latest is not None and have[district_id] != latest:
            missing.append(
                Missing(
                    district_id,
                    f"sent nothing for month {latest} (latest pooled month {have[district_id]})",
                )
            )
    return latest, missing


def import_inbox(
    url: str, hub: HubConfig, source: str | None = None, today: dt.date | None = None
) -> ImportResult:
    """Import every complete extract under source (default: the hub's inbox), oldest first,
    then list the roster districts missing for the latest month (recorded as 'missing')."""
    result = ImportResult(run_id=f"pool-import:{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}")
    root = source or hub.inbox
    signed = set(files.find_folders(root, SIGNATURE))
    unsigned = set(files.find_folders(root, MANIFEST)) - signed
    # Oldest first (extract ids start with the as-of date): a backlog pools in order instead
    # of refusing older extracts that arrived in the same batch as a newer one.
    for folder in sorted(signed, key=lambda f: f.rstrip("/").rsplit("/", 1)[-1]):
        result.outcomes.append(
            import_extract(url, hub, folder, run_id=result.run_id, today=today, skip_pooled=True)
        )
    for folder in sorted(unsigned):
        result.outcomes.append(FileOutcome(folder, "incomplete", reason=f"no {SIGNATURE} yet"))
    with psycopg.connect(url) as conn:
        result.latest_month, result.missing = missing_districts(conn, hub)
        for m in result.missing:
            conn.execute(
                "insert into ops.pool_imports (run_id, direction, status, consortium_id,"
                " district_id, reason) values (%s, 'hub_import', 'missing', %s, %s, %s)",
                (result.run_id, hub.consortium_id, m.district_id, m.reason),
            )
    return result

"""Run the quality gate over the built marts: GX checkpoint, ops.gate_results, a verdict.

`run_gate` is what the Airflow gate task calls. It generates one suite per mart from
checks.py (thresholds from the config), runs them as one GX checkpoint, builds the Data Docs
site once for the run, records every expectation's outcome in ops.gate_results and returns a
GateResult: passed when no critical check failed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.publish.relations import BUILD_SCHEMA, MARTS, MARTS_SCHEMA
from schoolcx.quality import context as gxctx
from schoolcx.quality.checks import CRITICAL, Check, all_checks
from schoolcx.quality.result import CheckOutcome, GateResult

log = logging.getLogger(__name__)

SAMPLE_ROWS = 5
MAX_OBSERVED_CHARS = 600


def suite_name(mart: str) -> str:
    return f"schoolcx.{BUILD_SCHEMA}.{mart}"


def run_gate(
    url: str,
    cfg: DeploymentConfig,
    run_id: str,
    as_of: dt.datetime,
    *,
    context_dir: Path | None = None,
    data_docs_dir: Path | None = None,
    marts: Sequence[str] = MARTS,
) -> GateResult:
    """Validate every mart in `build` for run `run_id` whose data interval ends at `as_of`.

    `marts`: the marts this warehouse publishes (a consortium hub builds and publishes only
    the benchmark marts, schoolcx.pooling.hub_build); only their checks run.
    """
    marts = tuple(marts)
    present = _existing(url, [f"{BUILD_SCHEMA}.{m}" for m in marts])
    marts_has_interactions = bool(_existing(url, [f"{MARTS_SCHEMA}.fct_interactions"]))
    checks = [c for c in all_checks(cfg, as_of, marts_has_interactions) if c.mart in marts]
    overrides = dict(cfg.gate.severity)

    outcomes: list[CheckOutcome] = []
    # A mart dbt did not build cannot be validated, and must not be published: say so plainly
    # instead of letting GX fail on a missing table.
    for mart in marts:
        if f"{BUILD_SCHEMA}.{mart}" not in present:
            outcomes.append(
                CheckOutcome(
                    name=f"{mart}.exists",
                    kind="exists",
                    suite=suite_name(mart),
                    relation=f"{BUILD_SCHEMA}.{mart}",
                    severity=CRITICAL,
                    passed=False,
                    observed_value="relation does not exist",
                    expectation_type="relation_exists",
                )
            )
    runnable = [c for c in checks if c.relation in present]

    docs = gxctx.data_docs_dir() if data_docs_dir is None else Path(data_docs_dir)
    docs_index = None
    if runnable:
        outcomes += _run_checkpoint(url, runnable, overrides, run_id, as_of, context_dir, docs)
        docs_index = str(docs.resolve() / "index.html")

    by_severity_passed = all(o.passed or o.severity != CRITICAL for o in outcomes)
    result = GateResult(
        run_id=run_id,
        passed=by_severity_passed,
        outcomes=outcomes,
        data_docs_path=docs_index,
        as_of=as_of.isoformat(),
    )
    _record(url, result)
    log.info("%s", result.summary())
    return result


def _existing(url: str, relations: list[str]) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select r from unnest(%s::text[]) r where to_regclass(r) is not null", (relations,)
        ).fetchall()
    return {r[0] for r in rows}


def _run_checkpoint(
    url: str,
    checks: list[Check],
    overrides: dict[str, str],
    run_id: str,
    as_of: dt.datetime,
    root: Path | None,
    docs: Path,
) -> list[CheckOutcome]:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    context = gxctx.load_context(url, root=root, docs_dir=docs)
    by_name = {c.name: c for c in checks}
    severities = {c.name: c.severity(overrides) for c in checks}
    definitions = []
    for mart in dict.fromkeys(c.mart for c in checks):
        mine = [c for c in checks if c.mart == mart]
        if not mine:
            continue
        # Given whole to the constructor: add_expectation on a suite already in the store
        # writes the store once per expectation.
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(
                name=suite_name(mart),
                expectations=[c.to_expectation(severities[c.name]) for c in mine],
            )
        )
        definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(
                    name=suite_name(mart), data=gxctx.batch_definition(context, mart), suite=suite
                )
            )
        )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=gxctx.CHECKPOINT,
            validation_definitions=definitions,
            # SUMMARY keeps map expectations to counts and a few examples, however bad the night
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS},
        )
    )
    run = checkpoint.run(run_id=RunIdentifier(run_name=run_id, run_time=as_of))
    # Data Docs once for the whole run: GX's UpdateDataDocsAction rebuilds the site (index
    # included) once per validation definition, which was most of the gate's time.
    context.build_data_docs(
        site_names=[gxctx.DOCS_SITE], resource_identifiers=list(run.run_results)
    )

    outcomes = []
    for suite_result in run.run_results.values():
        for r in suite_result.results:
            meta = r.expectation_config.meta or {}
            check = by_name[meta["check"]]
            passed = bool(r.success)
            outcomes.append(
                CheckOutcome(
                    name=check.name,
                    kind=check.kind,
                    suite=suite_result.suite_name,
                    relation=check.relation,
                    severity=severities[check.name],
                    passed=passed,
                    observed_value=_observed(url, check, r, passed),
                    expectation_type=r.expectation_config.type,
                )
            )
    return outcomes


def _observed(url: str, check: Check, r, passed: bool) -> str:
    """A short, human-readable observed value for ops.gate_results and the summary."""
    error = _exception_message(r.exception_info)
    if error:
        return _clip(f"error: {error}")
    res = r.result or {}
    if "unexpected_count" in res:
        text = f"{res['unexpected_count']} unexpected of {res.get('element_count')} rows"
        if res.get("unexpected_percent") is not None:
            text += f" ({res['unexpected_percent']:.2f}%)"
        examples = res.get("partial_unexpected_list") or []
        if examples and not passed:
            text += f"; e.g. {_json(examples[:SAMPLE_ROWS])}"
        return _clip(text)
    if check.sql is not None:
        count = res.get("observed_value", 0)
        if passed:
            return "0 unexpected rows"
        # GX's SUMMARY gives the count only; the offending rows are what a person needs.
        return _clip(f"{count} unexpected rows; e.g. {_json(_sample(url, check))}")
    return _clip(_json(res.get("observed_value")))


def _sample(url: str, check: Check) -> list[dict]:
    query = check.sql.format(batch=check.relation)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"select * from ({query}) q limit {SAMPLE_ROWS}")
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _exception_message(info) -> str | None:
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    # GX 1.x may key exception info by metric id
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message")
    return None


def _json(value) -> str:
    def default(v):
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, dt.date | dt.datetime):
            return v.isoformat()
        return str(v)

    return json.dumps(value, default=default)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_OBSERVED_CHARS else text[: MAX_OBSERVED_CHARS - 3] + "..."


def _record(url: str, result: GateResult) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into ops.gate_results (run_id, suite, expectation, severity, relation,"
            " observed_value, passed) values (%s, %s, %s, %s, %s, %s, %s)",
            [
                (result.run_id, o.suite, o.name, o.severity, o.relation, o.observed_value, o.passed)
                for o in result.outcomes
            ],
        )

"""schoolcx nightly: extract every configured source, transform, validate, publish, report.

Each run covers the data interval [D 08:00 UTC, D+1 08:00 UTC) and reports as of the last
local date that has fully ended by its end in every district's time zone: D on the mainland,
D-1 with a district in Hawaii (or in Alaska in winter).
Extract tasks are mapped over the sources in the deployment config (SCHOOLCX_CONFIG): one
failing source does not stop the others, and shows as a failed mapped task and in
`check_extracts`; the freshness expectation of the gate then decides whether the night can
publish. dbt runs through cosmos into the `build` schema; the Great Expectations gate
validates there; only a passing gate publishes to `marts` (write-audit-publish), and never
over newer marts (an old night's rerun or backfill) unless the run's `republish` param is set.
Every task, each extract and the whole run have timeouts the deployment sets
(schoolcx.runtime), so a hung night cannot block the next.

Logic lives in `schoolcx.pipeline`; this file only wires it.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from schoolcx.orchestration import (
    DAGRUN_TIMEOUT,
    DEFAULT_ARGS,
    EXTRACT_TIMEOUT,
    dbt_task_group,
    mart_assets,
    raw_assets,
)


@dag(
    dag_id="schoolcx_nightly",
    schedule=CronDataIntervalTimetable("0 8 * * *", timezone="UTC"),
    start_date=dt.datetime(2025, 7, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUT,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["schoolcx"],
    params={
        "full_refresh": Param(
            False, type="boolean", description="rebuild incremental dbt models from scratch"
        ),
        "republish": Param(
            False,
            type="boolean",
            description="publish even over newer marts (an old night's rerun or backfill)",
        ),
    },
)
def schoolcx_nightly():
    @task
    def prepare() -> list[str]:
        from schoolcx import pipeline

        ctx = get_current_context()
        # never beside an intraday cycle: waits for a running one, then holds the lease
        pipeline.begin_nightly(pipeline.resolve_warehouse_url(), ctx["run_id"])
        cfg = pipeline.current_config()
        sources = pipeline.prepare(pipeline.resolve_warehouse_url(), cfg)
        as_of = pipeline.as_of_date(ctx["data_interval_end"], cfg)
        ctx["ti"].xcom_push(key="dbt_vars", value=pipeline.dbt_vars(cfg, as_of))
        # ref.* changed since the last successful build: the dbt build runs --full-refresh
        plan = pipeline.plan_refresh(
            pipeline.resolve_warehouse_url(), requested=bool(ctx["params"]["full_refresh"])
        )
        ctx["ti"].xcom_push(key="refresh_plan", value=plan)
        ctx["ti"].xcom_push(key="full_refresh", value=plan["full_refresh"])
        return sources

    @task(
        retries=2,
        retry_delay=dt.timedelta(seconds=30),
        max_active_tis_per_dag=4,
        execution_timeout=EXTRACT_TIMEOUT,
    )
    def extract(source_name: str) -> dict:
        from schoolcx import pipeline

        ctx = get_current_context()
        return pipeline.extract(
            pipeline.resolve_warehouse_url(),
            pipeline.current_config(),
            source_name,
            ctx["run_id"],
            ctx["data_interval_end"],
        )

    @task(trigger_rule="all_done", outlets=raw_assets())
    def check_extracts() -> dict:
        from schoolcx import pipeline

        return pipeline.check_extracts(
            pipeline.resolve_warehouse_url(), get_current_context()["run_id"]
        )

    @task
    def record_ref_fingerprint() -> None:
        """Runs only when every dbt task succeeded: the build now matches tonight's ref.*."""
        from schoolcx import pipeline

        ctx = get_current_context()
        pipeline.record_ref_fingerprint(
            pipeline.resolve_warehouse_url(),
            ctx["run_id"],
            ctx["ti"].xcom_pull(task_ids="prepare", key="refresh_plan"),
        )

    @task
    def quality_gate() -> dict:
        from schoolcx import pipeline

        ctx = get_current_context()
        return pipeline.gate_step(
            pipeline.resolve_warehouse_url(),
            pipeline.current_config(),
            ctx["run_id"],
            ctx["data_interval_end"],
        )

    @task(outlets=mart_assets())
    def publish(gate_result: dict) -> dict:
        from schoolcx import pipeline

        ctx = get_current_context()
        dbt_vars = ctx["ti"].xcom_pull(task_ids="prepare", key="dbt_vars")
        return pipeline.publish_step(
            pipeline.resolve_warehouse_url(),
            pipeline.current_config(),
            ctx["run_id"],
            ctx["data_interval_start"],
            ctx["data_interval_end"],
            gate_result,
            republish=bool(ctx["params"]["republish"]),
            # the as-of the build used, not recomputed from a config that may have changed
            as_of=dt.date.fromisoformat(dbt_vars["as_of_date"]),
        )

    @task
    def report(published: dict) -> str | None:
        from schoolcx import pipeline

        return pipeline.report_step(
            pipeline.resolve_warehouse_url(), pipeline.current_config(), published
        )

    @task(trigger_rule="all_done")
    def end_lease() -> None:
        """Whatever happened, the run is over: intraday cycles may run again."""
        from schoolcx import pipeline

        pipeline.end_nightly(pipeline.resolve_warehouse_url(), get_current_context()["run_id"])

    sources = prepare()
    extracted = extract.expand(source_name=sources)
    checked = check_extracts()
    transform = dbt_task_group()
    gate_result = quality_gate()
    extracted >> checked >> transform >> gate_result
    # beside the gate, not before it: bookkeeping never holds up publishing
    transform >> record_ref_fingerprint()
    report(publish(gate_result)) >> end_lease()


schoolcx_nightly()

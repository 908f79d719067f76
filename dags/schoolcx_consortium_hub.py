"""schoolcx consortium hub: pool the districts' extracts, benchmark them, send each its rows.

Runs when the inbox asset (schoolcx.pool.inbox) gets an event: whatever delivers a district's
extract into the hub's inbox posts one (or trigger the DAG by hand). Then: import every
complete extract in the inbox (verified; a bad one is refused with its reason in
ops.pool_imports and changes nothing pooled; roster districts without an extract are listed
as missing), benchmark (dbt over pool.* in pooled mode, the quality gate on the hub's marts,
write-audit-publish into the hub's `marts`; a failed gate publishes nothing and stops here),
and write each roster district its own benchmark rows, signed, into the outbox.
The hub config (consortium, roster, k, n, inbox, outbox) is the file SCHOOLCX_HUB_CONFIG.

Logic lives in `schoolcx.pooling`; this file only wires it.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from schoolcx.orchestration import (
    DAGRUN_TIMEOUT,
    DEFAULT_ARGS,
    hub_mart_assets,
    pool_inbox_asset,
)


@dag(
    dag_id="schoolcx_consortium_hub",
    schedule=[pool_inbox_asset()],
    start_date=dt.datetime(2025, 7, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUT,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["schoolcx", "pooling"],
)
def schoolcx_consortium_hub():
    @task
    def import_extracts() -> str:
        from schoolcx import pipeline
        from schoolcx.pooling.hub_build import current_hub_config
        from schoolcx.pooling.importer import import_inbox

        result = import_inbox(pipeline.resolve_warehouse_url(), current_hub_config())
        # refused extracts do not stop the others' benchmarks: ops.pool_imports says why
        return result.summary()

    @task(outlets=hub_mart_assets())
    def benchmark(imported: str) -> dict:
        from schoolcx import pipeline
        from schoolcx.pooling.hub_build import build_and_publish, current_hub_config

        return build_and_publish(pipeline.resolve_warehouse_url(), current_hub_config())

    @task
    def return_benchmarks(published: dict) -> str:
        from schoolcx import pipeline
        from schoolcx.pooling.hub_build import current_hub_config
        from schoolcx.pooling.returns import write_returns

        return str(write_returns(pipeline.resolve_warehouse_url(), current_hub_config()))

    return_benchmarks(benchmark(import_extracts()))


schoolcx_consortium_hub()

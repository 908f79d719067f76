"""schoolcx intraday: today so far, every 15 minutes in the districts' service hours.

One task runs one cycle (schoolcx.intraday.cycle): extract every configured source with the
nightly's connectors from the same saved state (no second cursor), dbt-build today_status and
what it reads into the intraday schemas (the nightly's incremental models and marts are never
touched), check it, and publish marts.today_status alone, atomically. A cycle outside every
district's service hours (weekday, hours, closures) does nothing; a cycle while the nightly
runs skips (the nightly's lease), and the nightly waits for a running cycle (the pipeline
advisory lock): the two never overlap. The nightly marts stay the record.

Schedule: SCHOOLCX_INTRADAY_CRON (UTC; default every 15 minutes, 11:00-23:59 UTC Monday to
Friday: 07:30-16:30 from Eastern to Pacific time); the districts' own calendars then decide.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from schoolcx.orchestration import DEFAULT_ARGS, intraday_cron, today_status_asset


@dag(
    dag_id="schoolcx_intraday",
    schedule=CronTriggerTimetable(intraday_cron(), timezone="UTC"),
    start_date=dt.datetime(2025, 7, 1, tzinfo=dt.UTC),
    catchup=False,  # a missed cycle is gone: the next one shows the present
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(minutes=14),
    default_args={**DEFAULT_ARGS, "retries": 0, "execution_timeout": dt.timedelta(minutes=12)},
    doc_md=__doc__,
    tags=["schoolcx", "intraday"],
)
def schoolcx_intraday():
    @task(outlets=[today_status_asset()])
    def cycle() -> dict:
        from schoolcx.intraday.cycle import airflow_cycle

        return airflow_cycle(get_current_context()["logical_date"])

    cycle()


schoolcx_intraday()

"""Run a night on the stack through Airflow's REST API v2, as an operator or a CI job would:
a token from the SimpleAuthManager (/auth/token), the DAG unpaused, a run triggered with the
night's logical date, then polled until it ends."""

from __future__ import annotations

import datetime as dt
import time

import httpx

from schoolcx.runner import DAG_ID, logical_date_for
from schoolcx.stack.lifecycle import ADMIN_USER, StackState

FINISHED = {"success", "failed"}


def client(state: StackState) -> httpx.Client:
    """An API client logged in as the stack's admin."""
    response = httpx.post(
        f"{state.api_url}/auth/token",
        json={"username": ADMIN_USER, "password": state.admin_password()},
        timeout=30,
    )
    response.raise_for_status()
    token = response.json()["access_token"]
    return httpx.Client(
        base_url=f"{state.api_url}/api/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def wait_for_dag(api: httpx.Client, timeout: float = 120, dag_id: str = DAG_ID) -> None:
    """Until the dag-processor has parsed the DAG; its import error if it could not."""
    deadline = time.monotonic() + timeout
    while api.get(f"/dags/{dag_id}").status_code != 200:
        errors = api.get("/importErrors").json().get("import_errors", [])
        if errors:
            raise RuntimeError(f"DAG import errors: {errors}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id} not parsed after {timeout:.0f}s")
        time.sleep(1)


def trigger_night(
    api: httpx.Client, day: dt.date, conf: dict | None = None, dag_id: str = DAG_ID
) -> str:
    """Unpause the DAG and trigger night `day` (the interval ending at 08:00 UTC the day
    after, as `schoolcx run` does); its run id."""
    api.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    response = api.post(
        f"/dags/{dag_id}/dagRuns",
        json={"logical_date": logical_date_for(day).isoformat(), "conf": conf or {}},
    )
    response.raise_for_status()
    return response.json()["dag_run_id"]


def wait_for_run(api: httpx.Client, run_id: str, timeout: float, dag_id: str = DAG_ID) -> str:
    """Poll the run until it succeeds or fails; its final state."""
    deadline = time.monotonic() + timeout
    while True:
        state = api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        if state in FINISHED:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {state} after {timeout:.0f}s")
        time.sleep(2)

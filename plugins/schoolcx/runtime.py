"""Timeouts a deployment sets in its environment (defaults suit one consortium's nightly run).

With `max_active_runs=1` a hung task would hold its DAG run open and every later night would
queue behind it; these bound each task, each extract, the whole run and each HTTP request.
Read from the environment of the Airflow processes (the DAG is parsed with them), so a
deployment changes them without touching code:

  SCHOOLCX_TASK_TIMEOUT_MINUTES     any one task (a dbt model, the gate, publish)   120
  SCHOOLCX_EXTRACT_TIMEOUT_MINUTES  one source's extract attempt                    180
  SCHOOLCX_DAGRUN_TIMEOUT_MINUTES   the whole nightly run (then the next night runs) 720
  SCHOOLCX_HTTP_TIMEOUT_SECONDS     one vendor API request (connect, read, write)    30
  SCHOOLCX_IMAP_TIMEOUT_SECONDS     one IMAP socket operation (connect, each read)   60
  SCHOOLCX_DOWNLOAD_TIMEOUT_SECONDS one export file download (Qualtrics' zip)       120

A value that is not a positive number fails loudly (at DAG parse time), naming the variable.
"""

from __future__ import annotations

import datetime as dt
import os

TASK_TIMEOUT_ENV = "SCHOOLCX_TASK_TIMEOUT_MINUTES"
EXTRACT_TIMEOUT_ENV = "SCHOOLCX_EXTRACT_TIMEOUT_MINUTES"
DAGRUN_TIMEOUT_ENV = "SCHOOLCX_DAGRUN_TIMEOUT_MINUTES"
HTTP_TIMEOUT_ENV = "SCHOOLCX_HTTP_TIMEOUT_SECONDS"
IMAP_TIMEOUT_ENV = "SCHOOLCX_IMAP_TIMEOUT_SECONDS"
DOWNLOAD_TIMEOUT_ENV = "SCHOOLCX_DOWNLOAD_TIMEOUT_SECONDS"

DEFAULTS = {
    TASK_TIMEOUT_ENV: 120.0,
    EXTRACT_TIMEOUT_ENV: 180.0,
    DAGRUN_TIMEOUT_ENV: 720.0,
    HTTP_TIMEOUT_ENV: 30.0,
    IMAP_TIMEOUT_ENV: 60.0,
    DOWNLOAD_TIMEOUT_ENV: 120.0,
}


def _positive(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULTS[name]
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise ValueError(f"{name}={raw!r} must be greater than 0")
    return value


def task_timeout() -> dt.timedelta:
    return dt.timedelta(minutes=_positive(TASK_TIMEOUT_ENV))


def extract_timeout() -> dt.timedelta:
    return dt.timedelta(minutes=_positive(EXTRACT_TIMEOUT_ENV))


def dagrun_timeout() -> dt.timedelta:
    return dt.timedelta(minutes=_positive(DAGRUN_TIMEOUT_ENV))


def http_timeout() -> float:
    """Seconds for one HTTP request (httpx's connect, read, write and pool timeouts)."""
    return _positive(HTTP_TIMEOUT_ENV)


def imap_timeout() -> float:
    """Seconds for one IMAP socket operation: a server that stops answering mid-fetch fails
    the source (its committed pages stay) instead of holding the extract until its task
    timeout."""
    return _positive(IMAP_TIMEOUT_ENV)


def download_timeout() -> float:
    """Seconds for each read of an export file download (a zip can be large and slow)."""
    return _positive(DOWNLOAD_TIMEOUT_ENV)

"""Which worker ran a task instance: Airflow's `[core] hostname_callable`.

Two Celery workers on one machine share its hostname, so task_instance.hostname could not tell
them apart. The task SDK's supervisor (inside the worker) reports this callable's value when a
task starts and on every heartbeat; `schoolcx stack up` gives each worker its own
SCHOOLCX_WORKER_NAME. Everywhere else (the scheduler, a container) it is the plain FQDN.
Kept free of imports beyond the standard library: Airflow imports it in every process.
"""

from __future__ import annotations

import os
import socket

WORKER_NAME_ENV = "SCHOOLCX_WORKER_NAME"


def worker_hostname() -> str:
    fqdn = socket.getfqdn()
    name = os.environ.get(WORKER_NAME_ENV, "").strip()
    return f"{name}@{fqdn}" if name else fqdn

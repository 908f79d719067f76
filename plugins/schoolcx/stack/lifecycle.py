"""`schoolcx stack up|down|status`: start, stop and list the local Airflow deployment.

Up: the warehouse (migrated, dbt manifest built ahead), the `airflow` database in the same
embedded PostgreSQL, Redis (CeleryExecutor), `airflow db migrate`, then scheduler,
dag-processor, api-server, triggerer and N Celery workers, each a detached child process with
its log in SCHOOLCX_HOME/stack/logs/. The pids, ports and per-stack secrets go to
SCHOOLCX_HOME/stack/state.json (mode 600) for `down` and `status`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from schoolcx.paths import local_dir
from schoolcx.settings import QUIET_TELEMETRY, config_path
from schoolcx.stack import processes
from schoolcx.stack.env import LocalEndpoints, local_airflow_env
from schoolcx.stack.hostname import WORKER_NAME_ENV
from schoolcx.warehouse import embedded

METADATA_DB = "airflow"
ADMIN_USER = "admin"  # compose's AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS
READY_TIMEOUT = 180  # s; a cold start on two busy cores takes about a minute


@dataclass
class StackState:
    executor: str
    airflow_home: str
    logs: str
    api_port: int
    redis_port: int | None
    metadata_url: str
    warehouse_url: str
    env: dict[str, str]  # what every Airflow process of the stack runs with
    pids: dict[str, int] = field(default_factory=dict)  # process name -> pid
    # the embedded PostgreSQL's data dir when `up` started it (and so `down` stops it)
    started_pg: str | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def admin_password(self) -> str:
        """The SimpleAuthManager's generated password for ADMIN_USER (api-server writes it)."""
        path = Path(self.airflow_home) / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())[ADMIN_USER]

    def running(self) -> dict[str, bool]:
        return {name: processes.is_alive(pid) for name, pid in self.pids.items()}


def stack_dir() -> Path:
    return local_dir() / "stack"


def _state_file() -> Path:
    return stack_dir() / "state.json"


def load_state() -> StackState | None:
    path = _state_file()
    return StackState(**json.loads(path.read_text())) if path.exists() else None


def _save_state(state: StackState) -> None:
    path = _state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(asdict(state), indent=1))  # it holds the stack's secrets


def _metadata_database() -> str:
    """The `airflow` database in the embedded PostgreSQL (the warehouse's server when that is
    embedded too), created if missing; its URL."""
    import psycopg

    from schoolcx.warehouse.connect import embedded_data_dir

    server = embedded.start(embedded_data_dir())
    admin = server.url.rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (METADATA_DB,))
        if not exists.fetchone():
            conn.execute(f'create database "{METADATA_DB}"')
    return f"{admin}/{METADATA_DB}"


def _start_redis(state: StackState, env: dict[str, str]) -> None:
    """Debian's redis-server on a port of its own, nothing persisted (the broker's queue is
    rebuilt by the scheduler on restart): never the machine's 6379."""
    import redis

    folder = stack_dir() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port = embedded.free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    argv += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
    state.pids["redis"] = processes.spawn("redis", argv, env, Path(state.logs))
    state.redis_port = port
    _save_state(state)

    def pong() -> bool:
        try:
            return bool(redis.Redis(port=port, socket_timeout=1).ping())
        except redis.exceptions.ConnectionError:
            return False

    processes.wait_for("redis-server", pong, 20, lambda: processes.is_alive(state.pids["redis"]))


def _airflow(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "airflow"), *args]


def components(executor: str, workers: int, concurrency: int, api_port: int) -> list[tuple]:
    """(name, argv, extra env) of every Airflow process; compose's services, one per line."""
    out = [
        # logs are files on this one disk: the api-server reads them without log servers,
        # whose fixed ports (8793, 8794) two workers on one host could not share anyway
        ("scheduler", _airflow("scheduler", "--skip-serve-logs"), {}),
        ("dag-processor", _airflow("dag-processor"), {}),
        ("api-server", _airflow("api-server", "--host", "127.0.0.1", "--port", str(api_port)), {}),
        ("triggerer", _airflow("triggerer", "--skip-serve-logs"), {}),
    ]
    if executor == "celery":
        for n in range(1, workers + 1):
            name = f"worker{n}"
            argv = _airflow("celery", "worker", "--celery-hostname", f"{name}@%h")
            argv += ["--concurrency", str(concurrency), "--skip-serve-logs"]
            out.append((name, argv, {WORKER_NAME_ENV: name}))
    return out


def _api_ready(state: StackState) -> bool:
    import httpx

    try:
        return httpx.get(f"{state.api_url}/api/v2/version", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _worker_ready(state: StackState, name: str) -> bool:
    # Celery logs "<name>@<host> ready." once it consumes from the broker
    log = Path(state.logs) / f"{name}.log"
    return log.exists() and bool(re.search(rf"{name}@\S+ ready\.", log.read_text(errors="replace")))


def up(
    executor: str = "celery",
    workers: int = 2,
    concurrency: int = 2,
    config: Path | None = None,
    extra_env: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> StackState:
    """Start the stack; returns its state once the api-server answers and every worker is
    ready. Whatever started is stopped again if a step fails."""
    from schoolcx import pipeline
    from schoolcx.runner import ensure_hash_key, ensure_manifest
    from schoolcx.warehouse import migrate

    current = load_state()
    if current and any(current.running().values()):
        raise RuntimeError("a stack is already up here: `schoolcx stack down` first")
    started = time.monotonic()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per readiness poll
    from schoolcx.warehouse.connect import embedded_data_dir

    # before anything starts it (the warehouse, when embedded, is on the same server)
    started_pg = None if embedded.is_running(embedded_data_dir()) else str(embedded_data_dir())
    ensure_hash_key()
    warehouse_url = pipeline.resolve_warehouse_url()
    applied = migrate(warehouse_url)
    ensure_manifest(warehouse_url)
    say(f"warehouse ready ({len(applied)} migrations applied now, dbt manifest built)")
    metadata_url = _metadata_database()
    home = stack_dir() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    api_port = embedded.free_port()
    state = StackState(
        executor=executor,
        airflow_home=str(home),
        logs=str(stack_dir() / "logs"),
        api_port=api_port,
        redis_port=None,
        metadata_url=metadata_url,
        warehouse_url=warehouse_url,
        env={},
        started_pg=started_pg,
    )
    Path(state.logs).mkdir(parents=True, exist_ok=True)
    try:
        _save_state(state)  # from here on, `down` finds whatever started
        base_env = {**os.environ, **QUIET_TELEMETRY}
        if executor == "celery":
            _start_redis(state, base_env)
            say(f"redis-server on 127.0.0.1:{state.redis_port}")
        from cryptography.fernet import Fernet

        endpoints = LocalEndpoints(
            home=local_dir(),
            config=(config or config_path()).resolve(),
            metadata_url=metadata_url,
            warehouse_url=warehouse_url,
            api_port=api_port,
            redis_port=state.redis_port,
            jwt_secret=secrets.token_urlsafe(32),
            fernet_key=Fernet.generate_key().decode(),
            hash_key=os.environ["SCHOOLCX_HASH_KEY"],
        )
        state.env = {
            **local_airflow_env(endpoints, executor),
            "AIRFLOW_HOME": str(home),  # the image's default; here the stack's own folder
            **(extra_env or {}),
        }
        env = {**base_env, **state.env}
        _save_state(state)
        with open(Path(state.logs) / "db-migrate.log", "ab") as out:
            subprocess.run(
                _airflow("db", "migrate"), env=env, stdout=out, stderr=subprocess.STDOUT, check=True
            )
        say(f"metadata database `{METADATA_DB}` migrated")
        for name, argv, own_env in components(executor, workers, concurrency, api_port):
            state.pids[name] = processes.spawn(name, argv, {**env, **own_env}, Path(state.logs))
        _save_state(state)
        say(f"started {len(state.pids)} processes: {', '.join(state.pids)}")
        _wait_ready(state)
    except BaseException:
        down(say=lambda _: None)
        raise
    n_workers = sum(n.startswith("worker") for n in state.pids)
    say(
        f"stack up in {time.monotonic() - started:.0f}s: {executor} executor, "
        f"{n_workers} worker{'' if n_workers == 1 else 's'}, "
        f"{len(state.pids)} processes; UI {state.api_url} (user {ADMIN_USER}, password in "
        f"{home}/simple_auth_manager_passwords.json.generated); logs in {state.logs}"
    )
    return state


def _wait_ready(state: StackState) -> None:
    def alive() -> bool:
        dead = [name for name, running in state.running().items() if not running]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited while the stack started (see its log)")
        return True

    processes.wait_for("api-server", lambda: _api_ready(state), READY_TIMEOUT, alive)
    for name in state.pids:
        if name.startswith("worker"):
            processes.wait_for(name, lambda n=name: _worker_ready(state, n), READY_TIMEOUT, alive)


# What each process's command line contains: a pid from state.json is stopped only if it is
# still that process.
# (Celery retitles its worker "[celeryd: worker1@host:MainProcess] ... (celery worker ...)")
def _expected(name: str) -> str:
    if name == "redis":
        return "redis-server"
    return "celery worker" if name.startswith("worker") else "airflow"


def down(say: Callable[[str], None] = print) -> int:
    """Stop every process of the stack (Airflow first, Redis last); how many were running."""
    state = load_state()
    if state is None:
        say("no stack here")
        return 0
    # Airflow first: a worker's warm shutdown still talks to the broker
    airflow = {pid: _expected(n) for n, pid in state.pids.items() if n != "redis"}
    stopped = processes.stop(airflow)
    if "redis" in state.pids:
        stopped += processes.stop({state.pids["redis"]: _expected("redis")})
    if state.started_pg:
        from schoolcx.warehouse import embedded

        embedded.stop(Path(state.started_pg))
    _state_file().unlink(missing_ok=True)
    pg = ", and the embedded PostgreSQL it started" if state.started_pg else ""
    say(f"stack down: {stopped} of {len(state.pids)} processes were running and are stopped{pg}")
    return stopped


def status(say: Callable[[str], None] = print) -> bool:
    """Print each process and whether it runs; True when all do."""
    state = load_state()
    if state is None:
        say("no stack here (`schoolcx stack up`)")
        return False
    running = state.running()
    for name, alive in running.items():
        say(f"  {name:<14} pid {state.pids[name]:<8} {'running' if alive else 'STOPPED'}")
    say(
        f"{sum(running.values())} of {len(running)} processes running; {state.executor} "
        f"executor; UI {state.api_url}; logs in {state.logs}"
    )
    return all(running.values())

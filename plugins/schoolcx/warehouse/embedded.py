"""An embedded PostgreSQL from the pgserver wheel, listening on 127.0.0.1.

pgserver's own get_server() listens on a Unix socket only and stops the server when the last
Python holder exits; Airflow connections, dbt and BI tools want TCP and a server that outlives
one command. So we use pgserver's bundled binaries (initdb, pg_ctl) directly: the server runs
as a daemon on a free port, recorded beside its data, until `schoolcx warehouse down`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DATABASE = "schoolcx"
# The embedded server uses trust auth on loopback; libpq and cosmos still want a password
# string, which the server ignores.
PLACEHOLDER_PASSWORD = "embedded"  # noqa: S105 - not a secret: trust auth ignores it


@dataclass(frozen=True)
class EmbeddedServer:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{PLACEHOLDER_PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"


def _system_user() -> str | None:
    # Postgres refuses to run as root; pgserver creates an OS user for it.
    return "pgserver" if os.geteuid() == 0 else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the stack, dovecot and the server use it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(data_dir: Path) -> None:
    from pgserver._commands import POSTGRES_BIN_PATH, initdb
    from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

    user = _system_user()
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        import pwd
        import stat

        ensure_user_exists(user)
        ensure_prefix_permissions(data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        for path in (POSTGRES_BIN_PATH, POSTGRES_BIN_PATH.parent / "lib"):
            for p in [path, *path.rglob("*")]:
                mode = p.stat().st_mode
                extra = stat.S_IRGRP | stat.S_IROTH
                if p.is_dir() or mode & stat.S_IXUSR:
                    extra |= stat.S_IXGRP | stat.S_IXOTH
                if mode & extra != extra:
                    p.chmod(mode | extra)
        pw = pwd.getpwnam(user)
        os.chown(data_dir, pw.pw_uid, pw.pw_gid)
    if not (data_dir / "PG_VERSION").exists():
        initdb(
            ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
            pgdata=data_dir,
            user=user,
        )


def _pg_ctl(args: list[str], data_dir: Path, timeout: int = 60) -> str:
    from pgserver._commands import pg_ctl

    return pg_ctl(args, pgdata=data_dir, user=_system_user(), timeout=timeout)


def is_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, IndexError):
        return False
    except PermissionError:
        return True
    return True


def start(data_dir: Path) -> EmbeddedServer:
    """Start (or find running) the embedded server in data_dir; idempotent."""
    data_dir = data_dir.resolve()
    port_file = data_dir / "schoolcx.port"
    _prepare(data_dir)
    if is_running(data_dir) and port_file.exists():
        server = EmbeddedServer(data_dir, int(port_file.read_text()))
    else:
        port = free_port()
        log = data_dir / "server.log"
        _pg_ctl(
            ["-w", "-o", f"-h 127.0.0.1 -p {port} -k {data_dir}", "-l", str(log), "start"],
            data_dir,
        )
        port_file.write_text(str(port))
        server = EmbeddedServer(data_dir, port)
    _ensure_database(server)
    return server


def _ensure_database(server: EmbeddedServer) -> None:
    import psycopg

    admin = server.url.rsplit("/", 1)[0] + "/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                exists = conn.execute(
                    "select 1 from pg_database where datname = %s", (DATABASE,)
                ).fetchone()
                if not exists:
                    conn.execute(f'create database "{DATABASE}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(data_dir: Path) -> bool:
    """Stop the embedded server; returns False when it was not running."""
    data_dir = data_dir.resolve()
    if not is_running(data_dir):
        return False
    try:
        _pg_ctl(["-w", "-m", "fast", "stop"], data_dir)
    except subprocess.CalledProcessError:
        return False
    return True

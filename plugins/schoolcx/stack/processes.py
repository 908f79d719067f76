"""The stack's child processes: each in its own session (so stopping one stops what it forked:
Celery's pool, the api-server's workers, task processes), its output in a log file, its pid in
the stack's state so `schoolcx stack down` from another shell can stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> int:
    """Start `argv` detached, output to logs/<name>.log (the previous one kept as .log.1: a
    readiness check must not read an earlier run's lines); its pid."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    if log.exists():
        log.replace(logs / f"{name}.log.1")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid


def _reap(pid: int) -> None:
    # a child of this process stays a zombie (and "alive" to kill 0) until waited for
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _signal_group(pid: int, sig: int) -> None:
    # spawn() made each child its own session and group leader
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop(pids: dict[int, str], timeout: float = 20.0) -> int:
    """Stop the process groups led by `pids` (pid -> what its command line must still contain:
    a pid recorded earlier may now be someone else's), all at once: TERM, then KILL what is
    left after `timeout` s. How many were running."""
    ours = [p for p, expect in pids.items() if is_alive(p) and expect in command_of(p)]
    for pid in ours:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(is_alive(p) for p in ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in ours:
        # the leader may be gone while its group (task processes, pool children) lingers
        _signal_group(pid, signal.SIGKILL)
    while any(is_alive(p) for p in ours):
        time.sleep(0.1)
    return len(ours)


def wait_for(what: str, ready: Callable[[], bool], timeout: float, alive: Callable[[], bool]):
    """Poll `ready()` until true; fail early when `alive()` turns false (the process died)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive():
            raise RuntimeError(f"{what} exited before it was ready")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.5)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0

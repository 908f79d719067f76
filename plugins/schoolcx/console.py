"""A quiet console for long runs (`schoolcx demo`): Airflow, cosmos, dbt and GX write to a log
file; the terminal shows one progress bar per night and stage, errors in full with the log's
path, and the summary.

Quiet at the file-descriptor level (fds 1 and 2 point at the log), not by tuning loggers: the
pipeline's output comes from structlog, stdlib logging, dbt's event printer, cosmos and
subprocesses (dbt parse, airflow db migrate, dovecot), each with its own idea of where to
write. Progress comes from Airflow's task listener (tasks run in this process under
`dag.test()`) and, for a one-task `dbt build`, from dbt's "N of M" result lines in the log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schoolcx.paths import local_dir

# The DAG's tasks by the stage a reader follows (dags/schoolcx_nightly.py).
STAGES = ("extract", "transform", "gate", "publish")
_STAGE_OF_TASK = {
    "prepare": "extract",
    "extract": "extract",
    "check_extracts": "extract",
    "record_ref_fingerprint": "transform",
    "quality_gate": "gate",
    "publish": "publish",
    "report": "publish",
}
# dbt's result line for one node, e.g. "12 of 255 OK created sql table model build.x [...]"
DBT_RESULT = re.compile(
    r"\b(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b(?P<rest>.*)$", re.MULTILINE
)


def log_path(name: str) -> Path:
    """A new log file under .local/logs/ (SCHOOLCX_HOME), stamped so runs never overwrite."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = local_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}-{stamp}.log"


def stage_of(task_id: str) -> str | None:
    if task_id.startswith("transform."):
        return "transform"
    return _STAGE_OF_TASK.get(task_id)


@contextlib.contextmanager
def quiet_console(path: Path) -> Iterator[Console]:
    """Send fds 1 and 2 (and so sys.stdout, sys.stderr, every logger and child process) to
    `path` for the block; yield a rich Console on the real terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal: TextIO = os.fdopen(os.dup(saved_out), "w", buffering=1)
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    try:
        yield Console(file=terminal, highlight=False, soft_wrap=True)  # paths stay whole
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        terminal.close()


def quiet_run(name: str, body: Callable[[Console, Path], bool]) -> bool:
    """Run `body(console, log)` with the console quiet (quiet_console on log_path(name)); an
    exception prints in full on the terminal with the log's path, and the run fails."""
    log = log_path(name)
    with quiet_console(log) as console:
        console.print(f"logs (Airflow, cosmos, dbt, GX): {log}")
        try:
            return body(console, log)
        except Exception as exc:
            console.print(f"[red bold]{name} failed:[/red bold]")
            console.print(format_error(exc), markup=False)
            console.print(f"[red]full log: {log}[/red]")
            return False


def format_error(error: object) -> str:
    if isinstance(error, BaseException):
        return "".join(traceback.format_exception(error)).rstrip()
    return str(error)


@dataclass
class StageClock:
    """When a stage's first task started and its last one ended (seconds, monotonic)."""

    started: float | None = None
    ended: float | None = None

    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


@dataclass
class NightTimings:
    day: dt.date
    total: float = 0.0
    stages: dict[str, StageClock] = field(default_factory=lambda: {s: StageClock() for s in STAGES})

    def line(self) -> str:
        parts = [f"{s} {self.stages[s].seconds():.0f}s" for s in STAGES]
        other = self.total - sum(self.stages[s].seconds() for s in STAGES)
        return f"{self.day}: " + ", ".join(parts) + f", other {max(other, 0):.0f}s"


class NightProgress:
    """Progress bars of the nightly runs on `console`, fed by Airflow's task listener.

    Use as `with NightProgress(console, log, url) as p:` around the runs, and `with
    p.night(day, dag):` around each `dag.test()`."""

    def __init__(self, console: Console, log: Path, url: str, sources: int) -> None:
        self.console = console
        self.log = log
        self.url = url
        self.sources = sources
        self.timings: list[NightTimings] = []
        self.failures: list[str] = []
        self._progress: Progress | None = None
        self._bars: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._night: NightTimings | None = None
        self._dbt_build = False
        self._stop_tail = threading.Event()
        self._tail: threading.Thread | None = None

    # -- the listener Airflow calls (pluggy matches these by name) ------------------------
    def _listener(self):
        from airflow.listeners import hookimpl

        progress = self

        class Listener:
            @hookimpl
            def on_task_instance_running(self, previous_state, task_instance):
                progress.task_running(task_instance.task_id)

            @hookimpl
            def on_task_instance_success(self, previous_state, task_instance):
                progress.task_done(task_instance.task_id, task_instance.run_id)

            @hookimpl
            def on_task_instance_failed(self, previous_state, task_instance, error):
                retry = str(getattr(task_instance, "state", "")).endswith("up_for_retry")
                progress.task_failed(
                    task_instance.task_id, task_instance.map_index, error, retry=retry
                )

        return Listener()

    # Airflow is imported only inside night(): by then the runner has set AIRFLOW_HOME and the
    # metadata DB (runner.setup_airflow); importing it earlier would bind its defaults.
    def __enter__(self) -> NightProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    # -- one night ----------------------------------------------------------------------
    @contextlib.contextmanager
    def night(self, day: dt.date, n: int, of: int, dag) -> Iterator[None]:
        dbt_tasks = [t for t in dag.task_ids if t.startswith("transform.")]
        self._dbt_build = len(dbt_tasks) == 1
        self._night = NightTimings(day)
        self._done = dict.fromkeys(STAGES, 0)
        totals = {
            "extract": self.sources,
            "transform": 0 if self._dbt_build else len(dbt_tasks),  # dbt build: from dbt
            "gate": 1,
            "publish": 2,  # publish, report
        }
        self._progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            # on a terminal rich would catch sys.stdout/sys.stderr and print them above the
            # bars: the very log lines this console keeps in the file
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.console.print(f"[bold]night {n}/{of}: {day}[/bold]")
        self._bars = {
            s: self._progress.add_task(
                f"  {s}", total=totals[s] or None, detail=self._unit(s), start=False
            )
            for s in STAGES
        }
        from airflow.sdk.listener import get_listener_manager

        listener = self._listener()
        get_listener_manager().add_listener(listener)
        started = time.monotonic()
        self._progress.start()
        if self._dbt_build:
            self._start_tail()
        try:
            yield
        finally:
            self._stop_tail.set()
            if self._tail:
                self._tail.join(timeout=5)
                self._read_dbt_results()  # what the last poll missed
            get_listener_manager().pm.unregister(listener)
            self._progress.stop()
            self._night.total = time.monotonic() - started
            self.timings.append(self._night)

    @staticmethod
    def _unit(stage: str) -> str:
        return {"extract": "sources", "transform": "dbt nodes", "gate": "", "publish": ""}[stage]

    def _stage_started(self, stage: str) -> None:
        clock = self._night.stages[stage]
        if clock.started is None:
            clock.started = time.monotonic()
            self._progress.start_task(self._bars[stage])

    def _stage_ended(self, stage: str) -> None:
        self._night.stages[stage].ended = time.monotonic()

    def task_running(self, task_id: str) -> None:
        stage = stage_of(task_id)
        if stage and self._progress:
            self._stage_started(stage)

    def task_done(self, task_id: str, run_id: str) -> None:
        stage = stage_of(task_id)
        if not stage or not self._progress:
            return
        self._stage_ended(stage)
        bar = self._bars[stage]
        if task_id == "extract":
            self._done[stage] += 1
            records = self._records_loaded(run_id)
            detail = f"sources, {records:,} new records" if records is not None else "sources"
            self._progress.update(bar, completed=self._done[stage], detail=detail)
        elif stage == "transform" and not self._dbt_build and task_id != "record_ref_fingerprint":
            self._done[stage] += 1
            self._progress.update(bar, completed=self._done[stage])
        elif task_id == "quality_gate":
            self._progress.update(bar, completed=1, detail="passed")
        elif stage == "publish":
            self._done[stage] += 1
            detail = "marts published" if task_id == "publish" else "report written"
            self._progress.update(bar, completed=self._done[stage], detail=detail)

    def task_failed(self, task_id: str, map_index: int, error: object, retry: bool = False) -> None:
        where = task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"
        self.failures.append(where)
        stage = stage_of(task_id)
        if stage and self._progress and not retry:
            self._progress.update(self._bars[stage], detail="[red]FAILED[/red]")
        again = " (Airflow retries it)" if retry else ""
        self.console.print(f"[red bold]task {where} failed{again}:[/red bold]")
        self.console.print(format_error(error), markup=False, highlight=False)
        self.console.print(f"[red]full log: {self.log}[/red]")

    def _records_loaded(self, run_id: str) -> int | None:
        try:
            import psycopg

            with psycopg.connect(self.url) as conn:
                row = conn.execute(
                    "select coalesce(sum(records_loaded), 0) from ops.extract_runs"
                    " where run_id = %s",
                    (run_id,),
                ).fetchone()
            return int(row[0])
        except Exception:  # progress is a courtesy; the run's own checks report failures
            return None

    # -- a one-task dbt build: progress from dbt's result lines in the log -----------------
    def _start_tail(self) -> None:
        self._stop_tail.clear()
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        self._partial = ""
        self._nodes = self._models = 0

        def poll() -> None:
            while not self._stop_tail.wait(0.5):
                self._read_dbt_results()

        self._tail = threading.Thread(target=poll, name="dbt-progress", daemon=True)
        self._tail.start()

    def _read_dbt_results(self) -> None:
        with open(self.log, errors="replace") as f:
            f.seek(self._offset)
            chunk = f.read()
            self._offset = f.tell()
        text = self._partial + chunk
        text, _, self._partial = text.rpartition("\n")
        for m in DBT_RESULT.finditer(text):
            if m.group("rest").lstrip().startswith("hook:"):  # on-run-start: "1 of 1 OK hook"
                continue
            self._nodes += 1
            if " model " in m.group("rest"):
                self._models += 1
            bar = self._bars["transform"]
            self._progress.update(
                bar,
                total=int(m.group(2)),
                completed=self._nodes,
                detail=f"dbt nodes ({self._models} models built)",
            )

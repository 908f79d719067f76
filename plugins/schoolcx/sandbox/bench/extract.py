"""Extraction benchmark: synthetic Zendesk tickets through the real connector and RawWriter.

    python -m schoolcx.sandbox.bench.extract 1000000 [WAREHOUSE_URL]

The emulator synthesises ticket i from its index in a child process (nothing materialised, and
its JSON encoding does not share this process's GIL); ZendeskConnector pages through the cursor
export (1,000 tickets a page, include=metric_sets) and RawWriter COPYs each page into
raw.zendesk_tickets in a fresh database. Prints records/s and this process's resident memory
at checkpoints, to show that memory stays flat as volume grows, and where the time went: in
the connector's page stream (waiting for the emulator's next page, and parsing it), in the
writer (encoding, COPY, insert), and the CPU seconds of the three processes at work: this one
(connector and writer), the writer's PostgreSQL backend, and the emulator (rendering, HTTP).
`--json PATH` writes the measurements there (bench.__main__ runs each volume in its own
process, so peak RSS is that volume's).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.zendesk import ZendeskConnector
from schoolcx.load.raw_writer import RawWriter
from schoolcx.sandbox.emulators.zendesk import serve_synthetic

SOURCE = "bench-zendesk"
CONFIG = {
    "name": "bench",
    "districts": [
        {
            "district_id": "1700001",
            "name": "Bench",
            "state": "IL",
            "timezone": "America/Chicago",
            "enrollment": {2026: 10000},
            "sources": [
                {
                    "name": SOURCE,
                    "type": "zendesk",
                    "conn_id": "bench_zd",
                    "start_date": "2023-09-01",
                    "options": {"page_size": 1000},
                }
            ],
        }
    ],
}


def rss_mb() -> float:
    """Current resident set size of this process, in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KB on Linux


@dataclass
class Checkpoint:
    records: int
    seconds: float
    records_per_s: float
    rss_mb: float
    peak_rss_mb: float


@dataclass
class BenchResult:
    n_records: int
    seconds: float
    records_per_s: float
    peak_rss_mb: float
    sampled_peak_rss_mb: float
    checkpoints: list[Checkpoint] = field(default_factory=list)
    # where the seconds went: in the connector's page stream, in RawWriter.write_page, and the
    # emulator child's CPU (rendering + serving; it runs beside us, so it overlaps the others)
    split_s: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"bench_extract: {self.n_records:,} tickets in {self.seconds:.1f}s = "
            f"{self.records_per_s:,.0f} records/s end to end; peak RSS "
            f"{self.peak_rss_mb:.0f} MB (sampled {self.sampled_peak_rss_mb:.0f} MB)"
        )


class _Sampler:
    """Samples RSS every `every` seconds in a thread (ru_maxrss alone hides when it peaked)."""

    def __init__(self, every: float = 0.2):
        self.every, self.peak = every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _TimedPages:
    """The connector's page stream, with the seconds spent waiting on it (fetch + parse)."""

    def __init__(self, pages):
        self._pages, self.seconds = iter(pages), 0.0

    def __iter__(self):
        return self

    def __next__(self):
        started = time.monotonic()
        try:
            return next(self._pages)
        finally:
            self.seconds += time.monotonic() - started


def _fresh_database(url: str) -> str:
    name = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def run(
    n_records: int = 1_000_000,
    url: str | None = None,
    checkpoints: tuple[int, ...] = (100_000, 250_000, 500_000, 1_000_000),
    progress_every: int = 100_000,
    out=sys.stdout,
) -> BenchResult:
    """Extract `n_records` synthetic tickets into a fresh database on the server of `url` (an
    embedded server in a temporary directory when None); returns the measurements."""
    from schoolcx.warehouse import embedded, migrate

    tmp = None
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_extract_")
        url = embedded.start(Path(tmp.name) / "data").url
    target = _fresh_database(url)
    migrate(target)
    cfg = DeploymentConfig.model_validate(CONFIG)
    district, source = cfg.source(SOURCE)
    marks = sorted(c for c in checkpoints if c <= n_records)
    result_marks: list[Checkpoint] = []
    try:
        with serve_synthetic(n_records, SOURCE) as server, _Sampler() as sampler:
            ctx = ConnectorContext(
                district, source, Connection("bench_zd", **server.connection(SOURCE))
            )
            connector = ZendeskConnector(ctx, streams=("tickets",))
            started = time.monotonic()
            next_progress = progress_every

            def on_page(page, summary) -> None:
                nonlocal next_progress
                done = summary.received
                elapsed = time.monotonic() - started
                while marks and done >= marks[0]:
                    result_marks.append(
                        Checkpoint(marks.pop(0), elapsed, done / elapsed, rss_mb(), peak_rss_mb())
                    )
                if done >= next_progress:
                    next_progress += progress_every
                    print(
                        f"  {done:>10,} records  {elapsed:7.1f}s  {done / elapsed:9,.0f}/s"
                        f"  rss {rss_mb():6.0f} MB",
                        file=out,
                        flush=True,
                    )

            until = dt.datetime.now(dt.UTC)
            emulator_cpu0 = process_cpu_s(server.pid)
            with RawWriter(
                target,
                source_instance=SOURCE,
                source_type="zendesk",
                district_id=district.district_id,
                run_id="bench",
                on_page=on_page,
            ) as writer:
                backend_cpu0 = process_cpu_s(writer.backend_pid)
                client_cpu0 = time.process_time()
                pages = _TimedPages(connector.pages(writer.state(), until))
                summary = writer.write_pages(pages)
                backend_cpu = process_cpu_s(writer.backend_pid) - backend_cpu0
            seconds = time.monotonic() - started
            split = {
                "connector_wait_s": round(pages.seconds, 2),
                "writer_s": round(summary.seconds - pages.seconds, 2),
                # CPU seconds of the three processes that share the machine's cores
                "client_cpu_s": round(time.process_time() - client_cpu0, 2),
                "postgres_backend_cpu_s": round(backend_cpu, 2),
                "emulator_cpu_s": round(process_cpu_s(server.pid) - emulator_cpu0, 2),
            }
    finally:
        if tmp is not None:
            embedded.stop(Path(tmp.name) / "data")
            tmp.cleanup()
    if summary.inserted != n_records:
        raise RuntimeError(f"expected {n_records} rows landed, got {summary.inserted}")
    result = BenchResult(
        n_records, seconds, n_records / seconds, peak_rss_mb(), sampler.peak, result_marks, split
    )
    for c in result.checkpoints:
        print(
            f"  checkpoint {c.records:>10,}: {c.records_per_s:9,.0f} records/s, rss "
            f"{c.rss_mb:.0f} MB, peak {c.peak_rss_mb:.0f} MB",
            file=out,
        )
    print(result.line(), file=out, flush=True)
    print(f"  time: {split}", file=out, flush=True)
    return result


def step_args(prog: str, count: str, default: int, argv: list[str] | None) -> argparse.Namespace:
    """The command line of a benchmark step: how many, on which server, JSON where."""
    parser = argparse.ArgumentParser(prog=f"python -m schoolcx.sandbox.bench.{prog}")
    parser.add_argument(count, type=int, nargs="?", default=default)
    parser.add_argument("url", nargs="?", default=None, help="warehouse server (default: embedded)")
    parser.add_argument("--json", type=Path, default=None, help="write the measurements here")
    return parser.parse_args(argv)


def write_json(path: Path | None, measured: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(measured, indent=2))


def main(argv: list[str] | None = None) -> None:
    args = step_args("extract", "records", 1_000_000, argv)
    marks = tuple(sorted({args.records // 10, args.records // 2, args.records}))
    result = run(
        args.records, args.url, checkpoints=marks, progress_every=max(args.records // 10, 1)
    )
    write_json(args.json, dataclasses.asdict(result))


if __name__ == "__main__":
    main()

"""The demo's intraday part: two cycles on the last day of the demo world (issue 18).

The demo world ends at its as-of date and the nightly of that date has already run, so the two
cycles are replays of that day's instants (10:00 and 14:00 in the first district's time zone):
they read raw as the night landed it, count what was known at each instant, and extract
nothing (a replay never moves a source's cursor back; see schoolcx.intraday.cycle).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from schoolcx.config import DeploymentConfig

LOCAL_TIMES = (dt.time(10), dt.time(14))


def cycle_instants(cfg: DeploymentConfig, day: dt.date) -> list[dt.datetime]:
    zone = ZoneInfo(cfg.districts[0].timezone)
    return [dt.datetime.combine(day, t, tzinfo=zone).astimezone(dt.UTC) for t in LOCAL_TIMES]


def run_intraday_cycles(url: str, cfg: DeploymentConfig, day: dt.date) -> bool:
    """Run the day's two cycles, print one line each; True when both published."""
    from schoolcx.intraday.cycle import run_cycle

    ok = True
    for at in cycle_instants(cfg, day):
        result = run_cycle(url, cfg, at)
        print(f"  {result.line()}", flush=True)
        ok = ok and result.status == "published"
    return ok

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


def run_intraday_cycles(say, url: str, cfg: DeploymentConfig, day: dt.date) -> bool:
    """Run the day's two cycles, `say` one line each and today's figures; True unless one was
    blocked or failed (a second demo's replay of the earlier instant is skipped: a newer cycle
    is published)."""
    import psycopg

    from schoolcx.intraday.cycle import run_cycle

    say(f"intraday: two cycles of {day} (replayed: the nightly of that day has run) ...")
    ok = True
    for at in cycle_instants(cfg, day):
        result = run_cycle(url, cfg, at)
        say(f"  {result.line()}")
        ok = ok and result.status in ("published", "skipped")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select sum(contacts_today), sum(answered_today), sum(backlog_now),"
            " sum(past_due_now), sum(high_risk_open_now) from marts.today_status"
        ).fetchone()
    if rows[0] is not None:
        say(
            f"  today so far (all districts): {rows[0]} contacts, {rows[1]} answered; "
            f"backlog {rows[2]}, past due {rows[3]}, high-risk open {rows[4]}"
        )
    return ok

"""SQL building blocks of the synthesis: timestamps, weighted picks, service-hour snapping."""

from __future__ import annotations


def _iso(x: str) -> str:
    return f"""to_char(({x}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _night_end(x: str) -> str:
    """The end of the nightly data interval holding instant x: the next 08:00 UTC."""
    return (
        f"((date_trunc('day', ({x}) at time zone 'UTC' - interval '8 hours')"
        f" + interval '1 day 8 hours') at time zone 'UTC')"
    )


def _pick(values: list[str], weights: list[float], r: str) -> str:
    """values[i] with probability weights[i], for a uniform draw r in [0, 1)."""
    cum, edges = 0.0, []
    for w in weights:
        edges.append(f"{cum:.4f}")
        cum += w
    return f"(array[{', '.join(values)}])[width_bucket({r}, array[{', '.join(edges)}]::float8[])]"


def _lit(v: str | None) -> str:
    return "null::text" if v is None else f"'{v}'"


def _snap(cand: str, cal: str, jitter: str, keep: str) -> str:
    """An agent's reply time: the candidate when it falls in a service interval (or `keep`
    says leave it), else the day's open or the next service day's open, plus jitter."""
    return f"""date_trunc('second', case
        when {cand} is null then null
        when {keep} then {cand}
        when {cal}.is_service and {cand} >= {cal}.open_at and {cand} < {cal}.close_at then {cand}
        when {cal}.is_service and {cand} < {cal}.open_at
            then {cal}.open_at + {jitter} * interval '40 minutes'
        else {cal}.next_open_at + {jitter} * interval '40 minutes'
    end)"""


def _minutes(median: float, sigma: float, draw: str, cap: int) -> str:
    """A log-normal delay (median minutes, sigma) from a standard normal draw, capped."""
    return f"least(exp(ln({median}) + {sigma} * {draw}), {cap}) * interval '1 minute'"

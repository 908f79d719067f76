"""The quality gate's results as one static page, readable with no network (`gate.html`).

GX's Data Docs load Bootstrap, jQuery and Font Awesome from CDNs that the great_expectations
package does not ship, so offline they render unstyled. This page is what a person reads
instead: every check of the latest gate run with its observed value, severity and result, and
the last nights' history, from `ops.gate_results` (what the gate recorded) and
`ops.publish_log` (what became of each night). Self-contained: inline CSS, no script.

Results are words, never colour alone ("Passed" / "Failed", "Blocked"); every fact a test or
a browser check asserts is text in the DOM and carries data-* attributes.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

import psycopg

CRITICAL = "critical"
PAGE_NAME = "gate.html"
DEFAULT_NIGHTS = 7


@dataclass(frozen=True)
class GateRun:
    """One invocation of the gate: one run id's rows written in one transaction."""

    run_id: str
    checked_at: dt.datetime
    checks: int
    failed_critical: int
    failed_warning: int
    published: bool | None  # None: no publish_log row (not published yet, or never tried)
    as_of_date: dt.date | None
    publish_detail: str | None

    @property
    def passed(self) -> bool:
        return self.failed_critical == 0

    @property
    def key(self) -> tuple[str, dt.datetime]:
        return (self.run_id, self.checked_at)


@dataclass(frozen=True)
class CheckRow:
    name: str
    suite: str
    relation: str | None
    severity: str
    observed_value: str | None
    passed: bool


# Rows of one gate invocation share checked_at: the gate inserts them in one transaction and
# the column defaults to now(), the transaction's start. A retried gate task is a second run.
_RUNS = """
select g.run_id, g.checked_at, count(*),
       count(*) filter (where not g.passed and g.severity = 'critical'),
       count(*) filter (where not g.passed and g.severity <> 'critical'),
       p.published, p.as_of_date, p.detail
from ops.gate_results g
left join lateral (
    select l.published, l.as_of_date, l.detail from ops.publish_log l
    where l.run_id = g.run_id and l.logged_at >= g.checked_at
      and not exists (  -- a later gate run of the same run id owns a later publish
          select 1 from ops.gate_results n
          where n.run_id = g.run_id and n.checked_at > g.checked_at
            and n.checked_at <= l.logged_at)
    order by l.logged_at limit 1
) p on true
group by g.run_id, g.checked_at, p.published, p.as_of_date, p.detail
order by g.checked_at desc
limit %(nights)s
"""

_CHECKS = """
select expectation, run_id, checked_at, suite, relation, severity, observed_value, passed
from ops.gate_results
where (run_id, checked_at) in (select * from unnest(%(runs)s::text[], %(times)s::timestamptz[]))
"""


def read_history(url: str, nights: int = DEFAULT_NIGHTS):
    """The last `nights` gate runs, newest first, and each run's checks by name."""
    with psycopg.connect(url) as conn:
        runs = [GateRun(*r) for r in conn.execute(_RUNS, {"nights": nights})]
        checks: dict[tuple[str, dt.datetime], dict[str, CheckRow]] = {r.key: {} for r in runs}
        if runs:
            rows = conn.execute(
                _CHECKS,
                {"runs": [r.run_id for r in runs], "times": [r.checked_at for r in runs]},
            )
            for name, run_id, at, suite, relation, severity, observed, passed in rows:
                checks[(run_id, at)][name] = CheckRow(
                    name, suite, relation, severity, observed, passed
                )
    return runs, checks


def write_gate_page(url: str, folder: str | Path, nights: int = DEFAULT_NIGHTS) -> Path:
    """Write `gate.html` into `folder` (the night's report folder); returns its path."""
    runs, checks = read_history(url, nights)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PAGE_NAME
    path.write_text(render(runs, checks), encoding="utf-8")
    return path


# --- rendering ------------------------------------------------------------------------------

_CSS = """
:root{--fg:#1b1b1b;--muted:#555;--line:#c9c9c9;--pass:#0b6b2b;--fail:#a4161a;--warn:#7a4d00}
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
margin:0 auto;padding:1rem;max-width:80rem}
h1{font-size:1.6rem;margin:.2rem 0 .6rem}h2{font-size:1.25rem;margin:1.8rem 0 .4rem}
p{margin:.4rem 0}.muted{color:var(--muted)}
.verdict{display:inline-block;border:2px solid currentColor;border-radius:4px;
padding:.1rem .5rem;font-weight:700}
.pass{color:var(--pass)}.fail{color:var(--fail)}.warn{color:var(--warn)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.6rem 0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f1f1f1}
th[scope=row]{font-weight:600;max-width:20rem}
td.observed{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;
overflow-wrap:anywhere;min-width:16rem;max-width:36rem}
td.num{text-align:right}
@media print{.scroll{overflow:visible}body{max-width:none}}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _breakable(name: str) -> str:
    """A dotted check name that may wrap after its dots (no text added: <wbr>)."""
    return ".<wbr>".join(_e(part) for part in name.split("."))


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _result_word(passed: bool, severity: str) -> tuple[str, str]:
    """(word, css class): a failed warning is not a blocked night, and says so."""
    if passed:
        return "Passed", "pass"
    return ("Failed", "fail") if severity == CRITICAL else ("Failed (warning)", "warn")


def _outcome(run: GateRun) -> str:
    if run.published is None:
        return "not published"
    if run.published:
        return f"published as of {run.as_of_date}" if run.as_of_date else "published"
    if run.passed:
        return "not published: newer marts are published"
    return "blocked: previous marts kept"


def render(runs: list[GateRun], checks: dict) -> str:
    title = "Quality gate"
    if not runs:
        body = "<h1>Quality gate</h1><p>No gate run is recorded in this warehouse yet.</p>"
        return _page(title, body, "")
    latest = runs[0]
    verdict, cls = ("Passed", "pass") if latest.passed else ("Blocked", "fail")
    current = checks[latest.key]
    order = sorted(
        current.values(),
        key=lambda c: (c.passed, c.severity != CRITICAL, c.name),  # failures first
    )
    earlier = runs[1:]
    parts = [
        f"<h1>Quality gate: <span class='verdict {cls}' id='verdict' "
        f"data-verdict='{verdict.lower()}'>{verdict}</span></h1>",
        "<p>Every check the gate ran on the built marts before publishing. A failed "
        "<strong>critical</strong> check blocks the night: the previous night's marts stay "
        "published. A failed <strong>warning</strong> is reported and the night publishes.</p>",
        "<dl class='facts'>",
        f"<dt>Run</dt><dd id='run-id'>{_e(latest.run_id)}</dd>",
        f"<dt>Checked</dt><dd id='checked-at'>{_time(latest.checked_at)}</dd>",
        f"<dt>Checks</dt><dd id='check-count' data-value='{latest.checks}'>{latest.checks}</dd>",
        f"<dt>Critical failures</dt><dd id='critical-failures' "
        f"data-value='{latest.failed_critical}'>{latest.failed_critical}</dd>",
        f"<dt>Warnings</dt><dd id='warnings' data-value='{latest.failed_warning}'>"
        f"{latest.failed_warning}</dd>",
        f"<dt>Outcome</dt><dd id='outcome'>{_e(_outcome(latest))}</dd>",
        "</dl>",
        "<h2 id='checks-heading'>Checks of this run</h2>",
        _checks_table(order, earlier, checks),
        "<h2 id='history-heading'>Last nights</h2>",
        _history_table(runs),
        "<p class='muted'>From <code>ops.gate_results</code> and <code>ops.publish_log</code>. "
        "The history lists the last gate runs, newest first; a night whose gate ran twice (a "
        "retried task) appears twice.</p>",
    ]
    return _page(f"{title}: {verdict} ({latest.run_id})", "\n".join(parts), latest.run_id)


def _checks_table(order: list[CheckRow], earlier: list[GateRun], checks: dict) -> str:
    head = "".join(
        f"<th scope='col'>Earlier: {_e(r.run_id)}<br><span class='muted'>"
        f"{_time(r.checked_at)}</span></th>"
        for r in earlier
    )
    rows = []
    for c in order:
        word, cls = _result_word(c.passed, c.severity)
        past = []
        for r in earlier:
            before = checks[r.key].get(c.name)
            if before is None:
                past.append("<td data-history='absent'>not run</td>")
            else:
                w, k = _result_word(before.passed, before.severity)
                past.append(
                    f"<td class='{k}' data-history='{'pass' if before.passed else 'fail'}'>{w}</td>"
                )
        rows.append(
            f"<tr data-check='{_e(c.name)}' data-passed='{str(c.passed).lower()}' "
            f"data-severity='{_e(c.severity)}'>"
            f"<th scope='row'>{_breakable(c.name)}</th>"
            f"<td class='{cls}' data-field='result'><strong>{word}</strong></td>"
            f"<td data-field='severity'>{_e(c.severity)}</td>"
            f"<td data-field='relation'>{_e(c.relation)}</td>"
            f"<td class='observed' data-field='observed'>{_e(c.observed_value)}</td>"
            + "".join(past)
            + "</tr>"
        )
    return (
        "<div class='scroll' role='region' aria-labelledby='checks-heading' tabindex='0'>"
        "<table id='checks'><caption>Each check, failures first: result, severity, the "
        "relation checked, the observed value, and its result in earlier runs</caption>"
        "<thead><tr><th scope='col'>Check</th><th scope='col'>Result</th>"
        "<th scope='col'>Severity</th><th scope='col'>Relation</th>"
        f"<th scope='col'>Observed value</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _history_table(runs: list[GateRun]) -> str:
    rows = []
    for r in runs:
        verdict, cls = ("Passed", "pass") if r.passed else ("Blocked", "fail")
        rows.append(
            f"<tr data-run='{_e(r.run_id)}' data-verdict='{verdict.lower()}' "
            f"data-checked-at='{r.checked_at.astimezone(dt.UTC).isoformat()}'>"
            f"<th scope='row'>{_e(r.run_id)}</th>"
            f"<td>{_time(r.checked_at)}</td>"
            f"<td class='num' data-field='checks'>{r.checks}</td>"
            f"<td class='num' data-field='critical'>{r.failed_critical}</td>"
            f"<td class='num' data-field='warnings'>{r.failed_warning}</td>"
            f"<td class='{cls}' data-field='verdict'><strong>{verdict}</strong></td>"
            f"<td data-field='outcome'>{_e(_outcome(r))}</td>"
            "</tr>"
        )
    return (
        "<div class='scroll' role='region' aria-labelledby='history-heading' tabindex='0'>"
        "<table id='history'><caption>Gate runs, newest first</caption>"
        "<thead><tr><th scope='col'>Run</th><th scope='col'>Checked</th>"
        "<th scope='col'>Checks</th><th scope='col'>Critical failures</th>"
        "<th scope='col'>Warnings</th><th scope='col'>Gate</th>"
        "<th scope='col'>Outcome</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _page(title: str, body: str, run_id: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body data-run-id='{_e(run_id)}'><main>\n{body}\n</main></body></html>\n"
    )

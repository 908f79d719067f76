"""Measures against their ceilings or floors, and their aims (issue 19).

A measure holds a value and, when there is one, the ceiling or floor measured in the same run
(a plain COPY for the writer, a count(*) scan for a build), so its ratio holds on a noisy
machine where the value alone does not. Its aim is a bound on the value or on the ratio; an
aim set for a full scale is not judged at a reduced one (met is None: "n/a").
"""

from __future__ import annotations

import operator
from dataclasses import asdict, dataclass, field

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Aim:
    op: str  # one of <, <=, >, >=
    target: float
    on: str = "value"  # "value" or "ratio"
    scale: str | None = None  # the aim is set for this scale only (None: any run)

    def __post_init__(self):
        if self.op not in _OPS or self.on not in ("value", "ratio"):
            raise ValueError(f"bad aim {self}")

    def text(self, unit: str) -> str:
        target = (
            fmt_ratio(self.target) if self.on == "ratio" else f"{fmt_number(self.target)} {unit}"
        )
        at = f" at {self.scale}" if self.scale else ""
        return f"{self.op} {target}{at}"


@dataclass
class Measure:
    key: str  # stable id, e.g. "transform.full_build.S"
    label: str
    value: float | None
    unit: str
    scale: str | None = None  # the scale it ran at (S, M, S-4w, "100k records"...)
    baseline: float | None = None  # the ceiling or floor, in `unit`
    baseline_kind: str | None = None  # "ceiling" or "floor"
    baseline_label: str | None = None
    aim: Aim | None = None
    note: str = ""  # where the time goes
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        """True or False against the aim; None without an aim, a value, or the aim's scale."""
        if self.aim is None or self.value is None:
            return None
        if self.aim.scale is not None and self.aim.scale != self.scale:
            return None
        got = self.ratio if self.aim.on == "ratio" else self.value
        return None if got is None else _OPS[self.aim.op](got, self.aim.target)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["aim"] = (
            None if self.aim is None else {**asdict(self.aim), "text": self.aim.text(self.unit)}
        )
        d["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        d["met"] = self.met
        return d


def met_word(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "n/a"}[met]


def fmt_number(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(r: float | None) -> str:
    """A share below 1 as a percentage, a multiple as 1.07x or 3290x."""
    if r is None:
        return "-"
    if r < 1:
        return f"{r:.0%}"
    return f"{r:.2f}x" if r < 10 else f"{r:,.0f}x"


def counts(measures: list[dict]) -> dict[str, int]:
    """How many measures met their aim, missed it, or had none to judge (n/a)."""
    out = {"measures": len(measures), "met": 0, "not_met": 0, "n/a": 0}
    for m in measures:
        out[{True: "met", False: "not_met", None: "n/a"}[m["met"]]] += 1
    return out


def table_rows(measures: list[dict]) -> list[tuple[str, ...]]:
    """measure, scale, value, ceiling/floor, ratio, aim, met: one row per measure."""
    rows = []
    for m in measures:
        base = "-"
        if m["baseline"] is not None:
            base = f"{m['baseline_kind']} {fmt_number(m['baseline'])} ({m['baseline_label']})"
        rows.append(
            (
                m["label"],
                m["scale"] or "-",
                f"{fmt_number(m['value'])} {m['unit']}",
                base,
                fmt_ratio(m["ratio"]),
                m["aim"]["text"] if m["aim"] else "-",
                met_word(m["met"]),
            )
        )
    return rows


HEADERS = ("measure", "scale", "value", "ceiling / floor", "ratio", "aim", "met")


def text_table(measures: list[dict]) -> str:
    rows = [HEADERS, *table_rows(measures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

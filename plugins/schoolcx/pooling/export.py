"""District side: export a district's de-identified aggregates for its consortium's hub.

Reads the published marts only (what the gate passed): marts.district_period_figures (each
period's figures with the counts behind them), marts.fct_survey_item_results and
marts.dim_district, in one snapshot, as of the latest publish. No row about a person, no hash
of one, no free text leaves: the columns written are listed in layout.py, and the tests scan
the files. Written to `<dest>/<consortium_id>/<district_id>/<extract_id>/`, the signature last
(a folder without it is still being written).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.pooling import files, layout
from schoolcx.pooling.manifest import (
    KIND_EXTRACT,
    MANIFEST,
    SCHEMA_VERSION,
    SIGNATURE,
    deployment_version,
    fingerprint,
    manifest_bytes,
    new_extract_id,
    pooling_key,
    sha256,
    sign,
)


class ExportError(RuntimeError):
    """Nothing to export, or nothing that may be exported (names district and reason)."""


@dataclass(frozen=True)
class ExportResult:
    district_id: str
    consortium_id: str
    extract_id: str
    folder: str
    as_of: dt.date
    row_counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        counts = ", ".join(f"{n} {f.removesuffix('.parquet')}" for f, n in self.row_counts.items())
        return f"{self.district_id} -> {self.consortium_id}: {counts} (as of {self.as_of})"


def _select(columns: tuple[tuple[str, str], ...], table: str, order: str) -> str:
    cols = ", ".join(layout.names(columns))
    return f"select {cols} from marts.{table} where district_id = %s order by {order}"


def published_as_of(conn: psycopg.Connection) -> dt.date | None:
    row = conn.execute(
        "select as_of_date from ops.publish_log where published and as_of_date is not null"
        " order by logged_at desc limit 1"
    ).fetchone()
    return row[0] if row else None


def _periods(figures: list[tuple], survey: list[tuple]) -> dict:
    """What the extract covers: per period type its first and last period_start and count."""
    out: dict = {}
    for row in figures:
        kind, start = row[1], row[2].isoformat()
        span = out.setdefault(kind, {"first": start, "last": start, "count": 0})
        span["first"], span["last"] = min(span["first"], start), max(span["last"], start)
        span["count"] += 1
    return {
        "district_period_figures": dict(sorted(out.items())),
        "survey_school_years": sorted({r[1] for r in survey}),
    }


def export_district(
    url: str,
    cfg: DeploymentConfig,
    district_id: str,
    consortium_id: str,
    dest: str,
    now: dt.datetime | None = None,
) -> ExportResult:
    """Write one district's extract for one consortium; returns where and how many rows."""
    key = pooling_key(district_id)  # before reading anything: no key, no extract
    with psycopg.connect(url) as conn:
        conn.execute("set transaction isolation level repeatable read")  # one snapshot
        as_of = published_as_of(conn)
        if as_of is None:
            raise ExportError("nothing is published yet (ops.publish_log): run the pipeline first")
        figures = conn.execute(
            _select(layout.FIGURES_COLUMNS, "district_period_figures", "period_type, period_start"),
            (district_id,),
        ).fetchall()
        survey = conn.execute(
            _select(layout.SURVEY_COLUMNS, "fct_survey_item_results", "school_year, item_code"),
            (district_id,),
        ).fetchall()
        district = conn.execute(
            _select(layout.DISTRICT_COLUMNS, "dim_district", "district_id"), (district_id,)
        ).fetchall()
    if not district or not figures:
        raise ExportError(
            f"district {district_id}: no published rows in marts.dim_district / "
            "marts.district_period_figures (is it in this deployment, and published?)"
        )
    if consortium_id not in (district[0][4] or []):
        raise ExportError(f"district {district_id} is not a member of consortium {consortium_id}")
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    extract_id = new_extract_id(as_of, created)
    data = {
        layout.FIGURES_FILE: files.encode(figures, layout.FIGURES_COLUMNS),
        layout.SURVEY_FILE: files.encode(survey, layout.SURVEY_COLUMNS),
        layout.DISTRICT_FILE: files.encode(district, layout.DISTRICT_COLUMNS),
    }
    counts = {
        layout.FIGURES_FILE: len(figures),
        layout.SURVEY_FILE: len(survey),
        layout.DISTRICT_FILE: len(district),
    }
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND_EXTRACT,
        "extract_id": extract_id,
        "district_id": district_id,
        "consortium_id": consortium_id,
        "as_of": as_of.isoformat(),
        "created_at": created.isoformat(),
        "periods": _periods(figures, survey),
        "row_counts": counts,
        "files": {name: sha256(body) for name, body in data.items()},
        "deployment_version": deployment_version(),
        "config_fingerprint": fingerprint(cfg.model_dump_json()),
    }
    body = manifest_bytes(manifest)
    folder = files.write_folder(
        dest,
        [consortium_id, district_id, extract_id],
        [*data.items(), (MANIFEST, body), (SIGNATURE, sign(body, key).encode())],
    )
    return ExportResult(district_id, consortium_id, extract_id, folder, as_of, counts)


def export_all(
    url: str, cfg: DeploymentConfig, dest: str, now: dt.datetime | None = None
) -> list[ExportResult]:
    """One extract per district of the config and consortium it belongs to."""
    pairs = [(d.district_id, c) for d in cfg.districts for c in d.consortium_ids]
    if not pairs:
        raise ExportError(f"config {cfg.name!r}: no district belongs to a consortium")
    return [export_district(url, cfg, d, c, dest, now=now) for d, c in pairs]

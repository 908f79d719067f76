"""A consortium hub's benchmark run: dbt over the pooled aggregates, the gate, write-audit-publish.

The same dbt models as a district's nightly (peer_benchmarks, yoy_trends and dim_district,
one implementation) run with var benchmark_input = 'pooled', so their seam models read the
`pool` schema the importer loads instead of a district's own figures; only the models a hub
needs are selected (the seams and their children: no staging, no facts). Then the nightly's
gate (schoolcx.quality, only the checks of the hub's marts) and its write-audit-publish
(schoolcx.publish) make them the hub's `marts`. k and n are the hub config's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Protocol

import psycopg

from schoolcx import pipeline
from schoolcx.config import Benchmarks, DeploymentConfig
from schoolcx.marts import HUB_MARTS
from schoolcx.paths import local_dir
from schoolcx.publish import publish, raise_if_blocked
from schoolcx.quality import run_gate
from schoolcx.settings import hub_config_path
from schoolcx.warehouse import migrate

log = logging.getLogger(__name__)

# The seam models and everything built on them, plus dim_district (which reads pool.districts
# in pooled mode). Cautious indirect selection: only tests whose parents are all selected, so
# a relationships test from a fact the hub never builds is not run.
HUB_SELECTION = ("dim_district", "int_benchmark_district_periods+", "int_benchmark_survey_items+")


class HubSettings(Protocol):
    """What the hub build needs of the hub config (schoolcx.pooling.hub_config.HubConfig)."""

    consortium_id: str
    k: int
    n: int


class NothingPooled(RuntimeError):
    """The pool holds no district's figures yet: there is nothing to benchmark."""


def current_hub_config():
    """The hub config of this deployment (env SCHOOLCX_HUB_CONFIG), as the hub DAG reads it."""
    from schoolcx.pooling.hub_config import load_hub_config

    return load_hub_config(hub_config_path())


def hub_deployment_config(hub: HubSettings) -> DeploymentConfig:
    """The deployment config the gate and publish read at a hub: k and n from the hub config,
    the gate's defaults, no districts of its own (a hub extracts nothing)."""
    return DeploymentConfig(
        name=f"consortium hub {hub.consortium_id}",
        districts=[],
        benchmarks=Benchmarks(k_min_districts=hub.k, n_min_observations=hub.n),
    )


def pooled_as_of(url: str) -> dt.date:
    """The hub's as-of date: the latest as-of date any pooled district's extract reaches (the
    end of its school-year-to-date span). Publishing never moves the hub's marts backwards."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select max(period_end) from pool.district_period_figures"
            " where period_type = 'school_year_to_date'"
        ).fetchone()
        if row[0] is None:
            row = conn.execute(
                "select max(period_end) from pool.district_period_figures"
            ).fetchone()
    if row[0] is None:
        raise NothingPooled("pool.district_period_figures is empty: import extracts first")
    return row[0]


def hub_dbt_vars(hub: HubSettings) -> dict:
    return {
        "benchmark_input": "pooled",
        "k_min_districts": hub.k,
        "n_min_observations": hub.n,
    }


def build(url: str, hub: HubSettings, target_dir: Path | None = None) -> None:
    """dbt build of the hub's models in pooled mode, into `build` (tests included).

    Its own target folder: the nightly's cosmos DAG reads dbt_project/target/manifest.json,
    which a pooled-mode parse must never overwrite.
    """
    target = Path(target_dir or local_dir() / "dbt_hub")
    args = [
        "build",
        "--select",
        *HUB_SELECTION,
        "--indirect-selection",
        "cautious",
        "--vars",
        json.dumps(hub_dbt_vars(hub)),
        "--target-path",
        str(target / "target"),
        "--log-path",
        str(target / "logs"),
    ]
    pipeline.dbt(url, args)


def build_and_publish(
    url: str,
    hub: HubSettings,
    *,
    run_id: str | None = None,
    context_dir: Path | None = None,
    data_docs_dir: Path | None = None,
    dbt_target_dir: Path | None = None,
) -> dict[str, int]:
    """Build the pooled benchmarks, gate them, publish them into the hub's `marts`.

    Raises NothingPooled before building when nothing is pooled, CalledProcessError when a
    dbt model or test fails, and GateBlocked (nothing published) when a critical check fails.
    Returns the published row count of each hub mart and the peer rows suppressed.
    """
    migrate(url)
    as_of = pooled_as_of(url)
    started = dt.datetime.now(dt.UTC)
    run_id = run_id or f"hub-{hub.consortium_id}-{started:%Y%m%dT%H%M%SZ}"
    cfg = hub_deployment_config(hub)
    log.info(
        "hub %s: building pooled benchmarks as of %s (run %s)", hub.consortium_id, as_of, run_id
    )
    build(url, hub, dbt_target_dir)
    gate = run_gate(
        url,
        cfg,
        run_id,
        started,
        context_dir=context_dir,
        data_docs_dir=data_docs_dir,
        marts=HUB_MARTS,
    )
    log.info("%s", gate.summary())
    # no data interval: a hub run covers whatever the pool holds, up to `as_of`
    result = raise_if_blocked(
        publish(url, cfg, run_id, None, None, gate, as_of=as_of, marts=HUB_MARTS)
    )
    if result.skipped:
        log.warning("hub %s: %s", hub.consortium_id, result.skipped)
    counts = dict(result.row_counts)
    if result.published:
        with psycopg.connect(url) as conn:
            counts["suppressed_peer_rows"] = conn.execute(
                "select count(*) from marts.peer_benchmarks where suppression_reason is not null"
            ).fetchone()[0]
    return counts

"""The demo's consortium pooling round (issue 15): two district deployments export, a hub
imports, benchmarks, publishes and returns, and each district receives its peer figures.

The demo world's districts of the pooled consortium are split into two deployments, each with
its own deployment config (its own districts, name and config fingerprint) and each district
with its own pooling key. To keep the demo to one night's pipeline, both deployments publish
into the demo's one warehouse: what a deployment exports is its own districts' published
aggregates, which do not depend on which other districts share its warehouse. The hub is a
separate database that never reads the district warehouse: only the signed files in its inbox.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from schoolcx.config import DeploymentConfig

HUB_DATABASE = "schoolcx_hub"


@dataclass
class PoolingRound:
    consortium_id: str
    deployments: dict[str, list[str]] = field(default_factory=dict)  # name -> district ids
    exported: int = 0
    imported: int = 0
    rejected: int = 0
    missing: list[str] = field(default_factory=list)
    hub_counts: dict[str, int] = field(default_factory=dict)
    returned: int = 0
    received: int = 0
    hub_url: str = ""

    def lines(self) -> list[str]:
        split = "; ".join(f"{name}: {len(ids)} districts" for name, ids in self.deployments.items())
        return [
            f"pooling round, consortium {self.consortium_id} ({split})",
            f"  {self.exported} extracts exported, {self.imported} pooled at the hub, "
            f"{self.rejected} refused, {len(self.missing)} roster districts missing",
            f"  hub published {self.hub_counts.get('peer_benchmarks', 0)} peer benchmark rows "
            f"({self.hub_counts.get('suppressed_peer_rows', 0)} suppressed), "
            f"{self.hub_counts.get('yoy_trends', 0)} year-over-year rows",
            f"  {self.returned} returns written, {self.received} received by the districts",
        ]


def pooled_consortium(cfg: DeploymentConfig) -> str:
    """The consortium with the most demo districts: the one whose peers can meet k."""
    counts: dict[str, int] = {}
    for d in cfg.districts:
        for c in d.consortium_ids:
            counts[c] = counts.get(c, 0) + 1
    return max(sorted(counts), key=lambda c: counts[c])


def split_deployments(cfg: DeploymentConfig, consortium_id: str) -> dict[str, DeploymentConfig]:
    """The consortium's districts in two deployments (first half, second half)."""
    members = [d for d in cfg.districts if consortium_id in d.consortium_ids]
    half = (len(members) + 1) // 2
    parts = {"deployment-a": members[:half], "deployment-b": members[half:]}
    return {
        name: cfg.model_copy(update={"name": f"{cfg.name}-{name}", "districts": districts})
        for name, districts in parts.items()
    }


def ensure_pooling_keys(district_ids: list[str], folder: Path) -> None:
    """Each district's pooling key, as a deployment and its hub would hold it: an Airflow
    connection (AIRFLOW_CONN_SCHOOLCX_POOL_<id>). The demo keeps generated keys in a file of
    its own (0600) so a second run signs with the same keys."""
    path = folder / "pooling-keys.json"
    keys = json.loads(path.read_text()) if path.exists() else {}
    for district_id in district_ids:
        keys.setdefault(district_id, secrets.token_hex(32))
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=1))
    path.chmod(0o600)
    for district_id in district_ids:
        os.environ[f"AIRFLOW_CONN_SCHOOLCX_POOL_{district_id}"] = json.dumps(
            {"conn_type": "generic", "password": keys[district_id]}
        )


def hub_database(url: str) -> str:
    """The hub's own database on the demo's PostgreSQL server (created when missing)."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (HUB_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'create database "{HUB_DATABASE}"')
    return psycopg.conninfo.make_conninfo(url, dbname=HUB_DATABASE)


def write_hub_config(folder: Path, consortium_id: str, name: str, districts: list[str], cfg):
    path = folder / "hub.yml"
    path.write_text(
        json.dumps(  # JSON is YAML
            {
                "consortium_id": consortium_id,
                "name": f"{name} hub",
                "districts": districts,
                "k": cfg.benchmarks.k_min_districts,
                "n": cfg.benchmarks.n_min_observations,
                "inbox": str(folder / "inbox"),
                "outbox": str(folder / "outbox"),
            },
            indent=1,
        )
    )
    return path


def already_received(url: str, district_ids: list[str], as_of) -> bool:
    """Every pooled district already holds the hub's figures for this as-of (a rerun)."""
    with psycopg.connect(url) as conn:
        if not conn.execute(
            "select to_regclass('marts.consortium_peer_benchmarks') is not null"
        ).fetchone()[0]:
            return False
        got = conn.execute(
            "select count(distinct i.district_id) from ops.pool_imports as i"
            " where i.direction = 'district_receive' and i.status = 'accepted'"
            " and i.as_of >= %s and i.district_id = any(%s)",
            (as_of, district_ids),
        ).fetchone()[0]
    return got == len(district_ids)


def run_pooling_round(url: str, cfg: DeploymentConfig, as_of, folder: Path) -> PoolingRound:
    from schoolcx.pooling.export import export_all
    from schoolcx.pooling.hub_build import build_and_publish
    from schoolcx.pooling.hub_config import load_hub_config
    from schoolcx.pooling.importer import import_inbox
    from schoolcx.pooling.returns import receive_returns, write_returns
    from schoolcx.warehouse import migrate

    consortium_id = pooled_consortium(cfg)
    names = {c.consortium_id: c.name for c in cfg.consortiums}
    deployments = split_deployments(cfg, consortium_id)
    members = [d.district_id for dep in deployments.values() for d in dep.districts]
    ensure_pooling_keys(members, folder)
    result = PoolingRound(
        consortium_id,
        {name: [d.district_id for d in dep.districts] for name, dep in deployments.items()},
    )
    hub_cfg = load_hub_config(
        write_hub_config(
            folder, consortium_id, names.get(consortium_id, consortium_id), members, cfg
        )
    )
    # each deployment exports its own districts (a district in two consortiums sends each hub
    # its extract; only this hub's inbox is read here)
    for dep in deployments.values():
        result.exported += len(export_all(url, dep, str(folder / "extracts")))
    hub_url = hub_database(url)
    result.hub_url = hub_url
    migrate(hub_url)
    imported = import_inbox(hub_url, hub_cfg, source=str(folder / "extracts" / consortium_id))
    result.imported = imported.count("accepted")
    result.rejected = imported.count("rejected")
    result.missing = [m.district_id for m in imported.missing]
    result.hub_counts = build_and_publish(hub_url, hub_cfg)
    result.returned = len(write_returns(hub_url, hub_cfg).written)
    for dep in deployments.values():
        result.received += receive_returns(url, dep, hub_cfg.outbox).count("accepted")
    return result

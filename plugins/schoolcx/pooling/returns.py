"""The hub's answer: each district its own rows of the consortium's benchmarks.

Hub side (`write_returns`): from the hub's published marts, for each roster district only the
rows whose district_id is that district (its own value beside the peer group's aggregates;
never another district's own value), signed with that district's key, to
`<outbox>/<district_id>/<return_id>/`.

District side (`receive_returns`): verified like an extract (manifest, schema version, the
district's key, checksums, every row the district's own), then loaded into
`marts.consortium_peer_benchmarks`, which BI reads under the same district row-level security
as the other marts. A newer return replaces the district's rows of that consortium; an older
one never replaces a newer. yoy_trends travel in the return for completeness but are not
loaded: a district's year over year compares only its own figures, which it already has.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.pooling import files, layout
from schoolcx.pooling.export import published_as_of
from schoolcx.pooling.hub_config import HubConfig
from schoolcx.pooling.importer import FileOutcome, record
from schoolcx.pooling.manifest import (
    KIND_RETURN,
    MANIFEST,
    SCHEMA_VERSION,
    SIGNATURE,
    deployment_version,
    fingerprint,
    manifest_bytes,
    new_extract_id,
    pooling_key,
    recency,
    sha256,
    sign,
)
from schoolcx.pooling.verify import Rejection, verify_folder
from schoolcx.publish.roles import apply_mart_access

RECEIVED_TABLE = "consortium_peer_benchmarks"
RECEIVE_LOCK = 0x5C0C_9002

_SQL_TYPES = {"text": "text", "date": "date", "int": "integer", "numeric": "numeric"}
_CREATE_RECEIVED = (
    f"create table if not exists marts.{RECEIVED_TABLE} ("
    + ", ".join(f"{c} {_SQL_TYPES[k]}" for c, k in layout.PEER_COLUMNS)
    + ", consortium_id text not null, hub_extract_id text not null,"
    " received_at timestamptz not null,"
    " primary key (consortium_id, district_id, metric, period_type, period_start))"
)


@dataclass
class ReturnResult:
    written: list[tuple[str, str, dict]] = field(default_factory=list)  # district, folder, counts
    without_rows: list[str] = field(default_factory=list)  # roster districts with no rows

    def summary(self) -> str:
        rows = sum(sum(c.values()) for _, _, c in self.written)
        return (
            f"{len(self.written)} returns written ({rows} rows), "
            f"{len(self.without_rows)} roster districts without benchmark rows"
        )


def write_returns(
    url: str, hub: HubConfig, dest: str | None = None, now: dt.datetime | None = None
) -> ReturnResult:
    """One signed return per roster district that has rows in the hub's published marts."""
    result = ReturnResult()
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    with psycopg.connect(url) as conn:
        conn.execute("set transaction isolation level repeatable read")
        as_of = published_as_of(conn)
        if as_of is None:
            raise RuntimeError("the hub has published no benchmarks yet (ops.publish_log)")
        per_district = {}
        for district_id in hub.districts:
            peer = conn.execute(
                f"select {', '.join(layout.names(layout.PEER_COLUMNS))} from marts.peer_benchmarks"
                " where district_id = %s order by metric, period_type, period_start",
                (district_id,),
            ).fetchall()
            yoy = conn.execute(
                f"select {', '.join(layout.names(layout.YOY_COLUMNS))} from marts.yoy_trends"
                " where district_id = %s order by metric, school_year",
                (district_id,),
            ).fetchall()
            per_district[district_id] = (peer, yoy)
    for district_id, (peer, yoy) in per_district.items():
        if not peer:
            result.without_rows.append(district_id)
            continue
        key = pooling_key(district_id)
        return_id = new_extract_id(as_of, created)
        data = {
            layout.PEER_FILE: files.encode(peer, layout.PEER_COLUMNS),
            layout.YOY_FILE: files.encode(yoy, layout.YOY_COLUMNS),
        }
        counts = {layout.PEER_FILE: len(peer), layout.YOY_FILE: len(yoy)}
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND_RETURN,
            "extract_id": return_id,
            "district_id": district_id,
            "consortium_id": hub.consortium_id,
            "as_of": as_of.isoformat(),
            "created_at": created.isoformat(),
            "periods": {"peer_period_types": sorted({r[2] for r in peer})},
            "row_counts": counts,
            "files": {name: sha256(body) for name, body in data.items()},
            "deployment_version": deployment_version(),
            "config_fingerprint": fingerprint(hub.model_dump_json()),
        }
        body = manifest_bytes(manifest)
        folder = files.write_folder(
            dest or hub.outbox,
            [district_id, return_id],
            [*data.items(), (MANIFEST, body), (SIGNATURE, sign(body, key).encode())],
        )
        result.written.append((district_id, folder, counts))
    return result


@dataclass
class ReceiveResult:
    run_id: str
    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> str:
        return (
            f"{self.count('accepted')} returns loaded, {self.count('rejected')} rejected, "
            f"{self.count('already_pooled')} already loaded"
        )


def _membership_check(cfg: DeploymentConfig, folder_district: str):
    def check(manifest: dict) -> None:
        district_id = manifest["district_id"]
        if district_id != folder_district:
            raise Rejection(
                "roster",
                f"return for district {district_id} found under {folder_district}'s folder",
            )
        if district_id not in {d.district_id for d in cfg.districts}:
            raise Rejection("roster", f"district {district_id} is not in this deployment's config")
        if manifest["consortium_id"] not in cfg.district(district_id).consortium_ids:
            raise Rejection(
                "roster",
                f"district {district_id} is not a member of consortium {manifest['consortium_id']}",
            )

    return check


def _receive_one(url: str, cfg: DeploymentConfig, district_id: str, folder: str, run_id: str):
    v = None
    try:
        v = verify_folder(
            folder, KIND_RETURN, layout.RETURN_FILES, _membership_check(cfg, district_id)
        )
        m = v.manifest
        with psycopg.connect(url) as conn:
            conn.execute("select pg_advisory_xact_lock(%s)", (RECEIVE_LOCK,))
            for extract_id, as_of, created in conn.execute(
                "select extract_id, as_of, extract_created_at from ops.pool_imports"
                " where direction = 'district_receive' and status = 'accepted'"
                " and district_id = %s and consortium_id = %s",
                (district_id, m["consortium_id"]),
            ).fetchall():
                if extract_id == m["extract_id"]:
                    conn.rollback()
                    return FileOutcome(folder, "already_pooled", district_id, extract_id)
                if (as_of, created) > recency(m):
                    raise Rejection(
                        "older",
                        f"return {m['extract_id']} is older than the loaded return {extract_id}",
                    )
            conn.execute(_CREATE_RECEIVED)
            apply_mart_access(conn, RECEIVED_TABLE)
            conn.execute(
                f"delete from marts.{RECEIVED_TABLE} where consortium_id = %s and district_id = %s",
                (m["consortium_id"], district_id),
            )
            cols = [
                *layout.names(layout.PEER_COLUMNS),
                "consortium_id",
                "hub_extract_id",
                "received_at",
            ]
            now = dt.datetime.now(dt.UTC)
            with conn.cursor() as cur:
                cur.executemany(
                    f"insert into marts.{RECEIVED_TABLE} ({', '.join(cols)})"
                    f" values ({', '.join(['%s'] * len(cols))})",
                    [
                        (*r, m["consortium_id"], m["extract_id"], now)
                        for r in v.rows[layout.PEER_FILE]
                    ],
                )
            outcome = FileOutcome(
                folder, "accepted", district_id, m["extract_id"], row_counts=dict(m["row_counts"])
            )
            record(conn, run_id, "district_receive", outcome, m, v.manifest_sha256)
        return outcome
    except Rejection as exc:
        m = v.manifest if v else {}
        outcome = FileOutcome(
            folder, "rejected", district_id, m.get("extract_id"), exc.check, exc.reason
        )
        with psycopg.connect(url) as conn:
            record(
                conn,
                run_id,
                "district_receive",
                outcome,
                m or None,
                v.manifest_sha256 if v else None,
            )
        return outcome


def receive_returns(url: str, cfg: DeploymentConfig, source: str) -> ReceiveResult:
    """Load every complete return under source/<district_id>/ for this config's districts,
    oldest first."""
    result = ReceiveResult(run_id=f"pool-receive:{uuid.uuid4().hex[:12]}")
    for d in cfg.districts:
        base = f"{source.rstrip('/')}/{d.district_id}"
        folders = files.find_folders(base, SIGNATURE)
        for folder in sorted(folders, key=lambda f: f.rstrip("/").rsplit("/", 1)[-1]):
            result.outcomes.append(_receive_one(url, cfg, d.district_id, folder, result.run_id))
    return result

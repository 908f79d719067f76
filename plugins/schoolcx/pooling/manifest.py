"""What an extract's sender and receiver agree on: the manifest, its signature, the keys.

A manifest (JSON) lists the extract's files with their SHA-256 and row counts; it is signed
with HMAC-SHA-256 under the district's pooling key, so the checksums in it tie every file to
the key. The key is a secret: the Airflow connection `schoolcx_pool_<district_id>` (its
password), read like every other connection (AIRFLOW_CONN_* or the secrets backend), never
the YAML config. A district's deployment holds its own key; the hub holds every member's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from importlib import metadata

from schoolcx.connections import ConnectionNotFound, get_connection

SCHEMA_VERSION = 1
KNOWN_SCHEMA_VERSIONS = frozenset({1})
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # written last: an extract folder without it is still being written
KIND_EXTRACT = "district_extract"
KIND_RETURN = "hub_return"

REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "schema_version": int,
    "kind": str,
    "extract_id": str,
    "district_id": str,
    "consortium_id": str,
    "as_of": str,
    "created_at": str,
    "periods": dict,
    "row_counts": dict,
    "files": dict,
    "deployment_version": str,
    "config_fingerprint": str,
}


class PoolingKeyMissing(LookupError):
    """No pooling key for a district (names the connection to define)."""


class ManifestError(ValueError):
    """A manifest that is not one (missing field, wrong type, not JSON)."""


def pooling_conn_id(district_id: str) -> str:
    return f"schoolcx_pool_{district_id}"


def pooling_key(district_id: str) -> bytes:
    """The district's pooling key: the password of connection schoolcx_pool_<district_id>."""
    conn_id = pooling_conn_id(district_id)
    try:
        conn = get_connection(conn_id)
    except ConnectionNotFound:
        raise PoolingKeyMissing(
            f"no pooling key for district {district_id}: define the Airflow connection "
            f"{conn_id!r} (its password is the key; AIRFLOW_CONN_{conn_id.upper()} or the "
            "secrets backend)"
        ) from None
    if not conn.password:
        raise PoolingKeyMissing(f"connection {conn_id!r} has no password (the pooling key)")
    return conn.password.encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def signature_matches(data: bytes, key: bytes, signature: bytes) -> bool:
    try:
        given = signature.decode("ascii").strip()
    except UnicodeDecodeError:
        return False
    return hmac.compare_digest(sign(data, key), given)


def manifest_bytes(manifest: dict) -> bytes:
    """The exact bytes that are signed (and written): sorted keys, so a rewrite is stable."""
    return (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()


def parse_manifest(data: bytes) -> dict:
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"not JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ManifestError("not a JSON object")
    for name, kind in REQUIRED_FIELDS.items():
        if name not in manifest:
            raise ManifestError(f"field {name!r} is missing")
        if not isinstance(manifest[name], kind) or isinstance(manifest[name], bool):
            raise ManifestError(f"field {name!r} is not a {getattr(kind, '__name__', kind)}")
    try:
        dt.date.fromisoformat(manifest["as_of"])
        created = dt.datetime.fromisoformat(manifest["created_at"])
    except ValueError as exc:
        raise ManifestError(f"as_of or created_at is not an ISO date/time: {exc}") from None
    if created.tzinfo is None:
        raise ManifestError("created_at has no UTC offset")
    return manifest


def recency(manifest: dict) -> tuple[dt.date, dt.datetime]:
    """How extracts of one district are ordered: the as-of date of the marts they came from,
    then when they were written (two exports of the same night: the later one wins)."""
    return (
        dt.date.fromisoformat(manifest["as_of"]),
        dt.datetime.fromisoformat(manifest["created_at"]),
    )


def new_extract_id(as_of: dt.date, created_at: dt.datetime) -> str:
    """Sortable and readable: the as-of date, then the UTC creation time to the microsecond."""
    return f"{as_of:%Y%m%d}-{created_at.astimezone(dt.UTC):%Y%m%dT%H%M%S%fZ}"


def deployment_version() -> str:
    try:
        return metadata.version("schoolcx")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "unknown"


def fingerprint(config_json: str) -> str:
    """A config's fingerprint: SHA-256 of its validated form (no secrets live in config)."""
    return sha256(config_json.encode())

"""The checks both receivers run on a folder before anything is loaded: manifest, schema
version, signature, checksums, file schemas. Each failure is a Rejection naming its check."""

from __future__ import annotations

from dataclasses import dataclass

from schoolcx.pooling import files
from schoolcx.pooling.manifest import (
    KNOWN_SCHEMA_VERSIONS,
    MANIFEST,
    SIGNATURE,
    ManifestError,
    PoolingKeyMissing,
    parse_manifest,
    pooling_key,
    sha256,
    signature_matches,
)


class Rejection(Exception):
    """A file refused by one check; str() is the reason."""

    def __init__(self, check: str, reason: str):
        super().__init__(reason)
        self.check = check
        self.reason = reason


@dataclass
class Verified:
    manifest: dict
    manifest_sha256: str
    rows: dict[str, list[tuple]]  # file name -> rows in layout column order


def read_manifest(folder: str, kind: str) -> tuple[dict, bytes]:
    body = files.read_or_none(folder, MANIFEST)
    if body is None:
        raise Rejection("manifest", f"{MANIFEST} is missing")
    try:
        manifest = parse_manifest(body)
    except ManifestError as exc:
        raise Rejection("manifest", f"{MANIFEST}: {exc}") from None
    if manifest["schema_version"] not in KNOWN_SCHEMA_VERSIONS:
        known = ", ".join(str(v) for v in sorted(KNOWN_SCHEMA_VERSIONS))
        raise Rejection(
            "schema_version",
            f"{MANIFEST}: schema_version {manifest['schema_version']} is not one this "
            f"deployment reads ({known}); upgrade schoolcx here, or export with the same version",
        )
    if manifest["kind"] != kind:
        raise Rejection("manifest", f"{MANIFEST}: kind is {manifest['kind']!r}, expected {kind!r}")
    return manifest, body


def check_signature(folder: str, manifest: dict, body: bytes) -> None:
    signature = files.read_or_none(folder, SIGNATURE)
    if signature is None:
        raise Rejection("signature", f"{SIGNATURE} is missing")
    try:
        key = pooling_key(manifest["district_id"])
    except PoolingKeyMissing as exc:
        raise Rejection("signature", f"{SIGNATURE}: cannot verify: {exc}") from None
    if not signature_matches(body, key, signature):
        raise Rejection(
            "signature",
            f"{SIGNATURE} does not match {MANIFEST} under district {manifest['district_id']}'s "
            "pooling key (forged, altered after signing, or signed with another key)",
        )


def check_files(folder: str, manifest: dict, expected: dict) -> dict[str, list[tuple]]:
    """Checksums, then each file's columns, row count and district."""
    listed = manifest["files"]
    if set(listed) != set(expected):
        raise Rejection(
            "manifest",
            f"{MANIFEST}: lists files {sorted(listed)}, expected {sorted(expected)}",
        )
    rows: dict[str, list[tuple]] = {}
    for name, columns in expected.items():
        data = files.read_or_none(folder, name)
        if data is None:
            raise Rejection("checksum", f"{name} is listed in {MANIFEST} but missing")
        actual = sha256(data)
        if actual != listed[name]:
            raise Rejection(
                "checksum",
                f"{name}: SHA-256 {actual[:12]}... does not match the manifest's "
                f"{str(listed[name])[:12]}... (file altered or truncated)",
            )
        try:
            rows[name] = files.decode(data, columns)
        except files.FileSchemaError as exc:
            raise Rejection("schema", f"{name}: {exc}") from None
        if manifest["row_counts"].get(name) != len(rows[name]):
            raise Rejection(
                "schema",
                f"{name}: {len(rows[name])} rows, the manifest says "
                f"{manifest['row_counts'].get(name)}",
            )
        others = sorted({r[0] for r in rows[name]} - {manifest["district_id"]})
        if others:
            raise Rejection(
                "schema",
                f"{name}: rows of district(s) {', '.join(map(str, others))} in an extract of "
                f"district {manifest['district_id']}",
            )
    return rows


def verify_folder(folder: str, kind: str, expected: dict, roster_check) -> Verified:
    """Every file-level check, in order: manifest, schema version, roster (a callable raising
    Rejection), signature, checksums, file schemas."""
    manifest, body = read_manifest(folder, kind)
    roster_check(manifest)
    check_signature(folder, manifest, body)
    rows = check_files(folder, manifest, expected)
    return Verified(manifest, sha256(body), rows)

"""Keyed hashes of people's addresses: repeat contacts can be counted, names never leave raw."""

from __future__ import annotations

import hashlib
import hmac
import os

HASH_KEY_ENV = "SCHOOLCX_HASH_KEY"


class MissingHashKey(RuntimeError):
    pass


def hash_key() -> bytes:
    """The per-deployment secret, from the environment (an Airflow Variable/secret in prod)."""
    key = os.environ.get(HASH_KEY_ENV)
    if not key:
        raise MissingHashKey(
            f"{HASH_KEY_ENV} is not set: every deployment needs its own secret hash key"
        )
    return key.encode()


def normalise_email(address: str) -> str:
    return address.strip().lower()


def person_hash(address: str | None, key: bytes | None = None) -> str | None:
    """HMAC-SHA-256 (hex) of the normalised email address; None for no address."""
    if not address or not address.strip():
        return None
    digest = hmac.new(key or hash_key(), normalise_email(address).encode(), hashlib.sha256)
    return digest.hexdigest()

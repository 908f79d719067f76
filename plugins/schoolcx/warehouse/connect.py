"""Finding and connecting to the warehouse."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import psycopg

from schoolcx.paths import local_dir


def embedded_data_dir() -> Path:
    return local_dir() / "warehouse"


def warehouse_url(start: bool = True) -> str:
    """WAREHOUSE_URL when set; otherwise the embedded server's URL (started if needed)."""
    url = os.environ.get("WAREHOUSE_URL")
    if url:
        return url
    from schoolcx.warehouse import embedded

    data_dir = embedded_data_dir()
    if not start:
        port_file = data_dir / "schoolcx.port"
        if not (embedded.is_running(data_dir) and port_file.exists()):
            raise RuntimeError("embedded warehouse is not running: run `schoolcx warehouse up`")
        return embedded.EmbeddedServer(data_dir, int(port_file.read_text())).url
    return embedded.start(data_dir).url


@contextmanager
def connect(url: str | None = None, **kwargs):
    """A psycopg 3 connection to the warehouse (committed on success, rolled back on error)."""
    with psycopg.connect(url or warehouse_url(), **kwargs) as conn:
        yield conn


def url_parts(url: str) -> dict[str, str]:
    """host/port/user/password/dbname of a postgres URL, for dbt profiles and Airflow."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return {
        "host": str(info.get("host") or "127.0.0.1"),
        "port": str(info.get("port") or "5432"),
        "user": str(info.get("user") or "postgres"),
        "password": str(info.get("password") or ""),
        "dbname": str(info.get("dbname") or "postgres"),
    }


def sqlalchemy_url(url: str) -> str:
    """The same server as a SQLAlchemy URL with the psycopg 3 driver (for GX)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url

"""Finding and connecting to the warehouse."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import psycopg

from schoolcx.paths import local_dir
from schoolcx.settings import mask_secret


def embedded_data_dir() -> Path:
    return local_dir() / "warehouse"


def warehouse_url(start: bool = True) -> str:
    """WAREHOUSE_URL when set; otherwise the embedded server's URL (started if needed)."""
    url = os.environ.get("WAREHOUSE_URL")
    if url:
        return mask_password(url)
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


def make_url(host: str, port: int | str | None, user: str, password: str, dbname: str) -> str:
    """A libpq connection string from its pieces, quoted by libpq's rules (psycopg's own
    make_conninfo): a password with `@`, `/`, `:` or `#` stays one password instead of being
    read as host and database names, as an f-string URL would be."""
    return psycopg.conninfo.make_conninfo(
        "", host=host, port=str(port or 5432), user=user, password=password, dbname=dbname
    )


def url_parts(url: str) -> dict[str, str]:
    """host/port/user/password/dbname of a postgres URL or key=value conninfo (libpq's parser),
    for dbt profiles and Airflow."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return {
        "host": str(info.get("host") or "127.0.0.1"),
        "port": str(info.get("port") or "5432"),
        "user": str(info.get("user") or "postgres"),
        "password": str(info.get("password") or ""),
        "dbname": str(info.get("dbname") or "postgres"),
    }


def sqlalchemy_url(url: str, **query: str) -> str:
    """The same server as a SQLAlchemy URL with the psycopg 3 driver (for GX), built with
    SQLAlchemy's URL.create so every piece is escaped; `query` adds libpq parameters."""
    from sqlalchemy.engine import URL

    info = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(url).items()}
    pieces = {k: info.pop(k, None) for k in ("host", "port", "user", "password", "dbname")}
    return URL.create(
        "postgresql+psycopg",
        username=pieces["user"],
        password=pieces["password"],
        host=pieces["host"],
        port=int(pieces["port"]) if pieces["port"] else None,
        database=pieces["dbname"],
        query={**info, **query},
    ).render_as_string(hide_password=False)


REDACTED = "********"


def redacted(url: str) -> str:
    """The URL or conninfo with its password replaced, for printing and logging."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    if not info.get("password"):
        return url
    # Rebuilt from its parsed pieces whatever the form: a password given in a URL's query
    # (`?password=...`) or with an unescaped `@` would survive redacting the user-info part.
    return psycopg.conninfo.make_conninfo(**{**info, "password": REDACTED})


def mask_password(url: str) -> str:
    """Register the URL's password with Airflow's secret masker (when Airflow is loaded: the
    CLI and tests outside Airflow have no task log to mask); returns the URL."""
    mask_secret(url_parts(url)["password"])
    return url

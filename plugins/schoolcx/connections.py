"""Airflow connections, resolved the same way inside and outside Airflow.

Endpoints and credentials live in Airflow connections (AIRFLOW_CONN_<ID> in URI or JSON form, or
a secrets backend), never in the YAML config. Inside an Airflow task we ask Airflow (so a secrets
backend works); elsewhere (CLI, tests) we read the environment variable Airflow would read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from schoolcx.settings import mask_secret


class ConnectionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Connection:
    conn_id: str
    conn_type: str = ""
    host: str = ""
    port: int | None = None
    login: str = ""
    password: str = field(default="", repr=False)
    schema: str = ""
    extra: dict = field(default_factory=dict)

    def base_url(self) -> str:
        """HTTP(S) base URL: host may be a full URL (with a path prefix) or a bare host name."""
        host = self.host.rstrip("/")
        if "://" in host:
            return host
        scheme = self.extra.get("scheme", "https")
        port = f":{self.port}" if self.port else ""
        path = f"/{self.schema.strip('/')}" if self.schema else ""
        return f"{scheme}://{host}{port}{path}"


def _from_uri(conn_id: str, uri: str) -> Connection:
    parts = urlsplit(uri)
    extra = dict(parse_qsl(parts.query))
    host = unquote(parts.hostname or "")
    if extra.pop("__host_is_url", None):
        host = unquote(host)
    return Connection(
        conn_id=conn_id,
        conn_type=parts.scheme.replace("-", "_"),
        host=host,
        port=parts.port,
        login=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        schema=unquote(parts.path.lstrip("/")),
        extra=extra,
    )


def _from_json(conn_id: str, text: str) -> Connection:
    data = json.loads(text)
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    return Connection(
        conn_id=conn_id,
        conn_type=data.get("conn_type", ""),
        host=data.get("host") or "",
        port=data.get("port"),
        login=data.get("login") or "",
        password=data.get("password") or "",
        schema=data.get("schema") or "",
        extra=extra,
    )


def _from_airflow(conn_id: str) -> Connection | None:
    if not os.environ.get("AIRFLOW_CTX_DAG_ID"):
        return None  # not inside a running task: don't pay for importing Airflow
    from airflow.sdk import BaseHook

    c = BaseHook.get_connection(conn_id)
    return Connection(
        conn_id,
        c.conn_type or "",
        c.host or "",
        c.port,
        c.login or "",
        c.password or "",
        c.schema or "",
        c.extra_dejson or {},
    )


def get_connection(conn_id: str) -> Connection:
    """The connection, its password (and sensitive extras) registered with Airflow's secret
    masker: read from the environment it never passed through Airflow's own masking."""
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if env:
        text = env.strip()
        found = _from_json(conn_id, text) if text.startswith("{") else _from_uri(conn_id, text)
    else:
        found = _from_airflow(conn_id)
    if found is None:
        raise ConnectionNotFound(
            f"Airflow connection {conn_id!r} is not defined "
            f"(set AIRFLOW_CONN_{conn_id.upper()} or add it to the secrets backend)"
        )
    mask_secret(found.password)
    mask_secret(found.extra)
    return found


def connection_json(
    conn_type: str,
    host: str,
    login: str = "",
    password: str = "",
    port: int | None = None,
    schema: str = "",
    extra: dict | None = None,
) -> str:
    """The JSON form of an Airflow connection, for AIRFLOW_CONN_* variables."""
    data = {
        "conn_type": conn_type,
        "host": host,
        "login": login,
        "password": password,
        "schema": schema,
        "extra": extra or {},
    }
    if port:
        data["port"] = port
    return json.dumps(data)

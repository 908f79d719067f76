"""The GX file data context in expectations/ and where its Data Docs go.

The committed great_expectations.yml holds the stores, the Data Docs site and the warehouse
data source (one table asset per mart in `build`). The connection string and the Data Docs
folder are `${...}` substitutions filled from GX's runtime_environment here, so no URL or
password is ever written into the committed file, and one process can gate several warehouses
(a fresh context per run: GX caches a data source's engine per unsubstituted string).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from schoolcx.paths import EXPECTATIONS_DIR, local_dir
from schoolcx.publish.relations import BUILD_SCHEMA
from schoolcx.warehouse.connect import sqlalchemy_url

DATASOURCE = "warehouse"
BATCH_DEFINITION = "whole_table"
DOCS_SITE = "schoolcx_gate"
CHECKPOINT = "schoolcx_gate"


def context_dir() -> Path:
    """The GX project folder: env SCHOOLCX_GX_DIR (tests use a copy), else expectations/."""
    return Path(os.environ.get("SCHOOLCX_GX_DIR", EXPECTATIONS_DIR)).resolve()


def data_docs_dir() -> Path:
    """Where Data Docs are written: env SCHOOLCX_DATA_DOCS_DIR, else .local/data_docs."""
    return Path(os.environ.get("SCHOOLCX_DATA_DOCS_DIR", local_dir() / "data_docs")).resolve()


def gx_connection_string(url: str) -> str:
    """The warehouse URL for GX: psycopg 3 driver, search_path = build.

    The table assets name bare tables (GX 1.x deprecated a per-asset schema_name for
    PostgreSQL), so the connection resolves them in `build`, never in the published `marts`.
    """
    given = psycopg.conninfo.conninfo_to_dict(url).get("options") or ""
    options = f"{given} -csearch_path={BUILD_SCHEMA}".strip()
    # SQLAlchemy's URL.create escapes every piece (a password with @ / : # included)
    return sqlalchemy_url(url, options=options)


def load_context(url: str, root: Path | None = None, docs_dir: Path | None = None):
    """A FileDataContext on `root` wired to the warehouse at `url`."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    docs = (docs_dir or data_docs_dir()).resolve()
    docs.mkdir(parents=True, exist_ok=True)
    return gx.get_context(
        mode="file",
        context_root_dir=str(root or context_dir()),
        runtime_environment={
            "SCHOOLCX_WAREHOUSE_SQLA_URL": gx_connection_string(url),
            # GX wants a folder path string; a trailing slash keeps it a directory prefix
            "SCHOOLCX_DATA_DOCS_DIR": str(docs) + os.sep,
        },
    )


def batch_definition(context, mart: str):
    asset = context.data_sources.get(DATASOURCE).get_asset(f"build.{mart}")
    return asset.get_batch_definition(BATCH_DEFINITION)

"""Where the project keeps its local state. Everything under .local/ is gitignored."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def local_dir() -> Path:
    """Root of local state (embedded warehouse, Airflow home, demo artefacts)."""
    return Path(os.environ.get("SCHOOLCX_HOME", PROJECT_ROOT / ".local")).resolve()


DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DAGS_FOLDER = PROJECT_ROOT / "dags"

"""Where the project keeps its local state. Everything under .local/ is gitignored."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def local_dir() -> Path:
    """Root of local state (embedded warehouse, Airflow home, demo artefacts)."""
    return Path(os.environ.get("SCHOOLCX_HOME", PROJECT_ROOT / ".local")).resolve()


def project_path(path: str | Path) -> Path:
    """A configured path: absolute as given, else relative to the project directory (wherever
    the task or command runs)."""
    path = Path(path)
    return path if path.is_absolute() else PROJECT_ROOT / path


def dbt_executable() -> str:
    """The dbt of this environment (beside its Python), not whatever dbt is first on PATH."""
    import shutil
    import sys

    return shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"


DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DAGS_FOLDER = PROJECT_ROOT / "dags"

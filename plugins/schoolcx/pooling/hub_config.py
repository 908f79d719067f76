"""The consortium hub's config: one YAML file naming the consortium, its roster, k, n and the
folders (fsspec URLs) extracts arrive in and returns leave from.

Validated like the deployment config (schoolcx.config): unknown keys are errors and a bad
file's error names the file and the field. No keys here: each district's pooling key is a
secret (schoolcx.pooling.manifest.pooling_key).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class HubConfigError(Exception):
    """A hub config that cannot be used; the message names the file and the field."""


class HubConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consortium_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    # the roster: NCES LEAIDs of the member districts
    districts: list[str] = Field(min_length=1)
    k: int = Field(default=5, ge=1)  # k_min_districts of the benchmarks
    n: int = Field(default=30, ge=1)  # n_min_observations of the benchmarks
    inbox: str  # fsspec URL or local folder extracts arrive in
    outbox: str  # fsspec URL or local folder returns are written to

    @field_validator("districts")
    @classmethod
    def _leaids(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for i, district_id in enumerate(value):
            if not (len(district_id) == 7 and district_id.isascii() and district_id.isdigit()):
                raise ValueError(f"item {i}: {district_id!r} is not an NCES LEAID (7 digits)")
            if district_id in seen:
                raise ValueError(f"item {i}: district {district_id} is listed twice")
            seen.add(district_id)
        return value

    @field_validator("inbox", "outbox")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give a folder or an fsspec URL (s3://bucket/prefix)")
        return value


def _format(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{path}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def load_hub_config(path: str | Path) -> HubConfig:
    """Read and validate a hub config; HubConfigError names the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise HubConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise HubConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise HubConfigError(f"{path}: expected a mapping at the top level")
    if isinstance(data.get("districts"), list):
        # YAML reads an unquoted LEAID as a number (and drops its leading zero): say so
        for i, d in enumerate(data["districts"]):
            if isinstance(d, int) and not isinstance(d, bool):
                raise HubConfigError(
                    f"{path}: districts.{i}: read as the number {d}; quote each LEAID "
                    "('0100005'): YAML drops a leading zero, or reads it as octal"
                )
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        raise HubConfigError(f"{path}: {_format(exc)}") from None

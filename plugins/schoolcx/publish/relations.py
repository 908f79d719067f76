"""The published relations: which marts exist, their keys, and which carry a district.

The one list both the gate (what to validate in `build`) and publishing (what to copy into
`marts`) read, so a mart added to dbt is validated and published or neither.
"""

from __future__ import annotations

# the marts and their keys live in schoolcx.marts (lowest layer: config reads them too)
from schoolcx.marts import MART_KEYS, MARTS

__all__ = ["BUILD_SCHEMA", "MARTS", "MARTS_SCHEMA", "MART_KEYS"]

BUILD_SCHEMA = "build"
MARTS_SCHEMA = "marts"

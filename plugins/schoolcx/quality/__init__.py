"""The quality gate: GX Core suites over the built marts, before anything is published."""

from schoolcx.quality.gate import run_gate
from schoolcx.quality.result import CheckOutcome, GateResult

__all__ = ["CheckOutcome", "GateResult", "run_gate"]

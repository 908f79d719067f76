"""What a gate run returns: every check's outcome, the verdict and a summary for people.

Plain dataclasses with to_dict/from_dict, because Airflow hands the result from the gate task
to the publish task through XCom (JSON).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

CRITICAL = "critical"
WARNING = "warning"


@dataclass(frozen=True)
class CheckOutcome:
    """One expectation's outcome in one run."""

    name: str
    kind: str
    suite: str
    relation: str
    severity: str
    passed: bool
    observed_value: str
    expectation_type: str = ""


@dataclass(frozen=True)
class GateResult:
    run_id: str
    passed: bool  # no critical check failed
    outcomes: list[CheckOutcome] = field(default_factory=list)
    data_docs_path: str | None = None  # the Data Docs index.html of this context's site
    as_of: str | None = None

    @property
    def failures(self) -> list[CheckOutcome]:
        """Every failed check, critical first (warnings publish, but are reported)."""
        failed = [o for o in self.outcomes if not o.passed]
        return sorted(failed, key=lambda o: (o.severity != CRITICAL, o.name))

    @property
    def critical_failures(self) -> list[CheckOutcome]:
        return [o for o in self.failures if o.severity == CRITICAL]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [o for o in self.failures if o.severity == WARNING]

    def failed_names(self) -> list[str]:
        return [o.name for o in self.failures]

    def summary(self) -> str:
        """A few lines for a log, an alert or a commit message; readable offline."""
        verdict = "PASSED" if self.passed else "BLOCKED"
        head = (
            f"quality gate {verdict} for run {self.run_id}: {len(self.outcomes)} checks, "
            f"{len(self.critical_failures)} critical failures, "
            f"{len(self.warnings)} warnings"
        )
        lines = [head]
        for o in self.failures:
            lines.append(f"  [{o.severity}] {o.name} ({o.relation}): {o.observed_value}")
        if self.data_docs_path:
            lines.append(f"  data docs: {self.data_docs_path}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GateResult:
        outcomes = [CheckOutcome(**o) for o in data.get("outcomes", [])]
        return cls(
            run_id=data["run_id"],
            passed=bool(data["passed"]),
            outcomes=outcomes,
            data_docs_path=data.get("data_docs_path"),
            as_of=data.get("as_of"),
        )

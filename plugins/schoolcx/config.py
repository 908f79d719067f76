"""The deployment config: one YAML file listing districts, their calendars and their sources.

Validated with a typed schema (pydantic). Unknown keys are errors, so a typo never silently
turns into a default. Secrets never live here: a source names an Airflow connection id.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
PRIORITIES = ("urgent", "high", "normal", "low")
# Default first-response targets (METRICS.md): urgent in business minutes, others in service days.
DEFAULT_SLA = {
    "urgent": {"minutes": 240},
    "high": {"service_days": 1},
    "normal": {"service_days": 2},
    "low": {"service_days": 5},
}
DEFAULT_HIGH_RISK_TERMS = (
    "safety",
    "bullying",
    "threat",
    "threats",
    "special_education",
    "special education",
    "sped",
    "legal",
)
SOURCE_TYPES = ("zendesk", "freshdesk", "imap", "qualtrics", "surveymonkey", "file_drop")
# METRICS.md "Channel" and the statuses a helpdesk ticket is read as.
Channel = Literal["web", "email", "phone", "chat", "social", "walk_in", "other"]
TicketStatus = Literal["open", "pending", "solved", "closed"]


class ConfigError(Exception):
    """A config file that cannot be used; the message names file, district and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Closure(_Strict):
    start: dt.date
    end: dt.date | None = None
    reason: str = "district closure"

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"closure end {self.end} is before its start {self.start}")
        return self

    def dates(self) -> list[dt.date]:
        last = self.end or self.start
        return [self.start + dt.timedelta(days=i) for i in range((last - self.start).days + 1)]


class Calendar(_Strict):
    open: dt.time = dt.time(7, 30)
    close: dt.time = dt.time(16, 30)
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"]
    )
    federal_holidays: bool = True
    closures: list[Closure | dt.date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _open_before_close(self) -> Calendar:
        if self.close <= self.open:
            raise ValueError(f"close {self.close} must be after open {self.open}")
        return self

    @property
    def service_day_minutes(self) -> float:
        span = dt.datetime.combine(dt.date.min, self.close) - dt.datetime.combine(
            dt.date.min, self.open
        )
        return span.total_seconds() / 60

    def closure_list(self) -> list[Closure]:
        return [c if isinstance(c, Closure) else Closure(start=c) for c in self.closures]


class SlaTarget(_Strict):
    minutes: float | None = Field(default=None, gt=0)
    service_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_of(self) -> SlaTarget:
        if (self.minutes is None) == (self.service_days is None):
            raise ValueError("give exactly one of minutes or service_days")
        return self


class UnitMapping(_Strict):
    """Maps one field of a source's records to a unit value (school id, department, stakeholder)."""

    field: str  # e.g. group_id, organization_id, brand_id, custom_field:360001, role, domain
    values: dict[str, str]


class Mappings(_Strict):
    school: UnitMapping | None = None
    department: UnitMapping | None = None
    stakeholder: UnitMapping | None = None


def _vendor_value_keys(value):
    """Keys of a vendor value map (`channel_map`, `status_map`): a code (YAML may read it as a
    number) or a label, compared trimmed and case-insensitively, so two keys that differ only
    in case or spaces are one key written twice."""
    if not isinstance(value, dict):
        return value
    out: dict[str, object] = {}
    seen: dict[str, str] = {}
    for key, mapped in value.items():
        text = str(key).strip()
        if not text or isinstance(key, bool):
            raise ValueError(f"{key!r} is not a vendor value (a code or a label)")
        if text.lower() in seen:
            raise ValueError(f"{seen[text.lower()]!r} and {text!r} are the same vendor value")
        seen[text.lower()] = text
        out[text] = mapped
    return out


class ZendeskOptions(_Strict):
    base_url: str | None = None  # default: the connection's host
    page_size: int = Field(default=1000, ge=1, le=1000)
    # Ratings change after a ticket is solved: each run re-reads this many days back.
    rating_lookback_days: int = Field(default=30, ge=0)


class FreshdeskOptions(_Strict):
    base_url: str | None = None
    per_page: int = Field(default=100, ge=1, le=100)
    window_days: int = Field(default=7, ge=1)
    # Ratings can arrive or change late: each run re-reads this many days back.
    rating_lookback_days: int = Field(default=30, ge=0)
    # Custom statuses (6 and up, listed by /api/v2/ticket_fields): code or label -> status. A
    # custom status not mapped here counts as open (its ticket is still being worked on).
    status_map: dict[str, TicketStatus] = Field(default_factory=dict)

    @field_validator("status_map", mode="before")
    @classmethod
    def _status_keys(cls, value):
        return _vendor_value_keys(value)


class ImapOptions(_Strict):
    host: str | None = None  # default: the connection's host
    port: int | None = None
    ssl: bool = True
    mailbox_address: str
    folders: dict[Literal["inbox", "sent"], str] = Field(
        default_factory=lambda: {"inbox": "INBOX", "sent": "Sent"}
    )
    internal: bool = False
    responders: list[str] = Field(default_factory=list)
    batch_size: int = Field(default=500, ge=1, le=5000)  # UIDs per FETCH and per landed page


class SurveyOptions(_Strict):
    base_url: str | None = None
    survey_id: str
    kind: Literal["climate", "point_of_contact"] = "climate"
    item_map: dict[str, str] = Field(default_factory=dict)  # question id -> stable item code
    interaction_ref_question: str | None = None  # point-of-contact: question holding the ticket ref
    rating_question: str | None = None
    rating_scale: tuple[float, float] | None = None  # (lo, hi)


class FileDropOptions(_Strict):
    path: str
    kind: Literal["interactions", "climate", "ratings"]
    columns: dict[str, str]  # landing field -> CSV column name
    delimiter: str = ","


OPTIONS_BY_TYPE = {
    "zendesk": ZendeskOptions,
    "freshdesk": FreshdeskOptions,
    "imap": ImapOptions,
    "qualtrics": SurveyOptions,
    "surveymonkey": SurveyOptions,
    "file_drop": FileDropOptions,
}


class Source(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")  # the source instance, unique
    type: Literal["zendesk", "freshdesk", "imap", "qualtrics", "surveymonkey", "file_drop"]
    conn_id: str | None = None  # Airflow connection (endpoint + credentials); not for file_drop
    start_date: dt.date
    max_lag_hours: float = Field(default=36, gt=0)  # freshness allowed for the gate
    school_id: str | None = None  # a mailbox or survey that belongs to one school / department
    department: str | None = None
    options: dict = Field(default_factory=dict)
    mappings: Mappings = Field(default_factory=Mappings)
    # Helpdesk sources: the vendor's channel value (Zendesk via.channel, Freshdesk source code)
    # or its label (a Freshdesk custom source's, from ticket fields) -> channel (METRICS.md).
    channel_map: dict[str, Channel] = Field(default_factory=dict)

    @field_validator("channel_map", mode="before")
    @classmethod
    def _channel_keys(cls, value):
        return _vendor_value_keys(value)

    @model_validator(mode="after")
    def _typed_options(self) -> Source:
        model = OPTIONS_BY_TYPE[self.type]
        try:
            parsed = model.model_validate(self.options)
        except ValidationError as exc:
            raise ValueError(_format_errors(exc, prefix="options")) from None
        object.__setattr__(self, "typed_options", parsed)
        if self.type != "file_drop" and not self.conn_id:
            raise ValueError(f"a {self.type} source needs conn_id (an Airflow connection id)")
        if self.channel_map and self.type not in ("zendesk", "freshdesk"):
            raise ValueError(
                f"channel_map: a {self.type} source has no vendor channel to map "
                "(only zendesk and freshdesk sources do)"
            )
        return self

    @property
    def opts(self):
        return self.typed_options  # type: ignore[attr-defined]


class School(_Strict):
    school_id: str = Field(pattern=r"^\d{12}$")
    name: str
    enrollment: dict[int, int] = Field(default_factory=dict)


class District(_Strict):
    district_id: str = Field(pattern=r"^\d{7}$")  # NCES LEAID
    name: str
    state: str = Field(pattern=r"^[A-Z]{2}$")
    timezone: str
    enrollment: dict[int, Annotated[int, Field(gt=0)]]  # school year (end year) -> students
    consortium_ids: list[str] = Field(default_factory=list)
    calendar: Calendar = Field(default_factory=Calendar)
    mail_domains: list[str] = Field(default_factory=list)
    student_domains: list[str] = Field(default_factory=list)
    sla: dict[Literal["urgent", "high", "normal", "low"], SlaTarget] = Field(default_factory=dict)
    high_risk_terms: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    schools: list[School] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("enrollment")
    @classmethod
    def _years(cls, value: dict[int, int]) -> dict[int, int]:
        if not value:
            raise ValueError("give the enrollment of at least one school year")
        for year in value:
            if not 1990 <= year <= 2100:
                raise ValueError(f"school year {year} is not a school year's end year")
        return value

    def sla_minutes(self) -> dict[str, float]:
        out = {}
        for priority in PRIORITIES:
            target = self.sla.get(priority) or SlaTarget(**DEFAULT_SLA[priority])
            out[priority] = (
                target.minutes
                if target.minutes is not None
                else target.service_days * self.calendar.service_day_minutes
            )
        return out

    def enrollment_for(self, school_year: int) -> int:
        """The enrollment of that school year, else the nearest earlier, else the earliest."""
        earlier = [y for y in self.enrollment if y <= school_year]
        return self.enrollment[max(earlier) if earlier else min(self.enrollment)]


class Consortium(_Strict):
    consortium_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str


class GateConfig(_Strict):
    """Thresholds of the quality gate (used by schoolcx.quality)."""

    volume_per_1000_min: float = 0.0
    volume_per_1000_max: float = 5000.0
    volume_jump_factor: float = 10.0
    volume_trailing_days: int = 28
    row_count_drop_max: float = 0.5  # fraction a mart may shrink against the last publish
    severity: dict[str, Literal["critical", "warning"]] = Field(default_factory=dict)
    # Volume jumps are checked on the service days of this many days before the run's end
    # (history was validated when it was published; checking it all again costs O(days^2)).
    volume_jump_lookback_days: int = Field(default=14, ge=1)
    # A district-day is only compared with a trailing median of at least this many service
    # days whose median is at least this many interactions (tiny counts jump by nature).
    volume_jump_min_history_days: int = Field(default=5, ge=1)
    volume_jump_min_median: float = Field(default=5.0, ge=0)
    # Business minutes may exceed calendar minutes by this much (rounding), not more.
    business_minutes_tolerance: float = Field(default=0.01, ge=0)


class Benchmarks(_Strict):
    k_min_districts: int = Field(default=5, ge=1)
    n_min_observations: int = Field(default=30, ge=1)


class DeploymentConfig(_Strict):
    name: str
    consortiums: list[Consortium] = Field(default_factory=list)
    districts: list[District]
    gate: GateConfig = Field(default_factory=GateConfig)
    benchmarks: Benchmarks = Field(default_factory=Benchmarks)
    bi_readers: dict[str, list[str]] = Field(default_factory=dict)  # role -> district ids

    @model_validator(mode="after")
    def _references(self) -> DeploymentConfig:
        seen_d, seen_s = set(), set()
        consortia = {c.consortium_id for c in self.consortiums}
        for d in self.districts:
            if d.district_id in seen_d:
                raise ValueError(f"district {d.district_id} is listed twice")
            seen_d.add(d.district_id)
            for c in d.consortium_ids:
                if c not in consortia:
                    raise ValueError(f"district {d.district_id}: consortium {c!r} is not defined")
            for s in d.sources:
                if s.name in seen_s:
                    raise ValueError(f"source name {s.name!r} is used twice")
                seen_s.add(s.name)
        for role, ids in self.bi_readers.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", role):
                raise ValueError(f"bi_readers: {role!r} is not a valid role name")
            for i in ids:
                if i not in seen_d:
                    raise ValueError(f"bi_readers.{role}: district {i} is not defined")
        return self

    def district(self, district_id: str) -> District:
        return next(d for d in self.districts if d.district_id == district_id)

    def sources(self) -> list[tuple[District, Source]]:
        return [(d, s) for d in self.districts for s in d.sources]

    def source(self, name: str) -> tuple[District, Source]:
        for d, s in self.sources():
            if s.name == name:
                return d, s
        raise KeyError(f"no source named {name!r} in config {self.name!r}")


def _format_errors(exc: ValidationError, prefix: str = "", districts: list | None = None) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ""
        if districts is not None and len(loc) >= 2 and loc[0] == "districts":
            idx = loc[1]
            if isinstance(idx, int) and idx < len(districts) and isinstance(districts[idx], dict):
                d = districts[idx]
                where = f"district {d.get('district_id', '?')} ({d.get('name', '?')}): "
                loc = loc[2:]
        path = ".".join(str(p) for p in ([prefix] if prefix else []) + loc)
        lines.append(f"{where}{path or '(top level)'}: {err['msg']}")
    return "; ".join(lines)


def load_config(path: str | Path) -> DeploymentConfig:
    """Read and validate a config file; ConfigError names the file, district and field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return DeploymentConfig.model_validate(data)
    except ValidationError as exc:
        districts = data.get("districts") if isinstance(data.get("districts"), list) else None
        raise ConfigError(f"{path}: {_format_errors(exc, districts=districts)}") from None

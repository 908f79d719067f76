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

from schoolcx.marts import MART_KEYS

WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
PRIORITIES = ("urgent", "high", "normal", "low")
# Default first-response targets (docs/metrics.md): urgent in business minutes, others in
# service days.
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
# PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1): a longer role name would be
# created under a shorter one, and two long names could become the same role.
MAX_ROLE_NAME_BYTES = 63

# What `gate.severity` may name: a check kind, or one check by name. The gate's checks live in
# schoolcx.quality.checks, a layer above config, so the catalogue is written down here and
# tests/test_config.py keeps it equal to the checks the gate really builds.
GATE_CHECK_KINDS = frozenset(
    {
        "key_not_null",
        "key_unique",
        "not_empty",
        "elapsed_non_negative",
        "business_within_calendar",
        "response_after_creation",
        "rating_in_scale",
        "percent_agree_in_range",
        "volume_band",
        "volume_jump",
        "row_count_drop",
        "district_row_count_drop",
        "freshness",
        "peer_k_min",
        "peer_aggregates_k",
    }
)
# Privacy (peer k) checks: a deployment may not make them warnings, by kind or by name.
PRIVACY_CHECKS = {
    "peer_benchmarks.k_min_districts": "peer_k_min",
    "peer_benchmarks.aggregates_only_for_k_districts": "peer_aggregates_k",
}
GATE_CHECK_NAMES = frozenset(
    [f"{m}.{c}.not_null" for m, keys in MART_KEYS.items() for c in keys]
    + [f"{m}.{keys[0] if len(keys) == 1 else 'key'}.unique" for m, keys in MART_KEYS.items()]
    + [f"{m}.row_count_vs_last_publish" for m in MART_KEYS]
    + [
        f"fct_interactions.{c}_{unit}_minutes.non_negative"
        for c in ("first_response", "resolution")
        for unit in ("business", "calendar")
    ]
    + [
        "fct_interactions.business_minutes_within_calendar",
        "fct_interactions.first_response_at.not_before_created_at",
        "fct_interactions.resolved_at.not_before_created_at",
        "fct_interactions.district_rows_vs_published",
        "fct_ratings.rating_1_5.not_null",
        "fct_ratings.rating_1_5.within_1_5",
        "fct_survey_item_results.percent_agree.within_0_100",
        "fct_daily_volume.interactions_per_1000_students.plausible",
        "district_scorecard.interactions_per_1000_students_per_service_day.plausible",
        "dim_district.not_empty",
        "fct_daily_volume.no_jump_vs_trailing_median",
        "sources.loaded_within_max_lag",
        *PRIVACY_CHECKS,
    ]
)

# docs/metrics.md "Channel" and the statuses a helpdesk ticket is read as.
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
    # At least one: a calendar without service days has no business minutes at all.
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1
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


STAKEHOLDER_TYPES = ("parent", "student", "staff", "community", "unknown")
# The fields of each source's records a unit mapping may read (int_interactions_unioned builds
# them); `custom_field:`, `user_field:` and `contact_field:` take the vendor's field key after
# the colon. A field outside these would silently map nothing, so it is an error.
MAPPABLE_FIELDS = {
    "zendesk": (
        "group_id",
        "organization_id",
        "brand_id",
        "channel",
        "via_channel",
        "type",
        "role",
        "requester_organization_id",
        "domain",
        "tag",
        "custom_field:",
        "user_field:",
    ),
    "freshdesk": (
        "group_id",
        "company_id",
        "organization_id",
        "product_id",
        "brand_id",
        "channel",
        "source",
        "type",
        "requester_company_id",
        "domain",
        "tag",
        "custom_field:",
        "contact_field:",
    ),
    "imap": ("domain",),
    "file_drop": ("channel", "topic", "file", "tag"),
}


class UnitMapping(_Strict):
    """Maps one field of a source's records to a unit value (school id, department, stakeholder).

    Vendor values are compared trimmed and case-insensitively (as int_interactions_unioned
    matches them), so two keys that differ only in case or spaces are one value mapped twice.
    """

    field: str = Field(min_length=1)  # group_id, organization_id, brand_id, custom_field:3601, ...
    values: dict[str, str] = Field(min_length=1)

    @field_validator("values", mode="before")
    @classmethod
    def _value_keys(cls, value):
        return _vendor_value_keys(value)


def _mapping_list(value):
    """One mapping or a list of them (tried in order: the first that matches decides)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Mappings(_Strict):
    """Per unit type, the mappings of a source's fields to its value. Several fields may map one
    unit type (a brand for most tickets, a custom field for the rest): the first mapping in the
    list that matches an interaction decides, and the same field value mapped twice is an error.
    """

    school: list[UnitMapping] = Field(default_factory=list)
    department: list[UnitMapping] = Field(default_factory=list)
    stakeholder: list[UnitMapping] = Field(default_factory=list)

    @field_validator("school", "department", "stakeholder", mode="before")
    @classmethod
    def _lists(cls, value):
        return _mapping_list(value)

    @model_validator(mode="after")
    def _no_duplicates(self) -> Mappings:
        for unit in ("school", "department", "stakeholder"):
            seen: dict[tuple[str, str], int] = {}
            for i, mapping in enumerate(getattr(self, unit)):
                for key in mapping.values:
                    ident = (mapping.field.strip().lower(), key.strip().lower())
                    if ident in seen:
                        raise ValueError(
                            f"{unit}.{i}.values.{key}: value {key!r} of field {mapping.field!r} "
                            f"is already mapped by {unit}.{seen[ident]} (a duplicate mapping)"
                        )
                    seen[ident] = i
            for i, mapping in enumerate(getattr(self, unit)):
                if unit == "stakeholder":
                    for key, target in mapping.values.items():
                        if target not in STAKEHOLDER_TYPES:
                            raise ValueError(
                                f"stakeholder.{i}.values.{key}: {target!r} is not a stakeholder "
                                f"type ({' | '.join(STAKEHOLDER_TYPES)})"
                            )
        return self

    def items(self) -> list[tuple[str, int, UnitMapping]]:
        """(unit type, precedence, mapping) for every mapping, in the order they are tried."""
        return [
            (unit, i, m)
            for unit in ("school", "department", "stakeholder")
            for i, m in enumerate(getattr(self, unit))
        ]


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
    mailbox_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    folders: dict[Literal["inbox", "sent"], str] = Field(
        default_factory=lambda: {"inbox": "INBOX", "sent": "Sent"}
    )
    # An internal-service mailbox (HR, IT): staff writing from the district's domains are its
    # requesters, and only the mailbox's own address and these responders answer.
    internal: bool = False
    responders: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list
    )
    batch_size: int = Field(default=500, ge=1, le=5000)  # UIDs per FETCH and per landed page

    @model_validator(mode="after")
    def _responders_internal(self) -> ImapOptions:
        if self.responders and not self.internal:
            # on an ordinary mailbox every district sender answers: the list would do nothing
            raise ValueError("responders belong to an internal mailbox (internal: true)")
        return self


class SurveyOptions(_Strict):
    base_url: str | None = None
    survey_id: str
    kind: Literal["climate", "point_of_contact"] = "climate"
    item_map: dict[str, str] = Field(default_factory=dict)  # question id -> stable item code
    interaction_ref_question: str | None = None  # point-of-contact: question holding the ticket ref
    # Point-of-contact: each rating question id -> its scale (lo, hi). A survey may ask the
    # rating on several questions (one per respondent's variant), each on its own scale.
    rating_questions: dict[str, tuple[float, float]] = Field(default_factory=dict)
    # The older single-question form, still read: the same as rating_questions {q: scale}.
    rating_question: str | None = None
    rating_scale: tuple[float, float] | None = None  # (lo, hi)
    per_page: int = Field(default=100, ge=1, le=100)  # SurveyMonkey responses/bulk page size

    @model_validator(mode="after")
    def _rating_questions(self) -> SurveyOptions:
        questions = dict(self.rating_questions)
        if self.rating_question is not None:
            if questions:
                raise ValueError(
                    "give rating_questions or rating_question with rating_scale, not both"
                )
            if self.rating_scale is None:
                raise ValueError(f"rating_question {self.rating_question!r} needs rating_scale")
            questions[self.rating_question] = self.rating_scale
        elif self.rating_scale is not None:
            raise ValueError("rating_scale without rating_question: use rating_questions")
        for qid, (lo, hi) in questions.items():
            if not lo < hi:
                raise ValueError(
                    f"rating scale of question {qid!r} is [{lo:g}, {hi:g}]: lo must be below hi"
                )
        if questions and self.kind != "point_of_contact":
            raise ValueError("rating questions belong to a point_of_contact survey")
        object.__setattr__(self, "rating_questions", questions)
        return self

    def rating_scales(self) -> dict[str, tuple[float, float]]:
        """Every rating question id -> its (lo, hi), whichever form the config used."""
        return dict(self.rating_questions)

    @field_validator("rating_scale")
    @classmethod
    def _scale_ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        # staging rescales (x - lo) / (hi - lo): lo == hi divides by zero, lo > hi inverts
        if value is not None and not value[0] < value[1]:
            raise ValueError(
                f"rating scale {list(value)}: the lowest point must be below the highest"
            )
        return value


class FileDropOptions(_Strict):
    path: str
    # climate_wide: a survey file as the tools export it (Google Forms, Microsoft Forms, a
    # spreadsheet): one row per respondent, one column per question, answers as labels.
    kind: Literal["interactions", "climate", "ratings", "climate_wide"]
    # landing field -> CSV column name. `id` is the row's own id within the source (the key:
    # a row delivered again in a later, overlapping file is the same row, newest version
    # wins); `updated_at`, when mapped, is the row's version (else the file's modification
    # time). climate_wide: `submitted_at` (default "Timestamp") and an optional `id`.
    columns: dict[str, str] = Field(default_factory=dict)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    # climate_wide: column header -> stable item code; answer label -> point 1..5, or null
    # for an answer that is not valid (added to / overriding the default agreement labels).
    items: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, int | None] = Field(default_factory=dict)
    ignore_columns: list[str] = Field(default_factory=list)  # headers that are not questions

    @field_validator("delimiter")
    @classmethod
    def _plain_delimiter(cls, value: str) -> str:
        if value in ('"', "\r", "\n"):
            raise ValueError(f"delimiter {value!r} cannot separate CSV fields")
        return value

    @model_validator(mode="after")
    def _wide(self) -> FileDropOptions:
        if self.kind == "climate_wide":
            if not self.items:
                raise ValueError("a climate_wide file needs items (column header -> item code)")
            bad = {k: v for k, v in self.labels.items() if v is not None and not 1 <= v <= 5}
            if bad:
                raise ValueError(f"labels must map to a point 1..5 or null, not {bad}")
        elif self.items or self.labels or self.ignore_columns:
            raise ValueError("items, labels and ignore_columns belong to kind climate_wide")
        elif not self.columns:
            raise ValueError(f"a {self.kind} file needs columns (landing field -> CSV column)")
        return self


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
    # or its label (a Freshdesk custom source's, from ticket fields) -> channel (docs/metrics.md).
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
        fields = MAPPABLE_FIELDS.get(self.type, ())
        for unit, i, mapping in self.mappings.items():
            name = mapping.field.strip()
            known = (name in fields and not name.endswith(":")) or any(
                f.endswith(":") and name.startswith(f) and len(name) > len(f) for f in fields
            )
            if not known:
                listed = ", ".join(f + "<key>" if f.endswith(":") else f for f in fields)
                raise ValueError(
                    f"mappings.{unit}.{i}.field: a {self.type} source has no field {name!r} to "
                    f"map ({listed or 'none'})"
                )
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
    # enrollment is a denominator (volume per 1,000 students); the ref table checks > 0
    enrollment: dict[int, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)

    @field_validator("enrollment")
    @classmethod
    def _years(cls, value: dict[int, int]) -> dict[int, int]:
        for year in value:
            if not 1990 <= year <= 2100:
                raise ValueError(f"school year {year} is not a school year's end year")
        return value


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
    # docs/metrics.md "Service health": unresolved for more than this many service days is past
    # due
    past_due_service_days: float = Field(default=5, gt=0)
    # department keys (docs/metrics.md: transportation, enrollment, human_resources, ...)
    departments: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(
        default_factory=list
    )
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

    @field_validator("high_risk_terms")
    @classmethod
    def _matchable_terms(cls, value: list[str]) -> list[str]:
        # A term is matched as whole words (docs/metrics.md): one without a letter or digit would
        # match every subject with punctuation in it, or nothing.
        for term in value:
            if not any(c.isalnum() for c in term):
                raise ValueError(f"high-risk term {term!r} has no letter or digit")
        return value

    @model_validator(mode="after")
    def _units_known(self) -> District:
        """A school or department a source names must be one of this district's."""
        schools = [s.school_id for s in self.schools]
        for i, school_id in enumerate(schools):
            if not school_id.startswith(self.district_id):
                # NCES: a school id is its district's 7-digit LEAID and a 5-digit school number
                raise ValueError(
                    f"schools.{i}.school_id: school {school_id} is not a school of district "
                    f"{self.district_id} (an NCES school id begins with its district's LEAID)"
                )
            if school_id in schools[:i]:
                raise ValueError(f"schools.{i}.school_id: school {school_id} is listed twice")
        known = {"school": set(schools), "department": set(self.departments)}
        listed = {"school": "schools", "department": "departments"}
        for i, s in enumerate(self.sources):
            for unit in ("school", "department"):
                fixed = s.school_id if unit == "school" else s.department
                if fixed is not None and fixed not in known[unit]:
                    raise ValueError(
                        f"sources.{i}.{'school_id' if unit == 'school' else 'department'}: "
                        f"{unit} {fixed!r} is not in this district's {listed[unit]}"
                    )
                for j, mapping in enumerate(getattr(s.mappings, unit)):
                    for key, value in mapping.values.items():
                        if value not in known[unit]:
                            at = f"{unit}.{j}" if len(getattr(s.mappings, unit)) > 1 else unit
                            raise ValueError(
                                f"sources.{i}.mappings.{at}.values.{key}: {unit} {value!r} is "
                                f"not in this district's {listed[unit]}"
                            )
        departments = self.departments
        for i, dep in enumerate(departments):
            if dep in departments[:i]:
                raise ValueError(f"departments.{i}: department {dep!r} is listed twice")
        mail = {m.lower() for m in self.mail_domains}
        for i, dom in enumerate(self.student_domains):
            if dom.lower() in mail:
                # a student writing from it would be read as an agent answering
                raise ValueError(
                    f"student_domains.{i}: {dom!r} is also one of mail_domains (the district's "
                    "own, whose senders are agents or staff)"
                )
        return self

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
    # check kind or check name -> severity; a key the gate does not know is an error (a typo
    # would silently leave the default), and privacy checks stay critical.
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

    @field_validator("severity")
    @classmethod
    def _known_checks(cls, value: dict[str, str]) -> dict[str, str]:
        privacy_kinds = set(PRIVACY_CHECKS.values())
        for key, level in value.items():
            if key not in GATE_CHECK_KINDS and key not in GATE_CHECK_NAMES:
                raise ValueError(
                    f"{key!r} is neither a check kind ({', '.join(sorted(GATE_CHECK_KINDS))}) "
                    "nor a check name"
                )
            if level != "critical" and (key in PRIVACY_CHECKS or key in privacy_kinds):
                raise ValueError(
                    f"{key!r} is a privacy check (peer k): it is always critical and cannot "
                    f"be set to {level!r}"
                )
        return value


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
    # role -> school ids: a school reader sees its schools' rows of the unit marts only
    bi_school_readers: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> DeploymentConfig:
        seen_d, seen_s = set(), set()
        consortia: set[str] = set()
        for i, c in enumerate(self.consortiums):
            if c.consortium_id in consortia:
                raise ValueError(
                    f"consortiums.{i}.consortium_id: consortium {c.consortium_id!r} is listed twice"
                )
            consortia.add(c.consortium_id)
        school_district: dict[str, District] = {}
        for d in self.districts:
            where = f"district {d.district_id} ({d.name})"
            if d.district_id in seen_d:
                raise ValueError(f"{where}: district_id: district {d.district_id} is listed twice")
            seen_d.add(d.district_id)
            for j, c in enumerate(d.consortium_ids):
                if c not in consortia:
                    raise ValueError(
                        f"{where}: consortium_ids.{j}: consortium {c!r} is not defined"
                    )
                if c in d.consortium_ids[:j]:
                    raise ValueError(
                        f"{where}: consortium_ids.{j}: consortium {c!r} is listed twice"
                    )
            for j, school in enumerate(d.schools):
                other = school_district.setdefault(school.school_id, d)
                if other is not d:
                    raise ValueError(
                        f"{where}: schools.{j}.school_id: school {school.school_id} is already "
                        f"a school of district {other.district_id} ({other.name})"
                    )
            for j, s in enumerate(d.sources):
                if s.name in seen_s:
                    raise ValueError(
                        f"{where}: sources.{j}.name: source name {s.name!r} is used twice"
                    )
                seen_s.add(s.name)
        for role, ids in self.bi_readers.items():
            _check_role_name("bi_readers", role)
            for i in ids:
                if i not in seen_d:
                    raise ValueError(f"bi_readers.{role}: district {i} is not defined")
        for role, ids in self.bi_school_readers.items():
            _check_role_name("bi_school_readers", role)
            if role in self.bi_readers:
                # its district policy would show it the whole district's rows
                raise ValueError(
                    f"bi_school_readers: {role!r} is also a district reader in bi_readers"
                )
            for i in ids:
                if i not in school_district:
                    raise ValueError(f"bi_school_readers.{role}: school {i} is not defined")
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


def _check_role_name(field: str, role: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", role):
        raise ValueError(f"{field}: {role!r} is not a valid role name")
    if len(role.encode()) > MAX_ROLE_NAME_BYTES:
        raise ValueError(
            f"{field}: role name {role!r} is {len(role.encode())} bytes; PostgreSQL "
            f"truncates names over {MAX_ROLE_NAME_BYTES} (two long names can become "
            "one role)"
        )


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
        if not path and err["type"] == "value_error":
            # a cross-reference check: its message already names the district and the field
            lines.append(where + err["msg"].removeprefix("Value error, "))
            continue
        lines.append(f"{where}{path or '(top level)'}: {err['msg']}")
    return "; ".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping: PyYAML keeps the last, so a
    mapping value written twice (`"11": transport` then `"11": nutrition`) would silently win."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep=False):
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            continue  # unhashable keys: left to the ordinary constructor's error
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice in one mapping (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def load_config(path: str | Path) -> DeploymentConfig:
    """Read and validate a config file; ConfigError names the file, district and field."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
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

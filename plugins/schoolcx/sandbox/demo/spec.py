"""What a generated world looks like: districts, their sources and the volume knob.

A `DemoSpec` fully determines a world (with the seed). The demo roster below is sized so that
`make demo` moves the whole world through HTTP emulators and a real IMAP server quickly: tiny
rural districts (enrollments in the tens), so that about 450 contacts per 1,000 students per
service day over fifteen months stays near 45k interactions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

SourceType = Literal["zendesk", "freshdesk", "imap", "qualtrics", "surveymonkey", "file_drop"]
Scale = Literal["good_bad", "1-5", "1-10", "0-10"]


@dataclass(frozen=True)
class SourceSpec:
    """One configured source of a district.

    `share` is the source's part of the district's contacts (interaction sources only; the
    shares of a district sum to 1). `csat` is the helpdesk's own satisfaction scale, None when
    the district does not survey through the helpdesk. Survey sources are `kind` climate or
    point_of_contact (the latter rates the district's helpdesk tickets on `scale`).
    """

    name: str
    type: SourceType
    share: float = 0.0
    csat: Scale | None = None
    kind: Literal["climate", "point_of_contact"] = "climate"
    scale: Scale | None = None
    internal: bool = False
    department: str | None = None
    school: int | None = None  # index into the district's schools: a log kept by one school


@dataclass(frozen=True)
class DistrictSpec:
    district_id: str  # NCES LEAID, 7 digits
    name: str
    slug: str  # short name used in source names and domains
    state: str
    timezone: str
    enrollment: dict[int, int]  # school year (end year) -> students
    schools: tuple[str, ...]  # school names; enrollment is split between them
    sources: tuple[SourceSpec, ...]
    consortium: str
    speed: float = 1.0  # response-time multiplier: under 1 answers faster
    open: str = "07:30"
    weekdays: tuple[str, ...] | None = None  # service weekdays; None: Monday to Friday
    close: str = "16:30"
    spring_break_week: int = 13  # ISO week of the spring break, every school year
    snow_days: tuple[str, ...] = ()  # dates: a snow day is an event, not a yearly rule
    # Share of families whose language is Spanish (the rest mostly English, a few Vietnamese,
    # Chinese, Arabic): districts differ, and the language units and equity gap need it to.
    spanish_share: float = 0.16


@dataclass(frozen=True)
class DemoSpec:
    seed: int
    as_of: dt.date  # last local date with data
    start: dt.date  # first local date with data
    districts: int | tuple[DistrictSpec, ...] = 8  # a count takes the roster's first ones
    contacts_per_1000: float = 450.0  # the volume knob: contacts per 1,000 students/service day
    name: str = "schoolcx-demo"

    def district_specs(self) -> tuple[DistrictSpec, ...]:
        """The explicit districts, or the first `districts` of the demo roster."""
        if not isinstance(self.districts, int):
            return tuple(self.districts)
        if not 1 <= self.districts <= len(ROSTER):
            raise ValueError(f"districts must be 1..{len(ROSTER)} or explicit DistrictSpecs")
        return ROSTER[: self.districts]


def _helpdesk(slug: str, kind: SourceType, share: float, csat: Scale | None) -> SourceSpec:
    prefix = "zd" if kind == "zendesk" else "fd"
    return SourceSpec(name=f"{prefix}-{slug}", type=kind, share=share, csat=csat)


def _climate(slug: str, kind: SourceType) -> SourceSpec:
    prefix = "qx" if kind == "qualtrics" else "sm"
    return SourceSpec(name=f"{prefix}-{slug}-climate", type=kind)


ROSTER: tuple[DistrictSpec, ...] = (
    DistrictSpec(
        "1799401",
        "Prairie Ridge CUSD 4",
        "prairie-ridge",
        "IL",
        "America/Chicago",
        {2025: 64, 2026: 62},
        ("Prairie Ridge Elementary School", "Prairie Ridge Jr/Sr High"),
        (
            _helpdesk("prairie-ridge", "zendesk", 0.95, "good_bad"),
            SourceSpec("mail-prairie-ridge-help", "imap", share=0.035),
            SourceSpec(
                "mail-prairie-ridge-hr",
                "imap",
                share=0.015,
                internal=True,
                department="human_resources",
            ),
            _climate("prairie-ridge", "qualtrics"),
        ),
        "prairie-east",
        speed=0.7,
        snow_days=("2025-01-10",),
    ),
    DistrictSpec(
        "1799402",
        "Kaskaskia Valley SD 12",
        "kaskaskia",
        "IL",
        "America/Chicago",
        {2025: 47, 2026: 49},
        ("Kaskaskia Valley Elementary", "Kaskaskia Valley High School"),
        (_helpdesk("kaskaskia", "freshdesk", 1.0, "1-5"), _climate("kaskaskia", "surveymonkey")),
        "prairie-east",
        speed=1.0,
        spanish_share=0.3,
        snow_days=("2025-01-10", "2025-02-12"),
    ),
    DistrictSpec(
        "1799403",
        "Mackinaw Bend CUSD 7",
        "mackinaw",
        "IL",
        "America/Chicago",
        {2025: 45, 2026: 44},
        ("Mackinaw Bend Grade School", "Mackinaw Bend High School"),
        (
            _helpdesk("mackinaw", "zendesk", 0.88, "good_bad"),
            SourceSpec("drop-mackinaw-frontoffice", "file_drop", share=0.12, school=1),
            _climate("mackinaw", "surveymonkey"),
        ),
        "prairie-east",
        speed=1.3,
        snow_days=("2025-01-13",),
    ),
    DistrictSpec(
        "1799404",
        "Sangamon Prairie SD 3",
        "sangamon",
        "IL",
        "America/Chicago",
        {2025: 40, 2026: 38},
        ("Sangamon Prairie School",),
        (_helpdesk("sangamon", "freshdesk", 1.0, "1-5"), _climate("sangamon", "qualtrics")),
        "prairie-east",
        speed=0.9,
        spanish_share=0.05,
        snow_days=("2025-02-12",),
    ),
    DistrictSpec(
        "1799405",
        "Illinois Bluff CUSD 9",
        "illinois-bluff",
        "IL",
        "America/Chicago",
        {2025: 33, 2026: 35},
        ("Illinois Bluff Elementary", "Illinois Bluff High School"),
        (
            _helpdesk("illinois-bluff", "zendesk", 0.99, None),
            # email rated through the point-of-contact survey by root Message-ID
            SourceSpec("mail-illinois-bluff-help", "imap", share=0.01),
            SourceSpec("qx-illinois-bluff-poc", "qualtrics", kind="point_of_contact", scale="0-10"),
            _climate("illinois-bluff", "qualtrics"),
        ),
        "prairie-east",
        speed=1.6,
        snow_days=("2025-01-10",),
    ),
    DistrictSpec(
        "1799406",
        "Vermilion Fork SD 2",
        "vermilion",
        "IL",
        "America/Chicago",
        {2025: 31, 2026: 30},
        ("Vermilion Fork School",),
        (
            _helpdesk("vermilion", "freshdesk", 0.99, None),
            SourceSpec("mail-vermilion-help", "imap", share=0.01),
            SourceSpec("sm-vermilion-poc", "surveymonkey", kind="point_of_contact", scale="1-10"),
            _climate("vermilion", "surveymonkey"),
        ),
        "prairie-east",
        speed=1.1,
        spanish_share=0.22,
        snow_days=("2025-01-13", "2025-02-12"),
    ),
    DistrictSpec(
        "0899407",
        "Cache la Poudre Rural SD",
        "poudre-rural",
        "CO",
        "America/Denver",
        {2025: 27, 2026: 26},
        ("Poudre Rural K-12 School",),
        (
            _helpdesk("poudre-rural", "zendesk", 1.0, "good_bad"),
            _climate("poudre-rural", "qualtrics"),
        ),
        # A four-day week, common in rural Colorado: Fridays are not service days.
        "mountain-west",
        speed=0.85,
        weekdays=("mon", "tue", "wed", "thu"),
        spring_break_week=12,
        snow_days=("2025-02-19",),
    ),
    DistrictSpec(
        "0499408",
        "Verde Mesa USD",
        "verde-mesa",
        "AZ",
        "America/Phoenix",
        {2025: 22, 2026: 24},
        ("Verde Mesa Elementary", "Verde Mesa High School"),
        (_helpdesk("verde-mesa", "freshdesk", 1.0, "1-5"), _climate("verde-mesa", "surveymonkey")),
        "mountain-west",
        speed=1.2,
        spanish_share=0.08,
        open="07:00",
        close="16:00",
        spring_break_week=11,
    ),
)

CONSORTIUMS = {
    "prairie-east": "Prairie East Rural Schools Consortium",
    "mountain-west": "Mountain West Small Schools Network",
}


def demo_spec() -> DemoSpec:
    """The `make demo` world: this school year to date and the same span a year earlier."""
    return DemoSpec(seed=20251015, as_of=dt.date(2025, 10, 15), start=dt.date(2024, 7, 1))


def small_spec() -> DemoSpec:
    """A few hundred interactions over every source type, for fast tests."""
    return DemoSpec(
        seed=7, as_of=dt.date(2025, 10, 15), start=dt.date(2025, 9, 22), contacts_per_1000=80.0
    )

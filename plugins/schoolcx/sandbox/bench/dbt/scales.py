"""The benchmark's scales (S, M, the harness's TINY) and the deployment config of each."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from schoolcx.config import DeploymentConfig

DEPARTMENTS = (
    "transportation",
    "enrollment",
    "special_education",
    "student_services",
    "nutrition",
    "technology",
    "athletics",
    "human_resources",
    "business_office",
    "teaching_learning",
)
# topic, weight, index of its department (group) in DEPARTMENTS


# The id ranges of the synthetic Zendesk account (groups = departments, organizations =
# schools, users)
GROUP_BASE, ORG_BASE = 360000040000, 360000540000
AGENT_BASE, REQUESTER_BASE = 360100000, 380000000


# Disk a scale takes after the night, per student-year (about 91 tickets: 450 contacts per 1,000
# students on 186 service days). Measured at M:4 with packed raw payloads (777k tickets, 8,500
# student-years, 9,464 MB; DECISIONLOG "Packed raw payloads at M"): raw 5.2 kB a ticket, the
# nightly's stg/int/build 3.4 kB, the intraday path's own copies of them 3.5 kB; the peak while it
# ran (temporary files, WAL) was a fifth over the size after the night. Then, measured at S:2
# and applied to those: superseded versions without a projection (raw -0.65 kB a ticket, the
# audits' ticket index +0.07) and child events not stored (stg and its intraday copy -1.5 kB
# each): raw 4.6, nightly 1.9, intraday 2.0 kB a ticket (DECISIONLOG "A year of M, tried").
MB_PER_STUDENT_YEAR = {"raw": 0.39, "nightly": 0.16, "intraday": 0.17}
DISK_HEADROOM = 1.25
SCHOOL_YEAR_WEEKS = 42


@dataclass(frozen=True)
class DistrictSpec:
    name: str
    state: str
    fips: str
    timezone: str
    enrollment: int


@dataclass(frozen=True)
class Scale:
    name: str
    districts: tuple[DistrictSpec, ...]
    first_day: dt.date = dt.date(2025, 8, 18)
    last_day: dt.date = dt.date(2026, 6, 4)  # a Thursday: the night after is a service day
    contacts_per_1000: float = 450.0  # per service day
    seed: float = 0.42

    @property
    def night_day(self) -> dt.date:
        """The day the incremental night adds (data interval [D 08:00 UTC, D+1 08:00 UTC))."""
        return self.last_day + dt.timedelta(days=1)

    @property
    def students(self) -> int:
        return sum(d.enrollment for d in self.districts)


SCALES = {
    "S": Scale("S", (DistrictSpec("Lincoln CUSD", "IL", "17", "America/Chicago", 10_000),)),
    "M": Scale(
        "M",
        (
            DistrictSpec("Harbor City USD", "CA", "06", "America/Los_Angeles", 28_000),
            DistrictSpec("Lakeshore CSD", "IL", "17", "America/Chicago", 16_000),
            DistrictSpec("Piedmont County Schools", "GA", "13", "America/New_York", 12_000),
            DistrictSpec("Mesa Verde USD", "AZ", "04", "America/Phoenix", 9_000),
            DistrictSpec("Front Range SD", "CO", "08", "America/Denver", 8_000),
            DistrictSpec("Cascade SD", "WA", "53", "America/Los_Angeles", 7_000),
            DistrictSpec("Hudson Valley CSD", "NY", "36", "America/New_York", 6_000),
            DistrictSpec("Prairie Wind ISD", "TX", "48", "America/Chicago", 5_000),
            DistrictSpec("North Star Public Schools", "MN", "27", "America/Chicago", 3_500),
            DistrictSpec("Gulf Coast SD", "FL", "12", "America/New_York", 2_500),
            DistrictSpec("Tongass Borough SD", "AK", "02", "America/Anchorage", 1_800),
            DistrictSpec("Snake River SD", "ID", "16", "America/Boise", 1_200),
        ),
    ),
}
# For the harness's own test: one small district, three weeks.
TINY = Scale(
    "tiny",
    (DistrictSpec("Tiny Test SD", "IL", "17", "America/Chicago", 200),),
    first_day=dt.date(2026, 4, 27),
    last_day=dt.date(2026, 5, 14),
)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def district_id(spec: DistrictSpec, i: int) -> str:
    return f"{spec.fips}{90001 + i:05d}"


def n_schools(spec: DistrictSpec) -> int:
    return max(1, round(spec.enrollment / 650))


def deployment_config(scale: Scale) -> DeploymentConfig:
    """The scale's deployment: calendars with breaks, schools, one Zendesk source each with
    school (organization), department (group) and stakeholder (user field) mappings."""
    year = scale.last_day.year + (1 if scale.last_day.month >= 7 else 0)  # school year
    spring = [dt.date(2026, 3, 16), dt.date(2026, 3, 23), dt.date(2026, 3, 30)]
    districts = []
    for i, spec in enumerate(scale.districts):
        did, slug = district_id(spec, i), _slug(spec.name)
        schools = n_schools(spec)
        sb = spring[i % len(spring)]
        closures = [
            {"start": dt.date(2025, 11, 26), "reason": "Thanksgiving break"},
            {"start": dt.date(2025, 11, 28), "reason": "Thanksgiving break"},
            {"start": dt.date(2025, 12, 22), "end": dt.date(2026, 1, 2), "reason": "Winter break"},
            {"start": sb, "end": sb + dt.timedelta(days=4), "reason": "Spring break"},
        ]
        if spec.state in ("IL", "MN", "NY", "AK", "CO", "ID"):
            closures.append({"start": dt.date(2026, 1, 27), "reason": "Snow day"})
        domain = f"{slug}.k12.{spec.state.lower()}.us"
        districts.append(
            {
                "district_id": did,
                "name": spec.name,
                "state": spec.state,
                "timezone": spec.timezone,
                "enrollment": {year - 1: round(spec.enrollment * 0.985), year: spec.enrollment},
                "consortium_ids": ["bench"] if len(scale.districts) > 1 else [],
                "calendar": {"closures": closures},
                "mail_domains": [domain],
                "student_domains": [f"students.{domain}"],
                "departments": list(DEPARTMENTS),
                "schools": [
                    {
                        "school_id": f"{did}{s:05d}",
                        "name": f"{spec.name} School {s}",
                        "enrollment": {year: spec.enrollment // schools},
                    }
                    for s in range(1, schools + 1)
                ],
                "sources": [
                    {
                        "name": f"zd-{slug}",
                        "type": "zendesk",
                        "conn_id": f"bench_zd_{i}",
                        "start_date": dt.date(2025, 7, 1),
                        "mappings": {
                            "school": {
                                "field": "organization_id",
                                "values": {
                                    str(ORG_BASE + s): f"{did}{s:05d}"
                                    for s in range(1, schools + 1)
                                },
                            },
                            "department": {
                                "field": "group_id",
                                "values": {
                                    str(GROUP_BASE + k + 1): d for k, d in enumerate(DEPARTMENTS)
                                },
                            },
                            "stakeholder": {
                                "field": "user_field:stakeholder_type",
                                "values": {
                                    t: t for t in ("parent", "student", "staff", "community")
                                },
                            },
                        },
                    }
                ],
            }
        )
    consortiums = [{"consortium_id": "bench", "name": "Bench Consortium"}]
    return DeploymentConfig.model_validate(
        {
            "name": f"bench-{scale.name}",
            "consortiums": consortiums if len(scale.districts) > 1 else [],
            "districts": districts,
        }
    )


def school_years(first_day: dt.date, last_day: dt.date) -> float:
    """The share of a school year from first_day to last_day (its weeks over 42, at most 1)."""
    return min(((last_day - first_day).days + 1) / 7 / SCHOOL_YEAR_WEEKS, 1.0)


def disk_needed_gb(scale: Scale, intraday: bool = True, landed: bool = False) -> float:
    """The disk a scale needs while it runs (GB), from the measured size per student-year;
    without the intraday path's copies when `intraday` is false, without raw when `landed` (a
    resumed run: raw is on the disk already)."""
    years = school_years(scale.first_day, scale.last_day)
    parts = [
        k
        for k in MB_PER_STUDENT_YEAR
        if (intraday or k != "intraday") and not (landed and k == "raw")
    ]
    per_student_year = sum(MB_PER_STUDENT_YEAR[k] for k in parts)
    return scale.students * per_student_year * years * DISK_HEADROOM / 1024


def check_disk(scale: Scale, data_dir: Path | None, landed: bool = False) -> str | None:
    """Refuse a scale the embedded server's disk cannot hold, before generating anything (a full
    disk would stop the warehouse half way). A server named by WAREHOUSE_URL has its own disk.
    When the scale fits only without the intraday path's copies (a quarter of the bytes: it
    builds stg, int and build again), returns why the intraday cycle is left out; else None.
    `landed`: raw is on the disk already (a resumed run), only what is built on it is needed."""
    if data_dir is None:
        return None
    import shutil

    free = shutil.disk_usage(data_dir).free / 1024**3
    need = disk_needed_gb(scale, landed=landed)
    nightly = disk_needed_gb(scale, intraday=False, landed=landed)
    if free >= need:
        return None
    if free >= nightly:
        return (
            f"not run: with the intraday path's own copies {scale.name} needs about "
            f"{need:.0f} GB and {data_dir} has {free:.0f} GB free (without them {nightly:.0f} GB); "
            f"a smaller scale's run (e.g. {scale.name}:12) measures the cycle"
        )
    raise RuntimeError(
        f"scale {scale.name} needs about {nightly:.0f} GB of disk while it runs (about "
        f"{need:.0f} GB with the intraday cycle) and {data_dir} has {free:.0f} GB free: run its "
        f"last weeks only (--scale {scale.name}:12, or BENCH_SCALES=S,{scale.name}:12 make "
        "bench, or --weeks N) or against a larger server (WAREHOUSE_URL)"
    )

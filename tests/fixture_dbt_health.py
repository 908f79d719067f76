"""Hand-worked raw rows for the service-health models (issue 18, docs/metrics.md "Service
health"): one district (Lincoln, America/Chicago, 07:30-16:30 = 540 service minutes a day,
Mon-Fri; closed Fri 2026-02-13 by config and Mon 2026-02-16 for Presidents' Day) with one
Zendesk source. February 2026 is CST (UTC-6). past_due_service_days is 3 for this district.

Tickets (S = solved, O = open; times local CST):
- 3001 reopened twice: Mon 02-02 09:00; agent + S 10:00; requester reopens Tue 09:00, agent + S
  11:00; reopens Wed 02-04 09:00; agent + S Thu 10:00. Reopened, 3 responses (not one-touch).
  Waiting only at the end of Wed 02-04: age Mon 450 + Tue 540 + Wed 540 = 1530 min = 2.8333
  service days (bucket 2-5). First response 60 business min. Rated good.
- 3002 one-touch with "thanks": Tue 02-03 08:00; agent 09:00 (60 min); requester "thanks"
  10:00; S 11:00 (no comment). One response -> one-touch. Rated good.
- 3003 auto-reply + one human reply: Tue 02-03 08:00; trigger 08:01 (not a response); agent + S
  12:00 (240 min). One-touch. Rated bad.
- 3004 across a weekend and two closures: Thu 02-12 15:00, low (target 5 days = 2700 min),
  never answered. Age at each day's end: Thu..Mon 90 min (Fri closure, Sat, Sun, Mon holiday),
  Tue 02-17 630 (1.1667), Wed 1170 (2.1667), Thu 02-19 1710 (3.1667 > 3: past due by age, not
  by target), Fri 02-20 2250 (4.1667).
- 3006 after hours: Sat 02-14 10:00, normal; agent Tue 02-17 08:30 (60 business min), never
  solved: in the backlog from Saturday, age 0 until Tue 07:30, then 1.0 at Tue's end, 3.0 at
  Thu's (not past due: not more than 3), 4.0 at Fri 02-20's (past due by age). Rated bad.
- Night two: 3005 past due by target: Fri 02-20 08:30, urgent (240), unanswered: 480 min at the
  day's end > 240, age 0.8889 (< 3). Rated bad while unanswered.

Spearman over rated, answered interactions (x = first-response minutes, y = r5):
3001 (60, 5), 3002 (60, 5), 3003 (240, 1), 3006 (60, 1). Average ranks: x 60 -> 2 (three tied
at 1..3), 240 -> 4; y 1 -> 1.5, 5 -> 3.5. Deviations from 2.5: dx -.5 -.5 1.5 -.5, dy 1 1 -1 -1;
sum dxdy = -2, sum dx^2 = 3, sum dy^2 = 4: rho = -2 / sqrt(12) = -0.5774, n 4.
Buckets (n = 2): 1_to_4_hours 3001, 3002, 3006: 3 ratings, score 3.67, positive 2/3;
4_hours_to_1_day 3003: 1 rating, below n; unanswered_when_rated 3005: 1, below n.
"""

from __future__ import annotations

import copy
from typing import Any

from tests import fixture_dbt_core as core
from tests.fixture_dbt_core import ADMIN, AGENT, LINCOLN, PARENT, ZD, _event, _row, _ticket, comment
from tests.fixture_dbt_core import status as st

AS_OF_NIGHT_ONE = "2026-02-18"
AS_OF_NIGHT_TWO = "2026-02-20"
N_MIN = 2


def config_dict() -> dict[str, Any]:
    cfg = copy.deepcopy(core.CONFIG)
    lincoln = next(d for d in cfg["districts"] if d["district_id"] == LINCOLN)
    lincoln["sources"] = [s for s in lincoln["sources"] if s["type"] == "zendesk"]
    lincoln["past_due_service_days"] = 3
    cfg["districts"] = [lincoln]
    return cfg


def config():
    from schoolcx.config import DeploymentConfig

    return DeploymentConfig.model_validate(config_dict())


def _rating(rid: int, tid: int, score: str, at: str) -> dict:
    return _row(
        "zendesk",
        ZD,
        LINCOLN,
        rid,
        at,
        {"id": rid, "ticket_id": tid, "score": score, "created_at": at, "updated_at": at},
    )


def night_one_rows() -> dict[str, list[dict]]:
    t = [
        _ticket(3001, "2026-02-02T15:00:00Z", "2026-02-05T16:00:00Z", "solved", priority="normal"),
        _ticket(3002, "2026-02-03T14:00:00Z", "2026-02-03T17:00:00Z", "solved", priority="normal"),
        _ticket(3003, "2026-02-03T14:00:00Z", "2026-02-03T18:00:00Z", "solved", priority="normal"),
        _ticket(3004, "2026-02-12T21:00:00Z", "2026-02-12T21:00:00Z", "new", priority="low"),
        _ticket(3006, "2026-02-14T16:00:00Z", "2026-02-17T14:30:00Z", "open", priority="normal"),
    ]
    e = [
        _event(3001, "2026-02-02T15:00:00Z", st("new"), comment(PARENT)),
        _event(3001, "2026-02-02T16:00:00Z", comment(AGENT), st("solved", "new"), updater=AGENT),
        _event(3001, "2026-02-03T15:00:00Z", comment(PARENT), st("open", "solved")),
        _event(3001, "2026-02-03T17:00:00Z", comment(AGENT), st("solved", "open"), updater=AGENT),
        _event(3001, "2026-02-04T15:00:00Z", comment(PARENT), st("open", "solved")),
        _event(3001, "2026-02-05T16:00:00Z", comment(ADMIN), st("solved", "open"), updater=ADMIN),
        _event(3002, "2026-02-03T14:00:00Z", st("new"), comment(PARENT)),
        _event(3002, "2026-02-03T15:00:00Z", comment(AGENT), st("pending", "new"), updater=AGENT),
        _event(3002, "2026-02-03T16:00:00Z", comment(PARENT), st("open", "pending")),
        _event(3002, "2026-02-03T17:00:00Z", st("solved", "open"), updater=AGENT),
        _event(3003, "2026-02-03T14:00:00Z", st("new"), comment(PARENT)),
        _event(3003, "2026-02-03T14:01:00Z", comment(-1), via="Rule", updater=-1),
        _event(3003, "2026-02-03T18:00:00Z", comment(AGENT), st("solved", "new"), updater=AGENT),
        _event(3004, "2026-02-12T21:00:00Z", st("new"), comment(PARENT)),
        _event(3006, "2026-02-14T16:00:00Z", st("new"), comment(PARENT)),
        _event(3006, "2026-02-17T14:30:00Z", comment(AGENT), st("open", "new"), updater=AGENT),
    ]
    ratings = [
        _rating(71001, 3001, "good", "2026-02-05T18:00:00Z"),
        _rating(71002, 3002, "good", "2026-02-03T20:00:00Z"),
        _rating(71003, 3003, "bad", "2026-02-03T20:00:00Z"),
        _rating(71006, 3006, "bad", "2026-02-17T20:00:00Z"),
    ]
    return {
        "zendesk_tickets": t,
        "zendesk_ticket_events": e,
        "zendesk_users": [core._user(u) for u in core.USERS],
        "zendesk_satisfaction_ratings": ratings,
    }


def night_two_rows() -> dict[str, list[dict]]:
    return {
        "zendesk_tickets": [
            _ticket(3005, "2026-02-20T14:30:00Z", "2026-02-20T14:30:00Z", "new", priority="urgent")
        ],
        "zendesk_ticket_events": [_event(3005, "2026-02-20T14:30:00Z", st("new"), comment(PARENT))],
        "zendesk_satisfaction_ratings": [_rating(71005, 3005, "bad", "2026-02-20T22:00:00Z")],
    }

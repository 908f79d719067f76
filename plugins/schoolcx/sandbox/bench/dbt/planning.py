"""The plan: one row per ticket with every moment of its life, drawn in SQL."""

from __future__ import annotations

from schoolcx.sandbox.bench.dbt.scales import AGENT_BASE, GROUP_BASE, ORG_BASE, REQUESTER_BASE
from schoolcx.sandbox.bench.dbt.sqlparts import _lit, _minutes, _pick, _snap

TOPICS = (
    ("transportation", 0.20, 0),
    ("enrollment", 0.12, 1),
    ("attendance", 0.12, 3),
    ("grades", 0.10, 9),
    ("special_education", 0.04, 2),
    ("bullying", 0.02, 3),
    ("safety", 0.01, 3),
    ("nutrition", 0.07, 4),
    ("technology", 0.10, 5),
    ("athletics", 0.05, 6),
    ("human_resources", 0.05, 7),
    ("billing", 0.07, 8),
    ("general", 0.05, 3),
)
# Zendesk via.channel, weight, the audit's `via` text for a person writing through it
CHANNELS = (
    ("web", 0.44, "Web form"),
    ("email", 0.35, "Mail"),
    ("voice", 0.12, "Voice"),
    ("chat", 0.06, "Chat"),
    ("walk_in", 0.02, "Web form"),
    ("api", 0.01, "Web service"),
)
PRIORITIES = (("urgent", 0.02), ("high", 0.10), ("normal", 0.70), ("low", 0.10), (None, 0.08))


# Uniform draws r_* and standard normal draws z_* made once per ticket.
DRAWS = (
    *("hours", "time", "channel", "priority", "topic", "requester", "agent", "school", "oba"),
    *("answered", "conv", "solve1", "solve2", "reopen", "auto", "rated", "score", "note"),
    *("snap1", "snap2", "snap3", "j1", "j2", "j3", "tc"),
)
NORMAL_DRAWS = ("d1", "df", "d2", "dr", "d3", "rate")


def plan_sql() -> str:
    draws = ", ".join(f"random() as r_{n}" for n in DRAWS)
    # Box-Muller from two uniforms (random_normal() is PostgreSQL 16+; WAREHOUSE_URL may
    # name an older server)
    normals = ", ".join(
        f"sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) as z_{n}" for n in NORMAL_DRAWS
    )
    priority = _pick([_lit(v) for v, _w in PRIORITIES], [w for _v, w in PRIORITIES], "g.r_priority")
    topic_idx = _pick([str(i + 1) for i in range(len(TOPICS))], [t[1] for t in TOPICS], "g.r_topic")
    return f"""
    with base as (
        select
            dd.district_id, dd.district_idx, dd.timezone as tz, d.local_date, g.*,
            (1000000 + (d.local_date - %(first)s::date) * 100000 + g.n)::bigint as ticket_id,
            date_trunc('second', case
                when d.is_service and g.r_hours < 0.88
                    then d.open_at + g.r_time * (d.close_at - d.open_at)
                when d.is_service and g.r_hours < 0.96
                    then d.close_at + g.r_time * interval '5 hours 30 minutes'
                when d.is_service then d.open_at - g.r_time * interval '90 minutes'
                else ((d.local_date + time '08:00') at time zone dd.timezone)
                    + g.r_time * interval '14 hours'
            end) as t0,
            {_pick([f"'{c[0]}'" for c in CHANNELS], [c[1] for c in CHANNELS], "g.r_channel")}
                as channel,
            {_pick([f"'{c[2]}'" for c in CHANNELS], [c[1] for c in CHANNELS], "g.r_channel")}
                as via_text,
            {priority}
                as priority,
            {topic_idx} as topic_idx,
            {REQUESTER_BASE} + floor(dd.n_requesters * power(g.r_requester, 1.6))::bigint
                as requester_id,
            {AGENT_BASE} + floor(dd.n_agents * g.r_agent)::bigint as agent_id,
            case when g.r_school < 0.9
                then 1 + floor(dd.n_schools * g.r_school / 0.9)::int end as school_no
        from bench_gen.days as d
        inner join bench_gen.districts as dd on d.district_id = dd.district_id
            and mod(d.local_date - %(first)s::date, %(parts)s) = %(part)s
        cross join lateral (
            select s.n, {draws}, {normals} from generate_series(1, d.n) as s (n)
        ) as g
    ),

    first_reply as (
        select
            b.*,
            (array[{", ".join(f"'{t[0]}'" for t in TOPICS)}])[b.topic_idx] as topic,
            {GROUP_BASE} + 1 + (array[{", ".join(str(t[2]) for t in TOPICS)}])[b.topic_idx]
                as group_id,
            b.channel in ('voice', 'walk_in') and b.r_oba < 0.7 as opened_by_agent,
            b.r_answered < 0.97 or b.priority = 'urgent' as answered,
            b.r_conv < 0.30 as conversation,
            date_trunc('second', b.t0 + {_minutes(75, 1.1, "b.z_d1", 20000)}) as c1
        from base as b
    ),

    replied as (
        select
            f.*,
            case when f.answered then
                {_snap("f.c1", "k1", "f.r_j1", "f.r_snap1 >= 0.92")} end as t1
        from first_reply as f
        left join bench_gen.calendar as k1
            on k1.district_id = f.district_id
            and k1.local_date = (f.c1 at time zone f.tz)::date
    ),

    followed as (
        select
            r.*,
            case when r.conversation then 'pending'
                when r.r_solve1 < 0.88 then 'solved' else 'pending' end as s1,
            case when r.r_solve2 < 0.9 then 'solved' else 'pending' end as s2,
            case when r.conversation and r.t1 is not null then
                date_trunc('second', r.t1 + {_minutes(240, 1.0, "r.z_df", 10000)}) end as tf
        from replied as r
    ),

    followed_c as (
        select f.*, f.tf + {_minutes(90, 1.0, "f.z_d2", 10000)} as c2 from followed as f
    ),

    second_reply as (
        select
            f.*,
            {_snap("f.c2", "k2", "f.r_j2", "f.r_snap2 >= 0.92")}
                as t2
        from followed_c as f
        left join bench_gen.calendar as k2
            on k2.district_id = f.district_id
            and k2.local_date = (f.c2 at time zone f.tz)::date
    ),

    solved as (
        select
            s.*,
            case
                when s.conversation then case when s.s2 = 'solved' then s.t2 end
                when s.s1 = 'solved' then s.t1
            end as ts
        from second_reply as s
    ),

    reopened as (
        select
            s.*,
            case when s.ts is not null and s.r_reopen < 0.04 then
                date_trunc('second', s.ts + {_minutes(1440, 0.8, "s.z_dr", 5000)}) end as tr
        from solved as s
    ),

    reopened_c as (
        select r.*, r.tr + {_minutes(120, 1.0, "r.z_d3", 5000)} as c3 from reopened as r
    ),

    resolved as (
        select
            r.*,
            {_snap("r.c3", "k3", "r.r_j3", "r.r_snap3 >= 0.92")}
                as t3
        from reopened_c as r
        left join bench_gen.calendar as k3
            on k3.district_id = r.district_id
            and k3.local_date = (r.c3 at time zone r.tz)::date
    )

    select
        r.district_id, r.district_idx, r.local_date, r.ticket_id, r.channel, r.via_text,
        r.priority, r.topic, r.group_id, r.requester_id, r.agent_id,
        {ORG_BASE} + r.school_no as organization_id,
        r.district_id || lpad(r.school_no::text, 5, '0') as school_id,
        case when r.topic in ('bullying', 'safety') or r.r_note < 0.05
            then jsonb_build_array(r.topic, 'escalated') else jsonb_build_array(r.topic)
        end as tags,
        r.opened_by_agent, r.s1, r.s2, r.r_note,
        r.t0,
        case when r.channel in ('web', 'email') and r.r_auto < 0.25
            then r.t0 + interval '2 seconds' end as ta,
        r.t1, r.tf, r.t2, r.ts, r.tr, r.t3,
        case when r.ts is not null then
            date_trunc('hour', coalesce(r.t3, r.ts) + interval '4 days') + interval '1 hour'
            + date_trunc('second', r.r_tc * interval '10 minutes') end as tc,
        case when r.ts is not null and r.r_rated < 0.22 then
            date_trunc('second', coalesce(r.t3, r.ts) + {_minutes(300, 1.2, "r.z_rate", 40000)})
        end as rated_at,
        case when r.r_score < case when r.t1 - r.t0 > interval '1 day' then 0.65 else 0.85 end
            then 'good' else 'bad' end as score
    from resolved as r
    """

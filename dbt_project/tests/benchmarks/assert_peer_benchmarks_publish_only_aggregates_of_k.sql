-- Privacy (docs/metrics.md "Peer benchmarks"): peer figures appear only for a group of at least k
-- qualifying districts, every suppressed row has all peer columns NULL, and ranks are shares.
-- Returns the offending rows.
select
    benchmarks.district_id,
    benchmarks.metric,
    benchmarks.period_type,
    benchmarks.period_start,
    benchmarks.peer_group,
    benchmarks.n_districts,
    benchmarks.suppression_reason
from {{ ref('peer_benchmarks') }} as benchmarks
where
    (
        benchmarks.peer_group is not null
        and (
            benchmarks.n_districts < {{ var('k_min_districts', 5) }}
            or benchmarks.peer_median is null
            or benchmarks.suppression_reason = 'no_peer_group_meets_k'
        )
    )
    or (
        benchmarks.peer_group is null
        and (
            benchmarks.peer_group_key is not null
            or benchmarks.n_districts is not null
            or benchmarks.peer_p25 is not null
            or benchmarks.peer_median is not null
            or benchmarks.peer_p75 is not null
            or benchmarks.percentile_rank is not null
            or benchmarks.delta_from_median is not null
            or benchmarks.suppression_reason is distinct from 'no_peer_group_meets_k'
        )
    )
    or benchmarks.percentile_rank not between 0 and 1

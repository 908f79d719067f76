"""The intraday path: "today so far" every 15 minutes in service hours (issue 18).

- `schoolcx.lease` (a step below the pipeline): the nightly and a cycle never overlap;
- `hours`: whether a district is in its service hours at an instant;
- `cycle`: one cycle: extract (same connectors, same state), dbt into the intraday schemas,
  checks, and the atomic publish of marts.today_status alone.
"""

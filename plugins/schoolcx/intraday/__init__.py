"""The intraday path: "today so far" every 15 minutes in service hours (issue 18).

- `lease`: the nightly and an intraday cycle never run at the same time;
- `hours`: whether a district is in its service hours at an instant;
- `cycle`: one cycle: extract (same connectors, same state), dbt into the intraday schemas,
  checks, and the atomic publish of marts.today_status alone.
"""

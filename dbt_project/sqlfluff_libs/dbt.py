"""dbt's cross-database macros as sqlfluff's jinja templater renders them, for linting only.

dbt renders `{{ dbt.date_trunc(...) }}` through the adapter; the jinja templater in `.sqlfluff`
has no `dbt` namespace and would stop at the first call. Each function returns what dbt-postgres
1.11 renders, so the SQL that is linted is the SQL that runs. A model that starts using another
cross-database macro adds it here.
"""


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart: str, interval: str, from_date_or_timestamp: str) -> str:
    return f"{from_date_or_timestamp} + ((interval '1 {datepart}') * ({interval}))"


def last_day(date: str, datepart: str) -> str:
    first_of_next = dateadd(datepart, "1", date_trunc(datepart, date))
    return f"cast({dateadd('day', '-1', first_of_next)} as date)"

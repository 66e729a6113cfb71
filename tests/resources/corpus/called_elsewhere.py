"""Two flows that do not call each other; the runner module calls one of them.

Only this file counts for the entry rules, so neither is singled out here.
"""

from prefect import flow


@flow
def daily(day: str = "today") -> str:
    return day


@flow
def weekly(week: int = 1) -> int:
    return week

"""Two report flows in one file, both deployed (flows.reports.flow lists them)."""

from prefect import flow


@flow
def daily_report(day: str = "today") -> str:
    return f"daily report for {day}"


@flow
def weekly_report(week: int = 1, include_totals: bool = True) -> str:
    return f"weekly report {week}{' with totals' if include_totals else ''}"

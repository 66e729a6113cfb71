"""The sales team's flows: both are deployed (flows.sales.flow lists them)."""

from prefect import flow
from transform import totals

ORDERS = [{"amount": 10.5}, {"amount": 4.25}, {"amount": 0.25}]


@flow
def daily_sales(region: str = "global") -> dict[str, object]:
    return {"region": region, "total": totals(ORDERS)}


@flow
def weekly_sales(region: str = "global", weeks: int = 1) -> dict[str, object]:
    return {"region": region, "total": totals(ORDERS) * 7 * weeks}

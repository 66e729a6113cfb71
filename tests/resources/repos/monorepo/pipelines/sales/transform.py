"""Helpers of the sales flows (no flow here)."""


def totals(orders: list[dict]) -> float:
    return round(sum(order["amount"] for order in orders), 2)

"""Shared helpers for the flows beside this file (not a flow itself)."""

import statistics


def summarise(values: list[float]) -> dict[str, float]:
    """Count, total and mean of a list of numbers."""
    return {"count": len(values), "total": sum(values),
            "mean": statistics.fmean(values) if values else 0.0}

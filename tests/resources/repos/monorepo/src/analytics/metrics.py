"""Metric helpers of the analytics package."""

import statistics


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index] if ordered else 0.0


def spread(values: list[float]) -> float:
    return statistics.pstdev(values) if values else 0.0

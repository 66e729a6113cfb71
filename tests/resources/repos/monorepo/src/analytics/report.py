"""The analytics package's flows, named by discovery.entrypoints."""

import yaml
from metrics import percentile, spread
from prefect import flow


@flow(name="analytics-report", log_prints=True)
def build_report(values: list[float] | None = None) -> dict[str, float]:
    numbers = values or [3.0, 1.0, 2.0, 5.0, 4.0]
    summary = {"p50": percentile(numbers, 0.5), "spread": round(spread(numbers), 3)}
    print("report: " + yaml.safe_dump(summary, default_flow_style=True).strip())
    return summary


@flow(name="analytics-metrics-refresh")
def refresh_metrics(full: bool = False) -> bool:
    return full

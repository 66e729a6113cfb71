"""RPA3: build the periodic sales report from the order export.

This replaces the spreadsheet someone used to assemble by hand: the order
export is filtered, aggregated per region, product or month, and rendered as a
Markdown report and/or a CSV table in an output directory.

Orders are read from ``data/`` next to this file (or ``RPA3_DATA_DIR``), so the
flow works from any working directory and inside the container, where this
folder lives at ``/opt/prefect/flows/rpa3/``.
"""

import csv
import json
import os
import shutil
import tempfile
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

FLOW_DIR = Path(__file__).parent
CENT = Decimal("0.01")

GroupBy = Literal["region", "product", "month"]
ReportFormat = Literal["markdown", "csv", "both"]
Order = dict[str, str]


def _data_dir() -> Path:
    """Where the order export lives; relative overrides are anchored at this folder."""
    configured = Path(os.environ.get("RPA3_DATA_DIR", "data"))
    return configured if configured.is_absolute() else FLOW_DIR / configured


def _money(value: Decimal) -> Decimal:
    """Round to cents the way accounting expects (half up, not banker's rounding)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_revenue(order: Order) -> Decimal:
    """Net revenue of one order line."""
    return Decimal(order["quantity"]) * Decimal(order["unit_price"])


def group_key(order: Order, group_by: GroupBy) -> str:
    """The bucket an order belongs to; months are YYYY-MM so they sort naturally."""
    return order["order_date"][:7] if group_by == "month" else order[group_by]


@task(retries=2, retry_delay_seconds=1)
def read_orders(path: Path) -> list[Order]:
    """Read the order export; retried because it is fetched from a network share."""
    with path.open(newline="", encoding="utf-8") as handle:
        orders = [dict(row) for row in csv.DictReader(handle)]
    get_run_logger().info("Read %d orders from %s", len(orders), path.name)
    return orders


@task
def select_orders(
    orders: list[Order], statuses: list[str], regions: list[str] | None
) -> list[Order]:
    """Keep orders that count for the report (by status and, optionally, region)."""
    wanted_status = {s.lower() for s in statuses}
    wanted_region = {r.lower() for r in regions} if regions else None
    return [
        o
        for o in orders
        if o["status"].lower() in wanted_status
        and (wanted_region is None or o["region"].lower() in wanted_region)
    ]


@task
def aggregate(orders: list[Order], group_by: GroupBy) -> list[dict[str, Any]]:
    """Orders, units and net revenue per group, largest revenue first."""
    buckets: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"orders": 0, "units": 0, "revenue": Decimal("0")}
    )
    for order in orders:
        bucket = buckets[group_key(order, group_by)]
        bucket["orders"] += 1
        bucket["units"] += int(order["quantity"])
        bucket["revenue"] += line_revenue(order)
    rows = [
        {"group": name, **values, "revenue": str(_money(values["revenue"]))}
        for name, values in buckets.items()
    ]
    return sorted(rows, key=lambda r: (-Decimal(r["revenue"]), r["group"]))


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def write_intermediate(groups: list[dict[str, Any]], path: Path) -> Path:
    """Persist the aggregates so each renderer works from the same snapshot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(groups, indent=2), encoding="utf-8")
    return path


def _load_groups(path: Path) -> list[dict[str, Any]]:
    """Read the aggregate snapshot written by write_intermediate."""
    groups: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return groups


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def render_markdown(
    aggregates: Path,
    target: Path,
    title: str,
    group_by: GroupBy,
    summary: dict[str, Any],
    top_n: int,
) -> Path:
    """Human-readable report for e-mail or the wiki."""
    groups = _load_groups(aggregates)
    lines = [
        f"# {title}",
        "",
        f"Prepared for {summary['company']} on {date.today().isoformat()}.",
        f"Period: {summary['period_start']} to {summary['period_end']}.",
        "",
        "## Totals",
        "",
        f"- Orders: {summary['orders']}",
        f"- Units: {summary['units']}",
        f"- Net revenue: {summary['net_revenue']:.2f}",
        f"- Gross revenue (VAT {summary['vat_rate']:.0%}): {summary['gross_revenue']:.2f}",
        "",
        f"## Revenue by {group_by}",
        "",
        f"| {group_by.capitalize()} | Orders | Units | Net revenue |",
        "|---|---:|---:|---:|",
        *(f"| {g['group']} | {g['orders']} | {g['units']} | {g['revenue']} |" for g in groups),
        "",
        f"## Top {min(top_n, len(groups))} by net revenue",
        "",
        *(
            f"{rank}. {g['group']} ({g['revenue']})"
            for rank, g in enumerate(groups[:top_n], start=1)
        ),
        "",
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def render_csv(aggregates: Path, target: Path, group_by: GroupBy) -> Path:
    """Machine-readable table for the BI import."""
    groups = _load_groups(aggregates)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([group_by, "orders", "units", "net_revenue"])
        writer.writerows([g["group"], g["orders"], g["units"], g["revenue"]] for g in groups)
    return target


@task(cache_policy=NO_CACHE)
def remove_intermediates(work_dir: Path) -> None:
    """Drop the aggregate snapshot; the rendered reports stay."""
    shutil.rmtree(work_dir, ignore_errors=True)
    get_run_logger().info("Removed intermediate files in %s", work_dir)


def _summary(orders: list[Order], vat_rate: float) -> dict[str, Any]:
    """Report-wide totals as JSON-friendly values."""
    net = _money(sum((line_revenue(o) for o in orders), Decimal("0")))
    dates = sorted(o["order_date"] for o in orders)
    return {
        "company": os.environ.get("RPA3_COMPANY_NAME", "Example Corp"),
        "orders": len(orders),
        "units": sum(int(o["quantity"]) for o in orders),
        "net_revenue": float(net),
        "gross_revenue": float(_money(net * (1 + Decimal(str(vat_rate))))),
        "vat_rate": vat_rate,
        "period_start": dates[0] if dates else None,
        "period_end": dates[-1] if dates else None,
    }


@flow(name="RPA3ProcessingFlow")
def rpa3_processing_flow(
    output_dir: str | None = None,
    group_by: Literal["region", "product", "month"] = "region",
    report_format: Literal["markdown", "csv", "both"] = "both",
    top_n: int = 5,
    vat_rate: float = 0.19,
    statuses: list[str] | None = None,
    regions: list[str] | None = None,
    title: str = "Sales Report",
    source_file: str = "sales.csv",
    cleanup: bool = False,
) -> dict[str, Any]:
    """Generate the sales report (Markdown and/or CSV) from the order export.

    Orders whose status is in ``statuses`` (default: completed) and, if given,
    whose region is in ``regions`` are aggregated by ``group_by``. Reports are
    written to ``output_dir`` (a new temp dir by default); ``cleanup`` removes
    the intermediate aggregate snapshot in ``<output_dir>/.work``.
    """
    if top_n < 1:
        raise ValueError("top_n must be at least 1")
    logger = get_run_logger()
    out = Path(tempfile.mkdtemp(prefix="rpa3-report-")) if output_dir is None else Path(output_dir)
    work_dir = out / ".work"

    orders = read_orders(_data_dir() / source_file)
    selected = select_orders(orders, statuses or ["completed"], regions)
    groups = aggregate(selected, group_by)
    snapshot = write_intermediate(groups, work_dir / "aggregates.json")
    summary = _summary(selected, vat_rate)

    reports: list[Path] = []
    if report_format in ("markdown", "both"):
        reports.append(
            render_markdown(snapshot, out / "report.md", title, group_by, summary, top_n)
        )
    if report_format in ("csv", "both"):
        reports.append(render_csv(snapshot, out / "report.csv", group_by))
    if cleanup:
        remove_intermediates(work_dir)

    result: dict[str, Any] = {
        "report_path": str(reports[0]),
        "report_paths": [str(p) for p in reports],
        "output_dir": str(out),
        "group_by": group_by,
        **summary,
        "orders_read": len(orders),
        "groups": {g["group"]: float(g["revenue"]) for g in groups},
        "top": [g["group"] for g in groups[:top_n]],
        "intermediate_dir": str(work_dir),
        "cleaned_up": cleanup,
    }
    logger.info(
        "RPA3 done: %d orders, net revenue %.2f, report at %s",
        result["orders"],
        result["net_revenue"],
        result["report_path"],
    )
    return result


if __name__ == "__main__":
    print(json.dumps(rpa3_processing_flow(), indent=2))

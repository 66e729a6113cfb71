"""RPA2: reconcile a bank statement export against the general-ledger export.

This automates the daily cash reconciliation: both exports are normalised
(references upper-cased without blanks, amounts as exact decimals), each bank
line is paired with the ledger entry carrying the same reference, and every
line that does not reconcile is written to ``exceptions.csv`` for a clerk.

Exports are read from ``data/`` next to this file (or ``RPA2_DATA_DIR``), so the
flow works from any working directory and inside the container, where this
folder lives at ``/opt/prefect/flows/rpa2/``.
"""

import csv
import json
import os
import re
import shutil
import tempfile
from collections import defaultdict, deque
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

FLOW_DIR = Path(__file__).parent
EXCEPTION_COLUMNS = (
    "status",
    "reference",
    "bank_date",
    "ledger_date",
    "bank_amount",
    "ledger_amount",
    "difference",
    "detail",
)

Entry = dict[str, Any]
MatchOn = Literal["reference", "reference_and_date"]


def _data_dir() -> Path:
    """Where the exports live; relative overrides are anchored at this folder."""
    configured = Path(os.environ.get("RPA2_DATA_DIR", "data"))
    return configured if configured.is_absolute() else FLOW_DIR / configured


def normalize_reference(raw: str) -> str:
    """Canonical reference: banks pad, lower-case and space out what the ERP wrote."""
    return re.sub(r"\s+", "", raw).upper()


def _to_decimal(raw: str, where: str) -> Decimal:
    """Exact amount; a corrupt export must fail the run rather than reconcile wrongly."""
    try:
        return Decimal(raw.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{where}: invalid amount {raw!r}") from exc


def _to_date(raw: str) -> date | None:
    """Booking/posting date, or None when the export leaves it empty or garbled."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


@task(retries=2, retry_delay_seconds=1)
def read_export(path: Path) -> list[dict[str, str]]:
    """Read one CSV export; retried because exports land on a network share."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [dict(row) for row in csv.DictReader(handle)]
    get_run_logger().info("Read %d rows from %s", len(rows), path.name)
    return rows


@task
def normalize_entries(
    rows: list[dict[str, str]], date_column: str, id_column: str | None, source: str
) -> list[Entry]:
    """Turn raw rows of either export into comparable entries."""
    entries = []
    for line, row in enumerate(rows, start=2):
        entries.append(
            {
                "source_id": row[id_column] if id_column else f"{source}:{line}",
                "reference": normalize_reference(row["reference"]),
                "date": _to_date(row.get(date_column, "")),
                "amount": _to_decimal(row["amount"], f"{source} line {line}"),
            }
        )
    return entries


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def write_snapshot(entries: list[Entry], path: Path) -> Path:
    """Keep the normalised input so a reviewer can see exactly what was compared."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2, default=str), encoding="utf-8")
    return path


def _compare(
    bank: Entry, ledger: Entry, tolerance: Decimal, match_on: MatchOn, window_days: int
) -> str | None:
    """Why a bank line and its ledger entry disagree, or None when they reconcile."""
    if abs(bank["amount"] - ledger["amount"]) > tolerance:
        return "amount"
    if match_on == "reference_and_date":
        if bank["date"] is None or ledger["date"] is None:
            return "date"
        if abs((bank["date"] - ledger["date"]).days) > window_days:
            return "date"
    return None


def _exception_row(
    status: str, bank: Entry | None, ledger: Entry | None, detail: str
) -> dict[str, str]:
    """One line of the exceptions report."""
    difference = ""
    if bank is not None and ledger is not None:
        difference = str(bank["amount"] - ledger["amount"])
    return {
        "status": status,
        "reference": (bank or ledger or {}).get("reference", ""),
        "bank_date": str(bank["date"] or "") if bank else "",
        "ledger_date": str(ledger["date"] or "") if ledger else "",
        "bank_amount": str(bank["amount"]) if bank else "",
        "ledger_amount": str(ledger["amount"]) if ledger else "",
        "difference": difference,
        "detail": detail,
    }


@task
def reconcile(
    bank: list[Entry], ledger: list[Entry], tolerance: float, match_on: MatchOn, window_days: int
) -> dict[str, Any]:
    """Pair entries by reference (first come, first paired) and classify every line."""
    open_ledger: dict[str, deque[Entry]] = defaultdict(deque)
    for entry in ledger:
        open_ledger[entry["reference"]].append(entry)
    limit = Decimal(str(tolerance))
    matched = 0
    exceptions: list[dict[str, str]] = []
    for line in bank:
        candidates = open_ledger.get(line["reference"])
        if not candidates:
            exceptions.append(_exception_row("unmatched_bank", line, None, "no ledger entry"))
            continue
        partner = candidates.popleft()
        reason = _compare(line, partner, limit, match_on, window_days)
        if reason is None:
            matched += 1
        else:
            detail = f"{reason} differs; ledger entry {partner['source_id']}"
            exceptions.append(_exception_row(f"mismatched_{reason}", line, partner, detail))
    for leftovers in open_ledger.values():
        exceptions.extend(
            _exception_row("unmatched_ledger", None, entry, f"ledger entry {entry['source_id']}")
            for entry in leftovers
        )
    return {"matched": matched, "exceptions": exceptions}


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def write_exceptions(exceptions: list[dict[str, str]], path: Path) -> Path:
    """Write the lines a clerk has to investigate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=EXCEPTION_COLUMNS)
        writer.writeheader()
        writer.writerows(exceptions)
    return path


@task(cache_policy=NO_CACHE)
def remove_intermediates(snapshot_dir: Path) -> None:
    """Drop the normalised snapshots; the exceptions report is the deliverable."""
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    get_run_logger().info("Removed intermediate files in %s", snapshot_dir)


def _is_ignored(entry: Entry, prefixes: list[str]) -> bool:
    """Expected one-sided lines (bank fees, interest) are not reconciliation exceptions."""
    return any(entry["reference"].startswith(normalize_reference(p)) for p in prefixes)


def _total(entries: list[Entry]) -> float:
    """Sum of amounts rounded to cents, as a JSON-friendly float."""
    return float(sum((e["amount"] for e in entries), Decimal("0")).quantize(Decimal("0.01")))


def _references(exceptions: list[dict[str, str]], prefix: str) -> list[str]:
    """Sorted references of the exceptions whose status starts with prefix."""
    return sorted(row["reference"] for row in exceptions if row["status"].startswith(prefix))


@flow(name="RPA2ProcessingFlow")
def rpa2_processing_flow(
    amount_tolerance: float = 0.01,
    match_on: Literal["reference", "reference_and_date"] = "reference",
    date_window_days: int = 3,
    ignore_prefixes: list[str] | None = None,
    bank_file: str = "bank_statement.csv",
    ledger_file: str = "ledger.csv",
    work_dir: str | None = None,
    cleanup: bool = False,
) -> dict[str, Any]:
    """Reconcile the bank statement export against the general-ledger export.

    Lines are paired by normalised reference; a pair whose amounts differ by
    more than ``amount_tolerance`` (or, with ``match_on="reference_and_date"``,
    whose dates are more than ``date_window_days`` apart) is mismatched.
    References starting with one of ``ignore_prefixes`` are left out. Results go
    to ``<work_dir>/exceptions.csv``; ``cleanup`` removes the normalised snapshots.
    """
    logger = get_run_logger()
    base = Path(tempfile.mkdtemp(prefix="rpa2-")) if work_dir is None else Path(work_dir)
    snapshot_dir = base / "normalized"
    data_dir = _data_dir()

    bank = normalize_entries(read_export(data_dir / bank_file), "booking_date", None, "bank")
    ledger = normalize_entries(
        read_export(data_dir / ledger_file), "posting_date", "entry_id", "ledger"
    )
    write_snapshot(bank, snapshot_dir / "bank.json")
    write_snapshot(ledger, snapshot_dir / "ledger.json")

    prefixes = ignore_prefixes or []
    kept_bank = [e for e in bank if not _is_ignored(e, prefixes)]
    kept_ledger = [e for e in ledger if not _is_ignored(e, prefixes)]
    outcome = reconcile(kept_bank, kept_ledger, amount_tolerance, match_on, date_window_days)
    exceptions = outcome["exceptions"]
    report = write_exceptions(exceptions, base / "exceptions.csv")

    result: dict[str, Any] = {
        "bank_name": os.environ.get("RPA2_BANK_NAME", "house-bank"),
        "match_on": match_on,
        "bank_records": len(bank),
        "ledger_records": len(ledger),
        "ignored": len(bank) - len(kept_bank) + len(ledger) - len(kept_ledger),
        "matched": outcome["matched"],
        "mismatched": sum(row["status"].startswith("mismatched") for row in exceptions),
        "unmatched_bank": sum(row["status"] == "unmatched_bank" for row in exceptions),
        "unmatched_ledger": sum(row["status"] == "unmatched_ledger" for row in exceptions),
        "bank_total": _total(bank),
        "ledger_total": _total(ledger),
        "mismatched_references": _references(exceptions, "mismatched"),
        "unmatched_bank_references": _references(exceptions, "unmatched_bank"),
        "unmatched_ledger_references": _references(exceptions, "unmatched_ledger"),
        "exceptions_report": str(report),
        "snapshot_dir": str(snapshot_dir),
        "cleaned_up": cleanup,
    }
    result["net_difference"] = round(result["bank_total"] - result["ledger_total"], 2)
    if cleanup:
        remove_intermediates(snapshot_dir)
    logger.info(
        "RPA2 done: %d matched, %d mismatched, %d/%d unmatched (bank/ledger)",
        result["matched"],
        result["mismatched"],
        result["unmatched_bank"],
        result["unmatched_ledger"],
    )
    return result


if __name__ == "__main__":
    print(json.dumps(rpa2_processing_flow(), indent=2))

"""RPA1: ingest and validate a batch of supplier invoices.

The flow replaces the manual step of checking an ERP invoice export before it
is booked: it reads the export, validates every record, stages the accepted
records in batches (the files a downstream booking robot would pick up) and
writes the rejected records with their reasons to a rejects file.

Data is read from ``data/`` next to this file (or ``RPA1_DATA_DIR``), so the
flow behaves the same from any working directory and inside the container,
where this folder lives at ``/opt/prefect/flows/rpa1/``.
"""

import csv
import json
import os
import shutil
import tempfile
from collections import Counter
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

FLOW_DIR = Path(__file__).parent
REQUIRED_COLUMNS = ("invoice_id", "vendor", "issue_date", "due_date", "currency", "amount")

Record = dict[str, str]


def _data_dir() -> Path:
    """Where the invoice export lives; relative overrides are anchored at this folder."""
    configured = Path(os.environ.get("RPA1_DATA_DIR", "data"))
    return configured if configured.is_absolute() else FLOW_DIR / configured


def _parse_date(value: str) -> date | None:
    """ISO date or None, so impossible dates such as 2024-02-30 become a finding, not a crash."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _parse_amount(value: str) -> Decimal | None:
    """Decimal amount or None; Decimal keeps cent totals exact."""
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def record_errors(record: Record, currency: str, strict: bool) -> list[str]:
    """Reasons why one invoice cannot be booked (empty list means valid).

    Duplicate detection needs the whole batch and is done by the caller.
    Strict mode adds the checks the finance team only enforces at month end.
    """
    errors: list[str] = []
    if not record.get("invoice_id", "").strip():
        errors.append("missing_invoice_id")
    if not record.get("vendor", "").strip():
        errors.append("missing_vendor")
    amount = _parse_amount(record.get("amount", ""))
    if amount is None:
        errors.append("invalid_amount")
    elif amount <= 0:
        errors.append("non_positive_amount")
    issue_date = _parse_date(record.get("issue_date", ""))
    if issue_date is None:
        errors.append("invalid_issue_date")
    if record.get("currency", "").strip().upper() != currency.upper():
        errors.append("currency_mismatch")
    if strict:
        if not record.get("po_number", "").strip():
            errors.append("missing_po_number")
        due_date = _parse_date(record.get("due_date", ""))
        if due_date is None:
            errors.append("invalid_due_date")
        elif issue_date is not None and due_date < issue_date:
            errors.append("due_before_issue")
    return errors


@task(retries=2, retry_delay_seconds=1)
def read_invoices(source: Path) -> list[Record]:
    """Read the export; retried because in production it sits on a flaky network share."""
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{source.name} lacks columns: {', '.join(missing)}")
        records = [dict(row) for row in reader]
    get_run_logger().info("Read %d invoice records from %s", len(records), source.name)
    return records


@task
def validate_records(
    records: list[Record], currency: str, strict: bool
) -> tuple[list[Record], list[Record]]:
    """Split records into (valid, rejected); rejected rows carry an ``errors`` column."""
    seen: set[str] = set()
    valid: list[Record] = []
    rejected: list[Record] = []
    for record in records:
        errors = record_errors(record, currency, strict)
        invoice_id = record.get("invoice_id", "").strip()
        if invoice_id and invoice_id in seen:
            errors.append("duplicate_invoice_id")
        seen.add(invoice_id)
        if errors:
            rejected.append({**record, "errors": ";".join(errors)})
        else:
            valid.append(record)
    get_run_logger().info(
        "Validated %d records: %d valid, %d rejected", len(records), len(valid), len(rejected)
    )
    return valid, rejected


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def stage_batch(batch: list[Record], number: int, staging_dir: Path) -> Path:
    """Write one batch of accepted invoices for the booking robot to pick up."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    path = staging_dir / f"batch_{number:04d}.json"
    path.write_text(json.dumps(batch, indent=2), encoding="utf-8")
    return path


@task(retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def write_rejects(rejected: list[Record], staging_dir: Path) -> Path:
    """Write rejected invoices with their reasons so a clerk can correct them."""
    staging_dir.mkdir(parents=True, exist_ok=True)
    path = staging_dir / "rejects.csv"
    fieldnames = [*REQUIRED_COLUMNS, "po_number", "errors"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rejected)
    return path


@task(cache_policy=NO_CACHE)
def remove_staging(staging_dir: Path, remove_parent: bool) -> None:
    """Delete intermediate files (and the temp dir the flow created itself)."""
    shutil.rmtree(staging_dir, ignore_errors=True)
    if remove_parent:
        shutil.rmtree(staging_dir.parent, ignore_errors=True)
    get_run_logger().info("Removed intermediate files in %s", staging_dir)


def _batches(records: list[Record], size: int) -> list[list[Record]]:
    """Chunk records so each staged file stays small enough for the downstream robot."""
    return [records[i : i + size] for i in range(0, len(records), size)]


def _summarize(valid: list[Record], rejected: list[Record]) -> dict[str, Any]:
    """Counts, total and per-reason breakdown, as plain JSON-serialisable values."""
    total = sum((Decimal(r["amount"].strip()) for r in valid), Decimal("0"))
    reasons = Counter(e for r in rejected for e in r["errors"].split(";"))
    return {
        "records": len(valid) + len(rejected),
        "valid": len(valid),
        "invalid": len(rejected),
        "total_amount": float(total.quantize(Decimal("0.01"))),
        "invalid_reasons": dict(sorted(reasons.items())),
        "rejected_ids": [r.get("invoice_id", "") for r in rejected],
    }


@flow(name="RPA1ProcessingFlow")
def rpa1_processing_flow(
    batch_size: int = 100,
    currency: str = "EUR",
    strict: bool = False,
    source_file: str = "invoices.csv",
    work_dir: str | None = None,
    cleanup: bool = False,
) -> dict[str, Any]:
    """Ingest and validate a batch of supplier invoices from the ERP export.

    Valid invoices are staged as JSON batches of ``batch_size`` records under
    ``<work_dir>/staging``; rejected ones go to ``rejects.csv`` next to them.
    ``strict`` also requires a PO number and a due date not before the issue
    date. ``cleanup`` removes the staged files once the totals are computed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    logger = get_run_logger()
    created_temp = work_dir is None
    base = Path(tempfile.mkdtemp(prefix="rpa1-")) if work_dir is None else Path(work_dir)
    staging_dir = base / "staging"

    records = read_invoices(_data_dir() / source_file)
    valid, rejected = validate_records(records, currency, strict)
    batch_files = [
        stage_batch(batch, number, staging_dir)
        for number, batch in enumerate(_batches(valid, batch_size), start=1)
    ]
    rejects_file = write_rejects(rejected, staging_dir)

    result = _summarize(valid, rejected)
    result.update(
        source_system=os.environ.get("RPA1_SOURCE_SYSTEM", "erp-export"),
        source_file=source_file,
        currency=currency.upper(),
        strict=strict,
        batches=len(batch_files),
        staging_dir=str(staging_dir),
        rejects_file=str(rejects_file),
        cleaned_up=cleanup,
    )
    if cleanup:
        remove_staging(staging_dir, remove_parent=created_temp)
    logger.info(
        "RPA1 done: %d/%d valid, total %.2f %s",
        result["valid"],
        result["records"],
        result["total_amount"],
        result["currency"],
    )
    return result


if __name__ == "__main__":
    print(json.dumps(rpa1_processing_flow(), indent=2))

"""Housekeeping: deployed only from prefect.yaml with a schedule."""

from prefect import flow


@flow
def cleanup(keep_days: int = 30, dry_run: bool = True) -> int:
    return keep_days if dry_run else 0

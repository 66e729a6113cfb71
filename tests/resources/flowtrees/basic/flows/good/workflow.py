"""A well-formed flow: every check of flows.validate passes."""

import json
from pathlib import Path

import yaml
from helpers import normalise
from prefect import flow, task


@task
def load(path: str) -> list[dict[str, str]]:
    """Read the records."""
    return json.loads(Path(path).read_text())


@flow(name="GoodFlow", version="1.0", tags=["fixture"])
def good_flow(source: str, limit: int = 10, *, dry_run: bool = False) -> int:
    """Count the records of a file.

    Used by the tests of the flows collection.
    """
    records = [normalise(r) for r in load(source)][:limit]
    yaml.safe_dump(records)
    return len(records)

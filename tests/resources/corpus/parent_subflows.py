"""ETL as a parent flow that calls one subflow per stage (the common tutorial shape)."""

from prefect import flow, task


@task(retries=2)
def fetch(source: str) -> list[dict]:
    return [{"source": source, "value": 1}]


@flow(name="extract")
def extract(sources: list[str]) -> list[dict]:
    return [row for source in sources for row in fetch(source)]


@flow(name="transform")
def transform(rows: list[dict], factor: float = 1.0) -> list[dict]:
    return [{**row, "value": row["value"] * factor} for row in rows]


@flow(name="load")
def load(rows: list[dict]) -> int:
    return len(rows)


@flow(name="etl", log_prints=True)
def etl(sources: list[str] | None = None, factor: float = 2.0) -> int:
    rows = extract(sources or ["a", "b"])
    return load(transform(rows, factor=factor))

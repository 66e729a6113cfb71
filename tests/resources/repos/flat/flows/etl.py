"""A parent flow and the subflows it calls; the file's __main__ block runs the parent."""

import asyncio

import yaml
from helpers import summarise
from prefect import flow, task


@task
def parse(document: str) -> list[float]:
    return [float(value) for value in yaml.safe_load(document)["values"]]


@flow
def extract(document: str) -> list[float]:
    return parse(document)


@flow
def transform(values: list[float], factor: float) -> list[float]:
    return [value * factor for value in values]


@flow(name="flat-etl", description="Extract numbers from YAML, scale them, summarise them.")
async def etl(document: str = "values: [1, 2, 3]", factor: float = 2.0) -> dict[str, float]:
    values = transform(extract(document), factor)
    return summarise(values)


if __name__ == "__main__":
    asyncio.run(etl())

"""One flow and its tasks: nothing to choose."""

from prefect import flow, task


@task
def add(a: int, b: int) -> int:
    return a + b


@flow
def arithmetic(a: int = 1, b: int = 2) -> int:
    return add(a, b)

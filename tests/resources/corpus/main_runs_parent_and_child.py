"""The __main__ block runs a parent and also its child: the parent is the entry."""

from prefect import flow


@flow
def child(n: int = 1) -> int:
    return n


@flow
def parent(n: int = 2) -> int:
    return child(n) + 1


@flow
def unrelated() -> None:
    pass


if __name__ == "__main__":
    child(0)
    parent()

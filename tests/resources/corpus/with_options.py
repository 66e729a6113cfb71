"""A parent that runs its subflow through with_options (a renamed run)."""

from prefect import flow


@flow
def train(epochs: int = 1) -> float:
    return 0.9 + epochs * 0.0


@flow
def tune(trials: int = 3) -> list[float]:
    return [train.with_options(name=f"trial-{n}")(epochs=n) for n in range(trials)]

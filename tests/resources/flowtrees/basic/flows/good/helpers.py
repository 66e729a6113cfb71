"""Helpers beside the flow file (a sibling module)."""


def normalise(record: dict[str, str]) -> dict[str, str]:
    """Strip the values."""
    return {key: value.strip() for key, value in record.items()}

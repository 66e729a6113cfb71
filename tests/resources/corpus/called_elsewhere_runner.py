"""The other module: it runs called_elsewhere.daily, which does not make it the entry."""

from called_elsewhere import daily


def run() -> str:
    return daily("monday")

"""How two schedules compare: one item per schedule, the same for the spec and the server.

An item is ``(kind, value, timezone)`` — what a schedule always had — followed, only
when the schedule says more, by its extras as one JSON text: per-schedule
``parameters``, ``slug``, a cron's ``day_or: false``, an interval's ``anchor_date``.
Schedules that say nothing more keep the items (and so the drift-record hashes) they
had before these settings existed.

The server always holds an anchor date for an interval (the time it was created,
when none was given); a configuration without one does not care which.
``project`` drops the server's anchor where the configuration gives none, so only a
configured anchor is compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Item = tuple[Any, ...]
ANCHOR = "anchor_date"


def item_of(kind: str, value: str, timezone: str | None, extras: dict[str, Any]) -> Item:
    """A schedule's item; ``extras`` at their defaults (no parameters, no slug, ``day_or``
    true, no anchor) are left out."""
    said = {key: extra for key, extra in extras.items()
            if extra not in (None, {}) and not (key == "day_or" and extra is True)}
    head = (kind, value, timezone)
    return (*head, _text(said)) if said else head


def extras_of(item: Item) -> dict[str, Any]:
    """The extras of an item (empty when it has none)."""
    return dict(json.loads(item[3])) if len(item) > 3 else {}


def without_anchor(item: Item) -> Item:
    """The item as if the schedule had no anchor date."""
    extras = extras_of(item)
    extras.pop(ANCHOR, None)
    return item_of(item[0], item[1], item[2], extras)


def project(server: Iterable[Item], wanted: Iterable[Item]) -> list[Item]:
    """The server's items, each without its anchor date unless the matching wanted item
    (the same but for the anchor) configures one."""
    anchored = {without_anchor(item) for item in wanted if ANCHOR in extras_of(item)}
    return sorted(item if without_anchor(item) in anchored else without_anchor(item)
                  for item in server)


def _text(extras: dict[str, Any]) -> str:
    """The extras as one JSON text; 2.0 is written 2 (YAML and the server spell numbers
    differently), true stays true (JSON tells it from 1), so reading a text back and
    writing it again gives the same text."""
    return json.dumps(_whole(extras), sort_keys=True, default=str, separators=(",", ":"))


def _whole(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _whole(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_whole(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

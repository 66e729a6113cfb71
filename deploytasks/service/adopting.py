"""``deploy.adopt``: claim for this project the legacy deployments its configuration wants.

What counts as legacy and wanted is ``deploy/adopt.py``'s; this opens the
gateway and runs it for a selection.
"""

from __future__ import annotations

from collections.abc import Callable

from deploytasks.deploy import session
from deploytasks.deploy.adopt import AdoptReport, adopt_with, wanted_keys
from deploytasks.service.selection import Selection


def adopt(selection: Selection, *, dry_run: bool, yes: bool,
          confirm: Callable[[str], bool]) -> AdoptReport:
    """Claim (or, dry, list) the wanted legacy deployments of the selection's environment;
    ``confirm`` asks before a protected environment's are claimed, unless ``yes``."""
    config = session.load_config(selection.env)
    wanted = wanted_keys(config, selection.flows, selection.kinds)

    async def run() -> AdoptReport:
        async with session.gateway(config) as gateway:
            return await adopt_with(gateway, config, wanted, dry_run=dry_run, yes=yes,
                                    confirm=confirm)

    return session.run(run())

"""``PrefectGateway``: the one object callers hold to talk to the Prefect API.

It is the connection (``connection.py``: the client, the health check, the retry
loop every request goes through) with each kind of request in a piece of its
own: deployment reads and the snapshot (``reads.py``), deployment writes
(``writes.py``, schedules in ``schedules.py``), drift records (``variables.py``),
the project's Secret blocks (``secret_blocks.py``), the automations of triggers
(``automations.py``), and work pools, workers and the UI probe (``work_pools.py``). Every piece
sends through the same ``call``, so the pace, the retries, the breaker and the
request counter are the run's, whichever piece sends.
"""

from __future__ import annotations

from deploytasks.deploy.prefect_api.automations import DeploymentAutomations
from deploytasks.deploy.prefect_api.reads import DeploymentReads
from deploytasks.deploy.prefect_api.secret_blocks import SecretBlocks
from deploytasks.deploy.prefect_api.variables import RecordVariables
from deploytasks.deploy.prefect_api.work_pools import WorkPools
from deploytasks.deploy.prefect_api.writes import DeploymentWrites


class PrefectGateway(DeploymentReads, DeploymentWrites, DeploymentAutomations, RecordVariables,
                     SecretBlocks, WorkPools):
    """An open connection to one Prefect API (``async with``), with every request we send."""

"""Everything that talks to the Prefect API, through Prefect's own client.

Callers hold one ``PrefectGateway`` (``gateway.py``); nothing outside this
package sends a request to Prefect. Its modules, one seam each:

- ``connection.py`` — the run's one client, the health check, the retry loop;
- ``hooks.py`` — httpx hooks: the request counter, busy answers, create answers;
- ``throttle.py`` — the shared ``Retry-After`` gate, the wait budget, adaptive
  write concurrency;
- ``reads.py`` — deployments read back as snapshots;
- ``writes.py`` — create, update, delete, claim, undoing a takeover;
- ``schedules.py`` — schedules, synced one by one;
- ``variables.py`` — drift records (Prefect Variables);
- ``automations.py`` — the automations made of triggers, ours only, by id;
- ``work_pools.py`` — work pools, workers, the UI probe.
"""

from deploytasks.deploy.prefect_api.connection import ApiError, CredentialsRefused
from deploytasks.deploy.prefect_api.gateway import PrefectGateway
from deploytasks.deploy.prefect_api.hooks import RequestCounter, ServerBusy
from deploytasks.deploy.prefect_api.reads import snapshot
from deploytasks.deploy.prefect_api.schedules import to_prefect_schedule

__all__ = ["ApiError", "CredentialsRefused", "PrefectGateway", "RequestCounter", "ServerBusy",
           "snapshot", "to_prefect_schedule"]

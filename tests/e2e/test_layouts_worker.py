"""Real repositories deploy and run: a flat layout and a monorepo on one server.

Both example repositories (``tests/resources/repos``) are copied, each into its own
namespace (project and deployment names) but sharing one work pool, as
two teams on one Prefect server would. Each is deployed with ``invoke deploy.python``;
one ``prefect worker start --type process`` then runs a flow of each — the flat
repository's parent flow with its subflows and helper module, the monorepo's
entrypoint flow in ``src/`` and one of the two flows its sales folder deploys — to
COMPLETED, and the flows' own return values are read back from their results.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.prefect_helpers import (
    CONFIG_FILE,
    PROJECT_ROOT,
    client,
    deployments_by_name,
    edit_config,
    new_uid,
    read_yaml,
    run_cli,
)
from tests.support.workers import Worker, completed, running_worker

pytestmark = pytest.mark.e2e

REPOS = PROJECT_ROOT / "tests" / "resources" / "repos"
FLAT = {"cleanup": "cleanup", "etl": "flat-etl", "hello_world": "hello",
        "reports-daily_report": "daily-report", "reports-weekly_report": "weekly-report"}
MONOREPO = {"marketing": "marketing-campaign", "sales-daily_sales": "daily-sales",
            "sales-weekly_sales": "weekly-sales", "report": "analytics-report",
            "metrics-refresh": "analytics-metrics-refresh"}


def namespaced_copy(name: str, tmp_path: Path, uid: str, pool: str) -> Path:
    """A copy of one example repository with its own project and names."""
    root = tmp_path / name
    shutil.copytree(REPOS / name, root)
    shutil.copy2(PROJECT_ROOT / "tasks.py", root / "tasks.py")

    def isolate(data: dict[str, Any]) -> None:
        data["project"] = f"{data['project']}-{uid}"
        data["naming"] = {"deployment": "{flow}-{type}-{env}-" + uid}
        data["work_pools"] = {"python": {"name": pool, "type": "process"}}

    edit_config(root, isolate)
    return root


@pytest.fixture()
def deployed(tmp_path: Path, prefect_api: str) -> dict[str, Any]:
    uid = new_uid()
    pool = f"shared-process-{uid}"
    repos = {name: namespaced_copy(name, tmp_path, uid, pool) for name in ("flat", "monorepo")}
    for root in repos.values():
        result = run_cli(root, "deploy.python", "--env", "dev", "--json", api_url=prefect_api)
        assert result.code == 0, result.describe()
    return {"uid": uid, "pool": pool, "repos": repos}


@pytest.fixture()
def worker(deployed: dict[str, Any], prefect_api: str, tmp_path: Path) -> Iterator[Worker]:
    """One process worker on the pool both repositories deploy to."""
    with running_worker(prefect_api, deployed["pool"], tmp_path) as started:
        yield started


def project_tag(root: Path) -> str:
    """The tag every deployment of the repository copy at ``root`` carries."""
    return f"project:{read_yaml(root / CONFIG_FILE)['project']}"


def _names(keys: dict[str, str], uid: str) -> dict[str, str]:
    return {f"{key}-python-dev-{uid}": flow for key, flow in keys.items()}


def test_both_layouts_deploy_side_by_side_without_seeing_each_other(
        deployed: dict[str, Any], prefect_api: str) -> None:
    uid = deployed["uid"]
    for name, keys in (("flat", FLAT), ("monorepo", MONOREPO)):
        live = deployments_by_name(prefect_api, project_tag(deployed["repos"][name]))
        assert set(live) == set(_names(keys, uid))
        with client(prefect_api) as prefect:
            flows = {d.name: prefect.read_flow(d.flow_id).name for d in live.values()}
        assert flows == _names(keys, uid)
        assert all(d.work_pool_name == deployed["pool"] for d in live.values())
    flat = deployments_by_name(prefect_api, project_tag(deployed["repos"]["flat"]))
    assert flat[f"etl-python-dev-{uid}"].entrypoint == "flows/etl.py:etl"
    mono = deployments_by_name(prefect_api, project_tag(deployed["repos"]["monorepo"]))
    assert mono[f"report-python-dev-{uid}"].entrypoint == "src/analytics/report.py:build_report"
    assert mono[f"sales-weekly_sales-python-dev-{uid}"].parameters == {"region": "emea"}
    for root in deployed["repos"].values():  # the other team's deployments are not orphans
        plan = run_cli(root, "deploy.test", "--env", "dev", "--json", api_url=prefect_api)
        assert plan.code == 0, plan.describe()
        summary = plan.json()["summary"]
        assert (summary["orphaned"], summary["create"], summary["update"]) == (0, 0, 0)
        assert summary["unchanged"] == 5


def _run(prefect_api: str, worker: Worker, flow_name: str, name: str) -> Any:
    """What a completed run of the deployment ``flow_name/name`` returned."""
    with client(prefect_api) as prefect:
        live = prefect.read_deployment_by_name(f"{flow_name}/{name}")
    return worker.result(completed(prefect_api, live.id, worker).state)


def test_a_flow_of_each_layout_runs_on_a_process_worker(
        deployed: dict[str, Any], worker: Worker, prefect_api: str) -> None:
    uid = deployed["uid"]
    # flat: a parent flow calling two subflows, a sibling helper module, PyYAML
    assert _run(prefect_api, worker, "flat-etl", f"etl-python-dev-{uid}") == {
        "count": 3, "total": 12.0, "mean": 4.0}
    # monorepo: an entrypoint in src/ importing its sibling module
    assert _run(prefect_api, worker, "analytics-report", f"report-python-dev-{uid}") == {
        "p50": 3.0, "spread": 1.414}
    # monorepo: one of the two flows the sales folder deploys, with the folder's parameters
    assert _run(prefect_api, worker, "daily-sales", f"sales-daily_sales-python-dev-{uid}") == {
        "region": "emea", "total": 15.0}

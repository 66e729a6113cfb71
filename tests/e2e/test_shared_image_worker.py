"""A flow without a Dockerfile of its own runs in the repository's shared image.

The monorepo example's entrypoint flow (``src/analytics/report.py``) is deployed as
a docker deployment only: ``images.build`` builds its image from the root
``Dockerfile`` with the repository as context, ``deploy.containers`` pins it, and a
real ``prefect worker start --type docker`` runs it in a container (host network,
so the container reaches the loopback API) to COMPLETED. The flow's own log line,
read back from the server, proves the code in the image imported its sibling
module and PyYAML from the repository-wide image.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker_services import private_namespace
from tests.support.prefect_helpers import PROJECT_ROOT, client, edit_config, run_cli
from tests.support.workers import DOCKER_RUN_TIMEOUT, completed, logs_with, running_worker

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

MONOREPO = PROJECT_ROOT / "tests" / "resources" / "repos" / "monorepo"


def test_an_entrypoint_flow_runs_in_the_shared_image(
        base_image: str, tmp_path: Path, prefect_api: str) -> None:
    with private_namespace("shared") as namespace:
        _run_in_the_shared_image(tmp_path, prefect_api, namespace)


def _run_in_the_shared_image(tmp_path: Path, prefect_api: str, namespace: str) -> None:
    uid = secrets.token_hex(4)
    root = tmp_path / "mono"
    shutil.copytree(MONOREPO, root)
    shutil.copy2(PROJECT_ROOT / "tasks.py", root / "tasks.py")
    pool = f"shared-docker-{uid}"

    def isolate(data: dict[str, Any]) -> None:
        data["project"] = f"shared-image-{uid}"  # the session server is shared
        data["naming"] = {"deployment": "{flow}-{type}-{env}-" + uid}
        data["work_pools"] = {"docker": {"name": pool, "type": "docker"}}
        data["docker"] = {"network_mode": "host"}
        data["flows"]["report"] = {"kinds": ["docker"]}

    edit_config(root, isolate)
    images_env = {"DOCKER_NAMESPACE": namespace}
    built = run_cli(root, "images.build", "--flow", "report", "--json", api_url=prefect_api,
                    timeout=900, extra_env=images_env)
    assert built.code == 0, built.describe()
    [image] = built.json()["images"]
    deployed = run_cli(root, "deploy.containers", "--env", "dev", "--flow", "report",
                       "--json", api_url=prefect_api, extra_env=images_env)
    assert deployed.code == 0, deployed.describe()
    name = f"report-docker-dev-{uid}"
    with client(prefect_api) as prefect:
        live = prefect.read_deployment_by_name(f"analytics-report/{name}")
    assert live.entrypoint == "src/analytics/report.py:build_report"
    assert live.job_variables["image"] == image["content_image"]
    with running_worker(prefect_api, pool, tmp_path, kind="docker") as worker:
        run = completed(prefect_api, live.id, worker, timeout=DOCKER_RUN_TIMEOUT)
        wanted = "report: {p50: 3.0, spread: 1.414}"
        logs = logs_with(prefect_api, run.id, wanted)
    assert any(wanted in line for line in logs), "\n".join(logs)

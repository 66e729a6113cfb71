"""Container deployments on a Kubernetes work pool, up to the Job a worker would submit.

No Kubernetes cluster can run on these machines, so the test stops where the cluster
would start, and everything before it is real: rpa1's image is built and pushed to a
private ``docker-registry``; ``deploy.containers`` creates the kubernetes pool on a real
Prefect server from prefect-kubernetes' own default template (with configured overrides
merged in) and deploys rpa1 there with the pushed digest; a flow run is created, and
prefect-kubernetes' own job configuration code (``resolve_for_flow_run``, what the
worker calls) renders the Job manifest from the pool's template and the deployment's job
variables; ``kubernetes-validate`` checks it offline against the Kubernetes OpenAPI
schema (strict: unknown fields are errors); then the image digest, resources, env,
namespace, service account and labels are asserted.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker_services import Registry, private_namespace, stop_registry
from tests.support.policy import started_registry
from tests.support.prefect_helpers import (
    CliResult,
    client,
    edit_config,
    isolate_repo,
    run_cli,
    work_pools,
)

pytestmark = [pytest.mark.docker]

STAGING = Path("config") / "environments" / "staging.yaml"


@pytest.fixture()
def registry(base_image: str, tmp_path: Path) -> Iterator[Registry]:
    started = started_registry(tmp_path / "registry")
    yield started
    stop_registry(started)


def _ok(result: CliResult) -> Any:
    assert result.code == 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    return result.json()


def _kubernetes_staging(root: Path, pool: str) -> None:
    """Staging runs rpa1's container on a kubernetes pool, with a template override."""
    def overlay(data: dict[str, Any]) -> None:
        data.setdefault("work_pools", {})["docker"] = {
            "name": pool, "type": "kubernetes",
            "base_job_template": {"variables": {"properties": {
                "finished_job_ttl": {"default": 600}}}}}
        defaults = data.setdefault("defaults", {})
        defaults["container"] = {"namespace": "flows-staging", "service_account": "prefect-run"}
        defaults["resources"] = {"memory": "1g", "memory_limit": "2Gi", "cpu": 0.5,
                                 "cpu_limit": 1}

    edit_config(root, overlay, STAGING)

    def main(data: dict[str, Any]) -> None:
        # the main file's docker overrides (auto_remove) are docker's: a kubernetes pool
        # created with them is refused (tests/unit/test_containers.py)
        data["work_pools"]["docker"].pop("base_job_template")
        rpa1 = data.setdefault("flows", {}).setdefault("rpa1", {})
        rpa1["kinds"] = ["docker"]
        rpa1["env_vars"] = ["REPORT_GREETING"]

    edit_config(root, main)
    (root / "flows" / "rpa1" / ".env").write_text("REPORT_GREETING=hello-kubernetes\n",
                                                  encoding="utf-8")


def render_job(api_url: str, deployment_id: Any) -> tuple[Any, dict[str, Any]]:
    """A new flow run of the deployment and the Job manifest a kubernetes worker would
    submit for it, rendered by prefect-kubernetes' own code."""
    from prefect.client.orchestration import PrefectClient
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    with client(api_url) as prefect:
        run = prefect.create_flow_run_from_deployment(deployment_id)
        found = prefect.read_deployment(deployment_id)
        pool = prefect.read_work_pool(found.work_pool_name)

    async def render() -> dict[str, Any]:
        async with PrefectClient(api_url) as prefect_async:
            configuration = await KubernetesWorkerJobConfiguration.resolve_for_flow_run(
                run, client=prefect_async, work_pool=pool, worker_name="render-only")
        return configuration.job_manifest

    return run, asyncio.run(render())


def test_a_container_deployment_on_a_kubernetes_pool_renders_a_valid_job(
        repo_copy: Path, prefect_api: str, registry: Registry) -> None:
    from prefect_kubernetes.worker import KubernetesWorker

    ns = isolate_repo(repo_copy)
    pool = f"k8s-pool-{ns.uid}"
    _kubernetes_staging(repo_copy, pool)
    target = f"{registry.host}/k8s"
    with private_namespace("k8s") as docker_ns:
        def cli(*args: str) -> Any:
            return _ok(run_cli(repo_copy, *args, "--json", api_url=prefect_api, timeout=600,
                               extra_env={"DOCKER_NAMESPACE": docker_ns,
                                          "DOCKER_REGISTRY": target}))

        cli("images.build", "--flow", "rpa1", "--registry", target)
        pushed = cli("images.push", "--flow", "rpa1", "--registry", target)
        image = pushed["images"][0]
        assert image["digest"].startswith("sha256:"), pushed
        digest_ref = f"{image['image'].rsplit(':', 1)[0]}@{image['digest']}"
        deployed = cli("deploy.containers", "--env", "staging", "--flow", "rpa1",
                       "--registry", target)
        assert deployed["pools_created"] == [pool], deployed

        # The pool: prefect-kubernetes' template, the configured default merged into it.
        made = work_pools(prefect_api)[pool]
        assert made.type == "kubernetes"
        template = KubernetesWorker.get_default_base_job_template()
        template["variables"]["properties"]["finished_job_ttl"]["default"] = 600
        assert made.base_job_template["variables"] == template["variables"]
        assert made.base_job_template["job_configuration"] == template["job_configuration"]

        name = ns.name("rpa1", "docker", "staging")
        found = _deployment_named(prefect_api, name)
        assert found.job_variables["image"] == digest_ref
        assert "REPORT_GREETING" in found.job_variables["env"]

        run, manifest = render_job(prefect_api, found.id)
        validate_offline(manifest)
        _assert_job(manifest, digest_ref, run, name)

        again = cli("deploy.test", "--env", "staging", "--flow", "rpa1", "--registry", target)
        assert again["summary"]["unchanged"] == 1 and again["requests"]["writes"] == 0, again
        checked = cli("deploy.check", "--env", "staging", "--flow", "rpa1")
        assert checked["deployments"][0]["ok"], checked


# prefect-kubernetes' own template (0.8) puts these two Job fields into the pod spec, and
# its job configuration requires them there; the API server drops unknown fields with a
# warning. Strict validation finds them, and nothing else.
TEMPLATE_STRAYS = ("completions", "parallelism")


def validate_offline(manifest: dict[str, Any]) -> None:
    """The manifest against the Kubernetes OpenAPI schema (kubernetes-validate, no cluster):
    every field's type; strictly (no unknown field) but for the template's two strays."""
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    kubernetes_validate.validate(manifest, version, strict=False)
    with pytest.raises(kubernetes_validate.ValidationError) as strict:
        kubernetes_validate.validate(manifest, version, strict=True)
    assert list(strict.value.path) == ["spec", "template", "spec"], strict.value
    assert all(stray in str(strict.value.message) for stray in TEMPLATE_STRAYS)
    pod = manifest["spec"]["template"]["spec"]
    assert all(pod[stray] == 1 for stray in TEMPLATE_STRAYS)
    cleaned = copy.deepcopy(manifest)
    for stray in TEMPLATE_STRAYS:
        del cleaned["spec"]["template"]["spec"][stray]
    kubernetes_validate.validate(cleaned, version, strict=True)


def _deployment_named(api_url: str, name: str) -> Any:
    with client(api_url) as prefect:
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

        matches = prefect.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name])))
    assert len(matches) == 1, [d.name for d in matches]
    return matches[0]


def _assert_job(manifest: dict[str, Any], image: str, run: Any, name: str) -> None:
    """What the cluster would get: the pinned image, the sizes as Kubernetes quantities,
    the configured env beside Prefect's own, the namespace, labels naming the run."""
    assert manifest["kind"] == "Job" and manifest["apiVersion"] == "batch/v1"
    assert manifest["metadata"]["namespace"] == "flows-staging"
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 600
    pod = manifest["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "prefect-run"
    container = pod["containers"][0]
    assert container["image"] == image
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1024Mi"},
                                      "limits": {"cpu": "1", "memory": "2048Mi"}}
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["REPORT_GREETING"] == "hello-kubernetes"
    assert env["PREFECT__FLOW_RUN_ID"] == str(run.id)
    labels = manifest["metadata"]["labels"]
    assert labels["prefect.io/flow-run-id"] == str(run.id)
    assert labels["prefect.io/deployment-name"] == name
    assert manifest["spec"]["template"]["metadata"]["labels"]["prefect.io/flow-run-id"] == \
        str(run.id)
    assert uuid.UUID(labels["prefect.io/deployment-id"])

"""The container kind on each pool type: one neutral run, each type's job variables, the
rules about it, the kubernetes pool's template and what promote and check pin."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from deploytasks.config import ENV_VARIABLES, ConfigurationManager
from deploytasks.deploy import pools
from deploytasks.deploy.containers import ContainerRun, docker_variables, kubernetes_variables
from deploytasks.deploy.ownership import ownership
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.promote import pinned
from deploytasks.deploy.readback import check_deployment
from deploytasks.deploy.resolve import resolve
from deploytasks.deploy.resources import kubernetes_cpu, kubernetes_memory
from deploytasks.deploy.rules import check_spec
from deploytasks.deploy.specs import DeploymentSpec
from deploytasks.errors import ConfigError, UsageError
from deploytasks.settings import WorkPool

MAIN = Path("config/deployment-config.yaml")
STAGING = Path("config/environments/staging.yaml")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def on_kubernetes(defaults: str = "") -> None:
    """Staging's container deployments go to a kubernetes pool (``defaults``: more lines of
    staging's defaults section)."""
    edit(STAGING, "type: docker", "type: kubernetes")
    edit(STAGING, "defaults:\n", "defaults:\n" + defaults)


def specs(env: str) -> dict[str, DeploymentSpec]:
    config = ConfigurationManager().load(env)
    resolution = resolve(config, ("python", "docker"),
                         image_for=lambda _config, flow: f"reg.example/{flow.folder}@sha256:ab")
    assert not resolution.skipped, resolution.skipped
    return {spec.name: spec for spec in resolution.specs}


RUN = ContainerRun(image="reg/img@sha256:1", pull_policy="Always", command="python -m x",
                   env={"A": "1"}, memory_request="1g", memory_limit="1.5Gi",
                   cpu_request=0.25, cpu_limit=2.0, namespace="ns", service_account="sa",
                   network_mode="host")


def test_one_run_on_docker_gets_the_limits() -> None:
    assert docker_variables(RUN) == {
        "image": "reg/img@sha256:1", "image_pull_policy": "Always", "network_mode": "host",
        "mem_limit": "1536m", "container_create_kwargs": {"nano_cpus": 2_000_000_000},
        "command": "python -m x", "env": {"A": "1"}}


def test_one_run_on_kubernetes_gets_requests_limits_and_namespace() -> None:
    assert kubernetes_variables(RUN) == {
        "image": "reg/img@sha256:1", "image_pull_policy": "Always", "namespace": "ns",
        "service_account_name": "sa", "command": "python -m x", "memory_request": "1024Mi",
        "memory_limit": "1536Mi", "cpu_request": "250m", "cpu_limit": "2", "env": {"A": "1"}}


def test_a_bare_run_on_kubernetes_sends_only_what_is_set() -> None:
    bare = ContainerRun(image="i", pull_policy="IfNotPresent")
    assert kubernetes_variables(bare) == {"image": "i", "image_pull_policy": "IfNotPresent"}


@pytest.mark.parametrize(("cores", "quantity"), [(0.5, "500m"), (1, "1"), (2.0, "2"),
                                                 (0.001, "1m"), (1.25, "1250m")])
def test_cpu_as_a_kubernetes_quantity(cores: float, quantity: str) -> None:
    assert kubernetes_cpu(cores) == quantity


@pytest.mark.parametrize(("size", "quantity"), [("512Mi", "512Mi"), ("2g", "2048Mi"),
                                                ("1.5Gi", "1536Mi"), ("4GB", "4096Mi")])
def test_memory_as_a_kubernetes_quantity(size: str, quantity: str) -> None:
    assert kubernetes_memory(size) == quantity


def test_staging_on_kubernetes_maps_the_configured_run(repo_copy: Path) -> None:
    on_kubernetes("  container: {namespace: flows, service_account: runner}\n")
    variables = specs("staging")["rpa1-docker-staging"].job_variables
    assert variables["image"] == "reg.example/rpa1@sha256:ab"
    assert (variables["namespace"], variables["service_account_name"]) == ("flows", "runner")
    assert "mem_limit" not in variables and "network_mode" not in variables
    # development keeps its docker pool and Docker's variables
    assert "mem_limit" in specs("dev")["rpa1-docker-dev"].job_variables


def test_an_unsupported_pool_type_is_a_configuration_error(repo_copy: Path) -> None:
    text = STAGING.read_text(encoding="utf-8").replace("type: docker", "type: ecs")
    STAGING.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        ConfigurationManager().load("staging")
    assert "'ecs' is not a container work pool type" in str(raised.value)
    assert "docker or kubernetes" in str(raised.value)
    assert "staging.yaml" in str(raised.value)


def test_a_limit_below_its_request_is_a_problem(repo_copy: Path) -> None:
    # development sets memory 512Mi and cpu 0.5 for every flow (its defaults)
    edit(MAIN, "  rpa1:\n", "  rpa1:\n    resources: {memory_limit: 256Mi, "
                            "cpu_limit: 0.25}\n")
    config = ConfigurationManager().load("dev")
    resolution = resolve(config, ("docker",), flows=["rpa1"],
                         image_for=lambda _config, flow: "i")
    found = check_spec(config, resolution.specs[0], resolution.flows[0])
    assert {f.setting for f in found} == {"resources.memory_limit", "resources.cpu_limit"}
    assert all(f.file and f.file.endswith("deployment-config.yaml") for f in found)


def test_the_kubernetes_pool_starts_from_prefect_kubernetes_template() -> None:
    from prefect_kubernetes.worker import KubernetesWorker

    pool = WorkPool(name="k", type="kubernetes", base_job_template={
        "job_configuration": {"stream_output": False}})
    template = pools.base_job_template(pool)
    expected = KubernetesWorker.get_default_base_job_template()
    expected["job_configuration"]["stream_output"] = False
    assert template == expected


def test_a_missing_kubernetes_pool_needs_prefect_kubernetes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The package is installed here: its absence is what a user without the extra has.
    monkeypatch.setattr(pools, "worker_package_installed", lambda pool_type: False)
    configured = {"python": WorkPool(name="p", type="process"),
                  "docker": WorkPool(name="k", type="kubernetes")}
    [status] = pools.check_pools(configured, ["docker"], {})
    assert status.problem is not None
    assert "prefect_kubernetes is not installed" in status.problem.message
    assert status.problem.hint == "install it: pip install 'deploytasks[kubernetes]'"
    [present] = pools.check_pools(configured, ["docker"], {"k": "kubernetes"})
    assert present.problem is None  # an existing pool needs no template


def _remote(spec: DeploymentSpec, **fields: object) -> RemoteDeployment:
    return RemoteDeployment(id="1", name=spec.name, flow_name=spec.flow_name,
                            tags=spec.tags, fields={**spec.comparable(), **fields})


def test_promote_pins_a_docker_pool_image_into_a_kubernetes_job(repo_copy: Path) -> None:
    on_kubernetes()
    target = specs("staging")["rpa1-docker-staging"]
    source = specs("dev")["rpa1-docker-dev"]
    source = replace(source, job_variables={**source.job_variables,
                                            "image": "reg.example/rpa1@sha256:f00d"})
    promoted = pinned(target, _remote(source))
    assert promoted.image == "reg.example/rpa1@sha256:f00d"
    assert promoted.job_variables["image"] == "reg.example/rpa1@sha256:f00d"
    assert "mem_limit" not in promoted.job_variables  # still kubernetes' variables
    assert promoted.job_variables["memory_request"] == target.job_variables["memory_request"]


def test_check_names_another_image_and_a_pool_of_another_type(repo_copy: Path) -> None:
    on_kubernetes()
    spec = specs("staging")["rpa1-docker-staging"]
    config = ConfigurationManager().load("staging")
    remote = _remote(spec, job_variables={**spec.job_variables, "image": "old@sha256:1"})
    check = check_deployment(spec, remote, ownership(config), ui="http://ui",
                             pools={spec.work_pool: "docker"}, polled_pools=set(),
                             pool_type="kubernetes")
    assert "image is 'old@sha256:1', expected 'reg.example/rpa1@sha256:ab'" in check.mismatches
    assert f"work pool '{spec.work_pool}' is of type 'docker', expected 'kubernetes'" \
        in check.mismatches
    same = check_deployment(spec, _remote(spec), ownership(config), ui="http://ui",
                            pools={spec.work_pool: "kubernetes"}, polled_pools=set(),
                            pool_type="kubernetes")
    assert not [m for m in same.mismatches if "image" in m or "type" in m], same.mismatches


def test_docker_overrides_are_refused_for_a_kubernetes_pool() -> None:
    pool = WorkPool(name="k", type="kubernetes", base_job_template={
        "job_configuration": {"auto_remove": True, "image": "{{ image }}"}})
    with pytest.raises(UsageError) as raised:
        pools.base_job_template(pool)
    assert "sets auto_remove, image, which a kubernetes worker's job configuration does " \
           "not have" in str(raised.value)

"""A container deployment, described once, mapped onto each work pool type's job variables.

A container deployment (the ``docker`` kind) runs on whichever pool type its environment
names: ``docker`` on a laptop, ``kubernetes`` in staging and production. ``ContainerRun``
is the neutral description (image, command, env, CPU and memory requests and limits,
pull policy, namespace and service account); ``job_variables`` turns it into the
variables the worker of that type reads (prefect-docker's ``DockerWorker``,
prefect-kubernetes' ``KubernetesWorker``; their default base job templates name them).
Another pool type is a configuration error (``settings.Settings``): a deployment whose
resources or namespace a worker silently ignores is worse than one that is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deploytasks.deploy.resources import docker_memory, kubernetes_cpu, kubernetes_memory
from deploytasks.deployment_settings import DeploymentSettings
from deploytasks.settings import CONTAINER_POOL_TYPES, DockerSettings


@dataclass(frozen=True)
class ContainerRun:
    """One container run, whatever runs it. Sizes as configured (``512Mi``, cores)."""

    image: str | None
    pull_policy: str
    command: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    memory_request: str | None = None
    memory_limit: str | None = None
    cpu_request: float | None = None
    cpu_limit: float | None = None
    namespace: str | None = None
    service_account: str | None = None
    network_mode: str | None = None  # docker only: the engine's network


def container_run(docker: DockerSettings, settings: DeploymentSettings, image: str | None,
                  env: dict[str, str]) -> ContainerRun:
    """The neutral run from the configuration: ``resources.memory``/``cpu`` are the
    requests, and the limits too unless ``memory_limit``/``cpu_limit`` say otherwise."""
    resources, container = settings.resources, settings.container
    return ContainerRun(
        image=image, pull_policy=docker.pull_policy, command=container.command, env=env,
        memory_request=resources.memory, memory_limit=resources.memory_limit or resources.memory,
        cpu_request=resources.cpu, cpu_limit=resources.cpu_limit or resources.cpu,
        namespace=container.namespace, service_account=container.service_account,
        network_mode=docker.network_mode)


def docker_variables(run: ContainerRun) -> dict[str, Any]:
    """prefect-docker's job variables. Docker has limits only, no requests: the limits go."""
    variables: dict[str, Any] = {"image": run.image, "image_pull_policy": run.pull_policy}
    if run.network_mode:
        variables["network_mode"] = run.network_mode
    if run.memory_limit:
        variables["mem_limit"] = docker_memory(run.memory_limit)
    if run.cpu_limit:
        variables["container_create_kwargs"] = {"nano_cpus": int(run.cpu_limit * 1e9)}
    if run.command:
        variables["command"] = run.command
    if run.env:
        variables["env"] = dict(run.env)
    return variables


def kubernetes_variables(run: ContainerRun) -> dict[str, Any]:
    """prefect-kubernetes' job variables (its template puts them into the Job manifest);
    sizes in Kubernetes quantities (``512Mi``, ``500m``)."""
    variables: dict[str, Any] = {"image": run.image, "image_pull_policy": run.pull_policy}
    optional = {
        "namespace": run.namespace, "service_account_name": run.service_account,
        "command": run.command,
        "memory_request": run.memory_request and kubernetes_memory(run.memory_request),
        "memory_limit": run.memory_limit and kubernetes_memory(run.memory_limit),
        "cpu_request": run.cpu_request and kubernetes_cpu(run.cpu_request),
        "cpu_limit": run.cpu_limit and kubernetes_cpu(run.cpu_limit),
    }
    variables.update({key: value for key, value in optional.items() if value})
    if run.env:
        variables["env"] = dict(run.env)
    return variables


MAPPERS: dict[str, Callable[[ContainerRun], dict[str, Any]]] = {
    "docker": docker_variables,
    "kubernetes": kubernetes_variables,
}
assert set(MAPPERS) == set(CONTAINER_POOL_TYPES), "one mapper per supported pool type"


def job_variables(pool_type: str, run: ContainerRun) -> dict[str, Any]:
    """The job variables of ``run`` on a pool of ``pool_type`` (one of the supported)."""
    return MAPPERS[pool_type](run)


def image_of(variables: dict[str, Any]) -> str | None:
    """The image a container deployment's job variables run (every supported type calls
    it ``image``: ``env.promote`` pins it)."""
    image = variables.get("image")
    return image if isinstance(image, str) else None

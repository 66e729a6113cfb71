"""Secrets never leave: not in output, not in files under build/, not on the server.

A repository copy gets a fake ``PREFECT_API_KEY`` (Prefect's open-source server
accepts and ignores it), ``DOCKER_USERNAME``/``DOCKER_PASSWORD`` for a local
registry with htpasswd auth and exactly that password, and a ``.env`` in every
flow folder with distinctive values. Then every task runs, in human and in
``--json`` mode (the few that repeat another task's code path in one of them;
the list comes from ``invoke --list --list-format=json``, so a new task cannot
be forgotten), and every byte it printed, every file under ``build/``, every
deployment, flow and work pool on the server, and the user's docker config are
searched for the secrets.

Only configuration that names a key (``env_vars: [KEY]``) sends a ``.env`` value
to the server, and only into a Secret block of the project: the deployment's job
variable references the block (``{{ prefect.blocks.secret.<name> }}``), so no
deployment, flow or pool holds it, and it is never printed.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker_services import (
    Registry,
    private_namespace,
    stop_registry,
)
from tests.support.policy import started_registry
from tests.support.prefect_helpers import (
    FLOW_NAMES,
    PROJECT_ROOT,
    CliResult,
    Namespace,
    cli_env,
    client,
    deployment,
    deployments_by_name,
    edit,
    edit_config,
    isolate_repo,
    run_cli,
    server_dump,
    set_flow_setting,
    task_names,
)

FLOWS = ("rpa1", "rpa2", "rpa3")
# Tiny images (nothing to pull, a push takes a second): this file is about secrets.
TINY_DOCKERFILE = """\
ARG BASE_IMAGE=deploytasks/prefect-base:3.9.1-python3.11
FROM scratch
ARG FLOW_NAME
COPY workflow.py /opt/prefect/flows/{flow}/workflow.py
USER 10001
"""
# What flows.import reads: secrets by reference only, as a prefect.yaml should hold them.
PREFECT_YAML = """\
deployments:
  - name: rpa1-nightly
    entrypoint: flows/rpa1/workflow.py:rpa1_processing_flow
    work_pool:
      name: python-pool
      job_variables:
        env:
          RPA1_API_TOKEN: "{{ $RPA1_API_TOKEN }}"
          PREFECT_API_KEY: "{{ prefect.blocks.secret.api-key }}"
"""
# Tasks not run here, and why. Every other task of `invoke --list` must be run.
NOT_RUN = {
    "quickstart": "starts the embedded server on port 4200 and deploys: env.* and deploy.* "
                  "cover each of its steps here",
    "env.up": "starts a second server for the repository copy; env.status covers the output",
    "env.down": "stops the embedded server (none runs for the copy)",
}


def _token(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(10)}"


@dataclass
class Secrets:
    api_key: str = field(default_factory=lambda: _token("pnu_FAKEAPIKEY"))
    docker_password: str = field(default_factory=lambda: _token("dockerPW"))
    env_values: dict[str, dict[str, str]] = field(default_factory=dict)

    def all(self) -> dict[str, str]:
        """Label → value of every secret."""
        found = {"PREFECT_API_KEY": self.api_key, "DOCKER_PASSWORD": self.docker_password}
        for flow, values in self.env_values.items():
            found.update({f"{flow}/.env {key}": value for key, value in values.items()})
        return found


@dataclass
class World:
    root: Path
    ns: Namespace
    api_url: str
    registry: Registry
    secrets: Secrets
    docker_namespace: str
    runs: list[CliResult] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        assert self.registry.username
        return {"PREFECT_API_KEY": self.secrets.api_key,
                "DOCKER_USERNAME": self.registry.username,
                "DOCKER_PASSWORD": self.secrets.docker_password,
                "DOCKER_REGISTRY": f"{self.registry.host}/secrets",
                "DOCKER_NAMESPACE": self.docker_namespace}

    def cli(self, *args: str, **extra: str) -> CliResult:
        result = run_cli(self.root, *args, api_url=self.api_url, timeout=180,
                         extra_env={**self.env, **extra})
        self.runs.append(result)
        assert "Traceback" not in result.stderr + result.stdout, result.describe()
        return result

    def debug_cli(self, *args: str) -> CliResult:
        """``python -m deploytasks.cli <args>``, collected like an invoke run."""
        done = subprocess.run([sys.executable, "-m", "deploytasks.cli", *args], cwd=self.root,
                              env=cli_env(self.api_url, self.env), capture_output=True,
                              text=True, timeout=180, check=False)
        result = CliResult(["python -m deploytasks.cli", *args], done.returncode, done.stdout,
                           done.stderr, 0.0)
        self.runs.append(result)
        assert "Traceback" not in done.stderr, result.describe()
        return result


def write_env_files(root: Path, found: Secrets) -> None:
    for flow in FLOWS:
        values = {f"{flow.upper()}_API_TOKEN": _token(f"envTOKEN{flow}"),
                  f"{flow.upper()}_DB_PASSWORD": _token(f"envDBPW{flow}"),
                  "QUOTED_SECRET": _token(f"envQUOTED{flow}")}
        found.env_values[flow] = values
        lines = [f"# secrets of {flow}",
                 f"{flow.upper()}_API_TOKEN={values[f'{flow.upper()}_API_TOKEN']}",
                 f"export {flow.upper()}_DB_PASSWORD='{values[f'{flow.upper()}_DB_PASSWORD']}'",
                 f'QUOTED_SECRET="{values["QUOTED_SECRET"]}"']
        (root / "flows" / flow / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (root / "flows" / flow / "Dockerfile").write_text(TINY_DOCKERFILE.format(flow=flow))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, prefect_server: Any,
          base_image: str) -> Iterator[World]:
    found = Secrets()
    folder = tmp_path_factory.mktemp("secrets")
    registry = started_registry(folder / "registry", username="alice",
                                password=found.docker_password)
    root = folder / "repo"
    root.mkdir()
    for name in ("config", "flows"):
        shutil.copytree(PROJECT_ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "output", ".env"))
    shutil.copy2(PROJECT_ROOT / "Makefile", root / "Makefile")
    ns = isolate_repo(root)
    write_env_files(root, found)
    (root / "prefect.yaml").write_text(PREFECT_YAML, encoding="utf-8")
    try:
        with private_namespace("secrets") as docker_namespace:
            yield World(root, ns, prefect_server.api_url, registry, found, docker_namespace)
    finally:
        stop_registry(registry)


@pytest.fixture(autouse=True)
def same_start(world: World) -> Iterator[None]:
    """Every test starts from the world's repository as it was made: the tests run in random
    order, so the configuration and ``.env`` files a test edits are put back afterwards."""
    edited = [*(world.root / "config").rglob("*.yaml"), *(world.root / "flows").glob("*/.env")]
    saved = {path: path.read_bytes() for path in edited}
    yield
    for path, content in saved.items():
        path.write_bytes(content)


# ---- searching -----------------------------------------------------------------------------------


def leaks(haystacks: dict[str, str], wanted: dict[str, str]) -> list[str]:
    """'<secret label> in <where>' for every secret found in any haystack."""
    return [f"{label} in {where}" for where, text in haystacks.items()
            for label, value in wanted.items() if value in text]


def output_haystacks(runs: list[CliResult]) -> dict[str, str]:
    found = {}
    for number, run in enumerate(runs):
        name = f"#{number} {' '.join(run.args)}"
        found[f"{name} stdout"] = run.stdout
        found[f"{name} stderr"] = run.stderr
    return found


def file_haystacks(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder.parent)): p.read_bytes().decode("utf-8", "replace")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def server_haystack(api_url: str) -> dict[str, str]:
    dump = server_dump(api_url)
    return {f"server {kind}": json.dumps(items) for kind, items in dump.items()}


# Every task with the options that make it do its work, and the modes it runs in.
# Run in this order; the images first (deployments need them), writes before reads.
# Tasks that only repeat another's code path and output (a no-op deploy of one kind,
# env.deploy-* = deploy.all of a fixed environment) run in one mode.
BOTH, HUMAN, JSON = ((), ("--json",)), ((),), (("--json",),)
SEQUENTIAL = [
    ("images.base", (), BOTH),
    ("images.build", ("--verbose",), BOTH),
    ("images.push", ("--verbose",), BOTH),
    ("images.pull", ("--verbose",), BOTH),
    ("deploy.all", ("--env", "dev", "--verbose"), BOTH),
    ("env.deploy-staging", ("--verbose",), HUMAN),
    ("env.deploy-prod", ("--allow-dirty", "--verbose"), JSON),
]
# These only read (or find nothing left to write): two at a time.
CONCURRENT = [
    ("flows.discover", ("--verbose",), BOTH),
    ("flows.validate", ("--verbose",), BOTH),
    ("flows.import", ("--from", "prefect.yaml"), BOTH),
    ("env.show", ("--env", "dev"), BOTH),
    ("env.status", (), BOTH),
    ("deploy.build", ("--env", "dev", "--verbose"), BOTH),
    ("deploy.validate", ("--env", "dev", "--verbose"), BOTH),
    ("deploy.test", ("--env", "dev", "--verbose"), BOTH),
    ("deploy.python", ("--env", "dev", "--verbose"), JSON),
    ("deploy.containers", ("--env", "dev", "--verbose"), HUMAN),
    ("env.deploy-dev", ("--verbose",), JSON),
    ("env.promote", ("--from", "staging", "--to", "production", "--dry-run", "--allow-dirty",
                     "--verbose"), BOTH),
    ("deploy.check", ("--env", "dev", "--verbose"), BOTH),
    ("deploy.clean", ("--env", "staging", "--all", "--dry-run"), BOTH),
    ("deploy.adopt", ("--env", "dev", "--dry-run"), BOTH),
    ("makefile", ("--check",), HUMAN),
]


def _run_task(world: World, name: str, args: tuple[str, ...], mode: tuple[str, ...]) -> None:
    result = world.cli(name, *args, *mode)
    assert result.code in (0, 1), result.describe()
    if mode:
        result.json()


def test_no_secret_in_any_output_file_or_deployment(world: World) -> None:
    user_config = Path.home() / ".docker" / "config.json"
    config_before = user_config.read_text() if user_config.exists() else None
    tasks = task_names(world.cli("--list", "--list-format=json").json())
    ran = {name for name, _, _ in SEQUENTIAL + CONCURRENT}
    assert set(tasks) - ran - set(NOT_RUN) == set(), "a task this test does not run yet"

    for name, args, modes in SEQUENTIAL:
        for mode in modes:
            _run_task(world, name, args, mode)
    jobs = [(name, args, mode) for name, args, modes in CONCURRENT for mode in modes]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(_run_task, world, *job) for job in jobs]:
            future.result()
    for mode in ((), ("--json",)):
        world.debug_cli("config", "--show", "--env", "dev", "--verbose", *mode)
        world.debug_cli("discover", "--verbose", *mode)
        world.debug_cli("validate", "--deployment", world.ns.name("rpa1", "docker"),
                        "--verbose", *mode)
    # Inside GitHub Actions: annotations on stdout and the job summary file.
    summary = world.root.parent / "step-summary.md"
    world.cli("deploy.test", "--env", "dev", **extra_env_gh(summary))
    world.cli("flows.validate", **extra_env_gh(summary))

    # The runs that must have worked did (so the secrets were really in play).
    by_name = {tuple(r.args): r for r in world.runs}
    for must in (("images.push", "--verbose", "--json"), ("images.pull", "--verbose", "--json"),
                 ("deploy.all", "--env", "dev", "--verbose", "--json"),
                 ("env.show", "--env", "dev", "--json")):
        assert by_name[must].code == 0, by_name[must].describe()
    pushed = by_name[("images.push", "--verbose", "--json")].json()
    assert all(i["digest"] for i in pushed["images"]), pushed
    live = deployment(world.api_url, FLOW_NAMES["rpa1"], world.ns.name("rpa1", "docker"))
    assert "@sha256:" in live.job_variables["image"]
    assert "env" not in live.job_variables  # no .env value unless configuration names it

    haystacks = {**output_haystacks(world.runs), **file_haystacks(world.root / "build"),
                 **server_haystack(world.api_url)}
    if summary.exists():
        haystacks["GITHUB_STEP_SUMMARY"] = summary.read_text()
    config_after = user_config.read_text() if user_config.exists() else None
    assert config_after == config_before  # the registry login went to a private folder
    haystacks["~/.docker/config.json"] = config_after or ""
    assert leaks(haystacks, world.secrets.all()) == []


def extra_env_gh(summary: Path) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}


def _deployed_without_env_vars(world: World) -> None:
    """Images pushed and the dev deployments there (the first test may not have run)."""
    for args in (("images.build", "--json"), ("images.push", "--json"),
                 ("deploy.all", "--env", "dev", "--json")):
        result = world.cli(*args)
        assert result.code == 0, result.describe()


def test_env_vars_named_in_config_reach_the_server_but_are_never_printed(world: World) -> None:
    token_key = "RPA1_API_TOKEN"
    first = world.secrets.env_values["rpa1"][token_key]
    _deployed_without_env_vars(world)
    world.runs.clear()
    set_flow_setting(world.root, "rpa1", "env_vars", [token_key])

    plan = world.cli("deploy.test", "--env", "dev", "--verbose")
    assert plan.code == 0, plan.describe()
    assert "********" in plan.stdout, plan.describe()  # the diff shows that env changes, masked
    world.cli("deploy.test", "--env", "dev", "--json")
    done = world.cli("deploy.all", "--env", "dev", "--json")
    assert done.code == 0, done.describe()
    docker = deployment(world.api_url, FLOW_NAMES["rpa1"], world.ns.name("rpa1", "docker"))
    block = _secret_block(docker.job_variables["env"][token_key])
    assert _block_value(world.api_url, block) == first
    assert done.json()["secrets_written"] == [block]  # one block, shared by both kinds
    for flow in ("rpa2", "rpa3"):
        other = deployment(world.api_url, FLOW_NAMES[flow], world.ns.name(flow, "docker"))
        assert "env" not in other.job_variables

    # The value changes in .env: plan, check (a mismatch now), build and deploy say so masked.
    second = _token("envTOKENrpa1b")
    edit(world.root / "flows/rpa1/.env", first, second)
    world.secrets.env_values["rpa1"][f"{token_key} (new)"] = second
    changed = world.cli("deploy.test", "--env", "dev", "--verbose")  # --json: see below
    assert changed.code == 0, changed.describe()
    assert f"secret block '{block}' ({token_key}): value changed (not shown)" in \
        changed.stdout, changed.describe()
    for mode in ((), ("--json",)):
        # check compares what the UI shows (not job variables): it may pass or not
        world.cli("deploy.check", "--env", "dev", "--verbose", *mode)
        world.cli("deploy.build", "--env", "dev", "--verbose", *mode)
        world.cli("env.show", "--env", "dev", *mode)
        world.cli("flows.discover", "--verbose", *mode)
        world.debug_cli("validate", "--deployment", world.ns.name("rpa1", "docker"),
                        "--verbose", *mode)
    updated = world.cli("deploy.all", "--env", "dev", "--verbose")
    assert updated.code == 0, updated.describe()
    assert _block_value(world.api_url, block) == second
    again = world.cli("deploy.all", "--env", "dev", "--json")
    assert again.json()["requests"]["writes"] == 0, again.describe()  # unchanged: no write

    printed = {**output_haystacks(world.runs), **file_haystacks(world.root / "build")}
    assert leaks(printed, world.secrets.all()) == []
    on_server = server_haystack(world.api_url)  # deployments, flows, pools: no value at all
    assert leaks(on_server, world.secrets.all()) == []


def test_a_mistyped_env_line_does_not_echo_its_value(world: World) -> None:
    value = _token("b64LEGACY")
    env_file = world.root / "flows/rpa2/.env"
    original = env_file.read_text()
    env_file.write_text(original + f"LEGACY_TOKEN: {value}==\n")
    world.runs.clear()
    try:
        for mode in ((), ("--json",)):
            result = world.cli("flows.validate", "--verbose", *mode)
            assert result.code == 1, result.describe()  # the line is reported...
            assert "flows/rpa2/.env" in result.stdout + result.stderr
            world.cli("deploy.test", "--env", "dev", *mode)
    finally:
        env_file.write_text(original)
    assert leaks(output_haystacks(world.runs), {"LEGACY_TOKEN": value}) == []  # ...not shown


def test_plan_json_masks_the_env_value_on_the_server(world: World) -> None:
    # Not the variable the test above uses: the Secret block a test writes stays on the
    # module's server, and the tests run in random order.
    token_key = "RPA1_DB_PASSWORD"
    _deployed_without_env_vars(world)
    set_flow_setting(world.root, "rpa1", "env_vars", [token_key])
    deployed = world.cli("deploy.all", "--env", "dev", "--json")
    assert deployed.code == 0, deployed.describe()
    live = deployment(world.api_url, FLOW_NAMES["rpa1"], world.ns.name("rpa1", "docker"))
    block = _secret_block(live.job_variables["env"][token_key])
    old = _block_value(world.api_url, block)
    new = _token("envTOKENrpa1c")
    edit(world.root / "flows/rpa1/.env", old, new)
    plan = world.cli("deploy.test", "--env", "dev", "--json")
    assert plan.code == 0, plan.describe()
    assert [item for item in plan.json()["plan"] if item["action"] != "unchanged"] == []
    assert plan.json()["secrets"] == [{"name": block, "key": token_key, "action": "update",
                                      "deployments": sorted(world.ns.name("rpa1", kind)
                                                            for kind in ("docker", "python"))}]
    assert leaks({"deploy.test --json": plan.stdout}, {"old": old, "new": new}) == []


def _secret_block(reference: str) -> str:
    """The block a job variable references."""
    prefix, suffix = "{{ prefect.blocks.secret.", " }}"
    assert reference.startswith(prefix) and reference.endswith(suffix), reference
    return reference.removeprefix(prefix).removesuffix(suffix)


def _block_value(api_url: str, block: str) -> str:
    with client(api_url) as prefect:
        return prefect.read_block_document_by_name(block, "secret").data["value"]


# ---- credentials inside the API URL (no Docker needed) -------------------------------------------


def test_credentials_inside_the_api_url_are_never_printed(
        repo_copy: Path, prefect_server: Any, tmp_path: Path) -> None:
    """``PREFECT_API_URL=http://user:token@host/api``: the open-source server ignores the basic
    auth it implies, so every command really works with it — and none may print the token:
    env.show, plan, deploy, check links, clean, the debugging CLI, GitHub annotations and the
    job summary, and the "not reachable" error of a URL nothing answers at."""
    from deploytasks.env.local_server import free_port

    ns = isolate_repo(repo_copy)
    edit_config(repo_copy, lambda d: d.setdefault("defaults", {}).update(kinds=["python"]))
    token = _token("urlTOKEN")
    host = prefect_server.api_url.removeprefix("http://")
    api = f"http://deployer:{token}@{host}"
    summary = tmp_path / "summary.md"
    gh = extra_env_gh(summary)
    runs: list[CliResult] = []

    def cli(*args: str, api_url: str = api, **env: str) -> CliResult:
        result = run_cli(repo_copy, *args, api_url=api_url, timeout=180,
                         extra_env={"COLUMNS": "300", **env})
        assert "Traceback" not in result.stdout + result.stderr, result.describe()
        runs.append(result)
        return result

    for mode in ((), ("--json",)):
        assert cli("env.show", "--env", "dev", *mode).code == 0
        assert cli("deploy.test", "--env", "dev", "--verbose", *mode, **gh).code == 0
        assert cli("deploy.python", "--env", "dev", "--verbose", *mode).code == 0
        assert cli("deploy.check", "--env", "dev", "--verbose", *mode, **gh).code == 0
        assert cli("deploy.clean", "--env", "dev", "--all", "--dry-run", *mode).code == 0
        unreachable = cli("deploy.test", *mode,
                          api_url=f"http://deployer:{token}@127.0.0.1:{free_port()}/api")
        assert unreachable.code == 3 and "not reachable at http://********@127.0.0.1" in \
            unreachable.stderr, unreachable.describe()
    debug = subprocess.run([sys.executable, "-m", "deploytasks.cli", "config", "--show",
                            "--env", "dev"], cwd=repo_copy, env=cli_env(api), text=True,
                           capture_output=True, timeout=120, check=False)
    runs.append(CliResult(["config"], debug.returncode, debug.stdout, debug.stderr, 0.0))

    text = "\n".join(r.stdout + r.stderr for r in runs)
    assert f"http://********@{host}" in text  # the URL was printed, masked
    assert "deployments/deployment/" in text  # check printed its links
    assert set(deployments_by_name(prefect_server.api_url, ns.tag)) == \
        ns.names(kinds=("python",))
    haystacks = {**output_haystacks(runs), **file_haystacks(repo_copy / "build")}
    if summary.exists():
        haystacks["GITHUB_STEP_SUMMARY"] = summary.read_text()
    assert leaks(haystacks, {"token in PREFECT_API_URL": token}) == []


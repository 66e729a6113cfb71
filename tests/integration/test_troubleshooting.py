"""Each error users meet, provoked for real, must match its entry in docs/TROUBLESHOOTING.md.

Every line the tool prints as an error (``error: …``) or as a failed item with a
fix (``✗ … — …``) must match one of the guide's ``Message:``/``Also:`` patterns,
where ``…`` in the guide stands for any text.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from deploytasks.env.local_server import free_port
from tests.support.api_proxy import ApiProxy
from tests.support.docker_services import sub_namespace
from tests.support.policy import require_engine
from tests.support.prefect_helpers import NO_PROFILES, PROJECT_ROOT, client, edit
from tests.support.troubleshooting import GUIDE, guide_patterns, printed_problems

if TYPE_CHECKING:
    from tests.support.prefect_helpers import Namespace

INVOKE = str(PROJECT_ROOT / ".venv" / "bin" / "invoke")


def run(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PREFECT_PROFILES_PATH": str(NO_PROFILES), **os.environ, **env}
    for key, value in env.items():
        if value == "":
            environment.pop(key)
    return subprocess.run([INVOKE, *args], cwd=repo, env=environment, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture()
def repo(repo_copy: Path, prefect_api: str) -> Path:
    (repo_copy / "tasks.py").write_text((PROJECT_ROOT / "tasks.py").read_text())
    subprocess.run(["git", "init", "-q"], cwd=repo_copy, check=True)
    subprocess.run(["git", "add", "."], cwd=repo_copy, check=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "i"],
                   cwd=repo_copy, check=True)
    return repo_copy


Scenario = Callable[[Path], subprocess.CompletedProcess[str]]
SCENARIOS: dict[str, tuple[Scenario, int, str]] = {
    "server unreachable": (lambda r: run(r, "deploy.test", PREFECT_API_URL=
                                         f"http://127.0.0.1:{free_port()}/api"), 3,
                           "Prefect API not reachable"),
    "no server": (lambda r: run(r, "deploy.test", PREFECT_API_URL=""), 3, "no Prefect API"),
    "unknown env": (lambda r: run(r, "deploy.test", "--env", "qa"), 2, "unknown environment"),
    "unknown flow": (lambda r: run(r, "deploy.test", "--flow", "nope"), 2, "no flow named"),
    "unknown flow path": (lambda r: run(r, "flows.discover", "--flow", "nope"), 2,
                          "no flow folder or flow file"),
    "bad ref": (lambda r: run(r, "deploy.test", "--changed-since", "nope"), 2,
                "cannot compare with git"),
    "missing config": (lambda r: run(r, "deploy.test", DEPLOYMENT_CONFIG_PATH="config/x.yaml"),
                       2, "configuration file not found"),
    "config outside": (lambda r: run(r, "deploy.test", DEPLOYMENT_CONFIG_PATH="../out.yaml"), 2,
                       "points outside the repository"),
    "unknown profile": (lambda r: run(r, "deploy.test", PREFECT_API_URL="",
                                      PREFECT_PROFILE="nope"), 2,
                        "no Prefect profile named 'nope'"),
}


def _invalid_yaml(repo: Path) -> subprocess.CompletedProcess[str]:
    (repo / "config" / "environments" / "staging.yaml").write_text("x: [\n")
    return run(repo, "deploy.test", "--env", "staging")


def _unknown_key(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "\nwork_pools:", "\nwrok_pools:")
    return run(repo, "deploy.test")


def _wrong_value(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "  concurrency: 1\n", "  concurrency: lots\n")
    return run(repo, "deploy.test")


def _bad_collision_strategy(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "    concurrency_limit: 1\n",
         "    concurrency_limit: {limit: 1, collision_strategy: QUEUE}\n")
    return run(repo, "deploy.test")


def _refused_trigger(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "    concurrency_limit: 1\n",
         "    concurrency_limit: 1\n    triggers: [{expect: [a.b], posture: Sideways}]\n")
    return run(repo, "deploy.test")


def _triggers_named_twice(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "    concurrency_limit: 1\n",
         "    concurrency_limit: 1\n    triggers: [{name: go, expect: [a]}, "
         "{name: go, expect: [b]}]\n")
    return run(repo, "deploy.test")


def _bad_schedule_parameters(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "        timezone: Europe/Berlin\n",
         "        timezone: Europe/Berlin\n        parameters: {batch_sise: 5, batch_size: x}\n")
    return run(repo, "deploy.validate", "--offline")


def _bad_parameters(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "      batch_size: 100",
         "      batch_size: 100\n      batch_sise: 5\n      strict: 'yes'")
    return run(repo, "deploy.validate", "--offline")


def _bad_schedule(value: str) -> Scenario:
    def scenario(repo: Path) -> subprocess.CompletedProcess[str]:
        edit(repo / "config" / "deployment-config.yaml", "      - cron: \"0 6 * * 1-5\"\n"
             "        timezone: Europe/Berlin", value)
        return run(repo, "deploy.validate", "--offline")
    return scenario


def _invalid_flow(repo: Path) -> subprocess.CompletedProcess[str]:
    with (repo / "flows" / "rpa2" / "workflow.py").open("a") as handle:
        handle.write("\ndef broken(:\n")
    return run(repo, "deploy.test")


def _dirty_prod(repo: Path) -> subprocess.CompletedProcess[str]:
    (repo / "flows" / "rpa1" / "notes.txt").write_text("uncommitted")
    return run(repo, "env.deploy-prod")


def _port_taken(repo: Path) -> subprocess.CompletedProcess[str]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        return run(repo, "env.up", "--port", str(listener.getsockname()[1]))


def _wrong_pool_type(repo: Path) -> subprocess.CompletedProcess[str]:
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"docker-pool-{uuid.uuid4().hex[:8]}"  # a pool of this test alone
    with client(os.environ["PREFECT_API_URL"]) as prefect:
        prefect.create_work_pool(WorkPoolCreate(name=pool, type="docker"))
    edit(repo / "config" / "environments" / "development.yaml",
         "python: {name: python-pool, type: process}", f"python: {{name: {pool}, type: process}}")
    return run(repo, "deploy.python", "--flow", "rpa1")


def _unsupported_pool_type(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "environments" / "staging.yaml",
         "docker: {name: docker-pool-staging, type: docker}",
         "docker: {name: docker-pool-staging, type: ecs}")
    return run(repo, "deploy.test", "--env", "staging")


def _limit_below_request(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "environments" / "development.yaml", "    cpu: 0.5\n",
         "    cpu: 0.5\n    memory_limit: 256Mi\n")
    return run(repo, "deploy.validate", "--offline")


def _unpushed_commit(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "  git: null",
         f"  git: {{url: {(repo.parent / 'remote.git').as_uri()}}}")
    return run(repo, "deploy.python", "--env", "prod", "--flow", "rpa1")


def _wait_budget(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "  wait_budget: 600\n", "  wait_budget: 1\n")
    with ApiProxy(os.environ["PREFECT_API_URL"], limit=2, window=10) as proxy:
        return run(repo, "deploy.python", PREFECT_API_URL=proxy.url)


def _unreadable_profiles(repo: Path) -> subprocess.CompletedProcess[str]:
    broken = repo.parent / "profiles.toml"
    broken.write_text('active = "x\n')
    return run(repo, "deploy.test", PREFECT_API_URL="", PREFECT_PROFILES_PATH=str(broken))


def _reserved_tag(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "tags: [rpa, invoices]",
         "tags: [rpa, env:prod]")
    return run(repo, "deploy.test")


def _missing_project(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "\nproject: rpa-platform\n", "\n")
    return run(repo, "deploy.test")


def _python_only(repo: Path) -> Namespace:
    """Its own project and names (the session server is shared), python deployments only."""
    from tests.support.prefect_helpers import edit_config, isolate_repo

    namespace = isolate_repo(repo)
    edit_config(repo, lambda data: data["defaults"].update(kinds=["python"]))
    return namespace


def _orphans_without_flows(repo: Path) -> subprocess.CompletedProcess[str]:
    _python_only(repo)
    assert run(repo, "deploy.python", "--flow", "rpa1").returncode == 0
    shutil.rmtree(repo / "flows")
    (repo / "flows").mkdir()
    return run(repo, "deploy.clean", "--orphans")


def _drift_in_production(repo: Path) -> subprocess.CompletedProcess[str]:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.actions import DeploymentUpdate

    name = _python_only(repo).name("rpa1", env="prod")
    assert run(repo, "deploy.python", "--env", "prod", "--flow", "rpa1").returncode == 0
    with SyncPrefectClient(os.environ["PREFECT_API_URL"]) as prefect:
        live = prefect.read_deployment_by_name(f"RPA1ProcessingFlow/{name}")
        prefect.update_deployment(live.id, DeploymentUpdate(description="edited in the UI"))
    return run(repo, "deploy.python", "--env", "prod", "--flow", "rpa1")


def _promote_from_a_dirty_deploy(repo: Path) -> subprocess.CompletedProcess[str]:
    _python_only(repo)  # edits the committed configuration: the tree is dirty
    assert run(repo, "deploy.python", "--env", "staging", "--flow", "rpa1").returncode == 0
    return run(repo, "env.promote", "--allow-dirty", "--flow", "rpa1")


def _no_prefect_yaml(repo: Path) -> subprocess.CompletedProcess[str]:
    return run(repo, "flows.import", "--from", "nope/prefect.yaml")


def _bad_prefect_yaml(repo: Path) -> subprocess.CompletedProcess[str]:
    (repo / "prefect.yaml").write_text("deployments:\n  - name: [\n")
    return run(repo, "flows.import")


def _deployment_not_imported(repo: Path) -> subprocess.CompletedProcess[str]:
    (repo / "prefect.yaml").write_text(
        "deployments:\n  - name: ok\n    entrypoint: flows/rpa1/workflow.py:rpa1_processing_flow\n"
        "  - name: broken\n    entrypoint: flows/nowhere.py:main\n")
    return run(repo, "flows.import")


def _missing_shared_dockerfile(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "  workdir: /opt/prefect\n",
         "  workdir: /opt/prefect\n  dockerfile: docker/Dockerfile\n")
    return run(repo, "flows.validate")


def _missing_extra_folder(repo: Path) -> subprocess.CompletedProcess[str]:
    edit(repo / "config" / "deployment-config.yaml", "  exclude: []\n",
         "  exclude: []\n  also:\n    - {flows_dir: scripts, layout: files}\n")
    return run(repo, "flows.validate")


def _name_clash(repo: Path) -> subprocess.CompletedProcess[str]:
    two = ("from prefect import flow\n@flow\ndef b_c(): ...\n@flow\ndef d(): ...\n")
    for folder, text in (("a", two), ("a-b_c", "from prefect import flow\n@flow\ndef x(): ...\n")):
        (repo / "flows" / folder).mkdir()
        (repo / "flows" / folder / "workflow.py").write_text(text)
    edit(repo / "config" / "deployment-config.yaml", "\nflows:\n",
         "\nflows:\n  a: {flow: [b_c, d], kinds: [python]}\n  a-b_c: {kinds: [python]}\n")
    return run(repo, "deploy.build", "--flow", "a", "--flow", "a-b_c")


FILE_SCENARIOS: dict[str, tuple[Scenario, int, str]] = {
    "wait budget used up": (_wait_budget, 1, "beyond the run's waiting budget"),
    "unreadable profiles": (_unreadable_profiles, 2, "cannot read the Prefect profiles"),
    "no prefect.yaml": (_no_prefect_yaml, 2, "no prefect.yaml at"),
    "bad prefect.yaml": (_bad_prefect_yaml, 2, "invalid YAML"),
    "deployment not imported": (_deployment_not_imported, 1, "not imported"),
    "missing shared dockerfile": (_missing_shared_dockerfile, 2, "docker.dockerfile is"),
    "missing extra folder": (_missing_extra_folder, 2, "flows directory 'scripts' not found"),
    "name clash": (_name_clash, 1, "is also the name of"),
    "invalid yaml": (_invalid_yaml, 2, "invalid YAML"),
    "unknown key": (_unknown_key, 2, "unknown key 'wrok_pools'"),
    "wrong value": (_wrong_value, 2, "prefect.concurrency"),
    "bad collision strategy": (_bad_collision_strategy, 2,
                               "concurrency_limit.collision_strategy: Input should be"),
    "refused trigger": (_refused_trigger, 2, "Prefect refuses trigger 1: posture"),
    "triggers named twice": (_triggers_named_twice, 2, "two triggers have the name 'go'"),
    "bad parameters": (_bad_parameters, 1, "has no parameter 'batch_sise'"),
    "bad schedule parameters": (_bad_schedule_parameters, 1,
                                "schedules[0].parameters.batch_sise"),
    "invalid cron": (_bad_schedule('      - cron: "61 * * * *"'), 1,
                     "deployment-config.yaml:95): '61 * * * *' is not a valid cron"),
    "unknown timezone": (_bad_schedule('      - {cron: "0 6 * * *", timezone: Mars/Base}'),
                         1, "deployment-config.yaml:95): unknown timezone 'Mars/Base'"),
    "invalid flow": (_invalid_flow, 1, "invalid flow: SyntaxError"),
    "dirty prod": (_dirty_prod, 2, "uncommitted changes"),
    "wrong pool type": (_wrong_pool_type, 1, "exists with type 'docker'"),
    "unsupported pool type": (_unsupported_pool_type, 2,
                              "'ecs' is not a container work pool type"),
    "limit below request": (_limit_below_request, 1, "is below the memory request"),
    "unpushed commit": (_unpushed_commit, 1, "is not on origin/main"),
    "port taken": (_port_taken, 2, "is taken: something already listens"),
    "reserved tag": (_reserved_tag, 2, "tag 'env:prod' is reserved"),
    "missing project": (_missing_project, 2, "project name is missing"),
    "blank pattern": (lambda r: run(r, "deploy.clean", "--pattern", " "), 2,
                      "empty or blank"),
    "clean without a target": (lambda r: run(r, "deploy.clean"), 2, "say what to delete"),
    "orphans without flows": (_orphans_without_flows, 2, "no flows were found"),
    "drift in production": (_drift_in_production, 1, "changed on the server since"),
    "promote a dirty deploy": (_promote_from_a_dirty_deploy, 1,
                               "was deployed from a checkout with uncommitted changes"),
}


@pytest.mark.parametrize("name", [*SCENARIOS, *FILE_SCENARIOS])
def test_every_printed_problem_has_its_troubleshooting_entry(name: str, repo: Path) -> None:
    scenario, code, expected = {**SCENARIOS, **FILE_SCENARIOS}[name]
    assert_has_entry(scenario(repo), code, expected)


# The table of make targets is code, so the typo is made in the process that runs the
# real `invoke makefile --check` (Invoke's own Program, the namespace of tasks.py).
MISTYPED_TABLE = """
import dataclasses
from invoke import Program
from deploytasks import makefile
makefile.TARGETS = tuple(dataclasses.replace(t, task="deploy.pyhton") if t.name == "deploy-python"
                         else t for t in makefile.TARGETS)
from deploytasks.tasks import ns
Program(namespace=ns).run(["invoke", "makefile", "--check"])
"""


def test_a_mistyped_make_target_task_has_its_entry(tmp_path: Path) -> None:
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    for name in ("tasks.py", "Makefile"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    environment = {k: v for k, v in os.environ.items() if k != "DEPLOYTASKS_ROOT"}
    done = subprocess.run([sys.executable, "-c", MISTYPED_TABLE], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    assert_has_entry(done, 2, "no such Invoke task: target 'deploy-python' runs 'deploy.pyhton'")


def assert_has_entry(done: subprocess.CompletedProcess[str], code: int, expected: str) -> None:
    """Exit code as documented, the expected problem printed, and every problem in the guide."""
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert "Traceback" not in output
    problems = printed_problems(output)
    assert any(expected in line for line in problems), output
    patterns = guide_patterns()
    unmatched = [line for line in problems if not any(p.search(line) for p in patterns)]
    assert not unmatched, f"no entry in docs/TROUBLESHOOTING.md for: {unmatched}"


def test_the_guide_has_an_entry_for_each_error_users_meet() -> None:
    text = GUIDE.read_text(encoding="utf-8").lower()
    for topic in ("server unreachable", "missing work pool", "image not found",
                  "registry login", "parameter", "invalid flow"):
        assert topic in text, topic
    assert len(guide_patterns()) >= 25


DOCKER_SCENARIOS: dict[str, tuple[Scenario, int, str]] = {
    "engine unreachable": (lambda r: run(r, "images.build", DOCKER_HOST="tcp://127.0.0.1:1"),
                           3, "Docker engine not reachable"),
    "no registry": (lambda r: run(r, "images.push", DOCKER_REGISTRY=""), 2,
                    "no registry configured"),
    "registry unreachable": (lambda r: run(r, "images.push", "--registry",
                                           f"127.0.0.1:{free_port()}/x"), 3, "is not reachable"),
    "image not found": (lambda r: run(r, "deploy.containers", "--flow", "rpa1",
                                      DOCKER_NAMESPACE=sub_namespace("missing")), 1,
                        "not found locally"),
}


@pytest.mark.docker
@pytest.mark.parametrize("name", list(DOCKER_SCENARIOS))
def test_docker_problems_have_their_entries(name: str, repo: Path) -> None:
    if name != "engine unreachable":
        require_engine()
    scenario, code, expected = DOCKER_SCENARIOS[name]
    assert_has_entry(scenario(repo), code, expected)

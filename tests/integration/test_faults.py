"""Faults on the way to the server and the registry, provoked for real.

- a Prefect server that answers 503 "database is locked" to every third write
  (``tests/support/api_proxy.py`` in front of a real private server; its rate-limit
  policies are ``test_rate_limits.py``'s);
- Ctrl-C (SIGINT) in the middle of ``deploy.python`` / ``deploy.build`` of 80
  flows and of ``images.build --no-cache``;
- a registry that goes away between two pushes.

The server stopped and restarted in the middle of a deploy is
``test_deploy.py::test_server_dies_mid_deploy_then_rerun_converges``; it is
not repeated here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.api_proxy import ApiProxy
from tests.support.docker_services import (
    docker,
    private_namespace,
    stop_registry,
)
from tests.support.policy import private_server, started_registry
from tests.support.prefect_helpers import (
    CliResult,
    PrivateServer,
    clone_flows,
    count_deployments,
    deployments_by_name,
    edit_config,
    finish_cli,
    isolate_repo,
    one_line,
    run_cli,
    start_cli_until,
    start_deploy_until,
)

PROMPT = 10.0  # seconds an interrupted command may take to stop


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateServer]:
    """A Prefect server of this module alone (the proxy and the interrupts hit only it)."""
    with private_server(tmp_path_factory.mktemp("faults-server")) as private:
        yield private


def _no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.describe()


def dot_files(folder: Path) -> list[str]:
    """Files under ``folder`` whose name starts with '.' (temporary files left behind)."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


# ---- (a) a server that answers 503 to every third write ------------------------------------------


# ApiProxy (tests/support/api_proxy.py) refuses every ``every``-th write with 503 "database is
# locked" and forwards the rest; a refused write never reaches the server, so a retry is the
# only way it can land. A real server sends no ``Retry-After``; ``retry_after="0"`` keeps the
# first test about correctness, not waiting.


def test_server_answering_503_to_every_third_write(repo_copy: Path, server: PrivateServer
                                                   ) -> None:
    ns = isolate_repo(repo_copy)
    folders = clone_flows(repo_copy, 30)
    with ApiProxy(server.api_url, every=3, retry_after="0") as proxy:
        result = run_cli(repo_copy, "deploy.python", "--env", "dev", "--json",
                         api_url=proxy.url, timeout=300)
    assert result.code == 0, result.describe()
    _no_traceback(result)
    doc = result.json()
    assert doc["failed"] == 0 and doc["plan"]["create"] == 30, result.describe()
    assert proxy.refused, "the proxy refused no write; the test proves nothing"
    assert any("/deployments" in r for r in proxy.refused), proxy.refused
    assert doc["requests"]["retries"] > 0
    # Every refused write was retried exactly once more, and nothing else was (but a 5xx
    # of the loaded server itself, which is retried as well).
    assert doc["requests"]["retries"] == len(proxy.refused) + len(proxy.server_errors), \
        (doc["requests"], proxy.refused, proxy.server_errors)
    found = deployments_by_name(server.api_url, ns.tag)  # fails on a duplicate
    assert set(found) == {ns.name(f) for f in folders}
    # And the repository is now in step: nothing left to write, even through the proxy.
    with ApiProxy(server.api_url, every=3, retry_after="0") as proxy:
        again = run_cli(repo_copy, "deploy.python", "--env", "dev", "--json",
                        api_url=proxy.url, timeout=120)
    assert again.code == 0, again.describe()
    assert again.json()["requests"]["writes"] == 0 and proxy.writes == 0


def test_a_503_costs_the_short_backoff_not_prefects_two_seconds(
        repo_copy: Path, server: PrivateServer, tmp_path: Path) -> None:
    copies = {"direct": repo_copy, "proxied": tmp_path / "proxied"}
    shutil.copytree(repo_copy, copies["proxied"])
    seconds: dict[str, float] = {}
    refused = 0
    for label, root in copies.items():
        isolate_repo(root)
        clone_flows(root, 6)
        if label == "direct":
            result = run_cli(root, "deploy.python", "--env", "dev", "--json",
                             api_url=server.api_url)
        else:
            with ApiProxy(server.api_url, every=3) as proxy:
                result = run_cli(root, "deploy.python", "--env", "dev", "--json",
                                 api_url=proxy.url)
            refused = len(proxy.refused)
        assert result.code == 0, result.describe()
        seconds[label] = result.seconds
    assert refused >= 3
    extra = seconds["proxied"] - seconds["direct"]
    assert extra < 2.0 + 0.5 * refused, (
        f"{refused} refused writes cost {extra:.1f} s ({extra / refused:.1f} s each)")


# ---- (b) Ctrl-C in the middle of a deploy of 80 flows --------------------------------------------


def test_sigint_during_deploy_of_80_flows(repo_copy: Path, server: PrivateServer,
                                          tmp_path: Path) -> None:
    ns = isolate_repo(repo_copy)
    total = 80
    folders = clone_flows(repo_copy, total)
    edit_config(repo_copy, lambda d: d["prefect"].update(concurrency=1))
    api = server.api_url
    args = ("deploy.python", "--env", "dev", "--json")

    process, started, seen = start_deploy_until(repo_copy, *args, api_url=api,
                                                log=tmp_path / "deploy", deployments=3,
                                                tag=ns.tag)
    assert process.poll() is None, "the deploy finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    first = finish_cli(process, tmp_path / "deploy", args, started, timeout=60)
    stopped_after = time.monotonic() - signalled

    assert first.code == 130, first.describe()
    assert stopped_after < PROMPT, f"took {stopped_after:.1f} s to stop\n{first.describe()}"
    _no_traceback(first)
    assert one_line(first.stderr), first.describe()
    said = re.search(r"interrupted: (\d+) of (\d+) changes written", first.stderr)
    assert said, first.describe()
    written, planned = int(said[1]), int(said[2])
    assert planned == total
    on_server = count_deployments(api, ns.tag)
    # What it says was written is there; at most the one request in flight landed as well.
    assert seen <= on_server and written <= on_server <= written + 1, (written, on_server)
    assert on_server < total
    assert dot_files(repo_copy / "build") == []

    second = run_cli(repo_copy, *args, api_url=api)
    assert second.code == 0, second.describe()
    doc = second.json()
    assert doc["failed"] == 0 and doc["plan"]["create"] == total - on_server, doc["plan"]
    assert doc["plan"]["unchanged"] == on_server
    assert set(deployments_by_name(api, ns.tag)) == {ns.name(f) for f in folders}
    third = run_cli(repo_copy, *args, api_url=api)
    assert third.code == 0 and third.json()["requests"]["writes"] == 0, third.describe()


def test_sigint_during_deploy_build_leaves_no_partial_file(repo_copy: Path,
                                                           tmp_path: Path) -> None:
    ns = isolate_repo(repo_copy)
    total = 80
    clone_flows(repo_copy, total)
    folder = repo_copy / "build" / "deployments" / "development"
    args = ("deploy.build", "--env", "dev", "--json")
    process, started = start_cli_until(
        repo_copy, *args, api_url=None, log=tmp_path / "build", timeout=60, poll=0.005,
        until=lambda: folder.is_dir() and any(folder.iterdir()))
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    first = finish_cli(process, tmp_path / "build", args, started, timeout=60)
    assert time.monotonic() - signalled < PROMPT, first.describe()
    assert first.code in (0, 130), first.describe()  # it may have finished before the signal
    _no_traceback(first)
    assert dot_files(repo_copy / "build") == [], first.describe()
    for path in folder.glob("*.yaml"):  # whatever is there is whole
        assert yaml.safe_load(path.read_text())["name"] == path.stem
    if (folder / "manifest.json").exists():
        json.loads((folder / "manifest.json").read_text())

    again = run_cli(repo_copy, *args, api_url=None)
    assert again.code == 0, again.describe()
    names = {ns.name(f"rpa{n:03d}", kind) for n in range(1, total + 1)
             for kind in ("python", "docker")}
    assert {p.stem for p in folder.glob("*.yaml")} == names
    assert dot_files(repo_copy / "build") == []


# ---- docker: (c) Ctrl-C during images.build, (d) the registry goes away --------------------------


@pytest.fixture()
def faults_namespace(base_image: str) -> Iterator[str]:
    """A Docker namespace of this test alone (inside the session's); removed afterwards."""
    with private_namespace("faults") as name:
        yield name


def _images_env(namespace: str) -> dict[str, str]:
    return {"DOCKER_NAMESPACE": namespace, "DOCKER_USERNAME": "", "DOCKER_PASSWORD": ""}


def _tasks_py(root: Path) -> None:
    shutil.copy2(Path(__file__).resolve().parents[2] / "tasks.py", root / "tasks.py")


def _interrupt_build(root: Path, namespace: str, log: Path, *args: str,
                     after: float | None = None) -> tuple[CliResult, float]:
    """Start ``images.build --no-cache``; SIGINT once the first image is finished (or after
    ``after`` seconds); the result and how long it took to stop after the signal."""
    manifest = root / "build" / "images" / "manifest.json"
    command = ("images.build", "--no-cache", *args)
    # The manifest is written when the first image is finished.
    process, started = start_cli_until(
        root, *command, api_url=None, log=log, extra_env=_images_env(namespace), poll=0.05,
        timeout=after if after is not None else 180,
        until=lambda: after is None and manifest.exists())
    assert process.poll() is None, "the build ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    result = finish_cli(process, log, command, started, timeout=180)
    return result, time.monotonic() - signalled


@pytest.mark.docker
def test_sigint_during_images_build(repo_copy: Path, faults_namespace: str,
                                    tmp_path: Path) -> None:
    _tasks_py(repo_copy)
    result, stopped_after = _interrupt_build(repo_copy, faults_namespace, tmp_path / "images")
    assert result.code == 130, result.describe()
    assert stopped_after < PROMPT, f"took {stopped_after:.1f} s to stop\n{result.describe()}"
    _no_traceback(result)
    assert one_line(result.stderr) and "interrupted" in result.stderr, result.describe()
    manifest = repo_copy / "build" / "images" / "manifest.json"
    records = json.loads(manifest.read_text())["images"]  # valid JSON, whatever finished
    assert records, result.describe()
    for flow, record in records.items():  # each recorded image is really there
        assert record["status"] == "built"
        assert docker("image", "inspect", f"{record['repository']}:{record['content_tag']}"
                      ).returncode == 0
        assert re.search(rf"^{flow}: built in", result.stdout, re.M), result.describe()
    assert dot_files(repo_copy / "build") == []
    again = run_cli(repo_copy, "images.build", "--json", api_url=None,
                    extra_env=_images_env(faults_namespace), timeout=300)
    assert again.code == 0, again.describe()
    statuses = {i["flow"]: i["status"] for i in again.json()["images"]}
    assert {f for f, s in statuses.items() if s == "reused"} >= set(records), statuses


@pytest.mark.docker
def test_interrupted_images_build_says_what_finished(repo_copy: Path, faults_namespace: str,
                                                     tmp_path: Path) -> None:
    _tasks_py(repo_copy)
    result, _ = _interrupt_build(repo_copy, faults_namespace, tmp_path / "images", "--json")
    assert result.code == 130, result.describe()
    finished = sorted(json.loads(
        (repo_copy / "build/images/manifest.json").read_text())["images"])
    said = result.stderr + result.stdout
    assert re.search(rf"\b{len(finished)} of 3\b", said) or all(f in said for f in finished), \
        result.describe()


SLOW_DOCKERFILE = """\
ARG BASE_IMAGE=deploytasks/prefect-base:3.9.1-python3.11
FROM ${BASE_IMAGE}
RUN sleep 20
"""


@pytest.mark.docker
def test_sigint_stops_a_slow_build_promptly(repo_copy: Path, faults_namespace: str,
                                            tmp_path: Path) -> None:
    _tasks_py(repo_copy)
    for flow in ("rpa1", "rpa2"):  # both build threads busy (docker.parallelism: 2)
        (repo_copy / "flows" / flow / "Dockerfile").write_text(SLOW_DOCKERFILE)
    result, stopped_after = _interrupt_build(repo_copy, faults_namespace, tmp_path / "slow",
                                             after=4)
    assert result.code == 130, result.describe()
    assert stopped_after < PROMPT, f"took {stopped_after:.1f} s to stop\n{result.describe()}"


TINY_DOCKERFILE = "FROM scratch\nCOPY workflow.py /flow/workflow.py\n"


@pytest.mark.docker
def test_registry_gone_between_pushes(repo_copy: Path, faults_namespace: str,
                                      tmp_path: Path) -> None:
    _tasks_py(repo_copy)
    for flow in ("rpa1", "rpa2", "rpa3"):  # tiny images: the push is about the registry
        (repo_copy / "flows" / flow / "Dockerfile").write_text(TINY_DOCKERFILE)
    registry = started_registry(tmp_path / "registry")
    target = f"{registry.host}/gone"
    env = _images_env(faults_namespace)
    try:
        built = run_cli(repo_copy, "images.build", "--registry", target, "--json",
                        api_url=None, extra_env=env)
        assert built.code == 0, built.describe()
        pushed = run_cli(repo_copy, "images.push", "--registry", target, "--json",
                         api_url=None, extra_env=env)
        assert pushed.code == 0, pushed.describe()
        old_digest = pushed.json()["images"][0]["digest"]
        assert old_digest.startswith("sha256:")
    finally:
        stop_registry(registry)

    with (repo_copy / "flows" / "rpa1" / "workflow.py").open("a") as handle:
        handle.write("\n# changed after the first push\n")
    rebuilt = run_cli(repo_copy, "images.build", "--registry", target, "--json",
                      api_url=None, extra_env=env)
    assert rebuilt.code == 0, rebuilt.describe()
    for args in (("images.push", "--registry", target, "--json"),
                 ("images.push", "--registry", target)):
        result = run_cli(repo_copy, *args, api_url=None, extra_env=env, timeout=120)
        assert result.code in (1, 3), result.describe()
        assert result.seconds < 30, result.describe()
        _no_traceback(result)
        if result.code == 3:  # the registry is checked once, before any image
            assert one_line(result.stderr), result.describe()
            assert registry.host in result.stderr and "not reachable" in result.stderr
        else:  # or each image fails on its own, naming the registry
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 3 and all(registry.host in e for e in errors), result.stderr
        if "--json" in args and result.stdout.strip():
            for image in result.json().get("images", []):
                assert image["status"] == "failed" and registry.host in image["error"]
    records = json.loads((repo_copy / "build/images/manifest.json").read_text())["images"]
    # The changed image was never pushed: no digest may be pinned for it, least of all the old one.
    assert records["rpa1"]["digest"] in (None, "") and records["rpa1"]["digest"] != old_digest
    assert os.path.basename(records["rpa1"]["repository"]) == "rpa1-worker"

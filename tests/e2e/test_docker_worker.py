"""A docker deployment really runs from a registry: build, push, forget, deploy, pull, run.

The images of a repository copy are built under a namespace of this test
alone, pushed to a private ``docker-registry`` on a loopback port, and then
removed from the engine, so that only the registry has them. ``deploy.containers``
must pin the pushed digest; a real ``prefect worker start --type docker`` on a
work pool of this test alone (``IfNotPresent``) must pull the image back from
the registry and run rpa1 in a container (``network_mode: host`` reaches the
loopback API) to COMPLETED. The container's result stays in the container, so
the flow's own log lines, read back from the server, are compared with counts
computed here from the flow's CSV without the flow's code.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker_services import (
    Registry,
    docker,
    private_namespace,
    stop_registry,
)
from tests.support.policy import started_registry
from tests.support.prefect_helpers import (
    FLOW_NAMES,
    CliResult,
    Namespace,
    deployment,
    isolate_repo,
    one_line,
    run_cli,
)
from tests.support.workers import DOCKER_RUN_TIMEOUT, completed, logs_with, running_worker

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

FLOWS = ("rpa1", "rpa2", "rpa3")


def image_present(ref: str) -> bool:
    return docker("image", "inspect", "--format", "{{.Id}}", ref).returncode == 0


@pytest.fixture()
def registry(base_image: str, tmp_path: Path) -> Iterator[Registry]:
    started = started_registry(tmp_path / "registry")
    yield started
    stop_registry(started)


@dataclass
class Images:
    """A repository copy whose images live under a namespace of this test alone."""

    root: Path
    ns: Namespace
    api_url: str
    docker_namespace: str

    def cli(self, *args: str, timeout: float = 600, **env: str) -> CliResult:
        extra = {"DOCKER_NAMESPACE": self.docker_namespace, **env}
        return run_cli(self.root, *args, api_url=self.api_url, timeout=timeout,
                       extra_env=extra)

    def refs(self) -> list[str]:
        """Every reference (tag or digest) the engine holds under this test's namespace."""
        listed = docker("image", "ls", "--digests", "--format",
                        "{{.Repository}} {{.Tag}} {{.Digest}}").stdout.splitlines()
        found = []
        for line in listed:
            repository, tag, digest = line.split()
            if f"/{self.docker_namespace}/" not in f"/{repository}":
                continue
            found += [f"{repository}:{tag}"] if tag != "<none>" else []
            found += [f"{repository}@{digest}"] if digest != "<none>" else []
        return found


@pytest.fixture()
def images(base_image: str, repo_copy: Path, prefect_api: str) -> Iterator[Images]:
    with private_namespace("e2e") as namespace:
        yield Images(repo_copy, isolate_repo(repo_copy), prefect_api, namespace)


def _ok(result: CliResult, code: int = 0) -> Any:
    assert result.code == code, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    return result.json()


# ---- what rpa1 must report, from its CSV alone ---------------------------------------------------


def expected_counts(csv_file: Path) -> tuple[int, int]:
    """(valid, records) of rpa1's default, non-strict run, from the data file.

    The rules come from the flow's docstring contract (ids, vendor, positive
    amount, ISO issue date, EUR, no duplicate id), re-stated here on purpose.
    """
    from datetime import date

    with csv_file.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    seen: set[str] = set()
    valid = 0
    for row in rows:
        ok = bool(row["invoice_id"].strip()) and bool(row["vendor"].strip())
        try:
            amount = Decimal(row["amount"].strip())
            ok = ok and amount.is_finite() and amount > 0
        except InvalidOperation:
            ok = False
        try:
            date.fromisoformat(row["issue_date"].strip())
        except ValueError:
            ok = False
        ok = ok and row["currency"].strip().upper() == "EUR"
        invoice_id = row["invoice_id"].strip()
        if invoice_id and invoice_id in seen:
            ok = False
        seen.add(invoice_id)
        valid += ok
    return valid, len(rows)


def test_expected_counts_match_the_known_data() -> None:
    from tests.support.prefect_helpers import PROJECT_ROOT

    records = sum(1 for _ in (PROJECT_ROOT / "flows/rpa1/data/invoices.csv").open()) - 1
    valid, counted = expected_counts(PROJECT_ROOT / "flows/rpa1/data/invoices.csv")
    assert counted == records == 120
    assert 0 < valid < records


# ---- the test ------------------------------------------------------------------------------------


def test_docker_deployment_pulls_from_the_registry_and_runs(
        images: Images, registry: Registry, tmp_path: Path) -> None:
    api = images.api_url
    target = f"{registry.host}/e2e"
    repository = f"{target}/{images.docker_namespace}/rpa1-worker"

    built = _ok(images.cli("images.build", "--registry", target, "--json"))
    assert {i["flow"]: i["status"] for i in built["images"]}.keys() == set(FLOWS)
    assert all(i["status"] in ("built", "reused") for i in built["images"]), built
    pushed = _ok(images.cli("images.push", "--registry", target, "--json"))
    digests = {i["flow"]: i["digest"] for i in pushed["images"]}
    assert all(d and d.startswith("sha256:") for d in digests.values()), pushed

    # Only the registry has them now.
    for image in built["images"]:
        assert docker("image", "rm", image["image"], image["content_image"]).returncode == 0
    assert images.refs() == []
    pinned = f"{repository}@{digests['rpa1']}"
    assert not image_present(pinned)

    deployed = _ok(images.cli("deploy.containers", "--env", "dev", "--registry", target,
                              "--json"))
    assert deployed["failed"] == 0 and deployed["plan"]["create"] == 3, deployed
    live = deployment(api, FLOW_NAMES["rpa1"], images.ns.name("rpa1", "docker"))
    assert "@sha256:" in live.job_variables["image"]
    assert live.job_variables["image"] == pinned
    assert live.job_variables["image_pull_policy"] == "IfNotPresent"
    assert live.job_variables["network_mode"] == "host"
    assert live.work_pool_name == images.ns.pool("docker")
    assert not image_present(pinned), "deploying must not pull the image"

    with running_worker(api, images.ns.pool("docker"), tmp_path, kind="docker") as worker:
        run = completed(api, live.id, worker, timeout=DOCKER_RUN_TIMEOUT)
        logs = logs_with(api, run.id, "RPA1 done:")

    assert run.deployment_id == live.id
    assert image_present(pinned), "the worker did not pull the image from the registry"
    valid, records = expected_counts(images.root / "flows/rpa1/data/invoices.csv")
    assert records == 120
    assert f"Read {records} invoice records from invoices.csv" in logs, logs
    done = [m for m in logs if m.startswith("RPA1 done:")]
    assert len(done) == 1, logs
    assert re.match(rf"RPA1 done: {valid}/{records} valid, total [0-9.]+ EUR$", done[0]), done


def test_deploying_an_image_never_built_names_the_fix(images: Images) -> None:
    _ok(images.cli("images.build", "--flow", "rpa1", "--json"))
    result = images.cli("deploy.containers", "--env", "dev", "--json")
    doc = _ok(result, code=1)
    assert [o["name"] for o in doc["results"] if o["ok"]] == [images.ns.name("rpa1", "docker")]
    refused = {s["flow"]: s for s in doc["skipped"]}
    assert set(refused) == {"rpa2", "rpa3"}, doc
    for flow, skipped in refused.items():
        text = f"{skipped['reason']} {skipped.get('hint') or ''}"
        assert f"invoke images.build --flow {flow}" in text, skipped
        assert f"{images.docker_namespace}/{flow}-worker" in text, skipped
    human = images.cli("deploy.containers", "--env", "dev")
    assert human.code == 1, human.describe()
    assert "invoke images.build --flow rpa2" in human.stdout + human.stderr
    assert "Traceback" not in human.stderr


def test_engine_unreachable_refuses_docker_deployments_with_one_line(
        repo_copy: Path, prefect_api: str) -> None:
    isolate_repo(repo_copy)
    for args in (("deploy.containers", "--env", "dev"),
                 ("deploy.containers", "--env", "dev", "--json")):
        result = run_cli(repo_copy, *args, api_url=prefect_api, timeout=60,
                         extra_env={"DOCKER_HOST": "tcp://127.0.0.1:1"})
        assert result.code == 3, result.describe()
        assert one_line(result.stderr), result.describe()
        assert "tcp://127.0.0.1:1" in result.stderr and "Traceback" not in result.stderr
        assert result.stdout.strip() == "", result.describe()

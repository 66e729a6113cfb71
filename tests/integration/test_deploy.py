"""The deploy side end to end against a real Prefect server, through the real CLI.

Every test runs ``invoke deploy.*`` in a subprocess inside its own copy of the
repository, in its own namespace (deployment-name suffix, pool names and
ownership tag; see ``tests.support.prefect_helpers.isolate_repo``), and reads the
server back with Prefect's own client. Tests that need to kill or race a
server start a private one.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploytasks.env.local_server import free_port
from tests.support.policy import private_server
from tests.support.prefect_helpers import (
    FLOW_NAMES,
    CliResult,
    Namespace,
    PrivateServer,
    client,
    clone_flows,
    count_deployments,
    deployment,
    deployments_by_name,
    edit,
    edit_config,
    finish_cli,
    isolate_repo,
    one_line,
    run_cli,
    server_dump,
    set_flow_setting,
    start_cli,
    start_deploy_until,
    work_pools,
)

FLOWS = ("rpa1", "rpa2", "rpa3")


@dataclass
class Project:
    """A repository copy in its own namespace on a Prefect server."""

    root: Path
    ns: Namespace
    api_url: str

    def cli(self, *args: str, timeout: float = 180, **kwargs: Any) -> CliResult:
        return run_cli(self.root, *args, api_url=self.api_url, timeout=timeout, **kwargs)

    def deployments(self) -> dict[str, Any]:
        """This namespace's deployments on the server, by name (duplicates fail)."""
        return deployments_by_name(self.api_url, self.ns.tag)


@pytest.fixture()
def project(repo_copy: Path, prefect_api: str) -> Project:
    return Project(repo_copy, isolate_repo(repo_copy), prefect_api)


def _actions(plan_doc: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["action"] for item in plan_doc["plan"]}


def _ok(result: CliResult, code: int = 0) -> Any:
    assert result.code == code, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    return result.json()


# 1. plan → deploy → re-deploy → change → orphan → clean ---------------------------------


def test_plan_deploy_redeploy_change_orphan_clean(project: Project, example_images: str) -> None:
    ns, api = project.ns, project.api_url

    # The dry run on a server that has nothing of ours: all create, nothing written.
    before = server_dump(api, liveness=False)  # other tests' workers may come and go
    plan = _ok(project.cli("deploy.test", "--env", "dev", "--json"))
    assert _actions(plan) == {name: "create" for name in ns.names()}
    assert plan["summary"] == {"create": 6, "update": 0, "unchanged": 0, "orphaned": 0,
                               "conflict": 0}
    assert {p["name"]: p["state"] for p in plan["pools"]} == {
        ns.pool("python"): "missing", ns.pool("docker"): "missing"}
    after = server_dump(api, liveness=False)
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True), \
        "deploy.test changed the server"

    # The real run creates exactly what the plan said.
    first = _ok(project.cli("deploy.all", "--env", "dev", "--json"))
    assert first["plan"]["create"] == 6 and first["failed"] == 0
    assert sorted(o["name"] for o in first["results"] if o["ok"]) == sorted(ns.names())
    assert sorted(first["pools_created"]) == sorted([ns.pool("python"), ns.pool("docker")])
    assert first["requests"]["writes"] >= 8  # 2 pools + 6 deployments (+ flows)

    found = project.deployments()
    assert set(found) == ns.names()
    pools = work_pools(api)
    assert pools[ns.pool("python")].type == "process"
    assert pools[ns.pool("docker")].type == "docker"
    for flow in FLOWS:
        for kind in ("python", "docker"):
            d = found[ns.name(flow, kind)]
            assert d.work_pool_name == ns.pool(kind)
            assert {ns.tag, "env:dev", f"type:{kind}", "rpa"} <= set(d.tags)
            assert d.entrypoint.startswith(f"flows/{flow}/workflow.py:")
            assert d.parameters.get("cleanup") is True  # development's default parameter
            assert d.enforce_parameter_schema is True
            assert all(not s.active for s in d.schedules), "dev schedules must be paused"
            if kind == "docker":
                assert d.job_variables["image"] == f"{example_images}/{flow}-worker:latest"
                assert d.job_variables["network_mode"] == "host"
    rpa1 = found[ns.name("rpa1")]
    assert rpa1.parameters == {"batch_size": 100, "cleanup": True}
    assert "invoices" in rpa1.tags
    assert [(s.schedule.cron, s.schedule.timezone) for s in rpa1.schedules] == [
        ("0 6 * * 1-5", "Europe/Berlin")]
    rpa2 = found[ns.name("rpa2")]
    assert [s.schedule.interval.total_seconds() for s in rpa2.schedules] == [3600]
    assert found[ns.name("rpa3")].schedules == []
    assert found[ns.name("rpa3")].global_concurrency_limit.limit == 1
    assert found[ns.name("rpa1")].pull_steps == [{
        "prefect.deployments.steps.set_working_directory": {"directory": str(project.root)}}]

    # Unchanged re-deploy: nothing to change, and not one write request.
    again = _ok(project.cli("deploy.all", "--env", "dev", "--json"))
    assert again["plan"]["unchanged"] == 6 and again["plan"]["create"] == 0
    assert again["plan"]["update"] == 0
    assert again["results"] == []
    assert again["requests"]["writes"] == 0
    assert set(project.deployments()) == ns.names()

    # A changed default in a flow's signature updates that flow's two deployments only.
    edit(project.root / "flows/rpa1/workflow.py",
                    "batch_size: int = 100", "batch_size: int = 250")
    changed = _ok(project.cli("deploy.test", "--env", "dev", "--json"))
    rpa1_names = {ns.name("rpa1", k) for k in ("python", "docker")}
    assert _actions(changed) == {n: ("update" if n in rpa1_names else "unchanged")
                                 for n in ns.names()}
    for item in changed["plan"]:
        if item["name"] in rpa1_names:
            assert [c["field"] for c in item["changes"]] == ["parameter_openapi_schema"]
            change = item["changes"][0]
            assert change["old"]["properties"]["batch_size"]["default"] == 100
            assert change["new"]["properties"]["batch_size"]["default"] == 250
    updated = _ok(project.cli("deploy.all", "--env", "dev", "--json"))
    assert sorted(o["name"] for o in updated["results"]) == sorted(rpa1_names)
    schema = project.deployments()[ns.name("rpa1")].parameter_openapi_schema
    assert schema["properties"]["batch_size"]["default"] == 250

    # A flow removed from the repository leaves orphans: shown, kept, then cleaned.
    shutil.rmtree(project.root / "flows/rpa3")
    edit_config(project.root, lambda data: data["flows"].pop("rpa3"))
    orphaned = _ok(project.cli("deploy.test", "--env", "dev", "--json"))
    rpa3_names = {ns.name("rpa3", k) for k in ("python", "docker")}
    assert _actions(orphaned) == {n: ("orphaned" if n in rpa3_names else "unchanged")
                                  for n in ns.names()}
    assert set(project.deployments()) == ns.names(), "a dry run must not delete orphans"
    cleaned = _ok(project.cli("deploy.clean", "--orphans", "--json"))
    assert sorted(cleaned["deleted"]) == sorted(rpa3_names)
    assert set(project.deployments()) == ns.names(("rpa1", "rpa2"))


def test_plan_json_reports_zero_writes(project: Project) -> None:
    plan = _ok(project.cli("deploy.test", "--env", "dev", "--json"))
    assert plan["requests"]["writes"] == 0
    assert plan["requests"]["reads"] > 0


# 2. a schedule paused in the UI stays paused -----------------------------------------------


def test_schedule_paused_in_ui_stays_paused_on_update(project: Project,
                                                      example_images: str) -> None:
    ns, api = project.ns, project.api_url
    _ok(project.cli("deploy.all", "--env", "prod", "--json"))
    name = ns.name("rpa1", "python", "prod")
    live = deployment(api, FLOW_NAMES["rpa1"], name)
    assert live.work_pool_name == ns.pool("python", "prod")
    assert [s.active for s in live.schedules] == [True], "prod schedules must be active"
    schedule_id = live.schedules[0].id
    with client(api) as prefect:
        prefect.update_deployment_schedule(live.id, schedule_id, active=False)

    set_flow_setting(project.root, "rpa1", "parameters.batch_size", 500)
    result = _ok(project.cli("deploy.all", "--env", "prod", "--json"))
    assert sorted(o["name"] for o in result["results"]) == sorted(
        [name, ns.name("rpa1", "docker", "prod")])
    assert all(o["ok"] for o in result["results"])

    after = deployment(api, FLOW_NAMES["rpa1"], name)
    assert after.parameters["batch_size"] == 500
    assert [(s.id, s.active) for s in after.schedules] == [(schedule_id, False)], \
        "the schedule paused in the UI was re-activated or replaced"
    docker = deployment(api, FLOW_NAMES["rpa1"], ns.name("rpa1", "docker", "prod"))
    assert [s.active for s in docker.schedules] == [True]
    # And the pause is not a difference the next plan wants to undo.
    plan = _ok(project.cli("deploy.test", "--env", "prod", "--json"))
    assert set(_actions(plan).values()) == {"unchanged"}


# 3. failure isolation ------------------------------------------------------------------------


def _wrong_type(root: Path) -> None:
    set_flow_setting(root, "rpa2", "parameters.amount_tolerance", "abc")


def _unknown_parameter(root: Path) -> None:
    set_flow_setting(root, "rpa2", "parameters.no_such_parameter", 1)


def _syntax_error(root: Path) -> None:
    with (root / "flows/rpa2/workflow.py").open("a", encoding="utf-8") as handle:
        handle.write("\ndef broken(:\n    pass\n")


@pytest.mark.parametrize(("breakage", "expected"), [
    (_wrong_type, ("parameters.amount_tolerance", "abc")),
    (_unknown_parameter, ("parameters.no_such_parameter", "no_such_parameter")),
    (_syntax_error, (None, "SyntaxError")),
], ids=["wrong-type", "unknown-parameter", "syntax-error"])
def test_one_broken_flow_does_not_stop_the_others(project: Project, breakage: Any,
                                                  expected: tuple[str | None, str],
                                                  example_images: str) -> None:
    ns = project.ns
    breakage(project.root)
    others = ns.names(("rpa1", "rpa3"))
    dry = _ok(project.cli("deploy.test", "--env", "dev", "--json"), code=1)
    assert _actions(dry) == {name: "create" for name in others}  # what the deploy writes
    result = project.cli("deploy.all", "--env", "dev", "--json")
    doc = _ok(result, code=1)
    setting, words = expected
    rpa2 = {ns.name("rpa2", k) for k in ("python", "docker")}
    if setting is not None:  # a bad setting: each of rpa2's deployments has a problem
        assert {p["deployment"] for p in doc["problems"]} == rpa2
        for problem in doc["problems"]:
            assert problem["setting"] == setting
            assert words in problem["message"]
            assert "deployment-config.yaml" in (problem["where"] or "")
            assert problem["hint"]
    else:  # a broken flow file: the whole flow is skipped, with the reason and line
        assert [(s["flow"], s["type"]) for s in doc["skipped"]] == [("rpa2", None)]
        assert words in doc["skipped"][0]["reason"]
        assert "line" in doc["skipped"][0]["reason"]
    assert sorted(o["name"] for o in doc["results"] if o["ok"]) == sorted(others)
    assert doc["failed"] == 0
    assert set(project.deployments()) == others


def test_unknown_environment_is_a_usage_error(project: Project) -> None:
    result = project.cli("deploy.all", "--env", "nope", "--json")
    assert result.code == 2, result.describe()
    assert one_line(result.stderr), result.describe()
    assert "nope" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.strip() == "" or isinstance(result.json(), dict)
    assert project.deployments() == {}


def test_broken_flow_is_not_an_orphan(project: Project, example_images: str) -> None:
    ns = project.ns
    _ok(project.cli("deploy.all", "--env", "dev", "--json"))
    _syntax_error(project.root)
    plan = _ok(project.cli("deploy.test", "--env", "dev", "--json"), code=1)
    rpa2 = {ns.name("rpa2", k) for k in ("python", "docker")}
    assert not {n for n, a in _actions(plan).items() if a == "orphaned"} & rpa2
    cleaned = _ok(project.cli("deploy.clean", "--orphans", "--json"))
    assert not set(cleaned["deleted"]) & rpa2
    assert set(project.deployments()) == ns.names()


def test_json_stays_one_document_in_github_actions(project: Project) -> None:
    _syntax_error(project.root)
    result = project.cli("deploy.test", "--env", "dev", "--json",
                         extra_env={"GITHUB_ACTIONS": "true"})
    assert result.code == 1, result.describe()
    json.loads(result.stdout)


# 4. server unreachable -----------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ("deploy.all", "--env", "dev", "--json"),
    ("deploy.test", "--env", "dev"),
    ("deploy.clean", "--pattern", "rpa1-*"),
    ("deploy.check", "--env", "dev"),
], ids=lambda c: c[0])
def test_unreachable_server_exits_3_with_one_line(repo_copy: Path,
                                                  command: tuple[str, ...]) -> None:
    isolate_repo(repo_copy)
    dead = f"http://127.0.0.1:{free_port()}/api"
    result = run_cli(repo_copy, *command, api_url=dead, timeout=60)
    assert result.code == 3, result.describe()
    assert result.seconds < 10, result.describe()
    assert one_line(result.stderr), result.describe()
    assert "Traceback" not in result.stderr
    assert dead in result.stderr
    assert result.stdout.strip() == ""


# 5. the server dies in the middle of a deploy -------------------------------------------------


def test_server_dies_mid_deploy_then_rerun_converges(repo_copy: Path, tmp_path: Path) -> None:
    with private_server(tmp_path / "private-server") as server:
        _server_dies_scenario(repo_copy, tmp_path, server)


def _server_dies_scenario(root: Path, tmp_path: Path, server: PrivateServer) -> None:
    ns = isolate_repo(root)
    total = 40
    folders = clone_flows(root, total)
    edit_config(root, lambda d: d["prefect"].update(concurrency=1))
    api = server.api_url
    args = ("deploy.python", "--env", "dev", "--json")

    process, started, seen = start_deploy_until(root, *args, api_url=api, log=tmp_path / "first",
                                                deployments=3)
    assert process.poll() is None, "the deploy finished before the server could be killed"
    server.stop()
    first = finish_cli(process, tmp_path / "first", args, started)
    assert first.code in (1, 3), first.describe()
    assert "Traceback" not in first.stderr, first.describe()
    if first.code == 1:  # the run reports what it did and what failed
        doc = first.json()
        assert doc["failed"] > 0
        assert doc["failed"] + sum(o["ok"] for o in doc["results"]) == total
        failures = [o["message"] for o in doc["results"] if not o["ok"]]
        assert any("stopped answering" in m or "not attempted" in m for m in failures), failures
    else:
        assert one_line(first.stderr), first.describe()

    server.start()
    partial = count_deployments(api)
    assert seen <= partial < total
    second = run_cli(root, *args, api_url=api)
    doc = _ok(second)
    assert doc["failed"] == 0
    assert doc["plan"]["create"] == total - partial
    names = deployments_by_name(api, ns.tag)  # exactly one per name
    assert set(names) == {ns.name(f) for f in folders}
    third = _ok(run_cli(root, *args, api_url=api))
    assert third["requests"]["writes"] == 0 and third["plan"]["unchanged"] == total


# 6. two deploys at once ------------------------------------------------------------------------


def test_two_concurrent_deploys_converge(repo_copy: Path, tmp_path: Path,
                                         example_images: str) -> None:
    with private_server(tmp_path / "private-server") as server:
        ns = isolate_repo(repo_copy)
        args = ("deploy.all", "--env", "dev", "--json")
        started = time.perf_counter()
        runs = [start_cli(repo_copy, *args, api_url=server.api_url, log=tmp_path / f"run{i}")
                for i in (1, 2)]
        results = [finish_cli(p, tmp_path / f"run{i}", args, started)
                   for i, p in zip((1, 2), runs, strict=True)]
        described = "\n".join(r.describe() for r in results)
        for result in results:
            assert "Traceback" not in result.stderr, described
            assert result.code == 0, described
            assert result.json()["plan"]["create"] + result.json()["plan"]["unchanged"] == 6
        found = deployments_by_name(server.api_url)  # no duplicates, nothing else
        assert set(found) == ns.names(), described
        assert all(ns.tag in d.tags for d in found.values())
        pools = work_pools(server.api_url)
        assert {ns.pool("python"), ns.pool("docker")} <= set(pools)
        third = _ok(run_cli(repo_copy, *args, api_url=server.api_url))
        assert third["requests"]["writes"] == 0 and third["plan"]["unchanged"] == 6


def test_pool_created_by_another_run_meanwhile_is_not_a_failure(
        project: Project, monkeypatch: pytest.MonkeyPatch, example_images: str) -> None:
    from deploytasks.console import Output
    from deploytasks.deploy import commands
    from deploytasks.deploy.prefect_api import PrefectGateway

    # Another run creates the pools first...
    _ok(project.cli("deploy.python", "--env", "dev", "--flow", "rpa1", "--json"))
    _ok(project.cli("deploy.containers", "--env", "dev", "--flow", "rpa1", "--json"))
    # ...but this run read the pools before it did (a stale read, made deterministic).

    real_read = PrefectGateway.read_work_pools
    reads: list[int] = []

    async def stale_read(self: PrefectGateway) -> dict[str, Any]:
        reads.append(1)
        return {} if len(reads) == 1 else await real_read(self)

    monkeypatch.setattr(PrefectGateway, "read_work_pools", stale_read)
    code = commands.deploy(Output(quiet=True), commands.Selection(env="development"))
    assert code == 0
    assert set(project.deployments()) == project.ns.names()


def test_dry_run_names_exactly_the_pools_the_deploy_creates(project: Project) -> None:
    # A python-only repository: the dry run of every kind must not promise a docker pool
    # that the deploy (rightly) never creates.
    edit_config(project.root, lambda data: data["defaults"].update(kinds=["python"]))
    plan = project.cli("deploy.test", "--env", "dev")
    assert plan.code == 0, plan.describe()
    assert f"'{project.ns.pool('python')}' (process) will be created" in plan.stdout
    assert project.ns.pool("docker") not in plan.stdout
    assert [p["name"] for p in _ok(project.cli("deploy.test", "--env", "dev", "--json"))
            ["pools"]] == [project.ns.pool("python")]

    done = _ok(project.cli("deploy.all", "--env", "dev", "--json"))
    assert done["pools_created"] == [project.ns.pool("python")]
    assert project.ns.pool("docker") not in work_pools(project.api_url)

    # Nothing left to write: no pool is promised even though the docker one is missing.
    again = project.cli("deploy.test", "--env", "dev")
    assert again.code == 0 and "will be created" not in again.stdout, again.describe()


# 7. build writes the specs deploy sends --------------------------------------------------------


def test_build_writes_the_specs_deploy_sends(project: Project, example_images: str) -> None:
    from deploytasks.service.selection import Selection, resolve_checked

    ns = project.ns
    result = project.cli("deploy.build", "--env", "dev", "--json")
    doc = _ok(result)
    folder = project.root / "build/deployments/development"
    files = sorted(p.name for p in folder.glob("*.yaml"))
    assert files == sorted(f"{n}.yaml" for n in ns.names())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["environment"] == "development"
    assert sorted(d["name"] for d in manifest["deployments"]) == sorted(ns.names())
    assert all((folder / d["file"]).is_file() for d in manifest["deployments"])

    checked = resolve_checked(Selection(env="development"))
    assert not checked.problems and not checked.resolution.skipped
    specs = {s.name: s for s in checked.resolution.specs}
    for name in ns.names():
        written = yaml.safe_load((folder / f"{name}.yaml").read_text())
        assert written == json.loads(json.dumps(specs[name].to_document())), name
    assert sorted(s["name"] for s in doc["specs"]) == sorted(ns.names())

    # What deploy then puts on the server is what the files say.
    _ok(project.cli("deploy.all", "--env", "dev", "--json"))
    live = project.deployments()
    for name in ns.names():
        written = yaml.safe_load((folder / f"{name}.yaml").read_text())
        d = live[name]
        assert d.parameters == written["parameters"]
        assert d.parameter_openapi_schema == written["parameter_openapi_schema"]
        assert d.job_variables == written["job_variables"]
        assert d.work_pool_name == written["work_pool"]["name"]
        assert d.work_queue_name == written["work_pool"]["work_queue_name"]
        assert d.entrypoint == written["entrypoint"]
        assert d.pull_steps == written["pull"]
        assert sorted(d.tags) == sorted(written["tags"])
        assert d.description == written["description"]
        assert [s.active for s in d.schedules] == [s["active"] for s in written["schedules"]]


# 9. the Python API -----------------------------------------------------------------------------


def test_python_api_create_and_deploy(project: Project) -> None:
    from deploytasks.api import DeploymentAPI
    from deploytasks.errors import ConfigError

    api = DeploymentAPI()
    spec = api.create_deployment(flow_name="rpa1", environment="production",
                                 custom_parameters={"batch_size": 1000})
    assert spec.name == project.ns.name("rpa1", "python", "prod")
    assert spec.parameters["batch_size"] == 1000
    outcomes = api.deploy(spec)
    assert [(o.name, o.action, o.ok) for o in outcomes] == [(spec.name, "create", True)]
    live = deployment(project.api_url, FLOW_NAMES["rpa1"], spec.name)
    assert live.parameters["batch_size"] == 1000
    assert live.work_pool_name == project.ns.pool("python", "prod")
    assert project.ns.tag in live.tags
    assert api.deploy(spec) == []  # unchanged: nothing sent

    with pytest.raises(ConfigError, match="no_such_parameter"):
        api.create_deployment(flow_name="rpa1", environment="production",
                              custom_parameters={"no_such_parameter": 1})


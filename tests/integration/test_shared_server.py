"""Several repositories on one Prefect server: projects, conflicts, races, drift, guards.

Two and three repository copies with different project names share the test
session's real Prefect server (``tests/support/shared_server.py``). Copies "a"
and "c" both have a folder ``rpa1`` and the same deployment-name suffix, so they
want the same deployment names; copy "b" has flows etl1–etl3. Everything runs
through the real CLI (``invoke …`` in a subprocess), and the server is read
back with Prefect's own client. Each test stands for a finding of issue 11 and
failed on the code before projects existed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_proxy import ApiProxy
from tests.support.prefect_helpers import (
    FLOW_NAMES,
    OWNERSHIP_TAG,
    client,
    deployment,
    edit,
    edit_config,
    new_uid,
    one_line,
    set_flow_setting,
    strip_ansi,
    work_pools,
)
from tests.support.shared_server import (
    FLOW_FUNCTIONS,
    Copy,
    git,
    git_init,
    make_copy,
    make_ready,
    rename_flow,
)

RECORD_PREFIX = "deploytasks-applied-"


@pytest.fixture()
def a(tmp_path: Path, prefect_api: str) -> Copy:
    return make_copy(tmp_path / "a", prefect_api, project=f"team-a-{new_uid()}")


@pytest.fixture()
def b(tmp_path: Path, prefect_api: str) -> Copy:
    """Team B: flows etl1–etl3 (copies of rpa1–rpa3 under other folder and flow names)."""
    copy = make_copy(tmp_path / "b", prefect_api, project=f"team-b-{new_uid()}")
    for number in (1, 2, 3):
        rename_flow(copy.root, f"rpa{number}", f"etl{number}",
                    f"ETL{number}Flow{copy.ns.uid}")
    return copy


@pytest.fixture()
def c(tmp_path: Path, prefect_api: str, a: Copy) -> Copy:
    """Team C: a folder rpa1 too, and the same name suffix as team A: the same names."""
    return make_copy(tmp_path / "c", prefect_api, uid=a.ns.uid,
                     project=f"team-c-{new_uid()}", flows=("rpa1",))


def _items(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in plan["plan"]}


def _results(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in doc["results"]}


def _record_of(api_url: str, deployment_id: Any) -> Any:
    with client(api_url) as prefect:
        return prefect.read_variable_by_name(f"{RECORD_PREFIX}{deployment_id}")


# 1. another project's deployments are never orphans, never cleaned -----------------------------


def test_another_projects_deployments_are_not_orphans_and_survive_every_clean(
        a: Copy, b: Copy) -> None:
    for env in ("dev", "prod"):
        b.cli("deploy.python", "--env", env, "--json")
        a.cli("deploy.python", "--env", env, "--json")
    theirs = set(b.deployments())
    assert len(theirs) == 6 and not theirs & set(a.deployments())
    pools = work_pools(a.api_url)  # pools the tool creates say whose they are
    assert a.ns.project in (pools[a.ns.pool("python")].description or "")
    assert b.ns.project in (pools[b.ns.pool("python", "prod")].description or "")

    plan = a.cli("deploy.test", "--env", "dev", "--json").json()
    assert set(_items(plan)) == a.ns.names(kinds=("python",))
    assert plan["summary"]["orphaned"] == 0

    assert a.cli("deploy.clean", "--orphans", "--json").json()["matched"] == []
    assert a.cli("deploy.clean", "--env", "prod", "--orphans", "--yes",
                 "--json").json()["matched"] == []
    everything = a.cli("deploy.clean", "--env", "all", "--all", "--yes", "--json").json()
    assert sorted(everything["deleted"]) == sorted(
        a.ns.names(kinds=("python",)) | a.ns.names(env="prod", kinds=("python",)))
    assert set(b.deployments()) == theirs
    assert a.deployments() == {}


# 2. the same folder in another project: a conflict, never written --------------------------------


def test_a_name_another_project_deployed_is_a_conflict_and_never_written(
        a: Copy, b: Copy, c: Copy) -> None:
    b.cli("deploy.python", "--env", "dev", "--json")
    a.cli("deploy.python", "--env", "dev", "--json")
    name = a.ns.name("rpa1")
    before = a.deployments()[name]

    plan = c.cli("deploy.test", "--env", "dev", "--json", code=1).json()
    item = _items(plan)[name]
    assert (item["action"], item["owner"]) == ("conflict", f"project '{a.ns.project}'")
    human = strip_ansi(c.cli("deploy.test", "--env", "dev", code=1).stdout)
    assert f"belongs to project '{a.ns.project}'" in human

    deployed = c.cli("deploy.python", "--env", "dev", "--json", code=1).json()
    assert deployed["results"] == [] and deployed["plan"]["conflict"] == 1
    said = strip_ansi(c.cli("deploy.python", "--env", "dev", code=1).stdout)
    assert "Nothing deployed: 1 in conflict (see above)" in said and "✓" not in said
    after = deployment(a.api_url, FLOW_NAMES["rpa1"], name)
    assert after.updated == before.updated and after.tags == before.tags
    assert after.pull_steps == before.pull_steps  # still A's checkout, not C's

    assert c.cli("deploy.clean", "--all", "--json").json()["matched"] == []
    checked = c.cli("deploy.check", "--env", "dev", "--json", code=1).json()
    (only,) = checked["deployments"]
    assert only["found"] is False and "not this project's" in only["mismatches"][0]
    assert set(a.deployments()) == a.ns.names(kinds=("python",))
    assert len(b.deployments()) == 3


# 3. legacy deployments (the tool's tag, no project) are claimed only by deploy.adopt ------------


def _legacy(api_url: str, flow: str, name: str, env: str = "dev") -> str:
    """A deployment as deploytasks wrote it before projects: tool tag, no project tag."""
    with client(api_url) as prefect:
        flow_id = prefect.create_flow_from_name(FLOW_NAMES[flow])
        return str(prefect.create_deployment(
            flow_id=flow_id, name=name, entrypoint=f"flows/{flow}/workflow.py:"
            f"{FLOW_FUNCTIONS[flow]}", tags=[OWNERSHIP_TAG, f"env:{env}", "type:python", "rpa"],
            description="written by an older deploytasks"))


def test_legacy_deployment_is_a_conflict_until_deploy_adopt_claims_it(a: Copy, b: Copy) -> None:
    name, prod_name = a.ns.name("rpa1"), a.ns.name("rpa1", env="prod")
    _legacy(a.api_url, "rpa1", name)
    _legacy(a.api_url, "rpa1", prod_name, env="prod")
    other = b.ns.name("etl2")
    _legacy(a.api_url, "rpa2", other)  # legacy, but no flow of A stands for this name

    plan = a.cli("deploy.test", "--env", "dev", "--json", code=1).json()
    assert _items(plan)[name]["action"] == "conflict"
    assert _items(plan)[name]["owner"].startswith("legacy")
    text = strip_ansi(a.cli("deploy.test", "--env", "dev", code=1).stdout)
    assert "invoke deploy.adopt --env development" in text
    a.cli("deploy.python", "--env", "dev", "--json", code=1)
    assert a.ns.tag not in deployment(a.api_url, FLOW_NAMES["rpa1"], name).tags

    dry = a.cli("deploy.adopt", "--env", "dev", "--dry-run", "--json").json()
    assert (dry["found"], dry["claimed"], dry["dry_run"]) == ([name], [], True)
    assert a.ns.tag not in deployment(a.api_url, FLOW_NAMES["rpa1"], name).tags

    done = a.cli("deploy.adopt", "--env", "dev", "--json").json()
    assert done["claimed"] == [name]
    claimed = deployment(a.api_url, FLOW_NAMES["rpa1"], name)
    assert {a.ns.tag, OWNERSHIP_TAG, "env:dev"} <= set(claimed.tags)
    assert claimed.description == "written by an older deploytasks"  # nothing else changed
    assert a.ns.tag not in deployment(a.api_url, FLOW_NAMES["rpa2"], other).tags
    assert a.cli("deploy.adopt", "--env", "dev", "--json").json()["found"] == []

    assert _items(a.cli("deploy.test", "--env", "dev", "--json").json())[name]["action"] == \
        "update"
    a.cli("deploy.python", "--env", "dev", "--json")

    refused = a.cli("deploy.adopt", "--env", "prod", code=2)  # no terminal, no --yes
    assert one_line(refused.stderr) and "--yes" in refused.stderr
    assert a.ns.tag not in deployment(a.api_url, FLOW_NAMES["rpa1"], prod_name).tags
    assert a.cli("deploy.adopt", "--env", "prod", "--flow", "rpa1", "--yes",
                 "--json").json()["claimed"] == [prod_name]


# 4. a deployment made by hand during our deploy is not taken over --------------------------------


def _handmade_on(api_url: str, flow_id: str, name: str) -> None:
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    with client(api_url) as prefect:
        prefect.create_deployment(
            flow_id=flow_id, name=name, entrypoint="elsewhere.py:by_hand",
            description="made by hand", tags=["team-x"], parameters={"batch_size": 7},
            schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron="5 4 * * *"))])


def test_a_deployment_made_by_hand_just_before_our_create_is_restored_and_reported(
        a: Copy) -> None:
    """The loopback proxy creates the hand-made deployment on the real server right before
    it forwards our create of the same name: Prefect's create upserts onto it."""
    name = a.ns.name("rpa1")
    made: list[str] = []

    def before_our_create(method: str, path: str, body: Any) -> None:
        if method == "POST" and path.rstrip("/").endswith("/api/deployments") and \
                isinstance(body, dict) and body.get("name") == name and not made:
            _handmade_on(a.api_url, body["flow_id"], name)
            made.append(name)

    with ApiProxy(a.api_url, hook=before_our_create) as proxy:
        doc = a.cli("deploy.python", "--env", "dev", "--json", code=1,
                    extra_env={"PREFECT_API_URL": proxy.url}).json()
    assert made == [name]
    result = _results(doc)[name]
    assert (result["action"], result["ok"]) == ("conflict", False)
    assert "hand-made" in result["message"] and "schedules" in result["message"]
    assert all(r["ok"] for n, r in _results(doc).items() if n != name)

    restored = deployment(a.api_url, FLOW_NAMES["rpa1"], name)
    assert restored.description == "made by hand"
    assert restored.tags == ["team-x"]
    assert restored.parameters == {"batch_size": 7}
    assert restored.entrypoint == "elsewhere.py:by_hand"
    assert restored.schedules == []  # ours removed; its own were replaced by the upsert
    assert _record_of(a.api_url, restored.id) is None
    plan = a.cli("deploy.test", "--env", "dev", "--json", code=1).json()
    assert (_items(plan)[name]["action"], _items(plan)[name]["owner"]) == ("conflict",
                                                                           "hand-made")


def test_a_deployment_that_appears_after_the_plan_is_not_written(a: Copy) -> None:
    """Made when our run registers the flow (after the plan was read, before the create):
    the re-read just before the create sees it, and nothing is sent to it."""
    name = a.ns.name("rpa2")
    made: list[str] = []

    def after_the_plan(method: str, path: str, body: Any) -> None:
        if method == "POST" and path.rstrip("/").endswith("/api/flows") and \
                isinstance(body, dict) and body.get("name") == FLOW_NAMES["rpa2"] and not made:
            with client(a.api_url) as prefect:
                flow_id = prefect.create_flow_from_name(FLOW_NAMES["rpa2"])
            _handmade_on(a.api_url, str(flow_id), name)
            made.append(name)

    with ApiProxy(a.api_url, hook=after_the_plan) as proxy:
        doc = a.cli("deploy.python", "--env", "dev", "--json", code=1,
                    extra_env={"PREFECT_API_URL": proxy.url}).json()
        creates = [json.loads(body)["name"] for what, body in proxy.bodies
                   if what.rstrip("/") == "POST /api/deployments"]
    assert made == [name]
    result = _results(doc)[name]
    assert (result["action"], result["ok"]) == ("conflict", False)
    assert "appeared after the plan" in result["message"]
    # nothing sent to it; the others are created (a retried create is counted once)
    assert set(creates) == a.ns.names(kinds=("python",)) - {name}, (creates, proxy.answered)
    untouched = deployment(a.api_url, FLOW_NAMES["rpa2"], name)
    assert (untouched.description, untouched.tags) == ("made by hand", ["team-x"])
    assert [s.schedule.cron for s in untouched.schedules] == ["5 4 * * *"]


# 5. reserved tags cannot come from configuration --------------------------------------------------


RESERVED_CASES = {
    "defaults": ("config/deployment-config.yaml", ("defaults",), "env:prod"),
    "flow": ("config/deployment-config.yaml", ("flows", "rpa1"), "project:team-b"),
    "kind": ("config/deployment-config.yaml", ("flows", "rpa1", "python"), "type:docker"),
    "environment": ("config/environments/production.yaml", ("defaults",), OWNERSHIP_TAG),
}


@pytest.mark.parametrize("case", list(RESERVED_CASES))
def test_reserved_tags_in_configuration_are_refused(a: Copy, case: str) -> None:
    file, section, tag = RESERVED_CASES[case]

    def put(data: dict[str, Any]) -> None:
        target = data
        for key in section:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target["tags"] = ["rpa", tag]

    edit_config(a.root, put, Path(file))
    env = "prod" if "production" in file else "dev"
    result = a.cli("deploy.test", "--env", env, code=2)
    assert one_line(result.stderr), result.describe()
    lines = (a.root / file).read_text().splitlines()
    item = next(i for i, text in enumerate(lines) if text.strip() == f"- {tag}")
    line = next(i + 1 for i in range(item, -1, -1) if lines[i].strip() == "tags:")
    assert f"{file}:{line}:" in result.stderr, result.describe()
    assert f"tag '{tag}' is reserved" in result.stderr
    assert a.deployments() == {}


def test_a_reserved_tag_in_the_flow_decorator_skips_the_flow(a: Copy) -> None:
    path = a.root / "flows/rpa1/workflow.py"
    edit(path, '@flow(name="RPA1ProcessingFlow")',
                    '@flow(name="RPA1ProcessingFlow", tags=["env:prod"])')
    doc = a.cli("deploy.python", "--env", "dev", "--json", code=1).json()
    (skipped,) = doc["skipped"]
    assert skipped["flow"] == "rpa1" and "'env:prod' is reserved" in skipped["reason"]
    assert "flows/rpa1/workflow.py:" in skipped["reason"]
    assert set(a.deployments()) == a.ns.names(("rpa2", "rpa3"), kinds=("python",))


# 6. cleaning is hard to aim wrong ----------------------------------------------------------------


def test_clean_patterns_scope_and_make(a: Copy, b: Copy) -> None:
    shutil.copytree(a.root / "flows/rpa1", a.root / "flows/rpa[1]")
    edit(a.root / "flows/rpa[1]/workflow.py", 'name="RPA1ProcessingFlow"',
                    'name="RPA1BracketFlow"')
    b.cli("deploy.python", "--env", "dev", "--json")
    for env in ("dev", "prod"):
        a.cli("deploy.python", "--env", env, "--json")
    dev = a.ns.names(("rpa1", "rpa[1]", "rpa2", "rpa3"), kinds=("python",))
    prod = a.ns.names(("rpa1", "rpa[1]", "rpa2", "rpa3"), env="prod", kinds=("python",))
    assert set(a.deployments()) == dev | prod

    for pattern in ("", " ", "\t"):
        refused = a.cli("deploy.clean", "--pattern", pattern, code=2)
        assert one_line(refused.stderr) and "empty or blank" in refused.stderr
    assert "--all" in a.cli("deploy.clean", code=2).stderr
    make_ready(a.root)
    blank = subprocess.run(["make", "--no-print-directory", "clean-deployments", "PATTERN= "],
                           cwd=a.root, capture_output=True, text=True, timeout=120,
                           env=_env(a), check=False)
    assert blank.returncode != 0 and "empty or blank" in blank.stderr, blank.stderr
    assert set(a.deployments()) == dev | prod

    literal = a.ns.name("rpa[1]")  # as a glob it would match rpa1's deployment instead
    done = a.cli("deploy.clean", "--pattern", literal, "--json").json()
    assert done["deleted"] == [literal]
    assert a.ns.name("rpa1") in a.deployments()

    # DEPLOYMENT_ENV sets the scope like for every other task; production asks.
    in_prod = a.cli("deploy.clean", "--all", "--dry-run", "--json",
                    extra_env={"DEPLOYMENT_ENV": "production"}).json()
    assert set(in_prod["matched"]) == prod
    asked = a.cli("deploy.clean", "--all", code=2, extra_env={"DEPLOYMENT_ENV": "production"})
    assert "--yes" in asked.stderr
    every = a.cli("deploy.clean", "--env", "all", "--all", "--dry-run", "--json").json()
    assert set(every["matched"]) == (dev - {literal}) | prod

    # make clean-deployments without PATTERN: every deployment of the project in ENV (dev).
    everything = subprocess.run(["make", "--no-print-directory", "clean-deployments"],
                                cwd=a.root, capture_output=True, text=True, timeout=120,
                                env=_env(a), check=False)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert set(a.deployments()) == prod
    assert len(b.deployments()) == 3


def _env(copy: Copy) -> dict[str, str]:
    from tests.support.prefect_helpers import cli_env

    return cli_env(copy.api_url)


def test_orphan_clean_refuses_implausible_deletions(a: Copy, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    from deploytasks.api import DeploymentAPI
    from deploytasks.errors import UsageError

    a.cli("deploy.python", "--env", "dev", "--json")
    ours = a.ns.names(kinds=("python",))
    shutil.move(a.root / "flows", a.root / "flows-away")
    (a.root / "flows").mkdir()
    empty = a.cli("deploy.clean", "--orphans", code=2)
    assert one_line(empty.stderr) and "no flows were found" in empty.stderr
    assert set(a.deployments()) == ours

    shutil.rmtree(a.root / "flows")
    shutil.move(a.root / "flows-away", a.root / "flows")
    shutil.rmtree(a.root / "flows/rpa2")
    shutil.rmtree(a.root / "flows/rpa3")
    most = a.cli("deploy.clean", "--orphans", code=2)
    assert "2 of the 3 deployments" in most.stderr and "clean.max_orphan_share" in most.stderr
    assert set(a.deployments()) == ours

    monkeypatch.chdir(a.root)
    for variable in ("DEPLOYTASKS_ROOT", "DEPLOYMENT_ENV", "DEPLOYMENT_CONFIG_PATH"):
        monkeypatch.delenv(variable, raising=False)
    api = DeploymentAPI()
    for pattern in ("", "  "):
        with pytest.raises(UsageError, match="empty or blank"):
            api.clean(pattern=pattern)
    with pytest.raises(UsageError, match="--all"):
        api.clean()
    with pytest.raises(UsageError, match="max_orphan_share"):
        api.clean(orphans=True)
    assert sorted(d.name for d in api.clean(orphans=True, dry_run=True, force=True).matched) \
        == sorted(ours - {a.ns.name("rpa1")})

    forced = a.cli("deploy.clean", "--orphans", "--force", "--json").json()
    assert sorted(forced["deleted"]) == sorted(ours - {a.ns.name("rpa1")})


# 7. env.promote: production's guards, and exactly what the source runs --------------------------


def test_promote_guards_and_promotes_exactly_what_staging_runs(a: Copy) -> None:
    # Staging runs rpa1 with batch_size 150; production's own configuration says 100.
    edit_config(a.root, lambda d: d.update(flows={"rpa1": {"parameters": {"batch_size": 150}}}),
                Path("config/environments/staging.yaml"))
    staging_commit = git_init(a.root)
    a.cli("deploy.python", "--env", "staging", "--json")
    staged = {d.name: d for d in a.deployments().values()}
    prod = a.ns.names(env="prod", kinds=("python",))

    set_flow_setting(a.root, "rpa1", "parameters.batch_size", 999)  # uncommitted
    dirty = a.cli("env.promote", "--from", "staging", "--to", "production", code=2)
    assert "uncommitted changes" in dirty.stderr and one_line(dirty.stderr)
    allowed = a.cli("env.promote", "--allow-dirty", "--json", code=1).json()
    assert {s["name"] for s in allowed["skipped"]} == prod
    assert all("uncommitted changes" in s["reason"] for s in allowed["skipped"])
    assert not set(a.deployments()) & prod

    git(a.root, "commit", "-qam", "batch size 999")
    moved = a.cli("env.promote", "--json", code=1).json()
    assert all(staging_commit[:12] in s["reason"] and "this checkout is at" in s["reason"]
               for s in moved["skipped"])
    assert not set(a.deployments()) & prod

    git(a.root, "checkout", "-q", staging_commit)
    (a.root / "flows/rpa1/notes.txt").write_text("untracked")
    assert a.cli("env.promote", code=2).code == 2  # an untracked file is a dirty tree too
    (a.root / "flows/rpa1/notes.txt").unlink()
    _handmade_prod = a.ns.name("rpa3", env="prod")
    with client(a.api_url) as prefect:
        flow_id = prefect.create_flow_from_name(FLOW_NAMES["rpa3"])
        prefect.create_deployment(flow_id=flow_id, name=_handmade_prod, tags=["by-hand"],
                                  entrypoint="x.py:y")
    dry = a.cli("env.promote", "--dry-run", "--json", code=1).json()
    assert _items(dry)[_handmade_prod]["action"] == "conflict"
    done = a.cli("env.promote", "--json", code=1).json()
    assert done["plan"]["conflict"] == 1
    assert {r["name"] for r in done["results"] if r["ok"]} == prod - {_handmade_prod}
    for flow in ("rpa1", "rpa2"):
        source = staged[a.ns.name(flow, env="staging")]
        target = deployment(a.api_url, FLOW_NAMES[flow], a.ns.name(flow, env="prod"))
        assert target.parameters == source.parameters
        assert (target.version, target.entrypoint) == (source.version, source.entrypoint)
        assert target.work_pool_name == a.ns.pool("python", "prod")
    assert deployment(a.api_url, FLOW_NAMES["rpa1"],
                      a.ns.name("rpa1", env="prod")).parameters["batch_size"] == 150
    assert deployment(a.api_url, FLOW_NAMES["rpa3"], _handmade_prod).tags == ["by-hand"]

    # Drift in production: the promotion refuses to overwrite it unless --force.
    target = deployment(a.api_url, FLOW_NAMES["rpa1"], a.ns.name("rpa1", env="prod"))
    _edit_in_ui(a.api_url, target.id, parameters={**target.parameters, "batch_size": 5})
    refused = a.cli("env.promote", "--json", code=1).json()
    rpa1 = _results(refused)[target.name]
    assert not rpa1["ok"] and "--force" in rpa1["message"]
    assert deployment(a.api_url, FLOW_NAMES["rpa1"], target.name).parameters["batch_size"] == 5
    forced = a.cli("env.promote", "--force", "--json", code=1).json()  # the conflict stays
    assert _results(forced)[target.name]["ok"]
    assert deployment(a.api_url, FLOW_NAMES["rpa1"], target.name).parameters["batch_size"] \
        == 150


# 9. drift: edits on the server since our last deploy --------------------------------------------


def _edit_in_ui(api_url: str, deployment_id: Any, **values: Any) -> None:
    from prefect.client.schemas.actions import DeploymentUpdate

    with client(api_url) as prefect:
        prefect.update_deployment(deployment_id, DeploymentUpdate(**values))


def test_drift_is_named_overwritten_in_dev_and_refused_in_prod(a: Copy) -> None:
    for env in ("dev", "prod"):
        first = a.cli("deploy.python", "--env", env, "--json").json()
        assert all(r["ok"] for r in first["results"])
    live = a.deployments()
    dev, prod = live[a.ns.name("rpa1")], live[a.ns.name("rpa1", env="prod")]
    record = _record_of(a.api_url, dev.id)
    assert record is not None and set(record.tags) == {OWNERSHIP_TAG, a.ns.tag, "env:dev"}
    assert len(json.dumps(record.value)) < 1000
    for target in (dev, prod):
        _edit_in_ui(a.api_url, target.id, parameters={**target.parameters, "batch_size": 5})
    with client(a.api_url) as prefect:  # pausing a schedule is not drift (it is kept)
        prefect.update_deployment_schedule(prod.id, prod.schedules[0].id, active=False)
    for local in ("build", ".deploytasks"):  # a fresh CI machine: only the server knows
        shutil.rmtree(a.root / local, ignore_errors=True)

    plan = a.cli("deploy.test", "--env", "dev", "--json").json()
    items = _items(plan)
    assert (items[dev.name]["action"], items[dev.name]["drift"]) == ("update", ["parameters"])
    assert all(i["drift"] == [] for n, i in items.items() if n != dev.name)
    assert "drift" in strip_ansi(a.cli("deploy.test", "--env", "dev").stdout)
    fixed = a.cli("deploy.python", "--env", "dev", "--json").json()
    assert "overwrote server edits of parameters" in _results(fixed)[dev.name]["message"]
    assert deployment(a.api_url, FLOW_NAMES["rpa1"], dev.name).parameters["batch_size"] == 100
    again = a.cli("deploy.python", "--env", "dev", "--json").json()
    assert again["requests"]["writes"] == 0 and again["plan"]["unchanged"] == 3

    prod_plan = a.cli("deploy.test", "--env", "prod", "--json", code=1).json()
    assert _items(prod_plan)[prod.name]["drift"] == ["parameters"]
    refused = a.cli("deploy.python", "--env", "prod", "--json", code=1).json()
    assert not _results(refused)[prod.name]["ok"]
    assert "--force" in _results(refused)[prod.name]["message"]
    assert deployment(a.api_url, FLOW_NAMES["rpa1"], prod.name).parameters["batch_size"] == 5
    a.cli("deploy.python", "--env", "prod", "--force", "--json")
    after = deployment(a.api_url, FLOW_NAMES["rpa1"], prod.name)
    assert after.parameters["batch_size"] == 100
    assert [s.active for s in after.schedules] == [False]
    assert a.cli("deploy.test", "--env", "prod", "--json").json()["summary"]["unchanged"] == 3

    # Records go with their deployments: deleted by clean, or cleaned up after a deletion
    # made behind our back.
    rpa2, rpa3 = live[a.ns.name("rpa2")], live[a.ns.name("rpa3")]
    a.cli("deploy.clean", "--pattern", rpa2.name, "--json")
    assert _record_of(a.api_url, rpa2.id) is None
    with client(a.api_url) as prefect:
        prefect.delete_deployment(rpa3.id)
    assert _record_of(a.api_url, rpa3.id) is not None
    swept = a.cli("deploy.clean", "--pattern", "no-such-*", "--json").json()
    assert swept["stale_records"] == [f"{RECORD_PREFIX}{rpa3.id}"]
    assert _record_of(a.api_url, rpa3.id) is None
    assert _record_of(a.api_url, dev.id) is not None


def test_project_name_is_validated(a: Copy) -> None:
    for value, words in (("", "missing or empty"), ("Team A", "not a valid project name"),
                         ("-x", "not a valid project name")):
        edit_config(a.root, lambda d, v=value: d.update(project=v))
        result = a.cli("deploy.test", code=2)
        assert one_line(result.stderr) and words in result.stderr, result.describe()
        assert "config/deployment-config.yaml" in result.stderr
    edit_config(a.root, lambda d: d.pop("project"))
    assert "missing" in a.cli("env.show", code=2).stderr
    edit_config(a.root, lambda d: d.update(project="ok"))
    edit_config(a.root, lambda d: d.update(project="other"),
                Path("config/environments/staging.yaml"))
    overlay = a.cli("deploy.test", "--env", "staging", code=2)
    assert "config/environments/staging.yaml:" in overlay.stderr

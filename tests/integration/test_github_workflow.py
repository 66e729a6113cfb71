""".github/workflows/deploy.yml, run locally the way GitHub Actions runs it.

The pull-request job's ``run:`` steps are executed in order, in a git repository
made from ``repo_copy`` (branch ``main`` fetched back as ``origin/main``, a
``feature`` branch that changes one flow), by ``bash -eo pipefail`` as the runner
does, with the variables Actions sets (``GITHUB_ACTIONS=true``, one
``GITHUB_STEP_SUMMARY`` file per step, ``GITHUB_BASE_REF=main``), the job's
``env`` with the secrets filled in (unset secrets are empty strings, as in
Actions) and ``PREFECT_API_URL`` pointing at the session's real Prefect server.
The push job's commands are checked against the real task list and task options.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploytasks.env.local_server import ServerState
from tests.support.prefect_helpers import PROJECT_ROOT, task_names

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "deploy.yml"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
SECRETS = ("PREFECT_API_URL", "PREFECT_API_KEY", "DOCKER_REGISTRY", "DOCKER_USERNAME",
           "DOCKER_PASSWORD")
# Variables of the caller that would change what the tool does; Actions would not have them.
SCRUBBED = (*SECRETS, "DEPLOYTASKS_ROOT", "DEPLOYMENT_ENV", "DEPLOYMENT_CONFIG_PATH",
            "DOCKER_NAMESPACE", "DOCKER_TAG", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY",
            "GITHUB_BASE_REF", "GITHUB_EVENT_NAME", "REGISTRY")
CHANGED = "flows/rpa2/workflow.py"
OTHERS = ("rpa1", "rpa3")
STEP_TIMEOUT = 300


# The workflow file ------------------------------------------------------------------------


def load_workflow() -> dict[str, Any]:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "the workflow is not a YAML mapping"
    return document


def triggers(document: dict[str, Any]) -> dict[str, Any]:
    """The ``on:`` mapping (YAML 1.1, which pyyaml speaks, reads the key ``on`` as True)."""
    value = document.get("on", document.get(True))
    assert isinstance(value, dict), f"'on' should be a mapping, got {value!r}"
    return value


def job_for(document: dict[str, Any], event: str) -> tuple[str, dict[str, Any]]:
    """The one job that runs on ``event`` (decided by its ``if:``)."""
    found = [(name, job) for name, job in document["jobs"].items()
             if f"github.event_name == '{event}'" in str(job.get("if", ""))]
    assert len(found) == 1, f"expected one job for {event}, found {[n for n, _ in found]}"
    return found[0]


def run_commands(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def invoke_call(command: str) -> tuple[str, list[str]]:
    """``.venv/bin/invoke deploy.test --env staging`` → (``deploy.test``, [flags])."""
    words = shlex.split(command)
    assert words[0] == ".venv/bin/invoke", f"not an invoke call of the venv: {command}"
    return words[1], [w.split("=", 1)[0] for w in words[2:] if w.startswith("--")]


# Running a job locally ----------------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    command: str
    code: int | None  # None: skipped, as Actions skips a step after a failure
    stdout: str = ""
    stderr: str = ""
    summary: str = ""  # what the step appended to $GITHUB_STEP_SUMMARY

    def describe(self) -> str:
        return (f"step {self.name!r}: {self.command}\nexit {self.code}\n"
                f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}\n"
                f"--- summary\n{self.summary}")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class JobRun:
    steps: list[StepRun] = field(default_factory=list)

    def step(self, task: str) -> StepRun:
        found = [s for s in self.steps if f"invoke {task} " in s.command + " "]
        assert len(found) == 1, f"no single step runs {task}: {[s.command for s in self.steps]}"
        return found[0]

    @property
    def summary(self) -> str:
        """The job summary: every step's summary, in order."""
        return "\n".join(s.summary for s in self.steps if s.summary)


def _runs_after_failure(condition: Any) -> bool:
    text = str(condition or "")
    return any(f in text for f in ("always()", "!cancelled()", "failure()"))


def _localise(command: str, base_ref: str) -> str:
    # The workflow passes the target branch as $GITHUB_BASE_REF (set in job_environment);
    # an inline ${{ github.base_ref }} would be filled in here.
    command = command.replace("${{ github.base_ref }}", base_ref)
    assert "${{" not in command, f"an expression the local runner cannot fill in: {command}"
    if command.startswith(".venv/bin/"):  # the project's venv stands in for `make setup`'s
        command = f"{VENV_BIN}/{command[len('.venv/bin/'):]}"
    return command


def job_environment(job: dict[str, Any], secrets: dict[str, str], summary: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    for name, value in (job.get("env") or {}).items():
        match = re.fullmatch(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", str(value))
        assert match, f"job env {name} is not a secret: {value!r}"
        env[name] = secrets.get(match.group(1), "")  # Actions gives unset secrets as ""
    env.update(GITHUB_ACTIONS="true", CI="true", GITHUB_EVENT_NAME="pull_request",
               GITHUB_BASE_REF="main", GITHUB_STEP_SUMMARY=str(summary))
    return env


def run_job(job: dict[str, Any], root: Path, secrets: dict[str, str], scratch: Path) -> JobRun:
    """Run the job's ``run:`` steps in order, like the runner (bash -eo pipefail)."""
    result = JobRun()
    failed = False
    for index, step in enumerate(job["steps"]):
        if "run" not in step:
            continue
        command = step["run"].strip()
        assert "\n" not in command, f"a step command should be one line: {command!r}"
        if command == "make setup":  # the venv exists; the test runs its invoke directly
            continue
        name = step.get("name", command)
        if failed and not _runs_after_failure(step.get("if")):
            result.steps.append(StepRun(name, command, None))
            continue
        summary = scratch / f"step-summary-{index}.md"
        summary.write_text("", encoding="utf-8")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _localise(command, "main")],
            cwd=root, env=job_environment(job, secrets, summary), capture_output=True, text=True,
            timeout=STEP_TIMEOUT, check=False)
        result.steps.append(StepRun(name, command, done.returncode, done.stdout, done.stderr,
                                    summary.read_text(encoding="utf-8")))
        failed = failed or done.returncode != 0
    return result


# The repository: main, origin/main, and a feature branch changing one flow ------------------


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=CI", "-c", "user.email=ci@example.com",
                           "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                          cwd=root, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def make_pull_request(root: Path, change: str) -> int:
    """Commit everything on ``main``, fetch it as ``origin/main``, change rpa2 on ``feature``.

    Returns the line of the change in flows/rpa2/workflow.py.
    """
    for name in ("tasks.py", "Makefile", ".gitignore"):
        shutil.copy2(PROJECT_ROOT / name, root / name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "main")
    git(root, "remote", "add", "origin", str(root))
    git(root, "fetch", "-q", "origin")
    git(root, "checkout", "-q", "-b", "feature")
    path = root / CHANGED
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if change == "broken":
        # A dependency the flow's requirements.txt does not provide.
        anchor = lines.index("from prefect.cache_policies import NO_CACHE\n")
        lines.insert(anchor + 1, "import rpa2_reconciliation_helpers\n")
        changed_line = anchor + 2
    else:
        # A new, valid parameter of the flow.
        anchor = lines.index("    cleanup: bool = False,\n")
        lines.insert(anchor + 1, "    notify: bool = False,\n")
        changed_line = anchor + 2
    path.write_text("".join(lines), encoding="utf-8")
    git(root, "commit", "-q", "-am", f"rpa2: {change} change")
    assert git(root, "diff", "--name-only", "origin/main").split() == [CHANGED]
    return changed_line


@dataclass
class PullRequest:
    run: JobRun
    line: int  # the changed line of flows/rpa2/workflow.py


_RUNS: dict[str, PullRequest] = {}


def pull_request(change: str, root: Path, server: ServerState) -> PullRequest:
    """The pull-request job run once per kind of change (the tests below share it)."""
    if change not in _RUNS:
        line = make_pull_request(root, change)
        _, job = job_for(load_workflow(), "pull_request")
        scratch = root.parent / "actions"
        scratch.mkdir()
        _RUNS[change] = PullRequest(run_job(job, root, {"PREFECT_API_URL": server.api_url},
                                            scratch), line)
    return _RUNS[change]


@pytest.fixture()
def broken_pr(repo_copy: Path, prefect_server: ServerState) -> PullRequest:
    return pull_request("broken", repo_copy, prefect_server)


@pytest.fixture()
def valid_pr(repo_copy: Path, prefect_server: ServerState) -> PullRequest:
    return pull_request("valid", repo_copy, prefect_server)


def plan_rows(summary: str) -> list[tuple[str, str]]:
    """(action, deployment) of each row of the deployment plan table in a job summary."""
    section = summary.split("### Deployment plan for staging", 1)
    assert len(section) == 2, f"no staging plan in the summary:\n{summary}"
    rows = []
    for line in section[1].strip().splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("action", "---"):
            continue
        rows.append((cells[0], cells[1]))
    return rows


def assert_only_rpa2(step: StepRun) -> None:
    for other in OTHERS:
        assert other not in step.output + step.summary, \
            f"{other} is not changed but {step.name!r} mentions it\n{step.describe()}"


# The workflow's shape ---------------------------------------------------------------------


def test_workflow_triggers_permissions_concurrency_and_secrets() -> None:
    document = load_workflow()
    on = triggers(document)
    assert "pull_request" in on
    assert on["push"]["branches"] == ["main"]
    assert document["permissions"] == {"contents": "read"}
    assert "github.ref" in document["concurrency"]["group"]
    text = WORKFLOW.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert f"${{{{ secrets.{secret} }}}}" in text, f"{secret} is not read from secrets"
    steps = [step for job in document["jobs"].values() for step in job["steps"]]
    assert not [s for s in steps if "docker login" in s.get("run", "")
                or "docker/login-action" in s.get("uses", "")], "the tool logs in itself"


def test_pull_request_job_checks_out_history_and_plans_the_changes() -> None:
    _, job = job_for(load_workflow(), "pull_request")
    steps = job["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert str(python["with"]["python-version"]) == "3.11"
    assert run_commands(job) == [
        "make setup",
        '.venv/bin/invoke flows.validate --changed-since "origin/$GITHUB_BASE_REF"',
        '.venv/bin/invoke deploy.test --env staging --changed-since "origin/$GITHUB_BASE_REF"',
    ]
    assert set(job["env"]) == {"PREFECT_API_URL", "PREFECT_API_KEY", "DOCKER_REGISTRY"}


def test_push_job_builds_pushes_then_deploys_staging() -> None:
    _, job = job_for(load_workflow(), "push")
    assert "refs/heads/main" in job["if"]
    assert run_commands(job) == [
        "make setup",
        '.venv/bin/invoke images.build --registry "$REGISTRY"',
        '.venv/bin/invoke images.push --registry "$REGISTRY"',
        '.venv/bin/invoke env.deploy-staging --registry "$REGISTRY"',
    ]
    assert set(job["env"]) >= set(SECRETS)
    assert job["env"]["REGISTRY"] == "${{ secrets.DOCKER_REGISTRY }}"


# Every command names a task that exists, with options it has ---------------------------------


@cache
def listed_tasks() -> frozenset[str]:
    done = subprocess.run([str(VENV_BIN / "invoke"), "--list", "--list-format=json"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    return task_names(json.loads(done.stdout))


def task_flags(task: str) -> set[str]:
    done = subprocess.run([str(VENV_BIN / "invoke"), "--help", task], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return set(re.findall(r"^\s+(?:-\w,\s+)?(--[\w-]+)", done.stdout, flags=re.MULTILINE))


def _commands() -> list[Any]:
    params = []
    document = load_workflow()
    for event in ("pull_request", "push"):
        _, job = job_for(document, event)
        for command in run_commands(job):
            if command == "make setup":
                continue
            params.append(pytest.param(command, id=f"{event}:{invoke_call(command)[0]}"))
    return params


@pytest.mark.parametrize("command", _commands())
def test_step_runs_an_existing_task_with_existing_options(command: str) -> None:
    task, flags = invoke_call(command)
    names = listed_tasks()
    assert task in names, f"{task} is not a task: {sorted(names)}"
    known = task_flags(task)
    missing = [f for f in flags if f not in known]
    assert not missing, f"{task} has no option {missing}; it has {sorted(known)}"


# Pull request that breaks rpa2 ----------------------------------------------------------------


def test_broken_flow_validate_step_annotates_the_line(broken_pr: PullRequest) -> None:
    step = broken_pr.run.step("flows.validate")
    assert "No idea what" not in step.stderr, step.describe()
    assert step.code == 1, step.describe()
    annotation = f"::error file={CHANGED},line={broken_pr.line}::"
    assert any(line.startswith(annotation) and "rpa2_reconciliation_helpers" in line
               for line in step.stdout.splitlines()), step.describe()
    assert "Traceback" not in step.output, step.describe()
    assert_only_rpa2(step)
    assert "### Flow validation" in step.summary, step.describe()
    assert re.search(r"^\| rpa2 \| RPA2ProcessingFlow \| ✗ \| 1 \|", step.summary, re.M), \
        step.describe()


def test_broken_flow_plan_step_still_runs_and_fails(broken_pr: PullRequest) -> None:
    step = broken_pr.run.step("deploy.test")
    assert step.code == 1, step.describe()
    assert "Traceback" not in step.output, step.describe()
    errors = [line for line in step.stdout.splitlines() if line.startswith("::error")]
    assert any("rpa2" in line and "rpa2_reconciliation_helpers" in line for line in errors), \
        step.describe()
    assert_only_rpa2(step)
    assert "### Deployment plan for staging" in step.summary, step.describe()
    assert plan_rows(step.summary) == [] or all(
        name.startswith("rpa2") for _, name in plan_rows(step.summary)), step.describe()


def test_broken_flow_plan_summary_names_the_skipped_flow(broken_pr: PullRequest) -> None:
    step = broken_pr.run.step("deploy.test")
    plan = step.summary.split("### Deployment plan for staging", 1)[-1]
    assert "rpa2" in plan, step.describe()
    assert "rpa2_reconciliation_helpers" in plan, step.describe()


# Pull request with a valid change to rpa2 -------------------------------------------------------


def test_valid_change_validate_step_passes_for_rpa2_only(valid_pr: PullRequest) -> None:
    step = valid_pr.run.step("flows.validate")
    assert step.code == 0, step.describe()
    assert "::error" not in step.stdout, step.describe()
    assert_only_rpa2(step)
    assert re.search(r"^\| rpa2 \| RPA2ProcessingFlow \| ✓ \| 0 \|", step.summary, re.M), \
        step.describe()


def test_valid_change_plan_creates_rpa2_staging_only(valid_pr: PullRequest) -> None:
    step = valid_pr.run.step("deploy.test")
    assert step.code == 0, step.describe()
    assert "::error" not in step.stdout, step.describe()
    assert "Dry run: nothing was written" in step.stdout, step.describe()
    assert_only_rpa2(step)
    assert sorted(plan_rows(step.summary)) == [("create", "rpa2-docker-staging"),
                                               ("create", "rpa2-python-staging")], \
        step.describe()
    assert "### Deployment plan for staging" in valid_pr.run.summary


def test_plan_summary_counts_are_readable(valid_pr: PullRequest) -> None:
    step = valid_pr.run.step("deploy.test")
    assert "{'create'" not in step.summary, step.describe()
    assert "2 to create" in step.summary, step.describe()

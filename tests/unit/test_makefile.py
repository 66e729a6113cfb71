"""The generated Makefile: golden file, the guide's targets, safe quoting, and ``--check``."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from deploytasks import makefile, makefile_commands, taskrun
from deploytasks.console import Output
from deploytasks.errors import ConfigError
from deploytasks.tasks import namespace
from tests.support.policy import needs_program

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMITTED = REPO_ROOT / "Makefile"
GUIDE_TARGETS = (
    "discover-flows", "validate-flows", "build-deployments", "deploy-python",
    "deploy-containers", "deploy-all", "clean-deployments", "deploy-dev", "deploy-staging",
    "deploy-prod", "validate-deployments", "test-deployments", "check-ui", "build-images",
    "push-images", "pull-images",
)
EXTRA_TARGETS = ("help", "setup", "quickstart", "test", "server-up", "server-down")
VARIABLES = ("ENV", "PATTERN", "REGISTRY", "FLOW", "VERBOSE")
TARGET_LINE = re.compile(r"^([a-z][a-z-]*):[^=]*?## ", re.MULTILINE)
needs_make = needs_program("make", package="make")


def committed_targets() -> list[str]:
    return TARGET_LINE.findall(COMMITTED.read_text(encoding="utf-8"))


def recipe_of(target: str) -> str:
    text = COMMITTED.read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n?)+)", text, re.MULTILINE)
    assert match, f"no recipe for {target}"
    return match.group(1)


@pytest.fixture
def make_dir(tmp_path: Path) -> Path:
    """A folder with the Makefile and an install stamp newer than pyproject.toml."""
    shutil.copy(COMMITTED, tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    stamp = tmp_path / ".venv" / ".deploytasks-installed"
    stamp.parent.mkdir()
    stamp.write_text("")
    older = (tmp_path / "pyproject.toml").stat().st_mtime - 60
    os.utime(tmp_path / "pyproject.toml", (older, older))
    return tmp_path


def make(folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=folder,
                          capture_output=True, text=True, timeout=30,
                          env={**environment, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout


def invoke_args(output: str) -> list[str]:
    """The one command ``make -n`` printed, split as the shell would split it."""
    lines = [line for line in output.splitlines() if "invoke" in line]
    assert len(lines) == 1, output
    return shlex.split(lines[0])


# --- golden file and the table -------------------------------------------------------------

def test_committed_makefile_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == makefile_commands.generated(namespace())


def test_table_holds_every_documented_target() -> None:
    assert {t.name for t in makefile.TARGETS} >= {*GUIDE_TARGETS, *EXTRA_TARGETS}


def test_every_target_present_runs_an_existing_task() -> None:
    tasks = set(namespace().task_names)
    by_name = {t.name: t for t in makefile.TARGETS}
    for name in committed_targets():
        task = by_name[name].task
        assert task is None or task in tasks, f"{name} calls missing task {task}"
        if task:
            assert f"$(INVOKE) {task}" in recipe_of(name)


def test_every_task_in_the_table_exists() -> None:
    tasks = set(namespace().task_names)
    missing = {t.name: t.task for t in makefile.TARGETS if t.task and t.task not in tasks}
    assert missing == {}


def test_every_target_in_the_table_is_present() -> None:
    assert committed_targets() == [t.name for t in makefile.TARGETS]


def test_phony_lists_exactly_the_targets() -> None:
    phony = re.search(r"^\.PHONY: (.*)$", COMMITTED.read_text(encoding="utf-8"), re.MULTILINE)
    assert phony
    assert sorted(phony.group(1).split()) == sorted(committed_targets())


def test_variables_are_declared_with_colon_equals() -> None:
    text = COMMITTED.read_text(encoding="utf-8")
    for variable in VARIABLES:
        assert re.search(rf"^{variable} :=\s*$", text, re.MULTILINE), variable
    assert "?=" not in text


def test_deploy_prod_hard_codes_its_environment() -> None:
    recipe = recipe_of("deploy-prod")
    assert "env.deploy-prod" in recipe and "--env" not in recipe
    assert not re.search(r"^deploy-prod:\s*\w+\s*:?=", COMMITTED.read_text(), re.MULTILINE)


def with_typo(target: str, task: str) -> tuple[makefile.Target, ...]:
    """The table with `target` running the mistyped `task`."""
    return tuple(dataclasses.replace(t, task=task) if t.name == target else t
                 for t in makefile.TARGETS)


def test_a_mistyped_task_is_an_error_naming_target_and_task() -> None:
    table = with_typo("deploy-python", "deploy.pyhton")
    with pytest.raises(ConfigError) as info:
        makefile.checked(table, set(namespace().task_names))
    assert info.value.exit_code == 2
    assert "target 'deploy-python' runs 'deploy.pyhton'" in str(info.value)
    assert "deploy-all" not in str(info.value)  # only the broken rows are named
    assert makefile.checked(makefile.TARGETS, set(namespace().task_names)) == \
        list(makefile.TARGETS)


def test_invoke_makefile_refuses_a_table_with_a_typo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEPLOYTASKS_ROOT", str(tmp_path))
    monkeypatch.setattr(makefile, "TARGETS", with_typo("check-ui", "deploy.chek"))
    body = functools.partial(makefile_commands.write_or_check, ns=namespace(), check=False)
    assert taskrun.execute(body) == 2
    assert not (tmp_path / "Makefile").exists()
    printed = " ".join(capsys.readouterr().err.split())
    assert "error: deploytasks/makefile.py (TARGETS): no such Invoke task: " \
        "target 'check-ui' runs 'deploy.chek' — fix the task name" in printed


# --- what make actually runs ---------------------------------------------------------------

@needs_make
def test_env_on_the_command_line_becomes_a_quoted_option(make_dir: Path) -> None:
    output = make(make_dir, "-n", "deploy-all", "ENV=staging")
    assert "--env 'staging'" in output
    assert invoke_args(output)[1:] == ["deploy.all", "--env", "staging"]


@needs_make
def test_no_env_means_no_env_option(make_dir: Path) -> None:
    assert invoke_args(make(make_dir, "-n", "deploy-all"))[1:] == ["deploy.all"]


@needs_make
def test_shell_metacharacters_stay_one_argument(make_dir: Path) -> None:
    value = "a'b; rm -rf x"
    output = make(make_dir, "-n", "clean-deployments", f"PATTERN={value}")
    assert invoke_args(output)[1:] == ["deploy.clean", "--pattern", value]


@needs_make
def test_exported_env_is_ignored(make_dir: Path) -> None:
    output = make(make_dir, "-n", "deploy-all", env={"ENV": "prod", "FLOW": "rpa1"})
    assert invoke_args(output)[1:] == ["deploy.all"]


@needs_make
def test_deploy_prod_ignores_env_on_the_command_line(make_dir: Path) -> None:
    assert invoke_args(make(make_dir, "-n", "deploy-prod", "ENV=staging"))[1:] == \
        ["env.deploy-prod"]


@needs_make
@pytest.mark.parametrize(("verbose", "expected"), [("true", ["--verbose"]), ("1", ["--verbose"]),
                                                   ("false", []), ("", [])])
def test_verbose_passes_a_flag_only_when_truthy(make_dir: Path, verbose: str,
                                                expected: list[str]) -> None:
    output = make(make_dir, "-n", "deploy-python", f"VERBOSE={verbose}")
    assert invoke_args(output)[2:] == expected


@needs_make
def test_up_to_date_stamp_runs_no_install(make_dir: Path) -> None:
    assert "pip install" not in make(make_dir, "-n", "deploy-all")


@needs_make
def test_make_without_target_prints_the_help(make_dir: Path) -> None:
    output = make(make_dir)
    for name in committed_targets():
        assert re.search(rf"^  {re.escape(name)} +\S", output, re.MULTILINE), name
    assert "Variables: ENV=" in output


# --- invoke makefile [--check] -------------------------------------------------------------

@pytest.fixture
def tool_repo(tmp_path: Path) -> Path:
    """A repository invoke can run in: config/, the root tasks.py and the Makefile."""
    shutil.copytree(REPO_ROOT / "config", tmp_path / "config")
    shutil.copy(REPO_ROOT / "tasks.py", tmp_path / "tasks.py")
    shutil.copy(COMMITTED, tmp_path / "Makefile")
    return tmp_path


def run_invoke(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DEPLOYTASKS_ROOT"}
    return subprocess.run([str(REPO_ROOT / ".venv/bin/invoke"), *args], cwd=folder,
                          capture_output=True, text=True, timeout=60, env=environment)


def test_check_passes_on_the_generated_file(tool_repo: Path) -> None:
    done = run_invoke(tool_repo, "makefile", "--check")
    assert done.returncode == 0, done.stderr


def test_check_fails_with_a_diff_after_a_hand_edit(tool_repo: Path) -> None:
    target = tool_repo / "Makefile"
    target.write_text(target.read_text().replace("ENV :=\n", "ENV ?= development\n"))
    done = run_invoke(tool_repo, "makefile", "--check")
    assert done.returncode == 1
    assert "-ENV ?= development" in done.stdout and "+ENV :=" in done.stdout
    assert "invoke makefile" in done.stderr and "Traceback" not in done.stderr


def test_makefile_task_rewrites_an_edited_file(tool_repo: Path) -> None:
    (tool_repo / "Makefile").write_text("edited by hand\n")
    assert run_invoke(tool_repo, "makefile").returncode == 0
    assert (tool_repo / "Makefile").read_text() == COMMITTED.read_text()


def test_write_or_check_reports_a_missing_makefile(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTASKS_ROOT", str(tmp_path))
    assert makefile_commands.write_or_check(Output(), namespace(), check=True) == 1
    assert makefile_commands.write_or_check(Output(), namespace(), check=False) == 0
    assert makefile_commands.write_or_check(Output(), namespace(), check=True) == 0

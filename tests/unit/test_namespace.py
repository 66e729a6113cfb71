"""The Invoke namespace: light to import, well-formed for --list and completion, and fast."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from invoke.tasks import Task

from deploytasks.tasks import namespace

REPO_ROOT = Path(__file__).resolve().parents[2]
INVOKE = str(REPO_ROOT / ".venv" / "bin" / "invoke")
HEAVY = ("prefect", "docker", "python_on_whales", "rich")
COLLECTIONS = ("flows", "deploy", "images", "env")
EMPTY_TASKS = "from invoke import task\n\n\n@task\ndef noop(c):\n    'Do nothing.'\n"


def modules_after_import(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return set(json.loads(done.stdout))


def run_invoke(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DEPLOYTASKS_ROOT"}
    return subprocess.run([INVOKE, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env=environment)


def all_tasks() -> list[tuple[str, Task]]:
    ns = namespace()
    return [(name, ns[name]) for name in ns.task_names]


def test_importing_tasks_loads_no_heavy_module() -> None:
    loaded = modules_after_import("import tasks")
    assert "tasks" in loaded and "deploytasks.tasks" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_importing_tasks_loads_no_pydantic() -> None:
    assert "pydantic" not in modules_after_import("import tasks")


def parser_contexts() -> dict[str, dict[str, object]]:
    """Each task's parser context as a fresh process builds it: flag -> help.

    Invoke pops help entries off the shared ``Task`` objects while it builds the contexts,
    so this runs in its own interpreter, as ``invoke --list`` does.
    """
    code = ("import json, tasks\n"
            "contexts = tasks.ns.to_contexts()\n"
            "print(json.dumps({c.name: {f: a.help for f, a in c.flags.items()} "
            "for c in contexts}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_task_builds_its_parser_context() -> None:
    assert set(parser_contexts()) == set(namespace().task_names)


def test_every_option_has_help() -> None:
    missing = [f"{name} {flag}" for name, flags in parser_contexts().items()
               for flag, text in flags.items() if not text]
    assert not missing


def test_no_task_has_short_flags() -> None:
    short = [f"{name} {flag}" for name, flags in parser_contexts().items()
             for flag in flags if not flag.startswith("--")]
    assert not short


@pytest.mark.parametrize(("name", "task"), all_tasks(), ids=[n for n, _ in all_tasks()])
def test_task_has_a_one_sentence_first_docstring_line(name: str, task: Task) -> None:
    text = (task.__doc__ or "").strip()
    assert text, f"{name} has no docstring (it is the --list text)"
    assert text.splitlines()[0].endswith("."), text.splitlines()[0]


def test_list_shows_the_collections() -> None:
    done = run_invoke("--list")
    assert done.returncode == 0, done.stderr
    listed = set(re.findall(r"^  ([a-z][\w-]*)\.[\w-]+ ", done.stdout, re.MULTILINE))
    assert {"env", "deploy"} <= listed
    assert listed <= set(COLLECTIONS)


def test_completion_lists_deploy_tasks() -> None:
    done = run_invoke("--complete", "--", "invoke", "de")
    assert done.returncode == 0, done.stderr
    offered = set(done.stdout.split())
    deploy = {name for name in namespace().task_names if name.startswith("deploy.")}
    assert deploy and deploy <= offered


def test_completion_of_a_task_lists_its_long_flags() -> None:
    done = run_invoke("--complete", "--", "invoke", "deploy.all", "--")
    assert {"--env", "--flow", "--registry", "--json"} <= set(done.stdout.split())


def best_of_three(*args: str, cwd: Path) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        run_invoke(*args, cwd=cwd)
        times.append(time.perf_counter() - started)
    return min(times)


def test_list_costs_little_more_than_an_empty_namespace(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(EMPTY_TASKS)
    baseline = best_of_three("--list", cwd=tmp_path)
    ours = best_of_three("--list", cwd=REPO_ROOT)
    assert ours < 2 * baseline + 0.150, f"ours {ours:.3f}s vs empty {baseline:.3f}s"

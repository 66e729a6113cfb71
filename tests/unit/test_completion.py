"""Shell tab completion: the scripts, what the completion call offers, and what it costs.

The shell scripts Invoke prints all run ``invoke --complete -- <words>`` on every
TAB; that call loads the whole namespace (``tasks.py``), so it must offer every
task and every option of a task, and cost about as much as Invoke with an empty
tasks file (README, "Tab completion").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.policy import needs_program
from tests.support.prefect_helpers import PROJECT_ROOT, task_names

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
INVOKE = str(VENV_BIN / "invoke")
SHELLS = ("bash", "zsh", "fish")
ROUNDS = 5
FACTOR = 1.5
SLACK = 0.100  # seconds


def invoke(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "INVOKE_RUNTIME_CONFIG")}
    done = subprocess.run([INVOKE, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"invoke {' '.join(args)}: exit {done.returncode}\n" \
                                 f"{done.stdout}\n{done.stderr}"
    return done


@cache
def listed() -> dict[str, Any]:
    return json.loads(invoke("--list", "--list-format=json").stdout)


def completions(*words: str, cwd: Path = PROJECT_ROOT) -> list[str]:
    return invoke("--complete", "--", "invoke", *words, cwd=cwd).stdout.split()


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_script_is_printed(shell: str) -> None:
    script = invoke("--print-completion-script", shell).stdout
    assert re.search(r"invoke .*--complete --", script), script
    assert "_complete_invoke" in script or "__complete_invoke" in script, script
    assert len(script.splitlines()) > 5, script


def test_task_names_are_offered() -> None:
    names = task_names(listed())
    collections = {c["name"] for c in listed()["collections"]}
    assert {"flows", "deploy", "env"} <= collections, collections
    assert {"makefile", "quickstart"} <= {t["name"] for t in listed()["tasks"]}
    offered = completions("")
    missing = sorted(names - set(offered))
    assert not missing, f"listed but not offered: {missing}; offered {offered}"
    assert "images" not in collections or any(n.startswith("images.") for n in offered)


def test_deploy_all_options_are_offered() -> None:
    helped = set(re.findall(r"^\s+(--[\w-]+)", invoke("--help", "deploy.all").stdout, re.M))
    assert {"--env", "--flow", "--registry", "--changed-since", "--concurrency", "--json",
            "--verbose"} <= helped, helped
    offered = set(completions("deploy.all", "--"))
    assert helped <= offered, f"not offered: {sorted(helped - offered)}"


def _best_of(rounds: int, cwd: Path) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([INVOKE, "--complete", "--", "invoke", ""], cwd=cwd,
                       capture_output=True, timeout=120, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def test_completion_costs_about_as_much_as_an_empty_tasks_file(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("", encoding="utf-8")
    assert completions("", cwd=tmp_path) == []
    _best_of(1, PROJECT_ROOT)  # warm the file cache of both sides
    _best_of(1, tmp_path)
    ours, empty = float("inf"), float("inf")
    for _ in range(ROUNDS):  # interleaved, so that load on the machine hits both alike
        ours = min(ours, _best_of(1, PROJECT_ROOT))
        empty = min(empty, _best_of(1, tmp_path))
    limit = FACTOR * empty + SLACK
    print(f"\ncompletion best of {ROUNDS}: repo {ours * 1000:.0f} ms, empty tasks.py "
          f"{empty * 1000:.0f} ms, limit {limit * 1000:.0f} ms")
    assert ours <= limit, f"completion takes {ours * 1000:.0f} ms, empty tasks.py " \
                          f"{empty * 1000:.0f} ms (limit {limit * 1000:.0f} ms)"


@needs_program("bash", package="bash")
def test_bash_completion_function_returns_task_names() -> None:
    script = invoke("--print-completion-script", "bash").stdout
    program = (
        f"{script}\n"
        'COMP_WORDS=(invoke ""); COMP_CWORD=1; _complete_invoke invoke "" invoke\n'
        'printf "all:%s\\n" "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(invoke deploy.t); COMP_CWORD=1; _complete_invoke invoke deploy.t invoke\n"
        'printf "partial:%s\\n" "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(invoke deploy.all --ch); COMP_CWORD=2\n"
        "_complete_invoke invoke --ch deploy.all\n"
        'printf "flag:%s\\n" "${COMPREPLY[@]}"\n'
        "complete -p invoke\n"
    )
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-c", program], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    offered = {line[len("all:"):] for line in lines if line.startswith("all:")}
    assert task_names(listed()) <= offered, sorted(task_names(listed()) - offered)
    assert [line for line in lines if line.startswith("partial:")] == ["partial:deploy.test"]
    assert [line for line in lines if line.startswith("flag:")] == ["flag:--changed-since"]
    assert "_complete_invoke" in lines[-1]

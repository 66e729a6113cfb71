"""``python -m deploytasks.cli``: the guide's debugging commands, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploytasks import cli
from deploytasks.secrets import MASK

SECRET = "pnu_cli-secret-key-98765"


def run(repo: Path, *args: str, module: str = "deploytasks.cli",
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    drop = {"DEPLOYTASKS_ROOT", "DEPLOYMENT_ENV", "DEPLOYMENT_CONFIG_PATH", "PREFECT_API_KEY"}
    environment = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=repo, capture_output=True,
                          text=True, timeout=120, env={**environment, **(env or {})})


def test_config_show_json_masks_the_api_key(repo_copy: Path) -> None:
    done = run(repo_copy, "config", "--show", "--env", "development", "--json",
               env={"PREFECT_API_KEY": SECRET})
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert (document["environment"], document["short_name"]) == ("development", "dev")
    settings = {row["path"]: row for row in document["settings"]}
    assert settings["prefect.api_key"]["value"] == MASK
    assert settings["prefect.api_key"]["source"] == "environment variable PREFECT_API_KEY"


def test_config_bad_env_exits_2_with_one_line(repo_copy: Path) -> None:
    done = run(repo_copy, "config", "--env", "nope")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_unknown_subcommand_exits_2(repo_copy: Path) -> None:
    done = run(repo_copy, "bogus")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_no_subcommand_exits_2() -> None:
    assert cli.main([]) == 2


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "discover" in capsys.readouterr().out


def test_discover_one_flow_file_names_its_flow(repo_copy: Path) -> None:
    done = run(repo_copy, "discover", "--flow", "flows/rpa1/workflow.py")
    assert done.returncode == 0, done.stderr
    assert "RPA1ProcessingFlow" in done.stdout


def test_package_runs_as_a_module(repo_copy: Path) -> None:
    done = run(repo_copy, "discover", "--json", module="deploytasks")
    assert done.returncode == 0, done.stderr
    assert "RPA1ProcessingFlow" in done.stdout


def test_in_process_discover_returns_zero(repo_copy: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["discover", "--flow", "rpa2"]) == 0
    assert "flows/rpa2/workflow.py" in capsys.readouterr().out


def test_validate_takes_either_deployment_or_flow() -> None:
    assert cli.main(["validate", "--deployment", "rpa1-python-dev", "--flow", "rpa1"]) == 2

"""The flows collection end to end: task → configuration → core → output and exit code."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from deploytasks.console import Output
from deploytasks.flows import commands, tasks

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "flowtrees"
SECRET = "s3cr3t-value-never-shown"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The basic fixture tree plus a broken flow, as the current repository."""
    root = tmp_path / "repo"
    shutil.copytree(RESOURCES / "basic", root)
    broken = root / "flows" / "broken" / "workflow.py"
    broken.parent.mkdir()
    broken.write_text("from prefect import flow\n\ndef broken(:\n    pass\n")
    (root / "flows" / "good" / ".env").write_text(f"API_TOKEN={SECRET}\nAPI_TOKEN={SECRET}\n")
    for name in ("DEPLOYMENT_ENV", "DEPLOYMENT_CONFIG_PATH", "GITHUB_ACTIONS",
                 "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEPLOYTASKS_ROOT", str(root))
    monkeypatch.chdir(root)
    return root


def remove_broken(root: Path) -> None:
    shutil.rmtree(root / "flows" / "broken")


def exit_code(call: Callable[[], None]) -> int:
    """Run a task body; Invoke's Exit carries the code, a normal return means 0."""
    try:
        call()
    except Exit as done:
        return done.code
    return 0


def test_discover_prints_the_guide_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(lambda: tasks.discover(Context())) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Discovering flows in flows/ directory...",
        "✗ flows/broken/workflow.py - SyntaxError: invalid syntax (line 3)",
        "✓ flows/good/workflow.py - GoodFlow",
        "✓ flows/sidefx/workflow.py - SideEffectFlow",
        "",
        "Found 2 valid flows, 1 invalid flow",
    ]


def test_discover_exits_zero_when_all_flows_are_valid(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remove_broken(repo)
    assert exit_code(lambda: tasks.discover(Context())) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Found 2 valid flows, 0 invalid flows"


def test_discover_verbose_shows_metadata(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code(lambda: tasks.discover(Context(), verbose=True, flow="good"))
    out = capsys.readouterr().out
    for expected in ("function: good_flow (line 18)", "description: Count the records of a file.",
                     "version: 1.0", "tags: fixture",
                     "files: Dockerfile, requirements.txt, .env, .env.example, helpers.py",
                     "source     str   (required)", "dry_run    bool  False       keyword-only"):
        assert expected in out, out
    assert SECRET not in out


@pytest.mark.parametrize("target", ["good", "flows/good", "flows/good/workflow.py"])
def test_flow_option_checks_one_flow(
    repo: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    assert exit_code(lambda: tasks.discover(Context(), flow=target)) == 0
    assert "✓ flows/good/workflow.py - GoodFlow" in capsys.readouterr().out


def test_unknown_flow_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(lambda: tasks.discover(Context(), flow="nope")) == 2
    assert "no flow folder or flow file at 'nope'" in capsys.readouterr().err


def test_discover_json_document(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(lambda: tasks.discover(Context(), json=True)) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"] == {"valid": 2, "invalid": 1, "warnings": 0, "strict": False}
    broken, good, _ = document["flows"]
    assert {"folder", "name", "function", "path", "line", "valid", "errors", "warnings",
            "description", "parameters", "files"} <= set(good)
    assert broken["errors"] == [{
        "severity": "error", "file": "flows/broken/workflow.py", "line": 3,
        "message": "SyntaxError: invalid syntax (line 3)",
        "hint": "fix the syntax; 'python -m py_compile flows/broken/workflow.py' shows the same "
                "error without running it",
    }]
    assert good["files"]["env_files"] == ["flows/good/.env", "flows/good/.env.example"]


def test_validate_reports_findings_and_hides_env_values(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remove_broken(repo)
    assert exit_code(lambda: tasks.validate(Context())) == 0
    out = capsys.readouterr().out
    assert "Validating flows in flows/ directory..." in out
    assert "✓ flows/good/workflow.py - GoodFlow (1 warning)" in out
    assert ("    warning flows/good/.env:2  API_TOKEN is set on line 1 and again on line 2; "
            "the last one wins") in out
    assert out.splitlines()[-1] == "Found 2 valid flows, 0 invalid flows, 1 warning"
    assert SECRET not in out


def test_validate_strict_fails_on_warnings(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    remove_broken(repo)
    assert exit_code(lambda: tasks.validate(Context(), strict=True)) == 1
    assert "(warnings fail under --strict)" in capsys.readouterr().out


def test_validate_json_never_holds_env_values(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_code(lambda: tasks.validate(Context(), json=True, verbose=True)) == 1
    out = capsys.readouterr().out
    assert SECRET not in out
    document = json.loads(out)
    assert [f["valid"] for f in document["flows"]] == [False, True, True]


def test_validate_configured_required_env(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remove_broken(repo)
    (repo / "flows" / "good" / ".env.example").write_text("OTHER=\n")
    assert exit_code(lambda: tasks.validate(Context(), flow="good")) == 1
    assert "flows/good/.env.example lacks API_TOKEN, required by flows.good.required_env" in (
        capsys.readouterr().out)


def test_github_annotations(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = repo / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert exit_code(lambda: tasks.validate(Context())) == 1
    out = capsys.readouterr().out
    assert ("::error file=flows/broken/workflow.py,line=3::SyntaxError: invalid syntax (line 3) "
            "— fix the syntax; 'python -m py_compile flows/broken/workflow.py' shows the same "
            "error without running it") in out.splitlines()
    assert "::warning file=flows/good/.env,line=2::API_TOKEN is set on line 1" in out
    assert "| broken |  | ✗ | 1 | 1 |" in summary.read_text()  # + no Dockerfile, by default


def test_no_annotations_in_json_mode(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert exit_code(lambda: tasks.validate(Context(), json=True)) == 1  # the broken flow
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # stdout stays one JSON document
    assert [f["valid"] for f in document["flows"]] == [False, True, True]
    # the broken flow and the .env warning would be annotated outside JSON mode
    annotations = [line for line in (captured.out + captured.err).splitlines()
                   if line.startswith(("::error", "::warning"))]
    assert annotations == []


def test_no_code_runs_through_the_tasks(repo: Path) -> None:
    exit_code(lambda: tasks.discover(Context(), verbose=True))
    exit_code(lambda: tasks.validate(Context(), verbose=True))
    assert sorted(p.name for p in (repo / "flows" / "sidefx").iterdir()) == [
        "helper.py", "workflow.py"]


def test_commands_are_callable_without_invoke(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remove_broken(repo)
    assert commands.discover_command(Output(), flow="good", verbose=False, json=True) == 0
    assert json.loads(capsys.readouterr().out)["flows"][0]["name"] == "GoodFlow"
    assert commands.validate_command(Output(), flow=None, verbose=False, json=False,
                                     strict=True) == 1


# --- the collection itself ---------------------------------------------------------------


def test_collection_shape() -> None:
    collection = tasks.collection()
    assert collection.name == "flows"
    contexts = {ctx.name: ctx for ctx in collection.to_contexts()}  # a bad help key raises here
    assert set(contexts) == {"discover", "validate", "import"}
    for name, task_object in (("discover", tasks.discover), ("validate", tasks.validate),
                              ("import", tasks.import_)):
        parameters = {p.strip("_").replace("_", "-")
                      for p in inspect.signature(task_object.body).parameters} - {"c"}
        arguments = contexts[name].args
        assert set(arguments) == parameters
        assert all(argument.help for argument in arguments.values())  # every option explained
        assert all(len(argument.names) == 1 for argument in arguments.values())  # no short flags
        first = (task_object.__doc__ or "").splitlines()[0]
        assert first.split()[0] == name.capitalize()  # imperative: it is the --list text
    assert {"--flow", "--verbose", "--json", "--strict", "--env"} <= set(contexts["validate"].flags)
    assert {"--from", "--write", "--json", "--env"} == set(contexts["import"].flags)


def test_importing_the_collection_stays_light() -> None:
    code = textwrap.dedent("""\
        import sys
        import deploytasks.flows.tasks
        heavy = [m for m in ("prefect", "rich", "docker", "python_on_whales", "pydantic")
                 if m in sys.modules]
        print(",".join(heavy))
        """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == ""

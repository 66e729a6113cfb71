"""Validation: dependencies, Dockerfile, env files — read, never run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deploytasks.flows import imports
from deploytasks.flows.discovery import DiscoveryOptions, Finding, FlowSpec, discover
from deploytasks.flows.rules import dockerfile as validation
from deploytasks.flows.validation import (
    ValidationOptions,
    check_dockerfile,
    parse_env_keys,
    validate,
)
from tests.support.policy import skip_or_fail

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "flowtrees"
FLOW = "from prefect import flow\n\n@flow\ndef {name}():\n    pass\n"
DOCKERFILE = """\
    ARG BASE_IMAGE=prefecthq/prefect:3.9.1-python3.11
    FROM ${BASE_IMAGE}
    COPY . /opt/prefect/flow
    USER 1000
    """


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def make_flow(root: Path, folder: str, source: str | None = None, **files: str) -> Path:
    """A flow folder with ``workflow.py`` and any extra files (``Dockerfile=...``)."""
    base = root / "flows" / folder
    write(base / "workflow.py", source if source is not None else FLOW.format(name=folder))
    for name, text in files.items():
        write(base / name.replace("__", "."), text)
    return base


def check(root: Path, options: ValidationOptions | None = None) -> dict[str, FlowSpec]:
    return {s.folder: s for s in validate(root, discover(root, DiscoveryOptions()), options)}


def found(spec: FlowSpec, severity: str = "error") -> list[Finding]:
    return [f for f in (*spec.errors, *spec.warnings) if f.severity == severity]


# --- no repository code runs ------------------------------------------------------------


def test_discover_and_validate_never_run_flow_code(tmp_path: Path) -> None:
    """The fixture writes marker files when imported; reading it must create none."""
    repo = tmp_path / "repo"
    shutil.copytree(RESOURCES / "basic", repo)
    folder = repo / "flows" / "sidefx"
    specs = {s.folder: s for s in validate(repo, discover(repo))}
    assert specs["sidefx"].valid and specs["sidefx"].name == "SideEffectFlow"
    assert sorted(p.name for p in folder.iterdir()) == ["helper.py", "workflow.py"]
    # The fixture is live: importing it really does write both markers.
    code = "import runpy, sys; sys.path.insert(0, '.'); runpy.run_path('workflow.py')"
    subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, timeout=120)
    assert {"IMPORTED_WORKFLOW", "IMPORTED_HELPER"} <= {p.name for p in folder.iterdir()}


def test_the_basic_fixture_is_valid(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(RESOURCES / "basic", repo)
    options = ValidationOptions(kinds={"sidefx": ["python"]},
                                required_env={"good": ["API_TOKEN"]})
    specs = {s.folder: s for s in validate(repo, discover(repo), options)}
    assert specs["good"].valid and not specs["good"].warnings, specs["good"].errors


# --- Python dependencies -----------------------------------------------------------------


def test_imports_resolve_to_stdlib_local_installed_and_requirements(tmp_path: Path) -> None:
    make_flow(tmp_path, "deps", """\
        import os, json, yaml
        import helper
        from pkg.sub import thing
        from . import helper as again
        from prefect import flow
        import pandas_like_thing
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import not_needed_at_runtime
        try:
            import fancy_optional
        except ImportError:
            fancy_optional = None

        @flow
        def deps():
            import requests_like
        """, **{"helper.py": "import missing_in_sibling\n", "pkg/__init__.py": "",
                "pkg/sub.py": "from .. import helper\nfrom .nothere import x\n",
                "requirements.txt": "pandas-like-thing==1.0\nRequests_Like\n"})
    spec = check(tmp_path)["deps"]
    errors = {(f.file, f.line, f.message.split(",")[0]) for f in spec.errors}
    assert errors == {
        ("flows/deps/helper.py", 1, "imports missing_in_sibling"),
        ("flows/deps/pkg/sub.py", 2,
         "relative import from .nothere finds no module nothere in pkg/"),
    }
    [warning] = spec.warnings
    assert (warning.line, "optional import: imports fancy_optional") == (
        11, warning.message.split(",")[0])


def test_missing_import_without_requirements_says_to_create_one(tmp_path: Path) -> None:
    make_flow(tmp_path, "nodeps", "import surely_not_installed_pkg\n" + FLOW.format(name="nodeps"))
    [error] = check(tmp_path)["nodeps"].errors
    assert (error.file, error.line) == ("flows/nodeps/workflow.py", 1)
    assert error.hint == ("create flows/nodeps/requirements.txt listing the distribution that "
                          "provides surely_not_installed_pkg")


def test_sibling_module_with_a_syntax_error(tmp_path: Path) -> None:
    make_flow(tmp_path, "sib", **{"helper.py": "def broken(:\n"})
    [error] = check(tmp_path)["sib"].errors
    assert (error.file, error.line) == ("flows/sib/helper.py", 1)


def test_requirements_parse_errors_name_their_line(tmp_path: Path) -> None:
    make_flow(tmp_path, "req", "import yaml\n" + FLOW.format(name="req"), **{
        "requirements.txt": "# comment\npyyaml>=6 \\\n    ; python_version > '3'\n"
                            "-r more.txt\n-r ../../../outside.txt\n-i https://example.org/simple\n"
                            "--weird-option\nthis is not valid ===\n",
        "more.txt": "-r requirements.txt\nrequests\n",
    })
    spec = check(tmp_path)["req"]
    assert [(f.file, f.line) for f in spec.errors] == [
        ("flows/req/requirements.txt", 8), (str(tmp_path.parent / "outside.txt"), None)]
    assert "not a valid requirement" in spec.errors[0].message
    assert [(w.line, w.message) for w in spec.warnings] == [
        (7, "unknown option --weird-option on line 7")]


def test_parse_requirements_forms() -> None:
    text = textwrap.dedent("""\
        # comment
        PyYAML==6.0.1 --hash=sha256:abc  # trailing comment
        Django[argon2]>=4 ; python_version >= "3.10"
        zope.interface
        -e git+https://github.com/org/proj.git#egg=My_Proj
        -e ./local/path
        https://example.org/wheels/Some_Pkg-1.0-py3-none-any.whl
        name_at_url @ https://example.org/x.tar.gz
        -c constraints.txt
        --requirement=other.txt
        -rthird.txt
        long-name\\
        -continued
        """)
    parsed = imports.parse_requirements(text)
    assert parsed.names == {"pyyaml", "django", "zope-interface", "my-proj", "some-pkg",
                            "name-at-url", "long-name-continued"}
    assert parsed.includes == [(10, "other.txt"), (11, "third.txt")]
    assert parsed.problems == []


def test_parse_requirements_hides_credentials_in_errors() -> None:
    parsed = imports.parse_requirements("pkg @@ https://user:s3cret@host/x\n")
    assert parsed.problems and "s3cret" not in parsed.problems[0].message


def test_import_only_installed_here_warns_for_docker_images(tmp_path: Path) -> None:
    if not imports.installed_distributions("pytest"):
        skip_or_fail("pytest is not installed as a distribution (make setup)")
    make_flow(tmp_path, "img", "import pytest\nimport yaml\n" + FLOW.format(name="img"),
              Dockerfile=DOCKERFILE, **{"requirements.txt": "requests\n"})
    spec = check(tmp_path)["img"]
    assert spec.valid
    assert [w.message.split(" is ")[0] for w in spec.warnings] == ["pytest"]  # yaml: via prefect


# --- Dockerfile --------------------------------------------------------------------------


def docker_findings(text: str) -> list[tuple[str, int | None, str]]:
    return [(f.severity, f.line, f.message)
            for f in check_dockerfile(textwrap.dedent(text), "flows/x/Dockerfile")]


def test_good_dockerfile_has_no_findings() -> None:
    assert docker_findings(DOCKERFILE) == []
    assert docker_findings("""\
        # escape=`
        ARG BASE=python:3.11-slim
        FROM $BASE AS build
        RUN echo one `
            two
        FROM build
        run <<EOF
        echo "not an instruction"
        EOF
        COPY --chown=app:app . /app
        ARG APP_USER=app
        USER ${APP_USER}:${APP_USER}
        """) == []


def test_real_example_flow_dockerfiles_pass() -> None:
    for path in sorted((Path(__file__).resolve().parents[2] / "flows").glob("*/Dockerfile")):
        assert check_dockerfile(path.read_text(), str(path)) == [], path


def test_dockerfile_syntax_problems() -> None:
    assert docker_findings("FORM python:3.11\n")[0][:2] == ("error", 1)
    assert docker_findings("") == [("error", None, "no FROM instruction")]
    assert ("error", 1, "RUN before FROM") in docker_findings(
        "RUN echo\nFROM python:3.11\nCOPY . /\nUSER 1\n")
    assert ("warning", 3, "the file ends inside a line continuation (\\)") in docker_findings(
        "FROM python:3.11\nCOPY . /\nUSER 1 \\\n")
    assert docker_findings("FROM python:3.11\nCOPY . /\nRUN a \\\n\n  b\nUSER 1\n") == [
        ("warning", 3, "empty line inside a line continuation (deprecated by BuildKit)")]
    assert ("error", 3, "heredoc <<EOF is never closed") in docker_findings(
        "FROM python:3.11\nUSER 1\nCOPY <<EOF /x\nhello\n")
    assert ("error", 2, "WORKDIR has no arguments") in docker_findings(
        "FROM python:3.11\nWORKDIR\nCOPY . /\nUSER 1\n")


@pytest.mark.parametrize("user", ["root", "0", "root:root", "0:0", "${U}"])
def test_root_user_is_an_error(user: str) -> None:
    text = f"FROM python:3.11\nARG U=root\nCOPY . /\nUSER {user}\n"
    assert docker_findings(text) == [
        ("error", 4, f"the final stage runs as root (USER {user})")]


def test_findings_name_the_instruction_line_after_comments() -> None:
    text = "# comment\n\n# another\nFROM python:3.11\n\n# why\nCOPY . /\nUSER root\n"
    assert docker_findings(text) == [("error", 8, "the final stage runs as root (USER root)")]


def test_user_must_be_set_in_the_final_stage() -> None:
    findings = docker_findings("FROM python:3.11 AS a\nUSER 1000\nFROM python:3.11\nCOPY . /\n")
    assert findings == [("error", 3, "the final stage sets no USER, so the container runs as root")]
    assert docker_findings("FROM python:3.11 AS a\nUSER 1000\nFROM a\nCOPY . /\n") == []
    assert docker_findings("FROM python:3.11\nCOPY . /\nUSER $UNKNOWN\n") == []


def test_final_stage_must_copy_the_code() -> None:
    findings = docker_findings("FROM python:3.11 AS a\nCOPY . /\nFROM python:3.11\nUSER 1\n")
    assert findings == [("error", 3, "the final stage copies nothing in, so the image lacks "
                                     "the flow code")]


@pytest.mark.parametrize(("base", "problem"), [
    ("python", "has no tag"), ("python:latest", "uses the :latest tag"),
    ("registry:5000/team/img", "has no tag"), ("${BASE}", "uses the :latest tag"),
])
def test_unpinned_base_image_warns(base: str, problem: str) -> None:
    text = f"ARG BASE=python:latest\nFROM {base}\nCOPY . /\nUSER 1\n"
    [(severity, line, message)] = docker_findings(text)
    assert (severity, line) == ("warning", 2) and problem in message


@pytest.mark.parametrize("base", ["python@sha256:abc", "registry:5000/img:1.2", "${NO_DEFAULT}",
                                  "${X:-python:3.11}", "scratch"])
def test_pinned_or_unknowable_base_does_not_warn(base: str) -> None:
    assert docker_findings(f"ARG NO_DEFAULT\nFROM {base}\nCOPY . /\nUSER 1\n") == []


def test_docker_kind_without_dockerfile(tmp_path: Path) -> None:
    make_flow(tmp_path, "plain")
    explicit = ValidationOptions(kinds={"plain": ["docker"]}, explicit_kinds=frozenset({"plain"}))
    assert found(check(tmp_path, explicit)["plain"])[0].message.startswith(
        "configured as a docker deployment")
    by_default = check(tmp_path, ValidationOptions(kinds={"plain": ["python", "docker"]}))["plain"]
    assert by_default.valid and by_default.warnings[0].file == "flows/plain"
    assert check(tmp_path)["plain"].warnings == ()  # no configuration: docker only if Dockerfile


def test_python_only_flow_skips_docker_checks(tmp_path: Path) -> None:
    make_flow(tmp_path, "py", Dockerfile="FROM python\n")
    assert not check(tmp_path)["py"].valid
    assert check(tmp_path, ValidationOptions(kinds={"py": ["python"]}))["py"].valid


# --- env files ---------------------------------------------------------------------------

SECRET = "hunter2-very-secret-value"


def test_env_file_forms() -> None:
    text = textwrap.dedent(f"""\
        # comment

        export A=1
        B = "two words"
        C='single'
        D="multi
        line {SECRET}
        still"
        E=
        lower_case_ok=1
        """)
    keys, findings = parse_env_keys(text, "x/.env")
    assert list(keys) == ["A", "B", "C", "D", "E", "lower_case_ok"]
    assert findings == []


def test_env_file_problems_never_show_values(tmp_path: Path) -> None:
    make_flow(tmp_path, "envs", **{".env": textwrap.dedent(f"""\
        TOKEN={SECRET}
        =orphan-{SECRET}
        1BAD={SECRET}
        MY-KEY={SECRET}
        just-a-{SECRET}
        TOKEN={SECRET}
        OPEN="{SECRET}
        """)})
    spec = check(tmp_path, ValidationOptions(required_env={"envs": ["TOKEN", "API_URL"]}))["envs"]
    shown = [(f.severity, f.line, f.message) for f in (*spec.errors, *spec.warnings)]
    assert shown == [
        ("error", 2, "line 2 has an empty name before '='"),
        ("error", 3, "line 3: the text before '=' is not a valid variable name"),
        ("error", 4, "line 4: the text before '=' is not a valid variable name"),
        ("error", 5, "line 5 is not KEY=VALUE"),
        ("error", 7, 'the value on line 7 opens a " quote that is never closed'),
        ("error", None, "flows/envs/.env lacks API_URL, required by flows.envs.required_env"),
        ("warning", 6, "TOKEN is set on line 1 and again on line 6; the last one wins"),
    ]
    assert SECRET not in json.dumps(spec.to_dict())


def test_required_keys_need_an_env_file(tmp_path: Path) -> None:
    make_flow(tmp_path, "req", **{".env.production": "TOKEN=1\n"})
    [error] = check(tmp_path, ValidationOptions(required_env={"req": ["TOKEN"]}))["req"].errors
    assert error.file == "flows/req" and "no .env or .env.example" in error.message


def test_env_file_not_utf8(tmp_path: Path) -> None:
    base = make_flow(tmp_path, "bin")
    (base / ".env").write_bytes(b"A=\xff\xfe\n")
    [error] = check(tmp_path)["bin"].errors
    assert error.file == "flows/bin/.env" and "not UTF-8" in error.message


# --- isolation and size ------------------------------------------------------------------


def test_a_bug_in_one_check_stays_in_its_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_flow(tmp_path, "a", Dockerfile=DOCKERFILE)
    make_flow(tmp_path, "b")
    real = validation.check_dockerfile

    def explode(text: str, rel: str) -> list[Finding]:
        if "/a/" in rel:
            raise RuntimeError("boom")
        return real(text, rel)

    monkeypatch.setattr(validation, "check_dockerfile", explode)
    specs = check(tmp_path)
    assert "could not check this flow" in specs["a"].errors[0].message
    assert specs["b"].valid


def test_large_sibling_module_is_handled(tmp_path: Path) -> None:
    make_flow(tmp_path, "big", **{"data.py": "X = [\n" + "    1,\n" * 900_000 + "]\n"})
    [error] = check(tmp_path)["big"].errors
    assert error.file == "flows/big/data.py" and "MB" in error.message


def test_many_modules_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deploytasks.flows.rules import dependencies as dependency_checks

    monkeypatch.setattr(dependency_checks, "MAX_MODULES", 3)
    make_flow(tmp_path, "many", **{f"m{i}.py": "" for i in range(6)})
    assert "more than 3 Python files" in check(tmp_path)["many"].warnings[0].message

"""Shared dependencies: imports resolve to the flow's own files, then to what the repository
declares (requirements files, pyproject.toml, lock files), then to what is installed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deploytasks.flows import imports
from deploytasks.flows.dependencies import read_declared
from deploytasks.flows.discovery import DiscoveryOptions, FlowSpec, discover
from deploytasks.flows.validation import Repository, ValidationOptions, validate

FLOW = "from prefect import flow\n\n@flow\ndef {name}():\n    pass\n"
PYTHON_ONLY = ValidationOptions(kinds={})  # no Dockerfile anywhere: python by default


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def flat(root: Path, imports_: str, **files: str) -> FlowSpec:
    """One flow file ``flows/job.py`` importing ``imports_``, validated in the files layout."""
    write(root, {"flows/job.py": imports_ + "\n" + FLOW.format(name="job"), **files})
    options = DiscoveryOptions(layout="files", pattern="*.py")
    [spec] = validate(root, discover(root, options), PYTHON_ONLY)
    return spec


def errors(spec: FlowSpec) -> list[str]:
    return [f"{f.file}:{f.line} {f.message} — {f.hint}" for f in spec.errors]


PYPROJECT = """
[project]
name = "acme-flows"
dependencies = ["polars>=1", "google-cloud-storage ; python_version >= '3.10'"]

[project.optional-dependencies]
excel = ["openpyxl==3.1.2"]

[dependency-groups]
dev = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff"]

[tool.poetry.dependencies]
python = "^3.11"
boto3 = "^1.34"
"""


def test_every_declaration_source_of_the_repository_counts(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": PYPROJECT,
        "requirements.txt": "-r requirements/base.txt\nscrapy-like==2\n",
        "requirements/base.txt": "pendulum-like\n",
        "requirements-dev.txt": "hypothesis-like\n",
        "uv.lock": '[[package]]\nname = "Lxml-Like"\nversion = "5"\n',
        "poetry.lock": '[[package]]\nname = "arrow_like"\nversion = "1"\n',
    })
    declared = read_declared(tmp_path)
    assert declared.project == "acme-flows"
    for name in ("polars", "google-cloud-storage", "openpyxl", "pytest", "ruff", "boto3",
                 "scrapy-like", "pendulum-like", "hypothesis-like", "lxml-like", "arrow-like"):
        assert name in declared.names, name
    assert "python" not in declared.names
    assert declared.names["openpyxl"] == "pyproject.toml [project.optional-dependencies] excel"
    assert declared.target == "requirements-dev.txt" or declared.target == "requirements.txt"


def test_declared_but_uninstalled_packages_resolve_without_a_hand_kept_list(
        tmp_path: Path) -> None:
    spec = flat(tmp_path, "import polars\nfrom google.cloud import storage\n"
                          "import google.cloud.storage\nimport openpyxl\nimport boto3",
                **{"pyproject.toml": PYPROJECT})
    assert spec.valid, errors(spec)


def test_import_names_map_to_distributions_through_installed_metadata() -> None:
    """yaml is installed here, provided by PyYAML: the metadata says so, no table."""
    assert "pyyaml" in imports.installed_distributions("yaml")
    assert "yaml" not in imports.UNINSTALLED_ALIASES
    context = imports.ImportContext(declared=frozenset({"pyyaml"}))
    assert imports.resolve("yaml", context) == "declared"
    assert imports.resolve("bs4", imports.ImportContext(
        declared=frozenset({"beautifulsoup4"}))) == "declared"  # not installed: the table


def test_a_real_miss_names_the_file_that_would_declare_it(tmp_path: Path) -> None:
    spec = flat(tmp_path, "import surely_missing_pkg", **{"pyproject.toml": PYPROJECT})
    [message] = errors(spec)
    assert "pyproject.toml or the installed packages" in message
    assert message.endswith("add the distribution that provides surely_missing_pkg to "
                            "pyproject.toml [project.dependencies]")


def test_a_miss_names_the_module_as_written(tmp_path: Path) -> None:
    spec = flat(tmp_path, "import surely_missing_ns.connector",
                **{"pyproject.toml": PYPROJECT})
    [message] = errors(spec)
    assert "imports surely_missing_ns.connector, which is not" in message
    assert message.endswith("provides surely_missing_ns.connector to pyproject.toml "
                            "[project.dependencies]")


def test_a_miss_in_a_repository_with_requirements_names_them(tmp_path: Path) -> None:
    spec = flat(tmp_path, "import surely_missing_pkg", **{"requirements.txt": "requests\n"})
    [message] = errors(spec)
    assert "to requirements.txt" in message


def test_a_miss_with_nothing_declared_says_to_create_requirements(tmp_path: Path) -> None:
    [message] = errors(flat(tmp_path, "import surely_missing_pkg"))
    assert message.endswith("create requirements.txt listing the distribution that provides "
                            "surely_missing_pkg")


def test_folder_flows_use_their_own_requirements_then_the_repositorys(tmp_path: Path) -> None:
    write(tmp_path, {"flows/a/workflow.py": "import polars\nimport attrs_like\n" +
                     FLOW.format(name="a"),
                     "flows/a/requirements.txt": "attrs-like\n",
                     "flows/b/workflow.py": "import surely_missing_pkg\n" + FLOW.format(name="b"),
                     "pyproject.toml": PYPROJECT})
    specs = {s.folder: s for s in validate(tmp_path, discover(tmp_path), PYTHON_ONLY)}
    assert specs["a"].valid, errors(specs["a"])
    [message] = errors(specs["b"])
    assert "to pyproject.toml [project.dependencies]" in message


def test_sibling_modules_are_the_flows_own_files_and_are_checked_too(tmp_path: Path) -> None:
    spec = flat(tmp_path, "import helpers\nfrom pkg import tool",
                **{"flows/helpers.py": "import surely_missing_pkg\n",
                   "flows/pkg/__init__.py": "", "flows/pkg/tool.py": "import also_missing\n",
                   "flows/unrelated.py": "import not_checked_for_job\n"})
    assert sorted(f.file for f in spec.errors) == ["flows/helpers.py", "flows/pkg/tool.py"]


def test_a_helper_shared_by_many_flows_is_parsed_once(tmp_path: Path) -> None:
    files = {f"flows/job{n}.py": "import common\n" + FLOW.format(name=f"job{n}")
             for n in range(5)}
    write(tmp_path, {**files, "flows/common.py": "import json\n"})
    repo = Repository.read(tmp_path)
    specs = discover(tmp_path, DiscoveryOptions(layout="files", pattern="*.py"))
    from deploytasks.flows.validation import flow_findings

    assert all(not flow_findings(tmp_path, s, PYTHON_ONLY, repo) for s in specs)
    assert list(repo.parsed) == [str(tmp_path / "flows" / "common.py")]


def test_src_layout_packages_are_the_repositorys_own(tmp_path: Path) -> None:
    write(tmp_path, {"src/acme/__init__.py": "", "src/acme/jobs/__init__.py": "",
                     "src/acme/jobs/sync.py": "from acme.util import x\n" + FLOW.format(
                         name="sync"),
                     "src/acme/util.py": "x = 1\n"})
    options = DiscoveryOptions(flows_dir="nope", entrypoints=(
        __import__("deploytasks.flows.layouts", fromlist=["EntrypointOption"])
        .EntrypointOption("src/acme/jobs/sync.py", "sync"),))
    [spec] = validate(tmp_path, discover(tmp_path, options), PYTHON_ONLY)
    assert spec.valid, errors(spec)


@pytest.mark.parametrize("name", ["pyproject.toml", "uv.lock"])
def test_a_dependency_file_that_does_not_parse_is_a_warning_with_its_line(
        tmp_path: Path, name: str) -> None:
    spec = flat(tmp_path, "import json", **{name: "[project\nname = 1\n"})
    [warning] = [w for w in spec.warnings if w.file == name]
    assert warning.line == 1 and "is not valid TOML" in warning.message

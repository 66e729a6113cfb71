"""Which flow a file with several flows deploys, read from the file, never run.

The corpus under ``tests/resources/corpus`` holds the shapes real repositories use.
Each file is read in the guide's layout (``flows/<name>/workflow.py``) and in the
files layout (``flows/<name>.py``); both must single out the same flow by the same
rule, or name the candidates when nothing does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deploytasks.flows.discovery import DiscoveryOptions, FlowSpec, discover, discover_folder

CORPUS = Path(__file__).resolve().parents[1] / "resources" / "corpus"

# file → (entry function, rule), or None when no rule singles one out.
EXPECTED: dict[str, tuple[str, str] | None] = {
    "parent_subflows": ("etl", "uncalled"),
    "main_asyncio": ("main", "main-block"),
    "hook_flow": ("nightly_report", "uncalled"),
    "hook_via_function": ("sync_accounts", "uncalled"),
    "decorator_hook": ("ingest", "uncalled"),
    "if_branches": ("pipeline", "uncalled"),
    "called_elsewhere": None,
    "serve_main": ("hourly_pipeline", "main-block"),
    "main_function_indirect": ("report", "main-block"),
    "functional_form": ("daily", "uncalled"),
    "serve_many": None,
    "gather_subflows": ("score_all", "uncalled"),
    "with_options": ("tune", "uncalled"),
    "deploy_main": ("sales_sync", "main-block"),
    "single_flow": ("arithmetic", "only"),
    "main_runs_parent_and_child": ("parent", "main-block"),
}


def test_every_corpus_file_has_an_expectation() -> None:
    files = {p.stem for p in CORPUS.glob("*.py")} - {"called_elsewhere_runner"}
    assert files == set(EXPECTED)


def _chosen(spec: FlowSpec) -> tuple[str, str] | None:
    if not spec.valid:
        return None
    assert spec.function and spec.selected_by
    return spec.function, spec.selected_by


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_entry_flow_in_the_folders_layout(tmp_path: Path, stem: str) -> None:
    folder = tmp_path / "flows" / stem
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / f"{stem}.py", folder / "workflow.py")
    spec = discover_folder(tmp_path, folder, DiscoveryOptions())
    assert _chosen(spec) == EXPECTED[stem], [e.message for e in spec.errors]
    if EXPECTED[stem] is None:
        assert "none is selected for deployment" in spec.errors[0].message
        assert len(spec.candidates) >= 2
        assert all(f"{function} (name" in spec.errors[0].message
                   for function, _ in spec.candidates)


def test_entry_flows_in_the_files_layout(tmp_path: Path) -> None:
    """The whole corpus as one flat folder: the same choices, the runner module left out."""
    shutil.copytree(CORPUS, tmp_path / "flows", ignore=shutil.ignore_patterns("*.md"))
    specs = {s.folder: s for s in discover(tmp_path, DiscoveryOptions(layout="files",
                                                                      pattern="*.py"))}
    assert "called_elsewhere_runner" not in specs  # imports a flow, defines none: a helper
    assert {key: _chosen(spec) for key, spec in specs.items()} == EXPECTED


def test_json_keeps_one_entry_per_file_and_lists_the_candidates(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "parent_subflows.py", (tmp_path / "etl.py"))
    (tmp_path / "flows").mkdir()
    shutil.move(tmp_path / "etl.py", tmp_path / "flows" / "etl.py")
    [spec] = discover(tmp_path, DiscoveryOptions(layout="files", pattern="*.py"))
    data = spec.to_dict()
    assert (data["function"], data["selected_by"], data["layout"]) == ("etl", "uncalled",
                                                                       "files")
    assert [c["function"] for c in data["candidates"]] == ["extract", "transform", "load",
                                                           "etl"]


def test_configuration_still_wins_over_the_entry_rules(tmp_path: Path) -> None:
    folder = tmp_path / "flows" / "etl"
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / "parent_subflows.py", folder / "workflow.py")
    spec = discover_folder(tmp_path, folder, DiscoveryOptions(selected={"etl": "load"}))
    assert (spec.function, spec.selected_by) == ("load", "configured")


def test_flows_in_several_files_of_one_folder_are_not_guessed(tmp_path: Path) -> None:
    """The rules read one file; flows spread over files of a folder are named as candidates."""
    folder = tmp_path / "flows" / "multi"
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / "parent_subflows.py", folder / "a_flow.py")
    shutil.copy(CORPUS / "single_flow.py", folder / "b_flow.py")
    spec = discover_folder(tmp_path, folder, DiscoveryOptions(pattern="*_flow.py"))
    assert not spec.valid and "5 flows found" in spec.errors[0].message


def test_a_flow_that_calls_itself_is_still_uncalled(tmp_path: Path) -> None:
    folder = tmp_path / "flows" / "rec"
    folder.mkdir(parents=True)
    (folder / "workflow.py").write_text(textwrap.dedent("""
        from prefect import flow

        @flow
        def walk(depth: int = 3) -> int:
            return walk(depth - 1) if depth else 0

        @flow
        def step() -> None: ...

        @flow
        def run_all() -> None:
            step()
        """))
    assert _chosen(discover_folder(tmp_path, folder, DiscoveryOptions())) is None


def test_reading_the_corpus_runs_none_of_it(tmp_path: Path) -> None:
    """A file that would write a marker when run is read for its entry without running."""
    folder = tmp_path / "flows" / "marker"
    folder.mkdir(parents=True)
    source = (CORPUS / "main_asyncio.py").read_text() + (
        "\nopen(__file__ + '.RAN', 'w').close()\n")
    (folder / "workflow.py").write_text(source)
    spec = discover_folder(tmp_path, folder, DiscoveryOptions())
    assert spec.function == "main" and not (folder / "workflow.py.RAN").exists()
    subprocess.run([sys.executable, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())",
                    str(folder / "workflow.py")], check=True, timeout=60)
    assert not (folder / "workflow.py.RAN").exists()

"""Discovery reads flow folders with ``ast``: every decorator form, every bad input."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from deploytasks.errors import ConfigError, UsageError
from deploytasks.flows.discovery import (
    DiscoveryOptions,
    FlowSpec,
    discover,
    discover_folder,
    discover_one,
    function_node,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def flow_in(
    tmp_path: Path, source: str, folder: str = "demo", selected: dict[str, str] | None = None
) -> FlowSpec:
    """Discover one folder holding ``workflow.py`` with ``source``."""
    write(tmp_path / "flows" / folder / "workflow.py", source)
    options = DiscoveryOptions(selected=selected or {})
    return discover_folder(tmp_path, tmp_path / "flows" / folder, options)


def messages(spec: FlowSpec) -> str:
    return " | ".join(f.message for f in (*spec.errors, *spec.warnings))


# --- decorator forms ----------------------------------------------------------------------

DECORATOR_FORMS = {
    "bare": "from prefect import flow\n@flow\ndef my_flow(): ...",
    "called": "from prefect import flow\n@flow()\ndef my_flow(): ...",
    "module attribute": "import prefect\n@prefect.flow\ndef my_flow(): ...",
    "module attribute called": "import prefect\n@prefect.flow(retries=1)\ndef my_flow(): ...",
    "module alias": "import prefect as pf\n@pf.flow\ndef my_flow(): ...",
    "name alias": "from prefect import flow as f\n@f(log_prints=True)\ndef my_flow(): ...",
    "prefect.flows": "from prefect.flows import flow\n@flow\ndef my_flow(): ...",
    "import prefect.flows": "import prefect.flows\n@prefect.flows.flow\ndef my_flow(): ...",
    "from prefect import flows": "from prefect import flows\n@flows.flow\ndef my_flow(): ...",
    "star import": "from prefect import *\n@flow\ndef my_flow(): ...",
    "async": "from prefect import flow\n@flow\nasync def my_flow(): ...",
    "inside if": "from prefect import flow\nif True:\n    @flow\n    def my_flow(): ...",
    "inside try/else": (
        "try:\n    from prefect import flow\nexcept ImportError:\n    raise\n"
        "else:\n    @flow\n    def my_flow(): ..."
    ),
    "import inside if": (
        "import sys\nif sys.version_info >= (3, 10):\n    from prefect import flow\n"
        "@flow\ndef my_flow(): ..."
    ),
    "stacked decorators": (
        "import functools\nfrom prefect import flow\n@flow\n@functools.wraps(print)\n"
        "def my_flow(): ..."
    ),
    "functional": "from prefect import flow\ndef my_flow(): ...\nmy_flow = flow(my_flow)",
    "functional called": (
        "from prefect import flow\ndef my_flow(): ...\nmy_flow = flow(retries=2)(my_flow)"
    ),
}


@pytest.mark.parametrize("source", DECORATOR_FORMS.values(), ids=DECORATOR_FORMS.keys())
def test_every_decorator_form_is_recognised(tmp_path: Path, source: str) -> None:
    spec = flow_in(tmp_path, source)
    assert spec.valid, messages(spec)
    assert (spec.function, spec.name) == ("my_flow", "my-flow")
    assert spec.entrypoint == "flows/demo/workflow.py:my_flow"
    assert spec.is_async == ("async def" in source)


def test_functional_form_uses_the_assigned_name_as_entrypoint(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, """
        from prefect import flow
        def run_report(day: str) -> None:
            '''Make the report.'''
        report = flow(name="Report")(run_report)
        """)
    assert (spec.function, spec.name, spec.description) == ("report", "Report", "Make the report.")
    assert [p.name for p in spec.parameters] == ["day"]


def test_decorator_from_another_module_is_not_a_flow(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from mylib import flow\n@flow\ndef my_flow(): ...")
    assert not spec.valid
    assert "imported from 'mylib', not from prefect" in spec.errors[0].message


def test_a_file_without_flows_is_invalid(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import task\n@task\ndef step(): ...")
    assert not spec.valid
    assert spec.errors[0].message == "no @flow-decorated function"
    assert spec.errors[0].hint


def test_nested_function_flows_are_not_deployable(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\ndef outer():\n    @flow\n    def x(): ...")
    assert not spec.valid


# --- metadata, as Prefect would read it ------------------------------------------------


def test_metadata_from_decorator_and_signature(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, '''
        from typing import Any
        from prefect import flow

        @flow(name="RPA1ProcessingFlow", version="2.1", tags=["rpa", "daily"],
              description="From the decorator.")
        def process(a, /, path: str, limit: int = 10, *items: str, dry: bool = False,
                    mode: "str", **extra: Any) -> None:
            """Docstring loses to description=."""
        ''')
    assert spec.valid, messages(spec)
    assert spec.name == "RPA1ProcessingFlow"
    assert (spec.version, spec.tags) == ("2.1", ("rpa", "daily"))
    assert spec.description == "From the decorator."
    shown = [(p.name, p.kind, p.annotation, p.default, p.required) for p in spec.parameters]
    assert shown == [
        ("a", "positional_only", None, None, True),
        ("path", "positional_or_keyword", "str", None, True),
        ("limit", "positional_or_keyword", "int", "10", False),
        ("items", "var_positional", "str", None, False),
        ("dry", "keyword_only", "bool", "False", False),
        ("mode", "keyword_only", '"str"', None, True),  # as written
        ("extra", "var_keyword", "Any", None, False),
    ]
    assert spec.line == 6 and spec.line_range == (6, 8)  # the def, not the decorator


def test_name_and_description_match_prefect(tmp_path: Path) -> None:
    """The same source, read by us and built by Prefect itself, gives the same names."""
    from prefect import flow

    source = '''
        def sales_report_v2(x: int = 1):
            """
              Build the report.

                Indented detail.
            """

        def with_empty_name():
            """Doc."""
        '''
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(source), namespace)  # the test's own code, not repository code
    for function, decorator in (("sales_report_v2", "@flow"),
                                ("with_empty_name", '@flow(name="", description="")')):
        built: Any = flow(name="", description="")(namespace[function])
        spec = flow_in(tmp_path, "from prefect import flow\n" + textwrap.dedent(source).replace(
            f"def {function}", f"{decorator}\ndef {function}"), folder=function)
        assert (spec.name, spec.description) == (built.name, built.description)


def test_non_literal_decorator_arguments_warn(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, """
        from prefect import flow
        NAME = "x"
        NAME = "y"
        @flow(name=NAME, version=get_version(), tags=TAGS)
        def my_flow(): ...
        """)
    assert spec.valid
    assert spec.name == "my-flow"  # NAME is bound twice: not a constant
    assert len(spec.warnings) == 3
    assert all(w.line == 4 and "not a literal" in w.message for w in spec.warnings)


CONSTANTS = """
    from prefect import flow
    TEAM = "sales"
    VERSION: str = "1.2"
    {define}
    @flow(name={name}, version=VERSION, description=f"{{TEAM}} v{{2}}")
    def daily(): ...
    """


@pytest.mark.parametrize(("define", "name"), [
    ("FLOW_NAME = 'sales-daily'", "FLOW_NAME"),
    ("", "f'{TEAM}-daily'"),
    ("", "TEAM + '-daily'"),
    ("PREFIX = f'{TEAM}-'", "PREFIX + 'daily'"),
])
def test_decorator_arguments_may_name_the_files_constants(tmp_path: Path, define: str,
                                                          name: str) -> None:
    source = CONSTANTS.format(define=define, name=name)
    spec = flow_in(tmp_path, source)
    namespace: dict[str, Any] = {}
    exec(compile(textwrap.dedent(source), "flow.py", "exec"), namespace)  # Prefect's view
    built = namespace["daily"]
    assert (spec.name, spec.version, spec.description) == (
        built.name, built.version, built.description) == ("sales-daily", "1.2", "sales v2")
    assert spec.warnings == ()


def test_a_sum_too_deep_to_follow_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    deep = " + ".join(["'a'"] * 2500)  # parses, but deeper than Python's recursion limit
    spec = flow_in(tmp_path, f"from prefect import flow\nA = {deep}\n@flow(name=A)\n"
                             f"def my_flow(): ...\n")
    assert spec.valid and spec.name == "my-flow"
    assert any("name= is not a literal" in w.message for w in spec.warnings)


@pytest.mark.parametrize("rebinding", [
    "def rename():\n        global TEAM\n        TEAM = 'other'",
    "for TEAM in ('a', 'b'): pass",
    "from somewhere import TEAM",
    "TEAM += '-x'",
])
def test_a_name_bound_again_anywhere_is_not_a_constant(tmp_path: Path, rebinding: str) -> None:
    spec = flow_in(tmp_path, CONSTANTS.format(define=rebinding, name="f'{TEAM}-daily'"))
    assert spec.name == "daily"  # read as if not given, and said so
    assert any("name= is not a literal" in w.message for w in spec.warnings)


def test_wrong_literal_types_warn(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\n@flow(tags='a', version=[1])\n"
                             "def my_flow(): ...")
    assert spec.valid and spec.tags == () and spec.version is None
    assert len(spec.warnings) == 2


def test_name_with_characters_prefect_refuses(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\n@flow(name='a/b')\ndef my_flow(): ...")
    assert not spec.valid
    assert "Prefect refuses" in spec.errors[0].message


def test_function_node_gives_the_definition(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\nif True:\n    @flow\n"
                             "    def my_flow(a: int = 1): ...")
    node = function_node(tmp_path, spec)
    assert node is not None and node.name == "my_flow" and node.lineno == spec.line


# --- several flows in one file -------------------------------------------------------------

TWO_FLOWS = """
    from prefect import flow
    @flow(name="First Flow")
    def first(): ...
    @flow
    def second_one(): ...
    """


def test_two_flows_without_selection_list_the_candidates(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, TWO_FLOWS)
    assert not spec.valid
    message = spec.errors[0].message
    assert "first (name 'First Flow')" in message and "second_one (name 'second-one')" in message
    assert "flows.demo.flow" in (spec.errors[0].hint or "")
    assert spec.candidates == (("first", "First Flow"), ("second_one", "second-one"))


@pytest.mark.parametrize("selected", ["second_one", "second-one"])
def test_selection_by_function_or_flow_name(tmp_path: Path, selected: str) -> None:
    spec = flow_in(tmp_path, TWO_FLOWS, selected={"demo": selected})
    assert spec.valid and spec.function == "second_one"


def test_selection_that_matches_nothing(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, TWO_FLOWS, selected={"demo": "third"})
    assert not spec.valid and "'third', which matches none" in spec.errors[0].message


def test_same_flow_defined_in_both_branches_counts_once(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, """
        import os
        from prefect import flow
        if os.environ.get("X"):
            @flow
            def my_flow(): ...
        else:
            @flow
            def my_flow(): ...
        """)
    assert spec.valid and len(spec.warnings) == 1


# --- bad input -----------------------------------------------------------------------------


def test_decorated_class_is_an_error(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\n@flow\nclass Job:\n    pass")
    assert not spec.valid
    assert spec.errors[0].line == 3 and "decorates class Job" in spec.errors[0].message


def test_lambda_flow_is_an_error(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\nmy_flow = flow(lambda: 1)")
    assert not spec.valid
    assert spec.errors[0].line == 2 and "lambda" in spec.errors[0].message


def test_syntax_error_names_its_line(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\n\ndef broken(:\n    pass\n")
    assert not spec.valid
    error = spec.errors[0]
    assert error.message == "SyntaxError: invalid syntax (line 3)"
    assert (error.file, error.line) == ("flows/demo/workflow.py", 3)


def test_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "flows" / "demo" / "workflow.py"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"from prefect import flow\n# caf\xe9\n@flow\ndef f(): ...\n")
    spec = discover_folder(tmp_path, path.parent, DiscoveryOptions())
    assert not spec.valid
    assert "not UTF-8" in spec.errors[0].message and spec.errors[0].line == 2


def test_null_bytes_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "flows" / "demo" / "workflow.py"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x = 1\0\n")
    assert not discover_folder(tmp_path, path.parent, DiscoveryOptions()).valid


def test_five_megabyte_file_is_refused_quickly(tmp_path: Path) -> None:
    data = "from prefect import flow\n" + "DATA = [\n" + "    1234567890,\n" * 350_000 + "]\n"
    assert len(data) > 5_000_000
    started = time.perf_counter()
    spec = flow_in(tmp_path, data)
    assert time.perf_counter() - started < 1.0
    assert not spec.valid and "MB" in spec.errors[0].message


def test_empty_folder_is_reported_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "flows" / "empty").mkdir(parents=True)
    (tmp_path / "flows" / "no_workflow").mkdir()
    write(tmp_path / "flows" / "no_workflow" / "main.py", "print('hi')")
    specs = discover(tmp_path)
    assert [(s.folder, s.path, s.valid) for s in specs] == [
        ("empty", "flows/empty", False), ("no_workflow", "flows/no_workflow", False)]
    assert specs[0].errors[0].message == "no workflow.py in flows/empty"
    assert "discovery.exclude" in (specs[0].errors[0].hint or "")


def test_duplicate_flow_names_flag_both_folders(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        write(tmp_path / "flows" / folder / "workflow.py",
              "from prefect import flow\n@flow(name='Same')\ndef f(): ...")
    write(tmp_path / "flows" / "c" / "workflow.py", "from prefect import flow\n@flow\ndef f(): ...")
    specs = {s.folder: s for s in discover(tmp_path)}
    assert not specs["a"].valid and not specs["b"].valid and specs["c"].valid
    assert "also used by flows/b/workflow.py" in specs["a"].errors[0].message
    assert "also used by flows/a/workflow.py" in specs["b"].errors[0].message


def test_one_broken_flow_does_not_affect_another(tmp_path: Path) -> None:
    write(tmp_path / "flows" / "bad" / "workflow.py", "def (")
    write(tmp_path / "flows" / "ok" / "workflow.py", GOOD.format(n=1))
    specs = {s.folder: s for s in discover(tmp_path)}
    assert specs["ok"].valid and not specs["ok"].warnings and not specs["bad"].valid


# --- where discovery looks ---------------------------------------------------------------

GOOD = "from prefect import flow\n@flow\ndef f_{n}(): ...\n"


def test_skipped_folders(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    for name in (".hidden", "__pycache__", "node_modules", "build", "dist", "venv", ".venv",
                 "pkg.egg-info", "scratch_area", "real"):
        write(flows / name / "workflow.py", GOOD.format(n=name.strip(".").replace("-", "_")
                                                        .replace(".", "_")))
    write(flows / "myenv" / "pyvenv.cfg", "home = /usr/bin\n")
    write(flows / "notes.md", "not a folder")
    specs = discover(tmp_path, DiscoveryOptions(exclude=("scratch_*",)))
    assert [s.folder for s in specs] == ["real"]


def test_configurable_folder_and_pattern(tmp_path: Path) -> None:
    write(tmp_path / "pipelines" / "sales" / "sales_flow.py", GOOD.format(n=1))
    write(tmp_path / "pipelines" / "sales" / "helpers.py", "X = 1")
    specs = discover(tmp_path, DiscoveryOptions(flows_dir="pipelines", pattern="*_flow.py"))
    assert [(s.path, s.function) for s in specs] == [("pipelines/sales/sales_flow.py", "f_1")]
    assert specs[0].files.modules == ("pipelines/sales/helpers.py",)


def test_missing_flows_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="flows directory 'flows' not found"):
        discover(tmp_path)


def test_files_found_beside_the_flow(tmp_path: Path) -> None:
    folder = tmp_path / "flows" / "demo"
    for name in ("Dockerfile", "requirements.txt", ".env", ".env.example", ".env.prod",
                 "deployment.yaml", "flow-config.yaml", ".dockerignore", "util.py", "README.md"):
        write(folder / name, "")
    spec = flow_in(tmp_path, GOOD.format(n=1))
    files = spec.files
    assert files.dockerfile == "flows/demo/Dockerfile"
    assert files.requirements == "flows/demo/requirements.txt"
    assert files.env_files == ("flows/demo/.env", "flows/demo/.env.example", "flows/demo/.env.prod")
    assert files.config_files == ("flows/demo/deployment.yaml", "flows/demo/flow-config.yaml")
    assert files.dockerignore == "flows/demo/.dockerignore"
    assert files.modules == ("flows/demo/util.py",)


needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")


@needs_symlinks
def test_symlinked_folder_out_of_the_repository_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "workflow.py", GOOD.format(n=1))
    repo = tmp_path / "repo"
    (repo / "flows").mkdir(parents=True)
    (repo / "flows" / "escape").symlink_to(outside, target_is_directory=True)
    [spec] = discover(repo)
    assert not spec.valid and "outside the repository" in spec.errors[0].message
    assert spec.function is None


@needs_symlinks
def test_symlinked_flow_file_out_of_the_repository_is_not_read(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside.py", GOOD.format(n=1))
    repo = tmp_path / "repo"
    (repo / "flows" / "demo").mkdir(parents=True)
    (repo / "flows" / "demo" / "workflow.py").symlink_to(outside)
    [spec] = discover(repo)
    assert not spec.valid and "outside the repository" in spec.errors[0].message


@needs_symlinks
def test_symlink_loops_are_survived(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    write(flows / "ok" / "workflow.py", GOOD.format(n=1))
    (flows / "ok" / "again").symlink_to(flows / "ok", target_is_directory=True)
    (flows / "self").symlink_to(flows / "self")
    (flows / "inside").symlink_to(flows / "ok", target_is_directory=True)
    specs = {s.folder: s for s in discover(tmp_path)}
    assert specs["ok"].function == specs["inside"].function == "f_1"  # links inside are followed
    assert "also used by" in specs["ok"].errors[0].message  # ... and the same flow twice shows
    assert "self" not in specs  # a looping entry is neither a folder nor a file


# --- --flow targets ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["rpa1", "flows/rpa1", "flows/rpa1/workflow.py",
                                    "flows/rpa1/"])
def test_discover_one_by_folder_path_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    write(tmp_path / "flows" / "rpa1" / "workflow.py", GOOD.format(n=1))
    write(tmp_path / "flows" / "rpa2" / "workflow.py", GOOD.format(n=2))
    monkeypatch.chdir(tmp_path)
    spec = discover_one(tmp_path, target)
    assert (spec.folder, spec.function) == ("rpa1", "f_1")


def test_discover_one_still_checks_duplicate_names(tmp_path: Path) -> None:
    write(tmp_path / "flows" / "a" / "workflow.py", GOOD.format(n=1))
    write(tmp_path / "flows" / "b" / "workflow.py", GOOD.format(n=1))
    assert not discover_one(tmp_path, "a").valid


def test_discover_one_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    with pytest.raises(UsageError, match="no flow folder or flow file"):
        discover_one(tmp_path, "nope")


def test_discover_one_outside_the_repository_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "repo" / "flows").mkdir(parents=True)
    write(tmp_path / "elsewhere" / "workflow.py", GOOD.format(n=1))
    with pytest.raises(UsageError):
        discover_one(tmp_path / "repo", str(tmp_path / "elsewhere"))


def test_json_shape_of_a_spec(tmp_path: Path) -> None:
    spec = flow_in(tmp_path, "from prefect import flow\n@flow(version=x)\ndef f(a: int = 1): ...")
    data = spec.to_dict()
    assert {"folder", "name", "function", "path", "line", "valid", "errors", "warnings",
            "description", "parameters", "files", "version", "tags", "is_async"} <= set(data)
    assert set(data["warnings"][0]) == {"severity", "file", "line", "message", "hint"}
    assert data["parameters"][0] == {"name": "a", "kind": "positional_or_keyword",
                                     "annotation": "int", "default": "1", "required": False}


# --- many flows: the same result across processes ----------------------------------------


PARALLEL_SCRIPT = """
import json, sys
from pathlib import Path
from deploytasks.flows import discovery
from deploytasks.flows import parallel
from deploytasks.flows.validation import validate
parallel.PARALLEL_MIN_ITEMS = 2
root = Path(sys.argv[1])
assert parallel.workers(12) == 2, "the parallel path must be taken"
print(json.dumps([s.to_dict() for s in validate(root, discovery.discover(root))]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers: Linux only")
def test_parallel_discovery_matches_sequential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import subprocess

    from deploytasks.flows.validation import validate

    for n in range(12):
        write(tmp_path / "flows" / f"f{n:02d}" / "workflow.py",
              GOOD.format(n=n % 10) if n != 5 else "def (")
    monkeypatch.setenv("DEPLOYTASKS_WORKERS", "1")
    sequential = validate(tmp_path, discover(tmp_path))
    # The parallel path forks, so it only runs in a process with one thread: a fresh one.
    done = subprocess.run([sys.executable, "-c", PARALLEL_SCRIPT, str(tmp_path)],
                          env={**os.environ, "DEPLOYTASKS_WORKERS": "2"}, capture_output=True,
                          text=True, timeout=120, check=True)
    parallel = json.loads(done.stdout)
    assert parallel == json.loads(json.dumps([s.to_dict() for s in sequential]))
    assert [s["valid"] for s in parallel].count(False) == 5  # the syntax error + 2 × 2 duplicates

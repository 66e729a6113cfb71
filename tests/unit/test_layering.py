"""The layers: the core never imports the console; secrets have one home; renderers are typed.

Front ends (the ``tasks.py`` modules and the task bodies, ``taskrun``, the CLI,
the quickstart) render, so they import ``deploytasks.console``; every other module
is core and must not, neither at the top nor inside a function. ``api.py`` is a
front end that returns results: it may ask at the terminal (``console.prompt``)
and import nothing else of the console.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "deploytasks"
FRONT_ENDS = {"deploytasks.cli", "deploytasks.taskrun", "deploytasks.quickstart",
              "deploytasks.makefile_commands", "deploytasks.deploy.commands",
              "deploytasks.env.commands", "deploytasks.flows.commands",
              "deploytasks.images.commands", "deploytasks.images.readiness",
              "deploytasks.migrate.commands"}  # and every collection's tasks.py
API_MAY_IMPORT = {"deploytasks.console.prompt"}
NOT_IMPORTABLE = {"deploytasks.__main__"}  # runs the CLI when imported


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def core_modules() -> list[str]:
    return [name for name in modules() if not name.startswith("deploytasks.console")
            and name not in FRONT_ENDS and not name.endswith(".tasks")
            and name != "deploytasks.api"]


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (lazy imports included), with
    ``from package import module`` counted as ``package.module``."""
    known = set(modules())
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names} & known
    return names


def console_imports(path: Path) -> set[str]:
    return {name for name in imported(path)
            if name == "deploytasks.console" or name.startswith("deploytasks.console.")}


def test_the_scan_sees_console_imports() -> None:
    assert console_imports(PACKAGE / "deploy" / "commands.py") >= {"deploytasks.console",
                                                                   "deploytasks.console.deploy"}
    assert "deploytasks.console.prompt" in console_imports(PACKAGE / "deploy" / "tasks.py")


def test_no_core_module_imports_the_console() -> None:
    found = {name: sorted(console_imports(modules()[name])) for name in core_modules()}
    assert {name: used for name, used in found.items() if used} == {}
    assert {"deploytasks.config", "deploytasks.secrets", "deploytasks.service.deploying",
            "deploytasks.deploy.resolve", "deploytasks.deploy.writer"} <= set(found)


def test_the_api_builds_no_output() -> None:
    assert console_imports(PACKAGE / "api.py") <= API_MAY_IMPORT


def test_importing_every_core_module_loads_no_console() -> None:
    """At run time too: no core module reaches the console through another module."""
    names = [name for name in core_modules() if name not in NOT_IMPORTABLE]
    code = ("import importlib, json, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('deploytasks.'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "deploytasks.service.deploying" in loaded
    assert not {m for m in loaded if m.startswith("deploytasks.console")}


def test_secrets_import_neither_rich_nor_prefect_nor_the_console() -> None:
    code = ("import json, sys\nimport deploytasks.secrets\n"
            "print(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=PACKAGE.parent)
    loaded = set(json.loads(done.stdout))
    assert not {m for m in loaded if m.split(".")[0] in ("rich", "prefect", "pydantic")}
    assert "deploytasks.console" not in loaded


def test_the_mask_is_defined_once() -> None:
    """One ``MASK``, in ``deploytasks/secrets.py``; everything else uses it."""
    mask = '"' + "*" * 8 + '"'
    defined = [module_name(path) for path in PACKAGE.rglob("*.py")
               if mask in path.read_text(encoding="utf-8")]
    assert defined == ["deploytasks.secrets"]


def annotation_uses_any(annotation: ast.expr | None) -> bool:
    return annotation is not None and any(
        isinstance(node, ast.Name) and node.id == "Any" for node in ast.walk(annotation))


def test_renderers_take_typed_results() -> None:
    """No parameter of a console module is typed ``Any``: renderers take the real results."""
    untyped = []
    for path in sorted((PACKAGE / "console").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                untyped += [f"{path.name}:{node.lineno} {node.name}({a.arg})"
                            for a in arguments if annotation_uses_any(a.annotation)]
    assert untyped == []


def test_no_import_cycle_between_commands_and_their_renderer() -> None:
    """The renderer knows the service's result types, never the command bodies."""
    renderer = console_imports(PACKAGE / "console" / "deploy.py") | \
        imported(PACKAGE / "console" / "deploy.py")
    assert not {name for name in renderer if name.startswith("deploytasks.deploy.commands")}


def test_listing_and_completing_tasks_load_no_service_and_no_console() -> None:
    """``invoke --list`` and every TAB press import the namespace only."""
    code = "import json, sys\nimport tasks\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=PACKAGE.parent)
    loaded = set(json.loads(done.stdout))
    assert "deploytasks.deploy.tasks" in loaded
    assert not {m for m in loaded if m.startswith(("deploytasks.service", "deploytasks.console",
                                                   "deploytasks.secrets"))}

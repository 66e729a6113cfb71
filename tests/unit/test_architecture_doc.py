"""docs/architecture.md names every module of the package, and only modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "deploytasks"
DOC = REPO / "docs" / "architecture.md"
SECTION = re.compile(r"^`(\w+)/` ")
MODULE = re.compile(r"`(\w+(?:/\w+)*\.py)`")


def documented() -> set[str]:
    """The modules the page's module list names, relative to the package: a bullet's
    names are relative to its section (``deploy/``); ``rules/x.py`` names a sub-module.
    One line speaks for every sub-package's ``__init__.py``."""
    text = DOC.read_text(encoding="utf-8").split("## The modules, one line each", 1)[1]
    names, section = set(), ""
    for line in text.splitlines():
        heading = SECTION.match(line)
        if heading:
            section = heading.group(1) + "/"
        elif line.startswith(("- ", "  ")):
            names.update(section + name for name in MODULE.findall(line))
    if "Each sub-package's `__init__.py` says what the package is." in text:
        names.update(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*/__init__.py"))
    return names


def modules() -> set[str]:
    return {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
            if "__pycache__" not in p.parts}


def test_every_module_is_on_the_architecture_page() -> None:
    missing = sorted(modules() - documented())
    assert not missing, f"add a line for each to docs/architecture.md: {missing}"


def test_the_architecture_page_names_no_module_that_is_gone() -> None:
    gone = sorted(documented() - modules())
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"


def test_the_readme_links_the_architecture_page() -> None:
    assert "(docs/architecture.md)" in (REPO / "README.md").read_text(encoding="utf-8")

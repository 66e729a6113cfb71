"""What every flow of one validation run shares, read once: the repository's top-level
modules, its declared dependencies, and the files and folders already read.

A helper module imported by a thousand flows of the files layout is parsed once, a
folder listed once, a shared Dockerfile checked once. One ``Repository`` per run
(``Repository.read``); forked workers each fill their own copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from deploytasks.findings import Finding
from deploytasks.flows.dependencies import Declared, read_declared
from deploytasks.flows.files import Listing, list_folder
from deploytasks.flows.imports import ImportRef


@dataclass
class Repository:
    """The repository's modules and declared dependencies, and what this run has read."""

    root: Path
    names: frozenset[str] = frozenset()
    declared: Declared = field(default_factory=Declared)
    parsed: dict[str, tuple[list[ImportRef], list[Finding]]] = field(default_factory=dict)
    listings: dict[str, Listing] = field(default_factory=dict)
    modules: dict[str, frozenset[str]] = field(default_factory=dict)
    dockerfiles: dict[str, list[Finding]] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path) -> Repository:
        """The repository's top-level modules (also under ``src/``) and declared dependencies."""
        names = module_names(list_folder(root))
        if (root / "src").is_dir():
            names |= module_names(list_folder(root / "src"))
        return cls(root, names, read_declared(root))

    def listing(self, folder: Path) -> Listing:
        """One folder's listing, read once per run."""
        key = os.fspath(folder)
        if key not in self.listings:
            self.listings[key] = list_folder(folder)
        return self.listings[key]

    def module_names(self, folder: Path) -> frozenset[str]:
        """The importable names of one folder, worked out once per run."""
        key = os.fspath(folder)
        if key not in self.modules:
            self.modules[key] = module_names(self.listing(folder))
        return self.modules[key]


def module_names(listing: Listing) -> frozenset[str]:
    """Top-level importable names in a folder: ``x.py`` files and sub-folders."""
    stems = {name[:-3] for name in listing.files if name.endswith(".py")}
    return frozenset(stems | {name for name in listing.dirs if name.isidentifier()})

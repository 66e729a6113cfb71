"""Reading repository files safely: never outside the repository, never too large, never run.

Listing folders (symlink loops survived), UTF-8 text with a finding for what cannot be
read, and Python parsed with ``ast`` only. Repo-relative paths are ``paths.relative``.
"""

from __future__ import annotations

import ast
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from deploytasks.findings import Finding
from deploytasks.paths import relative

__all__ = ["MAX_SOURCE_BYTES", "SKIPPED_DIRS", "Listing", "is_dir", "list_folder", "parse_python",
           "parse_source", "read_text", "relative", "skipped_dir", "unsafe_path"]

MAX_SOURCE_BYTES = 1_000_000  # a flow file this large is data, not code; parsing it takes seconds
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist", "venv", "site-packages"})


@dataclass(frozen=True)
class Listing:
    """The names in one folder: files and folders (symlinks followed), sorted."""

    files: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()


def list_folder(folder: Path) -> Listing:
    """One ``scandir`` of a folder; unreadable entries (broken links, loops) are left out."""
    files: list[str] = []
    dirs: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_dir(entry):
                    dirs.append(entry.name)
                elif _is_file(entry):
                    files.append(entry.name)
    except OSError:
        return Listing()
    return Listing(tuple(sorted(files)), tuple(sorted(dirs)))


def is_dir(entry: os.DirEntry[str]) -> bool:
    """``entry.is_dir()`` that answers False for symlink loops instead of raising."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def skipped_dir(entry: os.DirEntry[str], exclude: Sequence[str] = ()) -> bool:
    """Folders that never hold flow code: hidden, caches, builds, virtualenvs, excluded."""
    name = entry.name
    return (
        name.startswith(".") or name in SKIPPED_DIRS or name.endswith(".egg-info")
        or any(fnmatchcase(name, pattern) for pattern in exclude)
        or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
    )


def unsafe_path(path: Path, root: Path) -> Finding | None:
    """Why ``path`` must not be read (a symlink out of the repository, a loop), or None."""
    if not os.path.islink(path):
        return None
    rel = relative(path, root)
    try:
        os.stat(path)
    except OSError as error:
        return Finding.error(rel, None, f"{rel} is a broken or looping symlink ({error.strerror})",
                             "point the symlink at a file inside the repository, or remove it")
    real, base = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, base]) != base:
        return Finding.error(rel, None, f"{rel} is a symlink to {real}, outside the repository",
                             "copy the file into the repository; deploytasks never reads "
                             "outside it")
    return None


def read_text(path: Path, root: Path) -> tuple[str | None, Finding | None]:
    """A repository file as UTF-8 text, or the finding that says why it cannot be read."""
    rel = relative(path, root)
    unsafe = unsafe_path(path, root)
    if unsafe:
        return None, unsafe
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_SOURCE_BYTES:
                return None, Finding.error(
                    rel, None, f"{rel} is {size / 1e6:.1f} MB; files over 1 MB are not read",
                    "keep data out of the code: load it from a data file at run time",
                )
            data = handle.read()
    except OSError as error:
        return None, Finding.error(rel, None, f"cannot read {rel}: {error.strerror}",
                                   "check the file's permissions")
    return _decode(data, rel)


def _decode(data: bytes, rel: str) -> tuple[str | None, Finding | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, Finding.error(
            rel, line, f"{rel} is not UTF-8 (byte 0x{data[error.start]:02x} on line {line})",
            "save the file as UTF-8",
        )


def parse_python(path: Path, root: Path) -> tuple[ast.Module | None, Finding | None]:
    """The module's AST (no code runs), or the finding that says why it cannot be parsed."""
    _, tree, problem = parse_source(path, root)
    return tree, problem


def parse_source(path: Path, root: Path, needle: str | None = None
                 ) -> tuple[str, ast.Module | None, Finding | None]:
    """The file's text and AST, or the finding that says why it cannot be parsed.

    With ``needle``, a text without it is not parsed (no AST, no finding): a file that
    never says "flow" cannot define one."""
    text, problem = read_text(path, root)
    if text is None:
        return "", None, problem
    if needle is not None and needle not in text:
        return text, None, None
    rel = relative(path, root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are not ours to print
            return text, ast.parse(text, filename=rel), None
    except SyntaxError as error:
        return text, None, Finding.error(
            rel, error.lineno, f"{type(error).__name__}: {error.msg} (line {error.lineno})",
            f"fix the syntax; 'python -m py_compile {rel}' shows the same error without running it",
        )
    except (ValueError, RecursionError, MemoryError) as error:
        return text, None, Finding.error(rel, None, f"cannot parse {rel}: {error}",
                                         "make the file plain Python source")



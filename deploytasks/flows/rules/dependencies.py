"""Python dependencies: every import of a flow's own files resolves.

To the flow's own files first, then to a declared dependency (the flow folder's
``requirements.txt``, then what the repository declares once: ``dependencies``), then
to what is installed (``imports`` decides where each one comes from). Read with
``ast``, never imported; what every flow of a run shares is read once (``repository``).
Under Docker, an import only installed here is a warning: the image may lack it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from deploytasks.findings import WARNING, Finding
from deploytasks.flows import imports
from deploytasks.flows.dependencies import Declared
from deploytasks.flows.files import (
    is_dir,
    parse_python,
    read_text,
    relative,
    skipped_dir,
    unsafe_path,
)
from deploytasks.flows.imports import ImportRef
from deploytasks.flows.model import FlowSpec
from deploytasks.flows.repository import Repository

MAX_MODULES = 500  # per flow folder; vendored trees beyond this are not worth reading


def check_dependencies(
    root: Path, spec: FlowSpec, docker: bool, repo: Repository | frozenset[str] | None = None
) -> list[Finding]:
    """Every import of the flow's own files resolves: to those files, then to a declared
    dependency (the flow's requirements, then the repository's), then to what is installed.
    Under Docker, an import only installed here is a warning: the image may lack it."""
    if not isinstance(repo, Repository):
        repo = Repository(root, repo or frozenset())
    folder = root / spec.directory
    names, findings = _requirements(root, spec.files.requirements)
    findings += repo.declared.problems
    context = imports.ImportContext(
        local_names=_local_names(root, spec, repo), repo_names=repo.names,
        requirements=frozenset(names), declared=frozenset(repo.declared.names),
    )
    declares = bool(spec.files.requirements or repo.declared.files)
    image_check = docker and spec.files.dockerfile is not None and declares
    modules, walk_findings = _own_modules(root, spec, repo)
    findings += walk_findings
    for path in modules:
        rel = relative(path, root)
        refs = list(spec.imports) if rel == spec.path else _parse_imports(root, path, findings,
                                                                          repo)
        findings += _import_findings(rel, path, folder, refs, context, spec, repo,
                                     bool(image_check))
    return findings


def _local_names(root: Path, spec: FlowSpec, repo: Repository) -> frozenset[str]:
    """Modules the flow imports as its own: its folder's (or its file's folder's), and the
    packages its file sits in (``src/pkg/sub/flow.py`` may import ``pkg``)."""
    folder = root / spec.directory
    names = repo.module_names(folder)
    if spec.layout == "folders" or not (folder / "__init__.py").is_file():
        return names
    packages = set()
    current = folder
    while (current / "__init__.py").is_file() and current != root:
        packages.add(current.name)
        current = current.parent
    return names | packages


def _own_modules(root: Path, spec: FlowSpec, repo: Repository) -> tuple[list[Path], list[Finding]]:
    """The flow's own Python files: its whole folder (folders layout), else its file and
    the sibling modules it imports."""
    if spec.layout == "folders":
        modules, findings = module_files(root, root / spec.directory)
        if spec.function and root / spec.path not in modules:
            modules.insert(0, root / spec.path)
        return modules, findings
    paths, findings = [root / spec.path], []
    for rel in spec.files.modules:
        path = root / rel
        if path.is_dir():
            found, more = module_files(root, path)
            paths += found
            findings += more
        else:
            paths.append(path)
    return paths, findings


def _parse_imports(root: Path, path: Path, findings: list[Finding],
                   repo: Repository | None = None) -> list[ImportRef]:
    key = os.fspath(path)
    if repo is not None and key in repo.parsed:
        refs, found = repo.parsed[key]
        findings += found
        return refs
    tree, problem = parse_python(path, root)
    found = [problem] if problem else []
    refs = imports.collect_imports(tree) if tree else []
    if repo is not None:
        repo.parsed[key] = (refs, found)
    findings += found
    return refs


def _import_findings(
    rel: str, path: Path, folder: Path, refs: list[ImportRef], context: imports.ImportContext,
    spec: FlowSpec, repo: Repository, image_check: bool,
) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for ref in refs:
        if ref.level:
            findings += _relative_import(rel, path, folder, ref)
            continue
        modules = [f"{ref.module}.{name}" for name in ref.names if name != "*"] + [ref.module]
        if ref.module in seen and not ref.names:
            continue
        seen.add(ref.module)
        where = next((found for module in modules
                      if (found := imports.resolve(module, context)) != "missing"), "missing")
        if where == "missing":
            findings.append(_missing_import(rel, ref, spec, repo.declared))
        elif where == "installed" and image_check and imports.missing_from_image(ref.top, context):
            files = _declaring_files(spec, repo.declared)
            findings.append(Finding.warning(
                rel, ref.line, f"{ref.top} is installed here but not declared in "
                f"{files}, so the Docker image may lack it",
                f"add {_distributions(ref.top)} to {_target(spec, repo.declared)}",
            ))
    return findings


def _declaring_files(spec: FlowSpec, declared: Declared) -> str:
    files = [spec.files.requirements] if spec.files.requirements else []
    return ", ".join(files + list(declared.files)) or "any requirements file"


def _target(spec: FlowSpec, declared: Declared) -> str:
    """The file a new dependency of this flow belongs in."""
    if spec.files.requirements:
        return spec.files.requirements
    if declared.target:
        return declared.target
    if spec.layout == "folders":
        return f"{spec.directory}/requirements.txt"
    return "requirements.txt"


def _distributions(top: str) -> str:
    return " or ".join(sorted(imports.installed_distributions(top))) or top


def _missing_import(rel: str, ref: ImportRef, spec: FlowSpec,
                    declared: Declared | None = None) -> Finding:
    declared = declared or Declared()
    target = _target(spec, declared)
    checked = ", ".join([*([spec.files.requirements] if spec.files.requirements else []),
                         *declared.files]) or (
        f"{spec.directory}/requirements.txt" if spec.layout == "folders" else "requirements.txt")
    own = "the flow folder" if spec.layout == "folders" else "the flow's files"
    module = ref.module  # as written: snowflake.connector says more than snowflake
    message = (f"imports {module}, which is not in the standard library, {own}, "
               f"{checked} or the installed packages")
    if ref.optional:
        return Finding.warning(rel, ref.line, f"optional import: {message}",
                               f"add it to {target} if the flow should use it")
    exists = bool(spec.files.requirements or declared.target)
    verb = "add the distribution that provides" if exists else "create"
    if exists:
        return Finding.error(rel, ref.line, message, f"{verb} {module} to {target}")
    return Finding.error(rel, ref.line, message,
                         f"create {target} listing the distribution that provides {module}")


def _relative_import(rel: str, path: Path, folder: Path, ref: ImportRef) -> list[Finding]:
    """``from .x import y`` must find ``x`` beside the importing file (or its parents)."""
    base = path.parent
    for _ in range(ref.level - 1):
        base = base.parent
    targets = [ref.module.partition(".")[0]] if ref.module else list(ref.names)
    if not ref.module and (base / "__init__.py").is_file():
        return []  # the names may be attributes of the package
    missing = [t for t in targets if t != "*" and not (
        (base / f"{t}.py").is_file() or (base / t).is_dir())]
    if not missing or not base.is_relative_to(folder.parent):
        return []
    dots = "." * ref.level
    return [Finding.error(
        rel, ref.line, f"relative import from {dots}{ref.module} finds no module "
        f"{', '.join(missing)} in {base.name}/", "create the module, or fix the import",
    )]


def module_files(root: Path, folder: Path) -> tuple[list[Path], list[Finding]]:
    """The flow folder's ``.py`` files, recursively; safe against symlink loops and escapes."""
    found: list[Path] = []
    findings: list[Finding] = []
    seen: set[tuple[int, int]] = set()
    stack = [folder]
    while stack and len(found) <= MAX_MODULES:
        current = stack.pop()
        try:
            info = os.stat(current)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        stack += _scan_modules(root, current, found, findings)
    if len(found) > MAX_MODULES:
        findings.append(Finding.warning(
            relative(folder, root), None, f"more than {MAX_MODULES} Python files; the rest "
            "are not checked", "exclude vendored code from the flow folder",
        ))
        found = sorted(found)[:MAX_MODULES]
    return sorted(found), findings


def _scan_modules(
    root: Path, current: Path, found: list[Path], findings: list[Finding]
) -> list[Path]:
    subfolders: list[Path] = []
    try:
        entries = list(os.scandir(current))
    except OSError:
        return []
    for entry in entries:
        path = Path(entry.path)
        unsafe = unsafe_path(path, root) if entry.is_symlink() else None
        if unsafe:
            findings.append(dataclasses.replace(unsafe, severity=WARNING))
        elif is_dir(entry):
            subfolders += [] if skipped_dir(entry) else [path]
        elif entry.name.endswith(".py"):
            found.append(path)
    return subfolders


def _requirements(root: Path, rel: str | None) -> tuple[set[str], list[Finding]]:
    """Canonical names a requirements file lists, following ``-r`` inside the repository."""
    names: set[str] = set()
    findings: list[Finding] = []
    pending: list[Path] = [root / rel] if rel else []
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        key = os.path.realpath(path) if seen else os.fspath(path)  # realpath only for -r files
        if key in seen:
            continue
        seen.add(key)
        text, problem = _read_inside(path, root) if len(seen) > 1 else read_text(path, root)
        if text is None:
            findings += [problem] if problem else []
            continue
        parsed = imports.parse_requirements(text)
        names |= parsed.names
        file = relative(path, root)
        findings += [dataclasses.replace(p, file=file) for p in parsed.problems]
        pending += [Path(os.path.normpath(path.parent / include))
                    for _, include in parsed.includes]
    return names, findings


def _read_inside(path: Path, root: Path) -> tuple[str | None, Finding | None]:
    """``read_text`` for a path that came from a file's content (``-r ../x.txt``)."""
    if not path.is_relative_to(root):
        return None, Finding.error(str(path), None, f"{path} is outside the repository",
                                   "keep included requirements files inside the repository")
    if not path.is_file():
        rel = relative(path, root)
        return None, Finding.error(rel, None, f"{rel} (included with -r) does not exist",
                                   "fix the -r path; it is relative to the including file")
    return read_text(path, root)

"""Read a ``prefect.yaml`` and turn its deployments into deploytasks settings.

Each deployment field has a handler in ``DEPLOYMENT_FIELDS`` (and each top-level
section one in ``PROJECT_FIELDS``): it copies what deploytasks can express into the
flow's settings and reports the rest as *not carried*, with the file and line. A
field with no handler is reported too, so a setting is never dropped silently; to
carry a new setting, add a handler. YAML anchors and merge keys are resolved (the
file is read like the configuration); ``{{ … }}`` templating is not, since Prefect
fills it in at deploy time from step outputs, variables and blocks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from deploytasks.yamlfile import KeyPath

TEMPLATE_RE = re.compile(r"{{.*?}}", re.S)
STEP_PREFIX = "prefect.deployments.steps."
MISSING = object()


@dataclass(frozen=True)
class NotCarried:
    """A prefect.yaml setting deploytasks does not take over, and why."""

    file: str
    line: int | None
    deployment: str | None  # None: a project-wide section
    field: str
    reason: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "deployment": self.deployment,
                "field": self.field, "reason": self.reason}


@dataclass
class Deployment:
    """One prefect.yaml deployment, mapped: its flow settings and what it runs on."""

    name: str
    entrypoint: str  # repo-relative path:function
    settings: dict[str, Any] = field(default_factory=dict)  # flows.<key> settings
    pool: str | None = None
    kind: str = "python"
    key: str = ""  # assigned when mapped onto the repository
    explicit: bool = True  # needs a discovery.entrypoints entry


@dataclass
class Project:
    """What a prefect.yaml holds, mapped, with everything that was not carried."""

    file: str
    deployments: list[Deployment] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # the ``source:`` settings
    not_carried: list[NotCarried] = field(default_factory=list)
    skipped: list[NotCarried] = field(default_factory=list)  # deployments not imported at all


@dataclass
class Context:
    """What a handler needs: the file's lines, where the field is, where to report."""

    project: Project
    lines: Mapping[KeyPath, int]
    path: KeyPath
    deployment: str | None
    settings: dict[str, Any]
    target: Deployment | None = None
    root: Path = Path(".")

    def line(self, *more: str) -> int | None:
        """The line of the field: its key's, else its first key's (a list item), else the
        nearest parent's."""
        full = (*self.path, *more)
        if full in self.lines:
            return self.lines[full]
        inside = [line for path, line in self.lines.items() if path[:len(full)] == full]
        if inside:
            return min(inside)
        for end in range(len(full) - 1, 0, -1):
            if full[:end] in self.lines:
                return self.lines[full[:end]]
        return None

    def skip(self, name: str, reason: str, *more: str) -> None:
        """Report ``name`` as not carried."""
        self.project.not_carried.append(NotCarried(
            self.project.file, self.line(*more), self.deployment, name, reason))

    def plain(self, value: Any, name: str, *more: str) -> Any:
        """``value`` without its templated parts (each reported); MISSING when all is."""
        template = TEMPLATE_RE.search(value) if isinstance(value, str) else None
        if template:
            self.skip(name, f"{template.group(0)} is Prefect templating, resolved at deploy "
                      "time; set the value in the configuration", *more)
            return MISSING
        if isinstance(value, dict):
            kept = {k: self.plain(v, f"{name}.{k}", *more, str(k)) for k, v in value.items()}
            return {k: v for k, v in kept.items() if v is not MISSING}
        if isinstance(value, list):
            items = [self.plain(v, f"{name}[{i}]", *more, str(i)) for i, v in enumerate(value)]
            return [v for v in items if v is not MISSING]
        return value


Handler = Callable[[Any, Context], None]


def _copy(setting: str) -> Handler:
    def handler(value: Any, ctx: Context) -> None:
        value = ctx.plain(value, setting)
        if value is not MISSING and value is not None:
            ctx.settings[setting] = value
    return handler


def _not_carried(reason: str) -> Handler:
    def handler(value: Any, ctx: Context) -> None:
        if value not in (None, [], {}, ""):
            ctx.skip(ctx.path[-1], reason)
    return handler


def _tags(value: Any, ctx: Context) -> None:
    if isinstance(value, str):
        ctx.skip("tags", "tags as one string (templating) cannot be read; list them")
        return
    tags = ctx.plain(value or [], "tags")
    ctx.settings["tags"] = [str(tag) for tag in tags]


def _schedules(value: Any, ctx: Context) -> None:
    items = value if isinstance(value, list) else [value] if value else []
    schedules = []
    for index, item in enumerate(items):
        parts = (str(index),) if isinstance(value, list) else ()
        schedule = _schedule(item, ctx, parts)
        if schedule is not None:
            schedules.append(schedule)
    ctx.settings.setdefault("schedules", []).extend(schedules)


SCHEDULE_EXTRAS = {
    "replaces": "renaming a slug is not a deploytasks setting: the schedule with the new "
                "slug replaces the old one at the next deploy",
    "max_active_runs": "not a deploytasks setting", "catchup": "not a deploytasks setting",
}
CARRIED_SCHEDULE_KEYS = ("parameters", "slug", "anchor_date", "day_or")  # as they are


def _schedule(item: Any, ctx: Context, parts: tuple[str, ...]) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        ctx.skip("schedules", "a schedule must be a mapping with cron, interval or rrule", *parts)
        return None
    item = ctx.plain(item, "schedules", *parts)
    kinds = [k for k in ("cron", "interval", "rrule") if item.get(k) is not None]
    if len(kinds) != 1:
        ctx.skip("schedules", "a schedule needs exactly one of cron, interval or rrule", *parts)
        return None
    schedule: dict[str, Any] = {kinds[0]: item[kinds[0]]}
    if kinds[0] == "interval" and not isinstance(item["interval"], (int, float)):
        ctx.skip("schedules.interval", f"interval {item['interval']!r} is not a number of "
                 "seconds", *parts, "interval")
        return None
    if item.get("timezone"):
        schedule["timezone"] = item["timezone"]
    active = item.get("active", True)  # Prefect's default; deploytasks' depends on the env
    schedule["active"] = active if isinstance(active, bool) else True
    schedule.update({key: _plain_date(item[key]) for key in CARRIED_SCHEDULE_KEYS
                     if item.get(key) not in (None, {}, "")})
    for extra, reason in SCHEDULE_EXTRAS.items():
        if item.get(extra) not in (None, {}, [], ""):
            ctx.skip(f"schedules.{extra}", reason, *parts, extra)
    for other in sorted(set(item) - {"cron", "interval", "rrule", "timezone", "active",
                                     *CARRIED_SCHEDULE_KEYS, *SCHEDULE_EXTRAS}):
        ctx.skip(f"schedules.{other}", "not a schedule setting deploytasks knows", *parts, other)
    return schedule


def _plain_date(value: Any) -> Any:
    """A YAML timestamp (``anchor_date: 2026-01-01T00:00:00``) as the text it was."""
    return value.isoformat() if isinstance(value, date) else value


def _work_pool(value: Any, ctx: Context) -> None:
    if not isinstance(value, dict):
        return
    raw = dict(value.get("job_variables") or {})
    if "image" in raw:  # an image to run in: a docker deployment, whose image we build
        raw.pop("image")
        if ctx.target is not None:
            ctx.target.kind = "docker"
        ctx.skip("work_pool.job_variables.image", "deploytasks builds and pins the image "
                 "itself (invoke images.build); the docker deployment runs it",
                 "job_variables", "image")
    pool = ctx.plain({**value, "job_variables": raw}, "work_pool")
    if ctx.target is not None:
        ctx.target.pool = pool.get("name")
    if pool.get("work_queue_name"):
        ctx.settings["work_queue"] = pool["work_queue_name"]
    variables = dict(pool.get("job_variables") or {})
    if variables:
        ctx.settings["job_variables"] = variables
    for other in sorted(set(pool) - {"name", "work_queue_name", "job_variables"}):
        ctx.skip(f"work_pool.{other}", "not a work pool setting deploytasks knows", other)


CONCURRENCY_KEYS = ("limit", "collision_strategy", "grace_period_seconds")


def _concurrency(value: Any, ctx: Context) -> None:
    """An integer, or ``{limit, collision_strategy, grace_period_seconds}``: carried as it is
    (deploytasks takes the same shapes)."""
    value = ctx.plain(value, "concurrency_limit")
    if isinstance(value, int) and not isinstance(value, bool):
        ctx.settings["concurrency_limit"] = value
        return
    if isinstance(value, dict):
        carried = {key: value[key] for key in CONCURRENCY_KEYS if value.get(key) is not None}
        if set(carried) == {"limit"}:
            ctx.settings["concurrency_limit"] = carried["limit"]
        elif carried:
            ctx.settings["concurrency_limit"] = carried
        for option in sorted(set(value) - set(CONCURRENCY_KEYS)):
            ctx.skip(f"concurrency_limit.{option}", "not a concurrency setting deploytasks "
                     "knows (limit, collision_strategy, grace_period_seconds)", option)


def _paused(value: Any, ctx: Context) -> None:
    if isinstance(value, bool):
        ctx.settings["paused"] = value


def _triggers(value: Any, ctx: Context) -> None:
    """prefect.yaml's trigger mappings, carried as they are: ``{{ event }}`` templates in a
    triggered run's parameters are the server's to render, not deploy-time templating."""
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        if value:
            ctx.settings["triggers"] = value
    elif value not in (None, [], {}, ""):
        ctx.skip("triggers", "not a list of trigger mappings")


def _steps(value: Any, ctx: Context) -> None:
    if value:
        ctx.skip(ctx.path[-1], f"per-deployment {ctx.path[-1]} steps are not carried: "
                 "deploytasks builds images itself and sets the pull step from source:")


DEPLOYMENT_FIELDS: dict[str, Handler] = {
    "description": _copy("description"),
    "tags": _tags,
    "parameters": _copy("parameters"),
    "schedules": _schedules,
    "schedule": _schedules,
    "work_pool": _work_pool,
    "concurrency_limit": _concurrency,
    "enforce_parameter_schema": _copy("enforce_parameter_schema"),
    "version": _not_carried("deploytasks sets the version from git"),
    "version_type": _not_carried("version info is not a deploytasks setting yet"),
    "paused": _paused,
    "triggers": _triggers,
    "sla": _not_carried("SLAs are not a deploytasks setting yet"),
    "flow_name": _not_carried("deploytasks reads the flow's name from its file"),
    "build": _steps, "push": _steps, "pull": _steps,
}
STRUCTURAL = frozenset({"name", "entrypoint"})


def map_deployment(project: Project, data: Any, index: int, lines: Mapping[KeyPath, int],
                   root: Path, base: str) -> Deployment | None:
    """One deployment's settings; None (reported in ``skipped``) when it cannot be imported."""
    path = ("deployments", str(index))
    name = data.get("name") if isinstance(data, dict) else None
    ctx = Context(project, lines, path, name if isinstance(name, str) else None, {}, root=root)
    problem = _unusable(data, name, root, base)
    if problem:
        project.skipped.append(NotCarried(project.file, ctx.line(), ctx.deployment,
                                          "deployment", problem))
        return None
    deployment = Deployment(str(name), entrypoint_in_repo(root, base, data["entrypoint"]) or "")
    ctx.settings, ctx.target = deployment.settings, deployment
    deployment.settings["tags"] = []  # exactly the deployment's tags, not the defaults'
    for key, value in data.items():
        if key in STRUCTURAL:
            continue
        handler = DEPLOYMENT_FIELDS.get(key)
        sub = Context(project, lines, (*path, key), ctx.deployment, deployment.settings,
                      deployment, root)
        if handler is None:
            sub.skip(key, "not a deployment setting deploytasks knows")
        else:
            handler(value, sub)
    deployment.settings["kinds"] = [deployment.kind]
    return deployment


def _unusable(data: Any, name: Any, root: Path, base: str) -> str | None:
    if not isinstance(data, dict):
        return "a deployment must be a mapping"
    if not isinstance(name, str) or not name.strip() or TEMPLATE_RE.search(name):
        return "the deployment has no plain name"
    entry = data.get("entrypoint")
    if not isinstance(entry, str) or TEMPLATE_RE.search(entry) or ":" not in entry:
        return "the deployment has no plain entrypoint (path/to/file.py:function)"
    if entrypoint_in_repo(root, base, entry) is None:
        return f"entrypoint {entry!r} names no file of this repository"
    return None


def entrypoint_in_repo(root: Path, base: str, entry: str) -> str | None:
    """``path.py:function`` relative to the repository (Prefect reads it relative to the
    prefect.yaml's folder); a module path (``pkg.mod:function``) is looked up as a file."""
    target, _, function = entry.strip().rpartition(":")
    if not function.isidentifier() or not target:
        return None
    candidates = [target] if target.endswith(".py") else [
        f"{target.replace('.', '/')}.py", f"src/{target.replace('.', '/')}.py",
        f"{target.replace('.', '/')}/__init__.py"]
    for candidate in candidates:
        full = (root / base / candidate).resolve()
        if full.is_file() and full.is_relative_to(root.resolve()):
            return f"{full.relative_to(root.resolve()).as_posix()}:{function}"
    return None


def map_pull(project: Project, steps: Any, lines: Mapping[KeyPath, int], root: Path) -> None:
    """The project's pull steps as ``source:``: a working directory or a git clone."""
    items = steps if isinstance(steps, list) else [steps] if steps else []
    for index, step in enumerate(items):
        name, options = next(iter(step.items())) if isinstance(step, dict) and step else ("", {})
        short = str(name).removeprefix(STEP_PREFIX)
        sub = Context(project, lines, ("pull", str(index)), None, project.source, root=root)
        if short == "set_working_directory" and isinstance(options, dict):
            _working_directory(options, sub)
        elif short == "git_clone" and isinstance(options, dict):
            _git_clone(options, sub)
        else:
            sub.skip(f"pull[{index}]", f"pull step {name or step!r} is not carried: deploytasks "
                     "sets the working directory or a git clone (source:)")


def _working_directory(options: Mapping[str, Any], ctx: Context) -> None:
    directory = ctx.plain(options.get("directory"), "pull.directory")
    if directory is MISSING or not directory:
        return
    if Path(str(directory)).resolve() != ctx.root.resolve():
        ctx.settings["directory"] = str(directory)


def _git_clone(options: Mapping[str, Any], ctx: Context) -> None:
    git: dict[str, Any] = {}
    url = ctx.plain(options.get("repository"), "pull.git_clone.repository")
    if url is MISSING or not url:
        return
    git["url"] = url
    if options.get("branch"):
        git["branch"] = options["branch"]
    credentials = options.get("credentials")
    block = re.fullmatch(r"{{\s*(prefect\.blocks\.[\w.-]+)\s*}}", str(credentials or ""))
    if block:
        git["credentials_block"] = block.group(1)
    elif credentials:
        ctx.skip("pull.git_clone.credentials", "only a {{ prefect.blocks.… }} reference is "
                 "carried (source.git.credentials_block)", "credentials")
    for other in sorted(set(options) - {"repository", "branch", "credentials"}):
        ctx.skip(f"pull.git_clone.{other}", "not a source.git setting", other)
    ctx.settings["git"] = git


def project_sections(project: Project, data: Mapping[str, Any], lines: Mapping[KeyPath, int],
                     root: Path) -> None:
    """Report the project-wide sections that are not carried; map ``pull``."""
    for key in ("build", "push"):
        if data.get(key):
            project.not_carried.append(NotCarried(
                project.file, lines.get((key,)), None, key,
                f"{key} steps are not carried: deploytasks builds and pushes images itself "
                "(invoke images.build / images.push)"))
    if data.get("pull"):
        map_pull(project, data["pull"], lines, root)
    for key in sorted(set(data) - {"build", "push", "pull", "deployments", "name",
                                   "prefect-version", "definitions"}):
        project.not_carried.append(NotCarried(project.file, lines.get((key,)), None, key,
                                              "not a prefect.yaml section deploytasks knows"))

"""Remove this project's deployments: by name pattern, all of them, or the orphaned ones.

Only deployments carrying this project's tags are ever candidates; another
project's or one made by hand is never touched, whatever the pattern. Cleaning
is hard to aim wrong: an empty or blank pattern is an error, deleting everything
needs ``--all``, a pattern equal to a deployment's name matches that name only
(glob characters and all), production asks, and an orphan clean that would wipe
an implausible share of the project refuses without ``--force``. Deleting a
deployment deletes its record and our automations of it (its triggers) too; records
whose deployment is gone (deleted behind our back) are removed by the next clean.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from deploytasks.config import ResolvedConfig
from deploytasks.deploy.ownership import Ownership, ownership
from deploytasks.deploy.plan import RemoteDeployment
from deploytasks.deploy.prefect_api import PrefectGateway
from deploytasks.deploy.records import record_name
from deploytasks.deploy.secret_blocks import reference
from deploytasks.errors import DeployTasksError, UsageError

ALL_ENVIRONMENTS = "all"


@dataclass
class CleanRequest:
    """Which of this project's deployments to remove."""

    pattern: str | None = None
    env_short: str | None = None  # None: every environment (--env all)
    orphans: set[tuple[str, str]] | None = None  # keys, when only orphans are wanted
    everything: bool = False  # --all


@dataclass
class CleanReport:
    """What was (or, in a dry run, would be) deleted, and what failed."""

    matched: list[RemoteDeployment] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    stale_records: list[str] = field(default_factory=list)  # of deployments gone meanwhile
    orphan_secrets: list[str] = field(default_factory=list)  # our Secret blocks nothing uses
    secrets_deleted: list[str] = field(default_factory=list)


def check_request(pattern: str | None, *, orphans: bool, everything: bool) -> None:
    """Refuse a request that does not say what to delete, or says it ambiguously."""
    if pattern is not None and not pattern.strip():
        raise UsageError("the pattern is empty or blank, which would match every deployment",
                         where="--pattern",
                         hint="give a glob such as 'rpa1-*', or pass --all to delete every "
                              "deployment of this project in the environment")
    if everything and (pattern is not None or orphans):
        raise UsageError("--all deletes every deployment of the project in scope; it does not "
                         "combine with --pattern or --orphans", where="--all",
                         hint="pass either --all, or --pattern / --orphans")
    if pattern is None and not orphans and not everything:
        raise UsageError("say what to delete", where="deploy.clean",
                         hint="pass --pattern GLOB, --orphans, or --all (every deployment of "
                              "this project in the environment)")


def select(deployments: list[RemoteDeployment], request: CleanRequest,
           owner: Ownership) -> list[RemoteDeployment]:
    """This project's deployments the request matches, sorted by name. A pattern equal to
    a deployment's name matches that name only, even if it holds glob characters."""
    scope = [d for d in deployments if owner.owns(d.tags)
             and (request.env_short is None or f"env:{request.env_short}" in d.tags)]
    literal = request.pattern is not None and any(d.name == request.pattern for d in scope)
    chosen = []
    for deployment in scope:
        if request.pattern is not None and not (
                deployment.name == request.pattern if literal
                else fnmatchcase(deployment.name, request.pattern)):
            continue
        if request.orphans is not None and deployment.key not in request.orphans:
            continue
        chosen.append(deployment)
    return sorted(chosen, key=lambda d: d.name)


def in_scope(deployments: list[RemoteDeployment], request: CleanRequest,
             owner: Ownership) -> list[RemoteDeployment]:
    """This project's deployments in the request's environment scope."""
    return select(deployments, CleanRequest(env_short=request.env_short), owner)


def guard_orphans(config: ResolvedConfig, request: CleanRequest, matched: int, total: int, *,
                  flows_found: int, force: bool) -> None:
    """An orphan clean refuses (without --force) when discovery found no flows at all, or
    when it would delete more than ``clean.max_orphan_share`` of the project in scope."""
    if request.orphans is None or force or not matched:
        return
    scope = f"environment '{request.env_short}'" if request.env_short else "all environments"
    if not flows_found:
        raise UsageError(
            f"no flows were found under {config.settings.discovery.flows_dir}/, so every "
            f"deployment of project '{config.settings.project}' looks orphaned; nothing "
            "deleted", where="--orphans",
            hint="check the checkout and discovery.flows_dir; pass --force if the project "
                 "really has no flows any more")
    share = config.settings.clean.max_orphan_share
    if matched > share * total:
        raise UsageError(
            f"this would delete {matched} of the {total} deployments of project "
            f"'{config.settings.project}' in {scope}, more than clean.max_orphan_share "
            f"({share:g}) allows; nothing deleted", where="--orphans",
            hint="check that the checkout is complete; pass --force to delete them anyway, "
                 "or raise clean.max_orphan_share")


def confirm_protected(config: ResolvedConfig, matched: list[RemoteDeployment], *, yes: bool,
                      confirm: Callable[[str], bool]) -> None:
    """Deleting deployments of a protected environment asks first (no terminal: no)."""
    guarded = protected_envs(config, matched)
    if not guarded or yes:
        return
    question = f"Delete {len(matched)} deployments, including {', '.join(guarded)} ones?"
    if not confirm(question):
        raise UsageError("nothing deleted: deleting protected-environment deployments "
                         "needs confirmation", hint="answer 'y', or pass --yes")


async def read_project(gateway: PrefectGateway, config: ResolvedConfig) -> list[RemoteDeployment]:
    """Every deployment of this project on the server, all environments (paged)."""
    return await gateway.read_deployments(ownership(config), [])


async def delete_all(gateway: PrefectGateway, report: CleanReport) -> None:
    """Delete each matched deployment, our automations of it (by id: a hand-made one
    stays) and its record; one failure does not stop the rest."""
    for deployment in report.matched:
        try:
            await gateway.delete_automations([a.id for a in deployment.automations],
                                             deployment.name)
            await gateway.delete_deployment(deployment.id, deployment.name)
            report.deleted.append(deployment.name)
            await gateway.delete_record(record_name(deployment.id))
        except DeployTasksError as error:
            report.failed[deployment.name] = error.message


async def stale_records(gateway: PrefectGateway, config: ResolvedConfig,
                        project: list[RemoteDeployment]) -> list[str]:
    """Records of this project whose deployment no longer exists (deleted behind our back,
    or no longer carrying our tags)."""
    records = await gateway.read_records(list(ownership(config).tags))
    alive = {d.id for d in project}
    return sorted(record.variable_name for record in records.values()
                  if record.deployment_id not in alive)


def orphan_secrets(project: list[RemoteDeployment], deleted: list[RemoteDeployment],
                   owned: dict[str, str | None]) -> list[str]:
    """This project's Secret blocks that no deployment of it still references once
    ``deleted`` are gone (a block in use by any environment's deployment is kept)."""
    gone = {d.id for d in deleted}
    used = " ".join(json.dumps(d.fields.get("job_variables") or {}) for d in project
                    if d.id not in gone)
    return sorted(block for block in owned if reference(block) not in used)


def confirm_secrets(config: ResolvedConfig, blocks: list[str], owned: dict[str, str | None],
                    *, yes: bool, confirm: Callable[[str], bool]) -> bool:
    """Deleting orphaned Secret blocks asks when one is of a protected environment (no
    terminal: they are kept, and the report lists them)."""
    protected = {info.short_name for info in config.settings.environments.values()
                 if info.protected}
    guarded = sorted({env for b in blocks if (env := owned.get(b)) in protected and env})
    if not guarded or yes:
        return True
    return confirm(f"Delete {len(blocks)} secret blocks no deployment uses any more, "
                   f"including {', '.join(guarded)} ones?")


def protected_envs(config: ResolvedConfig, matched: list[RemoteDeployment]) -> list[str]:
    """Short names of protected environments that the matched deployments belong to."""
    protected = {info.short_name for info in config.settings.environments.values()
                 if info.protected}
    found = {tag.removeprefix("env:") for d in matched for tag in d.tags
             if tag.startswith("env:")}
    return sorted(found & protected)

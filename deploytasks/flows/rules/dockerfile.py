"""Rules about a container flow's Dockerfile: there is one, and it builds a runnable image.

A flow deployed as a container needs a Dockerfile (its own, or the repository's shared
one, which should come with a ``.dockerignore``: its context is the whole repository).
The Dockerfile, read by ``flows.dockerfile``, must have a ``FROM``; each base image is
pinned (a warning otherwise); the final stage runs as a non-root user and copies the
flow's code in. Each rule over the read Dockerfile is one function in
``DOCKERFILE_RULES``; a shared Dockerfile is checked once per run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from deploytasks.findings import Finding
from deploytasks.flows.dockerfile import Dockerfile, Stage, read_dockerfile, substitute
from deploytasks.flows.files import read_text
from deploytasks.flows.model import FlowSpec
from deploytasks.flows.repository import Repository
from deploytasks.flows.rules import CONFIG_HINT

DockerfileRule = Callable[[Dockerfile, str], list[Finding]]


def check_docker(
    root: Path, spec: FlowSpec, kinds: Sequence[str], explicit: bool = False,
    repo: Repository | None = None,
) -> list[Finding]:
    """A container flow needs a well-formed Dockerfile with a pinned base, non-root user, code.

    Without a Dockerfile (its own or the repository's shared one), docker deployment is
    an error when configured for this flow, and a warning when it only comes from the
    defaults. A shared Dockerfile builds with the whole repository as its context, so
    the repository should have a ``.dockerignore``.
    """
    if "docker" not in kinds:
        return []
    if not spec.files.dockerfile:
        return [no_dockerfile(spec, explicit)]
    rel = spec.files.dockerfile
    cache = repo.dockerfiles if repo is not None else {}
    if rel not in cache:
        text, problem = read_text(root / rel, root)
        cache[rel] = check_dockerfile(text, rel) if text is not None else \
            ([problem] if problem else [])
    return list(cache[rel]) + shared_context_without_dockerignore(spec)


def no_dockerfile(spec: FlowSpec, explicit: bool) -> Finding:
    """A container flow without a Dockerfile: an error when its kinds are configured for it,
    a warning when they only come from the defaults."""
    how = "configured" if explicit else "deployed by default"
    if spec.layout == "folders":
        where, missing = spec.directory, "the folder has no Dockerfile"
        first = f"add {spec.directory}/Dockerfile, or "
    else:
        where, missing = spec.path, "the repository has no shared Dockerfile"
        first = ""
    return Finding(
        "error" if explicit else "warning", where, None,
        f"{how} as a docker deployment, but {missing}",
        f"{first}add a shared Dockerfile at the repository root (or set docker.dockerfile), "
        f"or set flows.{spec.folder}.kinds: [python] in {CONFIG_HINT}",
    )


def shared_context_without_dockerignore(spec: FlowSpec) -> list[Finding]:
    """A shared Dockerfile sends the whole repository to the builder: it needs a
    ``.dockerignore``."""
    if not spec.files.shared_dockerfile or spec.files.dockerignore:
        return []
    rel = str(spec.files.dockerfile)
    return [Finding.warning(
        rel, None, f"{rel} builds with the whole repository as its context, and the "
        "repository has no .dockerignore: .git, virtualenvs and secrets would be sent "
        "to the builder", "add a .dockerignore at the repository root (e.g. .git, .venv, "
        ".env, **/__pycache__)",
    )]


def check_dockerfile(text: str, rel: str) -> list[Finding]:
    """Reading it, then every rule of ``DOCKERFILE_RULES``, in order."""
    dockerfile = read_dockerfile(text, rel)
    findings = list(dockerfile.findings)
    for rule in DOCKERFILE_RULES:
        findings += rule(dockerfile, rel)
    return findings


def missing_from(dockerfile: Dockerfile, rel: str) -> list[Finding]:
    """No ``FROM`` at all (unless reading it already failed)."""
    if dockerfile.stages or any(f.is_error for f in dockerfile.findings):
        return []
    return [Finding.error(rel, None, "no FROM instruction",
                          "start the Dockerfile with FROM <image>:<tag>")]


def unpinned_base_images(dockerfile: Dockerfile, rel: str) -> list[Finding]:
    """Every base image (not an earlier stage, not ``scratch``) has a tag other than
    ``latest``, or a digest."""
    findings: list[Finding] = []
    earlier: set[str | None] = {"scratch"}
    for stage in dockerfile.stages:
        if stage.base and "$" not in stage.base and stage.base not in earlier:
            findings += _pin_findings(stage.base, stage.line, rel)
        earlier.add(stage.name)
    return findings


def _pin_findings(image: str, line: int, rel: str) -> list[Finding]:
    if "@" in image:
        return []  # pinned by digest
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if tag and tag != "latest":
        return []
    problem = "uses the :latest tag" if tag else "has no tag (so it means :latest)"
    return [Finding.warning(
        rel, line, f"base image {image} {problem}, so builds are not reproducible",
        "pin a version, e.g. prefecthq/prefect:3.9.1-python3.11 or python:3.11-slim",
    )]


def final_stage_user(dockerfile: Dockerfile, rel: str) -> list[Finding]:
    """The final stage (or a stage it is built from) sets a USER, and not root."""
    final = dockerfile.final
    if final is None:
        return []
    user = next((stage.user for stage in dockerfile.chain(final) if stage.user), None)
    if user is None:
        return [Finding.error(
            rel, final.line, "the final stage sets no USER, so the container runs as root",
            "add 'USER 1000' (or a named non-root user) after the steps that need root",
        )]
    return _root_user(user, final, rel)


def final_stage_code(dockerfile: Dockerfile, rel: str) -> list[Finding]:
    """The final stage (or a stage it is built from) copies something in: the flow code."""
    final = dockerfile.final
    if final is None or any(stage.copies for stage in dockerfile.chain(final)):
        return []
    return [Finding.error(
        rel, final.line, "the final stage copies nothing in, so the image lacks the flow code",
        "COPY the flow folder into the image, e.g. 'COPY . /opt/prefect/flow'",
    )]


def _root_user(user: tuple[int, str], final: Stage, rel: str) -> list[Finding]:
    line, value = user
    name = substitute(value, final.variables).partition(":")[0]
    if name not in ("root", "0"):
        return []
    return [Finding.error(
        rel, line, f"the final stage runs as root (USER {value})",
        "switch to a non-root user, e.g. 'USER 1000', after the steps that need root",
    )]


DOCKERFILE_RULES: Sequence[DockerfileRule] = (
    missing_from, unpinned_base_images, final_stage_user, final_stage_code,
)

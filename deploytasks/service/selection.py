"""What a command works on, and its deployments resolved and checked.

Every deploy command starts here: a ``Selection`` (environment, kinds, flows,
registry, changed since) becomes a ``Checked`` resolution, whose specs with
problems are reported and never deployed. ``find_deployment`` turns one
deployment's name back into the selection that makes it (the debugging CLI's
``validate --deployment``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from deploytasks.deploy import session
from deploytasks.deploy.resolve import ImageLookup, Resolution, resolve
from deploytasks.deploy.rules import check_spec
from deploytasks.deployment_settings import KINDS, Kind
from deploytasks.errors import UsageError, WorkFailed
from deploytasks.findings import Finding


@dataclass
class Selection:
    """What a command works on: environment, kinds, flows, registry."""

    env: str | None = None
    kinds: Sequence[Kind] = KINDS
    flows: Sequence[str] = ()
    registry: str | None = None
    changed_since: str | None = None


@dataclass
class Checked:
    """A resolution with every spec's problems; specs with problems are not deployable."""

    resolution: Resolution
    problems: list[Finding] = field(default_factory=list)

    @property
    def deployable(self) -> list[str]:
        bad = {p.deployment for p in self.problems}
        return [s.name for s in self.resolution.specs if s.name not in bad]

    def without_invalid(self) -> Resolution:
        """The resolution a deploy writes: specs with problems are left out (they are not
        orphans either: their names stay known), so a dry run plans exactly that."""
        deployable = set(self.deployable)
        self.resolution.specs = [s for s in self.resolution.specs if s.name in deployable]
        return self.resolution

    @property
    def invalid(self) -> bool:
        """Whether any spec has a problem or any flow or deployment was skipped."""
        return bool(self.problems or self.resolution.skipped)


class NotValid(WorkFailed):
    """A command that needs every deployment valid found problems; nothing was written.

    Carries the checked resolution, so that the caller can show each problem before
    the error itself."""

    def __init__(self, checked: Checked, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.checked = checked


def resolve_checked(selection: Selection, *, verify_images: bool = False) -> Checked:
    """Load the configuration, resolve the specs and check each of them."""
    config = session.load_config(selection.env, selection.registry)
    resolution = resolve(config, selection.kinds, selection.flows,
                         image_for=image_lookup(selection.kinds, verify=verify_images),
                         changed_since=selection.changed_since)
    return Checked(resolution, check_specs(resolution))


def check_specs(resolution: Resolution) -> list[Finding]:
    """Every problem of every resolved spec."""
    flows = {f.folder: f for f in resolution.flows}
    return [p for spec in resolution.specs
            for p in check_spec(resolution.config, spec, flows[spec.flow_folder])]


def image_lookup(kinds: Sequence[Kind], *, verify: bool = False) -> ImageLookup | None:
    """How docker specs find their image (None when no docker deployment is wanted);
    with ``verify`` the image must exist (deploying), else the manifest suffices."""
    if "docker" not in kinds:
        return None
    from deploytasks.deploy import images_link

    return images_link.verified_image_for if verify else images_link.image_for


def find_deployment(name: str, env: str | None) -> Selection:
    """The selection of the one deployment called ``name`` (its environment, kind and
    flow), searching every environment unless ``env`` is given."""
    from deploytasks.config import ConfigurationManager
    from deploytasks.deploy.specs import deployment_name
    from deploytasks.flows.commands import discovery_options
    from deploytasks.flows.discovery import discover

    manager = ConfigurationManager()
    for environment in [env] if env else manager.environments():
        config = manager.load(environment)
        for flow in discover(config.root, discovery_options(config)):
            for kind in KINDS:
                if deployment_name(config, flow, kind) == name:
                    return Selection(config.env.name, (kind,), (flow.entrypoint or flow.folder,))
    raise UsageError(f"no deployment named '{name}' in "
                     f"{'environment ' + env if env else 'any environment'}",
                     where="--deployment",
                     hint="list them with: invoke deploy.build --verbose (or deploy.test)")

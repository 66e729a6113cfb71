"""The bodies of the images tasks: configuration → core → console → exit code.

Each function takes an ``Output`` and plain values, so tests and the Python
API call them without Invoke; ``tasks.py`` only forwards options here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from deploytasks.console import Output
from deploytasks.console import images as view
from deploytasks.errors import Interrupted
from deploytasks.flows.selection import split_flows
from deploytasks.images.manifest import Manifest
from deploytasks.images.results import ImageResult, Reporter, exit_code
from deploytasks.images.targets import ImageOptions, ImageTarget, flow_targets

if TYPE_CHECKING:
    from deploytasks.config import ResolvedConfig


def load_options(env: str | None, registry: str | None, root: Path | None = None
                 ) -> ImageOptions:
    """The image settings of ``env``, with ``--registry`` on top."""
    return ImageOptions.from_config(load_config(env, registry, root))


def load_config(env: str | None, registry: str | None, root: Path | None = None
                ) -> ResolvedConfig:
    """The configuration of ``env``, with ``--registry`` on top."""
    from deploytasks.config import ConfigurationManager

    overrides = {"docker.registry": registry} if registry is not None else {}
    return ConfigurationManager(root=root).load(env=env, overrides=overrides)


def build(out: Output, *, env: str | None = None, registry: str | None = None,
          flow: str | Sequence[str] | None = None, no_cache: bool = False,
          root: Path | None = None) -> int:
    """Build the images of the selected flows; the exit code."""
    from deploytasks.images import docker_api
    from deploytasks.images.build import build_images

    cfg = load_config(env, registry, root)
    options = replace(ImageOptions.from_config(cfg), no_cache=no_cache)
    targets = _targets(cfg, flow)
    engine = docker_api.connect()
    work = partial(build_images, engine, options, targets, Manifest.load(options.root))
    return _run_images(out, "build", targets, work, {"builder": engine.builder()})


def push(out: Output, *, env: str | None = None, registry: str | None = None,
         flow: str | Sequence[str] | None = None, root: Path | None = None) -> int:
    """Push the images of the selected flows to the registry; the exit code."""
    from deploytasks.images.transfer import push_images, session

    cfg = load_config(env, registry, root)
    options = ImageOptions.from_config(cfg)
    options.require_registry()
    targets = _targets(cfg, flow)
    with session(options) as engine:
        work = partial(push_images, engine, options, targets, Manifest.load(options.root))
        return _run_images(out, "push", targets, work, {"registry": options.registry})


def pull(out: Output, *, env: str | None = None, registry: str | None = None,
         flow: str | Sequence[str] | None = None, root: Path | None = None) -> int:
    """Pull the images of the selected flows from the registry; the exit code."""
    from deploytasks.images.transfer import pull_images, session

    cfg = load_config(env, registry, root)
    options = ImageOptions.from_config(cfg)
    options.require_registry()
    targets = _targets(cfg, flow)
    with session(options) as engine:
        work = partial(pull_images, engine, options, targets, Manifest.load(options.root))
        return _run_images(out, "pull", targets, work, {"registry": options.registry})


def base(out: Output, *, tag: str | None = None, force: bool = False,
         root: Path | None = None) -> int:
    """Build the Prefect base image unless the engine already has it; the exit code."""
    from deploytasks import paths
    from deploytasks.images import docker_api
    from deploytasks.images.base_image import default_plan, ensure_base_image

    plan = default_plan(root or paths.repo_root(), tag=tag)
    engine = docker_api.connect()
    if not engine.image_id(plan.image) or force:
        out.line(f"building {plan.image} (debootstrap → docker import → wheelhouse → build); "
                 "the first time takes a minute or two", markup=False)
    result = ensure_base_image(engine, plan, force=force, on_line=view.line_printer(out),
                               on_step=view.step_printer(out))
    view.render_base(out, result)
    return 0


def _targets(cfg: ResolvedConfig, flow: str | Sequence[str] | None) -> list[ImageTarget]:
    return flow_targets(cfg, split_flows(flow))


def _run_images(out: Output, action: str, targets: Sequence[ImageTarget],
                work: Callable[[Reporter], list[ImageResult]],
                extra: dict[str, str]) -> int:
    started = time.monotonic()
    if not targets:
        out.line(f"{action}: no flow has a Dockerfile (its own or a shared one)", markup=False)
    with view.ProgressView(out, [t.flow for t in targets]) as progress:
        try:
            results = work(progress)
        except KeyboardInterrupt:
            raise Interrupted(view.interrupted_summary(action, progress)) from None
    view.render_results(out, action, results, time.monotonic() - started, extra)
    return exit_code(results)

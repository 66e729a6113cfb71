"""Benchmark images.build: the first build of the example images and the no-change rebuild.

Run from the repository root: ``.venv/bin/python bench/bench_images.py``.
Needs a Docker engine and the base image (built here when missing). Works
on a temp copy of ``flows/`` and ``config/`` under a private namespace,
removed afterwards. Target: the no-change rebuild under 2 s with no build.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deploytasks.images import docker_api  # noqa: E402
from deploytasks.images.build import build_images  # noqa: E402
from deploytasks.images.commands import load_options  # noqa: E402
from deploytasks.images.manifest import Manifest  # noqa: E402
from deploytasks.images.results import ImageResult, NullReporter  # noqa: E402
from deploytasks.images.targets import find_targets  # noqa: E402
from tests.support.docker_services import ensure_base_image, ensure_engine  # noqa: E402

FLOWS = ("rpa1", "rpa2", "rpa3")
TASKS_PY = ("from invoke import Collection\nfrom deploytasks.images.tasks import ns as images\n"
            "ns = Collection()\nns.add_collection(images)\n")


def make_repo(root: Path, nonce: str) -> Path:
    """A repository copy whose images are new to the engine (a nonce file in each flow)."""
    shutil.copytree(ROOT / "config", root / "config")
    for flow in FLOWS:
        shutil.copytree(ROOT / "flows" / flow, root / "flows" / flow,
                        ignore=shutil.ignore_patterns("__pycache__", "output", ".env"))
        (root / "flows" / flow / "bench-nonce.txt").write_text(nonce + "\n")
    return root


def timed_build(root: Path, *, no_cache: bool = False) -> dict[str, Any]:
    """One in-process build (config load, engine connection, hashing, builds)."""
    started = time.monotonic()
    options = load_options(None, None, root)
    options = replace(options, no_cache=no_cache)
    engine = docker_api.connect()
    targets = find_targets(root, options.flows_dir)
    results = build_images(engine, options, targets, Manifest.load(root), NullReporter())
    return summary(results, time.monotonic() - started)


def summary(results: list[ImageResult], seconds: float) -> dict[str, Any]:
    """Wall time and what happened to each image."""
    failed = [r.flow for r in results if r.failed]
    if failed:
        raise SystemExit(f"bench build failed for {failed}: "
                         f"{[str(r.error) for r in results if r.failed]}")
    return {"seconds": round(seconds, 3),
            "images": {r.flow: {"status": r.status, "seconds": round(r.seconds, 3)}
                       for r in results}}


def cli_build(root: Path, tasks_dir: Path) -> dict[str, Any]:
    """``invoke images.build`` as a user runs it: interpreter start and all."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "invoke", "-r", str(tasks_dir), "images.build",
                           "--json"], cwd=root, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.monotonic() - started
    document = json.loads(done.stdout)
    return {"seconds": round(seconds, 3), "counts": document["counts"]}


def remove_namespace(namespace: str) -> None:
    """Remove every image tag of the benchmark's namespace."""
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
                            capture_output=True, text=True, check=False).stdout.split()
    mine = [ref for ref in listed if ref.startswith(f"{namespace}/")]
    if mine:
        subprocess.run(["docker", "image", "rm", "--force", *mine], capture_output=True,
                       check=False)


def run_bench(work: Path, namespace: str) -> dict[str, Any]:
    """The measurements, in order."""
    os.environ["DOCKER_NAMESPACE"] = namespace
    repo = make_repo(work / "repo", secrets.token_hex(8))
    tasks_dir = work / "tasks"
    tasks_dir.mkdir()
    (tasks_dir / "tasks.py").write_text(TASKS_PY)
    results: dict[str, Any] = {}
    results["first_build_cold"] = timed_build(repo, no_cache=True)
    results["rebuild_no_change"] = timed_build(repo)
    results["rebuild_no_change_cli"] = cli_build(repo, tasks_dir)
    with (repo / "flows" / "rpa2" / "workflow.py").open("a") as handle:
        handle.write("\n# bench change\n")
    results["rebuild_one_changed"] = timed_build(repo)
    fresh = make_repo(work / "fresh", secrets.token_hex(8))
    results["first_build_layer_cache_warm"] = timed_build(fresh)
    return results


def main() -> int:
    """Measure, print, and write ``bench/results/images-<time>.json``."""
    engine = ensure_engine()
    started = time.monotonic()
    base = ensure_base_image(ROOT)
    base_seconds = time.monotonic() - started
    namespace = f"bench{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="bench-images-"))
    try:
        measured = run_bench(work, namespace)
    finally:
        remove_namespace(namespace)
        shutil.rmtree(work, ignore_errors=True)
        if engine.process is not None:
            engine.process.terminate()
    report = {"benchmark": "images", "when": datetime.now(timezone.utc).isoformat(),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "base_image": base, "base_image_ready_seconds": round(base_seconds, 1),
              "builder": docker_api.connect().builder(), **measured}
    out = ROOT / "bench" / "results" / f"images-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

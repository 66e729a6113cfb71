"""The Prefect base image, made without Docker Hub.

The chain: ``debootstrap --variant=minbase`` a Debian with python3 and
python3-venv → tar → ``docker import`` as ``deploytasks/bootstrap:<suite>`` →
read that Python's marker environment → a wheelhouse for it on the host →
a two-stage build that installs Prefect into ``/opt/venv`` with
``pip --no-index`` → verify ``import prefect`` in the result.

Every link is cached: the finished tag (nothing runs when it exists and its
recipe label matches this version's recipe), the bootstrap image, and under
``<root>/.deploytasks/cache/`` the rootfs tarball and the wheelhouse. The venv
(rather than Debian's system python) gives the image ``python`` and ``pip`` on
PATH without PEP 668's guard, and a ``.pth``
line puts ``/usr/local/lib/python3.X/site-packages`` on its path so a flow's
``pip install --prefix=/install`` + ``COPY /install /usr/local`` works.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deploytasks import paths
from deploytasks.errors import WorkFailed
from deploytasks.images.docker_api import BuildRequest, Engine
from deploytasks.images.process import LineSink, run_streamed
from deploytasks.images.wheelhouse import MARKER_ENV_SCRIPT, ensure_wheelhouse

SUITE = "bookworm"
SUITE_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
PACKAGES = ("python3", "python3-venv")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BOOTSTRAP_REPO = "deploytasks/bootstrap"
BASE_REPO = "deploytasks/prefect-base"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ROOTFS_JUNK = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
               "usr/share/info", "usr/share/locale")
PREFECT_LABEL = "org.deploytasks.prefect-version"
RECIPE_LABEL = "org.deploytasks.base-recipe"
StepSink = Callable[[str, float], None]


@dataclass(frozen=True)
class BasePlan:
    """What to build and where the caches live."""

    prefect_version: str
    cache_dir: Path
    suite: str = SUITE
    mirror: str = DEFAULT_MIRROR
    tag: str = ""

    @property
    def python(self) -> str:
        """The suite's python3 (major.minor), which names the image."""
        return SUITE_PYTHON.get(self.suite, "3")

    @property
    def image(self) -> str:
        """The base image tag: ``deploytasks/prefect-base:<prefect>-python<x.y>``."""
        return self.tag or f"{BASE_REPO}:{self.prefect_version}-python{self.python}"

    @property
    def recipe(self) -> str:
        """A hash of everything the image is made from; an image of another recipe is stale."""
        text = "\n".join([self.suite, *PACKAGES, self.prefect_version,
                          dockerfile(self, self.python)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def bootstrap_image(self) -> str:
        """The imported minimal Debian."""
        return f"{BOOTSTRAP_REPO}:{self.suite}"


@dataclass
class BaseResult:
    """The base image and how long each link of the chain took (seconds)."""

    image: str
    image_id: str
    reused: bool
    prefect_version: str = ""
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """The whole chain."""
        return sum(seconds for _, seconds in self.steps)

    def to_json(self) -> dict[str, object]:
        """The result for ``--json``."""
        return {"image": self.image, "image_id": self.image_id, "reused": self.reused,
                "prefect_version": self.prefect_version, "seconds": round(self.seconds, 1),
                "steps": {name: round(seconds, 1) for name, seconds in self.steps}}


def default_plan(root: Path, *, tag: str | None = None) -> BasePlan:
    """The plan for the installed Prefect, caching under ``<root>/.deploytasks/cache``."""
    return BasePlan(importlib.metadata.version("prefect"), paths.state_dir(root) / "cache",
                    mirror=os.environ.get("DEBIAN_MIRROR", DEFAULT_MIRROR), tag=tag or "")


def ensure_base_image(engine: Engine, plan: BasePlan, *, force: bool = False,
                      on_line: LineSink | None = None,
                      on_step: StepSink | None = None) -> BaseResult:
    """The base image of ``plan``, built only when the engine lacks its tag (or ``force``)."""
    existing = engine.image_id(plan.image)
    if existing and not force and _current(engine, plan):
        return BaseResult(plan.image, existing, reused=True, prefect_version=plan.prefect_version)
    result = BaseResult(plan.image, "", reused=False)
    _ensure_bootstrap(engine, plan, on_line, result, on_step)
    with _timed(result, "wheelhouse", on_step):
        env = json.loads(engine.run(plan.bootstrap_image, ["python3", "-c", MARKER_ENV_SCRIPT]))
        python = env["python_full_version"]
        wheels = plan.cache_dir / f"wheels-prefect-{plan.prefect_version}-py{python}"
        ensure_wheelhouse(wheels, f"prefect=={plan.prefect_version}", env, on_line)
    with _timed(result, "build", on_step):
        result.image_id = _build(engine, plan, wheels, env["python_version"], on_line)
    with _timed(result, "verify", on_step):
        result.prefect_version = verify(engine, plan)
    return result


def _current(engine: Engine, plan: BasePlan) -> bool:
    """True unless the image is one of ours built from another recipe (an image under that
    name that deploytasks did not build is the user's, and is used as it is)."""
    labels = engine.image_labels(plan.image)
    if PREFECT_LABEL not in labels:
        return True
    return labels.get(RECIPE_LABEL) == plan.recipe


def verify(engine: Engine, plan: BasePlan) -> str:
    """Run ``import prefect`` (and check ``useradd`` and pip) in the image; Prefect's version."""
    script = ('python3 -c "import prefect; print(prefect.__version__)" '
              "&& command -v useradd >/dev/null && python3 -m pip --version >/dev/null")
    output = engine.run(plan.image, ["sh", "-c", script]).strip()
    version = output.splitlines()[-1] if output else ""
    if version != plan.prefect_version:
        raise WorkFailed(f"{plan.image} reports Prefect {version or '(nothing)'}, expected "
                         f"{plan.prefect_version}", hint="rebuild it: `invoke images.base --force`")
    return version


def _ensure_bootstrap(engine: Engine, plan: BasePlan, on_line: LineSink | None,
                      result: BaseResult, on_step: StepSink | None) -> None:
    if engine.image_id(plan.bootstrap_image):
        return
    with _timed(result, "debootstrap", on_step):
        tarball = _rootfs_tarball(plan, on_line)
    with _timed(result, "docker import", on_step):
        engine.import_rootfs(tarball, plan.bootstrap_image,
                             [f"ENV PATH={SYSTEM_PATH}", "ENV LANG=C.UTF-8", 'CMD ["bash"]'])


def _rootfs_tarball(plan: BasePlan, on_line: LineSink | None) -> Path:
    """``debootstrap`` + ``tar``, cached as one tarball per suite and package set."""
    name = f"rootfs-{plan.suite}-minbase-{'+'.join(PACKAGES)}.tar"
    tarball = plan.cache_dir / name
    if tarball.is_file():
        return tarball
    _require_root_and_debootstrap()
    plan.cache_dir.mkdir(parents=True, exist_ok=True)
    with _scratch(plan.cache_dir, "rootfs-") as work:
        rootfs = work / "rootfs"
        run_streamed([_debootstrap(), "--variant=minbase", f"--include={','.join(PACKAGES)}",
                      plan.suite, str(rootfs), plan.mirror], on_line,
                     what="debootstrap", hint=f"check that {plan.mirror} is reachable "
                                              "(or set DEBIAN_MIRROR)")
        for junk in ROOTFS_JUNK:
            _empty(rootfs / junk)
        partial = work / name
        run_streamed(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
                     on_line, what="tar of the rootfs", hint="check free disk space")
        os.replace(partial, tarball)
    return tarball


@contextmanager
def _scratch(parent: Path, prefix: str) -> Iterator[Path]:
    """A work folder that is removed afterwards — but never while something is mounted in it.

    debootstrap bind-mounts /dev (and mounts /proc) into the target; if it
    dies half-way they may stay, and deleting the tree would then delete the
    host's device nodes.
    """
    work = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    try:
        yield work
    finally:
        _unmount_below(work)
        if _mounts_below(work):
            raise WorkFailed(f"{work} still has file systems mounted; left in place",
                             hint=f"unmount them (umount -R {work}) and delete the folder")
        shutil.rmtree(work)


def _mounts_below(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def _unmount_below(folder: Path) -> None:
    for point in _mounts_below(folder):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def _build(engine: Engine, plan: BasePlan, wheels: Path, python: str,
           on_line: LineSink | None) -> str:
    with tempfile.TemporaryDirectory(dir=plan.cache_dir, prefix="context-") as work:
        context = Path(work)
        shutil.copytree(wheels, context / "wheels", copy_function=_link_or_copy)
        (context / "Dockerfile").write_text(dockerfile(plan, python), encoding="utf-8")
        files = ["Dockerfile", "wheels", *sorted(f"wheels/{p.name}"
                                                 for p in (context / "wheels").iterdir())]
        labels = {PREFECT_LABEL: plan.prefect_version, RECIPE_LABEL: plan.recipe}
        request = BuildRequest(context, files, [plan.image], {}, labels)
        return engine.build(request, on_line)


def dockerfile(plan: BasePlan, python: str) -> str:
    """The two-stage Dockerfile: install Prefect into a venv offline, copy the venv over."""
    site = f"/usr/local/lib/python{python}/site-packages"
    return f"""\
FROM {plan.bootstrap_image} AS venv
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/python -m pip install --no-cache-dir --no-index --find-links /tmp/wheels \\
      "prefect=={plan.prefect_version}" \\
 && echo {site} > /opt/venv/lib/python{python}/site-packages/deploytasks-usr-local.pth

FROM {plan.bootstrap_image}
COPY --from=venv /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:{SYSTEM_PATH} \\
    LANG=C.UTF-8 \\
    PYTHONUNBUFFERED=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/prefect
CMD ["python3"]
"""


@contextmanager
def _timed(result: BaseResult, name: str, on_step: StepSink | None) -> Iterator[None]:
    started = time.monotonic()
    yield
    seconds = time.monotonic() - started
    result.steps.append((name, seconds))
    if on_step:
        on_step(name, seconds)


def _require_root_and_debootstrap() -> None:
    if os.geteuid() != 0:
        raise WorkFailed("debootstrap needs root to build the bootstrap image",
                         hint="run `invoke images.base` as root once (the result is cached by "
                              "tag), or set DOCKER_BASE_IMAGE to an image you have")
    _debootstrap()


def _debootstrap() -> str:
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if not found:
        raise WorkFailed("debootstrap is not installed", hint="apt-get install debootstrap")
    return found


def _empty(folder: Path) -> None:
    if folder.is_dir() and not folder.is_symlink():
        for child in folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()


def _link_or_copy(source: str, target: str) -> str:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target

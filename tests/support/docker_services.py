"""Real Docker services for tests: the engine, a registry, and the Prefect base image.

Plain functions and context managers (no pytest here), so conftest fixtures,
benchmarks and ``.ci/run`` can all use them. Each helper either returns a
working service or raises ``ServiceMissing`` with the reason; ``tests/support/policy.py``
decides whether that skips (a developer's machine) or fails (CI).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENGINE_WAIT = 30.0
REGISTRY_WAIT = 15.0


class ServiceMissing(RuntimeError):
    """A service a test needs is not there and could not be started; the message says why."""


# ---- engine -------------------------------------------------------------------------------------


@dataclass
class EngineHandle:
    """The engine tests use; ``process`` is set only when the tests started it."""

    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


def engine_answers(timeout: float = 10.0) -> bool:
    """True when ``docker info`` reaches an engine."""
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``docker <args>``, output captured as text, never raising on a non-zero exit."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False,
                          timeout=timeout)


def start_engine(wait: float = ENGINE_WAIT) -> EngineHandle:
    """Start ``dockerd`` in the background (root only), its log in a temp file."""
    dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
    if os.environ.get("DOCKER_HOST"):
        raise ServiceMissing(f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}")
    if not dockerd:
        raise ServiceMissing("no Docker engine answers and dockerd is not installed "
                             "(apt-get install docker.io)")
    if os.geteuid() != 0:
        raise ServiceMissing("no Docker engine answers and only root can start dockerd")
    log = Path(tempfile.mkstemp(prefix="dockerd-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen([dockerd], stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceMissing(f"dockerd exited with {process.returncode}; see {log}")
        if engine_answers(timeout=5):
            return EngineHandle(process, log)
        time.sleep(0.5)
    stop_process(process)
    raise ServiceMissing(f"dockerd did not answer within {wait:.0f}s; see {log}")


def ensure_engine() -> EngineHandle:
    """The running engine, or one started now; ``ServiceMissing`` when neither works."""
    if engine_answers():
        return EngineHandle()
    return start_engine()


@contextmanager
def docker_engine() -> Iterator[EngineHandle]:
    """An engine for the block; one started here is stopped (by PID) afterwards."""
    handle = ensure_engine()
    try:
        yield handle
    finally:
        if handle.process is not None:
            stop_process(handle.process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop a process we started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


# ---- registry -----------------------------------------------------------------------------------


@dataclass
class Registry:
    """A running ``docker-registry`` on the loopback."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    username: str | None = None
    password: str | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>`` — the engine treats 127.0.0.0/8 registries as insecure (http)."""
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The registry's log file."""
        return self.folder / "registry.log"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def htpasswd_line(username: str, password: str) -> str:
    """A bcrypt htpasswd line (the only hash Distribution accepts).

    Tries the ``bcrypt`` package, then the standard library's ``crypt``
    (glibc/libxcrypt knows ``$2b$``; the module is gone in Python 3.13),
    then ``htpasswd`` from apache2-utils with the password on stdin.
    """
    try:
        import bcrypt

        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
        return f"{username}:{hashed}"
    except ImportError:
        pass
    line = _crypt_line(username, password)
    if line:
        return line
    if shutil.which("htpasswd"):
        done = subprocess.run(["htpasswd", "-niB", username], input=f"{password}\n{password}\n",
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()
    raise ServiceMissing("cannot make a bcrypt htpasswd line: install python bcrypt or "
                         "apache2-utils")


def _crypt_line(username: str, password: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
    except ImportError:
        return None
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    return f"{username}:{hashed}" if hashed and hashed.startswith("$2") else None


def registry_config(folder: Path, port: int, htpasswd: Path | None) -> str:
    """The registry's YAML: its own storage folder, loopback only, optional htpasswd auth."""
    lines = [
        "version: 0.1",
        "log: {level: info, formatter: text}",
        "storage:",
        f"  filesystem: {{rootdirectory: {folder / 'storage'}}}",
        "  delete: {enabled: true}",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
    ]
    if htpasswd is not None:
        lines += ["auth:", f"  htpasswd: {{realm: deploytasks-tests, path: {htpasswd}}}"]
    return "\n".join(lines) + "\n"


def start_registry(folder: Path, *, username: str | None = None,
                   password: str | None = None, wait: float = REGISTRY_WAIT) -> Registry:
    """Start ``docker-registry`` on a free loopback port, storing under ``folder``."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if not binary:
        raise ServiceMissing("docker-registry is not installed (apt-get install docker-registry)")
    folder.mkdir(parents=True, exist_ok=True)
    htpasswd = None
    if username and password:
        htpasswd = folder / "htpasswd"
        htpasswd.write_text(htpasswd_line(username, password) + "\n")
    port = free_port()
    config = folder / "config.yml"
    config.write_text(registry_config(folder, port, htpasswd))
    with (folder / "registry.log").open("wb") as sink:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=sink,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    registry = Registry(port, folder, process, username, password)
    _wait_for_registry(registry, wait)
    return registry


def _wait_for_registry(registry: Registry, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            raise ServiceMissing(f"docker-registry exited with {registry.process.returncode}; "
                                 f"see {registry.log}")
        if registry_status(registry.host) in {200, 401}:
            return
        time.sleep(0.2)
    stop_process(registry.process)
    raise ServiceMissing(f"docker-registry did not answer within {wait:.0f}s; see {registry.log}")


def registry_status(host: str, auth: tuple[str, str] | None = None) -> int | None:
    """The HTTP status of ``GET /v2/`` (200 open, 401 needs a login), None when unreachable."""
    request = urllib.request.Request(f"http://{host}/v2/")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def stop_registry(registry: Registry) -> None:
    """Stop a registry started by ``start_registry`` (by its PID)."""
    stop_process(registry.process)


@contextmanager
def docker_registry(folder: Path, *, username: str | None = None,
                    password: str | None = None) -> Iterator[Registry]:
    """A registry for the block, stopped afterwards."""
    registry = start_registry(folder, username=username, password=password)
    try:
        yield registry
    finally:
        stop_registry(registry)


# ---- the session's namespace --------------------------------------------------------------------

NAMESPACE_VARIABLE = "DEPLOYTASKS_TEST_NAMESPACE"


def new_session_namespace() -> str:
    """A Docker namespace no earlier run used: ``t-<random>``."""
    return f"t-{secrets.token_hex(4)}"


def session_namespace() -> str | None:
    """The Docker namespace of the running test session (``tests/conftest.py`` sets it),
    None outside a test session (benchmarks keep the repository's own namespace)."""
    return os.environ.get(NAMESPACE_VARIABLE) or None


def sub_namespace(purpose: str) -> str:
    """A namespace of one test or module inside the session's, removed with it at the end."""
    base = session_namespace() or new_session_namespace()
    return f"{base}-{purpose}{secrets.token_hex(3)}"


@contextmanager
def private_namespace(purpose: str) -> Iterator[str]:
    """A Docker namespace for one test or module; its images are removed afterwards."""
    namespace = sub_namespace(purpose)
    try:
        yield namespace
    finally:
        if engine_answers(timeout=5):
            remove_namespace_images(namespace)


def in_namespace(repository: str, namespace: str) -> bool:
    """True when a repository (``[registry/]ns/name``) lies in ``namespace`` or one of its
    sub-namespaces."""
    return any(part == namespace or part.startswith(namespace + "-")
               for part in repository.split("/")[:-1])


def remove_namespace_images(namespace: str) -> list[str]:
    """Remove every image in ``namespace`` (whatever the registry prefix) and the containers
    made from them; the references removed."""
    listed = subprocess.run(["docker", "image", "ls", "--format",
                             "{{.Repository}}:{{.Tag}} {{.ID}}"],
                            capture_output=True, text=True, check=False, timeout=60)
    refs: dict[str, str] = {}
    for line in listed.stdout.splitlines():
        ref, _, image_id = line.rpartition(" ")
        if in_namespace(ref.rpartition(":")[0], namespace):
            refs[ref] = image_id
    for image_id in sorted(set(refs.values())):
        containers = subprocess.run(["docker", "ps", "-aq", "--filter", f"ancestor={image_id}"],
                                    capture_output=True, text=True, check=False, timeout=60)
        if containers.stdout.split():
            subprocess.run(["docker", "rm", "--force", *containers.stdout.split()],
                           capture_output=True, check=False, timeout=120)
    if refs:
        subprocess.run(["docker", "image", "rm", "--force", *refs], capture_output=True,
                       check=False, timeout=300)
    return sorted(refs)


def dangling_build_images() -> set[str]:
    """Ids of untagged images built on the Prefect base image (multi-stage builds leave one
    per earlier stage): what a session's builds leave behind besides their tags."""
    listed = subprocess.run(["docker", "image", "ls", "--quiet", "--no-trunc",
                             "--filter", "dangling=true",
                             "--filter", "label=org.deploytasks.prefect-version"],
                            capture_output=True, text=True, check=False, timeout=60)
    return set(listed.stdout.split())


def remove_images(image_ids: set[str]) -> None:
    """Remove images by id (those still used by a container or another image stay)."""
    if image_ids:
        subprocess.run(["docker", "image", "rm", *sorted(image_ids)], capture_output=True,
                       check=False, timeout=300)


# ---- base image ---------------------------------------------------------------------------------


def ensure_base_image(root: Path = PROJECT_ROOT) -> str:
    """The Prefect base image tag, built (and cached under ``root``) when the engine lacks it."""
    from deploytasks.errors import DeployTasksError
    from deploytasks.images import docker_api
    from deploytasks.images.base_image import default_plan
    from deploytasks.images.base_image import ensure_base_image as ensure

    try:
        engine = docker_api.connect()
        return ensure(engine, default_plan(root)).image
    except DeployTasksError as error:
        raise ServiceMissing(f"cannot build the Prefect base image: {error}") from error

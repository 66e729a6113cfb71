"""The gateway to the Docker engine and registries: nothing else in deploytasks talks to them.

python-on-whales drives the docker CLI for what users would type themselves
(inspect, tag, push, pull, login, import, run, buildx), so contexts, the
user's ``docker login`` and credential helpers behave exactly as in their
shell. docker-py fills two gaps: the classic builder's streamed log (the CLI
would print it to our stdout) and registry digest look-ups through the
engine (``inspect_distribution``, which honours the engine's insecure
registries where ``docker manifest inspect`` would need ``--insecure``).

Both libraries are imported inside functions: importing this module is free.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from deploytasks.errors import ServiceUnavailable
from deploytasks.images.failures import (
    BUILD_HINT,
    NOT_FOUND,
    BuildFailed,
    ImageFailure,
    ImageMissing,
    engine_unreachable,
    is_auth,
    last_error_line,
    registry_error,
)

if TYPE_CHECKING:
    from python_on_whales import DockerClient

DEFAULT_HOST = "unix:///var/run/docker.sock"
TAIL_LINES = 10
PING_TIMEOUT = 10
BUILD_TIMEOUT = 3600
Builder = Literal["buildkit", "classic"]
LineSink = Callable[[str], None]

_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})", re.IGNORECASE)
_STEP = re.compile(r"^(Step \d+/\d+ :|#\d+ \[)")
_BOOKKEEPING = re.compile(r"^\s*(-+> |Removing intermediate container )")


@dataclass(frozen=True)
class BuildRequest:
    """One image build: the context folder, the exact files to send, and how to tag it."""

    context: Path
    files: list[str]
    tags: list[str]
    build_args: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=dict)
    dockerfile: str = "Dockerfile"
    use_cache: bool = True


@dataclass
class LogTail:
    """Assembles streamed chunks into lines; remembers the current step and its last lines."""

    sink: LineSink | None = None
    step: str = ""
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    _partial: str = ""

    def feed(self, chunk: str) -> None:
        """Add a chunk of output that may hold several lines, or part of one."""
        text = self._partial + chunk
        *complete, self._partial = text.split("\n")
        for line in complete:
            self.line(line)

    def line(self, line: str) -> None:
        """Add one complete line."""
        line = line.rstrip()
        if not line:
            return
        if _STEP.match(line):
            self.step = line
            self.lines.clear()
        elif not _BOOKKEEPING.match(line):
            self.lines.append(line)
        if self.sink:
            self.sink(line)

    def tail(self) -> list[str]:
        """The failing step's header and its last lines, for an error report."""
        if self._partial:
            self.line(self._partial)
            self._partial = ""
        return ([self.step] if self.step else []) + list(self.lines)


class Engine:
    """A connected Docker engine (and, through it, registries)."""

    def __init__(self, client: DockerClient, host: str, *,
                 auth: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.host = host
        self._auth = dict(auth) if auth else None
        self._local = threading.local()
        self._builder: Builder | None = None

    # ---- engine ----------------------------------------------------------------------------

    def ping(self) -> None:
        """Raise ``ServiceUnavailable`` (one line, exit 3) unless the engine answers."""
        try:
            _api_client(self.host, PING_TIMEOUT).ping()
        except Exception as error:  # docker-py's and requests' errors (OSErrors)
            if not (_from_docker_py(error) or isinstance(error, OSError)):
                raise
            raise engine_unreachable(self.host) from error

    def builder(self) -> Builder:
        """BuildKit through buildx when the CLI has it (and ``DOCKER_BUILDKIT`` is not 0)."""
        if self._builder is None:
            self._builder = "classic" if os.environ.get("DOCKER_BUILDKIT") == "0" else (
                "buildkit" if self._has_buildx() else "classic")
        return self._builder

    def _has_buildx(self) -> bool:
        from python_on_whales.exceptions import DockerException

        try:
            self.client.buildx.version()
        except DockerException:
            return False
        return True

    # ---- local images ----------------------------------------------------------------------

    def image_id(self, ref: str) -> str | None:
        """The local image id of ``ref``, or None when the engine has no such image."""
        from python_on_whales.exceptions import DockerException, NoSuchImage

        try:
            return str(self.client.image.inspect(ref).id)
        except NoSuchImage:
            return None
        except DockerException as error:
            raise self._engine_error(error) from error

    def image_labels(self, ref: str) -> dict[str, str]:
        """The labels of local image ``ref`` (empty when it has none or does not exist)."""
        from python_on_whales.exceptions import DockerException, NoSuchImage

        try:
            config = self.client.image.inspect(ref).config
        except NoSuchImage:
            return {}
        except DockerException as error:
            raise self._engine_error(error) from error
        return dict(config.labels or {}) if config is not None else {}

    def find_labelled(self, key: str, value: str) -> str | None:
        """The id of a local image labelled ``key=value`` (whatever its names), if any."""
        images = self.client.image.list(filters=[("label", f"{key}={value}")])
        return str(images[0].id) if images else None

    def repo_digest(self, ref: str, repository: str) -> str | None:
        """The registry digest the engine recorded for ``repository`` (after a push or pull)."""
        from python_on_whales.exceptions import NoSuchImage

        try:
            digests = self.client.image.inspect(ref).repo_digests or []
        except NoSuchImage:
            return None
        for entry in digests:
            name, _, digest = entry.partition("@")
            if name == repository:
                return digest
        return None

    def tag(self, source: str, target: str) -> None:
        """Give image ``source`` the extra name ``target``."""
        self.client.image.tag(source, target)

    def import_rootfs(self, tarball: Path, tag: str, changes: Iterable[str]) -> str:
        """``docker import`` a root file system tarball as image ``tag``; its id."""
        return str(self.client.image.import_(tarball, tag=tag, changes=list(changes)).id)

    def run(self, image: str, command: list[str]) -> str:
        """Run ``command`` in a throwaway container of ``image`` and return its output."""
        from python_on_whales.exceptions import DockerException

        try:
            return str(self.client.run(image, command, remove=True))
        except DockerException as error:
            detail = last_error_line(error.stderr or "") or f"exit {error.return_code}"
            raise ImageFailure(f"running {command[0]} in {image} failed: {detail}") from None

    # ---- builds ----------------------------------------------------------------------------

    def build(self, request: BuildRequest, on_line: LineSink | None = None) -> str:
        """Build ``request`` and return the image id; ``BuildFailed`` carries the failing step."""
        tail = LogTail(on_line)
        if self.builder() == "buildkit":
            return self._build_buildkit(request, tail)
        return self._build_classic(request, tail)

    def _build_classic(self, request: BuildRequest, tail: LogTail) -> str:
        from docker.utils.build import create_archive

        with create_archive(root=str(request.context), files=request.files) as context:
            try:
                stream = self._api().build(
                    fileobj=context, custom_context=True, dockerfile=request.dockerfile,
                    tag=request.tags[0], buildargs=dict(request.build_args),
                    labels=dict(request.labels), rm=True, forcerm=True, pull=False,
                    nocache=not request.use_cache, decode=True, timeout=BUILD_TIMEOUT)
                image_id = _follow_build(stream, tail)
            except BuildFailed:
                raise
            except OSError as error:
                raise engine_unreachable(self.host) from error
            except Exception as error:
                if not _from_docker_py(error):
                    raise
                raise BuildFailed(_first_line(str(error)), tail=tail.tail()) from error
        for extra in request.tags[1:]:
            self.tag(request.tags[0], extra)
        return image_id or self._must_exist(request.tags[0])

    def _build_buildkit(self, request: BuildRequest, tail: LogTail) -> str:
        from python_on_whales.exceptions import DockerException

        try:
            logs = self.client.buildx.build(
                request.context, file=request.context / request.dockerfile,
                build_args=dict(request.build_args), labels=dict(request.labels),
                tags=list(request.tags), cache=request.use_cache, load=True,
                stream_logs=True)
            for line in cast(Iterator[str], logs):
                tail.line(str(line))
        except DockerException as error:
            message = last_error_line(error.stderr or "") or f"build exited {error.return_code}"
            raise BuildFailed(message, tail=tail.tail()) from error
        return self._must_exist(request.tags[0])

    def _must_exist(self, ref: str) -> str:
        image_id = self.image_id(ref)
        if image_id is None:
            raise ImageMissing(f"the build finished but {ref} is not in the engine",
                               hint=BUILD_HINT)
        return image_id

    # ---- registries ------------------------------------------------------------------------

    def login(self, server: str, username: str, password: str) -> None:
        """``docker login`` with the password on stdin (never in argv, never printed)."""
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        command = [*self.client.docker_cmd, "login", "--username", username,
                   "--password-stdin", server]
        try:
            run(command, input=password.encode(), capture_stdout=True, capture_stderr=True)
        except DockerException as error:
            raise registry_error(error.stderr or "", server, action="login",
                                 ref=None) from None

    def push(self, ref: str, registry: str, on_line: LineSink | None = None) -> str | None:
        """Push one tag; the registry digest from the push output (or the engine's record)."""
        return self._transfer("push", ref, registry, on_line)

    def pull(self, ref: str, registry: str, on_line: LineSink | None = None) -> str | None:
        """Pull one tag; its registry digest."""
        return self._transfer("pull", ref, registry, on_line)

    def _transfer(self, action: Literal["push", "pull"], ref: str, registry: str,
                  on_line: LineSink | None) -> str | None:
        from python_on_whales.exceptions import DockerException, NoSuchImage

        tail = LogTail(on_line)
        digest: str | None = None
        verb = self.client.image.push if action == "push" else self.client.image.pull
        try:
            stream = cast(Iterable[tuple[str, bytes]], verb(ref, stream_logs=True))
            for _, raw in stream:
                line = raw.decode(errors="replace")
                tail.line(line)
                found = _DIGEST.search(line)
                digest = found.group(1) if found else digest
        except NoSuchImage:
            raise ImageMissing(f"{ref} is not a local image", hint=BUILD_HINT) from None
        except DockerException as error:
            raise registry_error(error.stderr or "", registry, action=action, ref=ref,
                                 tail=tail.tail()) from None
        return digest

    def registry_digest(self, ref: str, registry: str) -> str | None:
        """The digest of ``ref`` in its registry, or None when the registry has no such tag."""
        try:
            info = self._api().inspect_distribution(ref, auth_config=self._auth)
        except Exception as error:  # docker-py's errors, told apart by shape (below)
            if not _is_api_error(error):
                raise engine_unreachable(self.host) from error
            text = str(getattr(error, "explanation", None) or error)
            if any(word in text.lower() for word in NOT_FOUND) and not is_auth(text):
                return None
            raise registry_error(text, registry, action="inspect", ref=ref) from None
        descriptor: dict[str, Any] = info.get("Descriptor", {})
        return descriptor.get("digest")

    # ---- plumbing --------------------------------------------------------------------------

    def _api(self) -> Any:
        """A docker-py low-level client for this thread (requests sessions are not shared)."""
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._local.api = _api_client(self.host, BUILD_TIMEOUT)
        return api

    def _engine_error(self, error: Exception) -> Exception:
        text = str(getattr(error, "stderr", "") or error)
        if "cannot connect" in text.lower() or "is the docker daemon running" in text.lower():
            return engine_unreachable(self.host)
        return error


def connect(*, config_dir: Path | None = None, auth: Mapping[str, str] | None = None) -> Engine:
    """Connect to the engine the docker CLI would use; ``ServiceUnavailable`` when it is down.

    ``config_dir`` is a private docker config folder (for a ``docker login``
    that must not touch the user's own ``~/.docker/config.json``).
    """
    from python_on_whales import DockerClient
    from python_on_whales.client_config import ClientNotFoundError

    client = DockerClient()
    try:
        host = _engine_host(client)
    except ClientNotFoundError:
        raise ServiceUnavailable("the docker CLI is not installed",
                                 hint="install it (apt-get install docker.io)") from None
    if config_dir is not None:
        # The private config has no contexts: pin the engine the user's config chose.
        client = DockerClient(config=config_dir, host=host)
    engine = Engine(client, host, auth=auth)
    engine.ping()
    return engine


def _from_docker_py(error: BaseException) -> bool:
    """One of docker-py's errors. Matched by module rather than by class: a full test
    run once saw a ``NotFound`` that ``except APIError`` did not catch (two copies of
    ``docker.errors`` in one process)."""
    return type(error).__module__.startswith("docker.")


def _is_api_error(error: Exception) -> bool:
    """An answer from the engine (docker-py's ``APIError`` and subclasses such as
    ``NotFound``), as opposed to no answer at all."""
    return _from_docker_py(error) and hasattr(error, "explanation") and \
        hasattr(error, "response")


def _follow_build(stream: Iterator[dict[str, Any]], tail: LogTail) -> str | None:
    image_id: str | None = None
    for event in stream:
        if "stream" in event:
            tail.feed(str(event["stream"]))
        elif "error" in event:
            detail = event.get("errorDetail") or {}
            raise BuildFailed(str(detail.get("message") or event["error"]).strip(),
                              tail=tail.tail())
        elif "aux" in event and isinstance(event["aux"], dict):
            image_id = event["aux"].get("ID", image_id)
    tail.tail()
    return image_id


def _api_client(host: str, timeout: int) -> Any:
    import docker

    kwargs = docker.utils.kwargs_from_env()
    kwargs.setdefault("base_url", host)
    return docker.APIClient(version="auto", timeout=timeout, **kwargs)


def _engine_host(client: DockerClient) -> str:
    """The engine address the CLI uses: ``DOCKER_HOST``, else the current context's endpoint."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    from python_on_whales.exceptions import DockerException

    try:
        endpoint = client.context.inspect(None).endpoints.get("docker")
    except DockerException:
        return DEFAULT_HOST
    return (endpoint.host if endpoint and endpoint.host else None) or DEFAULT_HOST


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "build failed"

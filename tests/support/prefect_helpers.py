"""Helpers for tests that drive the real ``invoke deploy.*`` CLI against a real Prefect server.

Plain functions (no fixtures): the integration and e2e tests and the benchmark use them.

- ``isolate_repo`` turns a repository copy into its own *namespace* on a shared
  server: a unique project name (the tool's ownership tag stays
  ``managed-by:deploytasks``, shared by every copy, as on a real shared server),
  a unique suffix on every deployment name and unique work pool names. Projects
  are what keeps copies apart (orphan detection and cleaning work per project);
  the suffix only keeps tests from colliding by name — tests about colliding
  names give two copies the same suffix and different projects.
- ``run_cli`` runs ``invoke`` in a subprocess exactly as a user or CI job would.
- The server is read back through Prefect's own client (``SyncPrefectClient``),
  never through the gateway under test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.docker_services import session_namespace

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = Path("config") / "deployment-config.yaml"
ENVIRONMENTS = {"development": "dev", "staging": "staging", "production": "prod"}
KINDS = ("python", "docker")
FLOW_NAMES = {"rpa1": "RPA1ProcessingFlow", "rpa2": "RPA2ProcessingFlow",
              "rpa3": "RPA3ProcessingFlow"}
# Variables of the caller that would change what the CLI does; never passed on.
SCRUBBED = ("PREFECT_API_KEY", "PREFECT_API_URL", "DEPLOYTASKS_ROOT", "DEPLOYMENT_ENV",
            "DEPLOYMENT_CONFIG_PATH", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "DOCKER_REGISTRY",
            "DOCKER_NAMESPACE", "DOCKER_TAG", "PREFECT_API_AUTH_STRING", "PREFECT_UI_URL",
            "PREFECT_PROFILE", "PREFECT_PROFILES_PATH")
# With no API URL the tool reads the active Prefect profile: a CLI run of the tests reads
# this (absent) file instead of the profiles of whoever runs them, unless it names its own.
NO_PROFILES = Path(tempfile.gettempdir()) / "deploytasks-tests-no-profiles" / "profiles.toml"


def invoke_path() -> Path:
    """The ``invoke`` of the virtualenv running the tests."""
    beside = Path(sys.executable).parent / "invoke"
    if beside.exists():
        return beside
    found = shutil.which("invoke")
    if found is None:
        raise RuntimeError("invoke is not installed in the test environment")
    return Path(found)


# Namespaces -----------------------------------------------------------------------------


OWNERSHIP_TAG = "managed-by:deploytasks"


@dataclass(frozen=True)
class Namespace:
    """The names one repository copy deploys under."""

    uid: str
    project: str = ""

    @property
    def tag(self) -> str:
        """The project's tag: every deployment of this copy carries it."""
        return f"project:{self.project or 'p-' + self.uid}"

    def name(self, flow: str, kind: str = "python", env: str = "dev") -> str:
        """The deployment name of ``flow`` as ``kind`` in environment ``env`` (short name)."""
        return f"{flow}-{kind}-{env}-{self.uid}"

    def pool(self, kind: str = "python", env: str = "dev") -> str:
        """The work pool ``kind`` deployments of ``env`` (short name) use."""
        base = f"{kind}-pool" if env == "dev" else f"{kind}-pool-{env}"
        return f"{base}-{self.uid}"

    def names(self, flows: Sequence[str] = ("rpa1", "rpa2", "rpa3"), env: str = "dev",
              kinds: Sequence[str] = KINDS) -> set[str]:
        return {self.name(f, k, env) for f in flows for k in kinds}


def new_uid() -> str:
    return uuid.uuid4().hex[:8]


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def edit_config(root: Path, change: Callable[[dict[str, Any]], None],
                file: Path = CONFIG_FILE) -> None:
    """Load a YAML file of the repository copy, let ``change`` edit it, write it back."""
    path = root / file
    data = read_yaml(path) or {}
    change(data)
    write_yaml(path, data)


def isolate_repo(root: Path, uid: str | None = None, project: str | None = None) -> Namespace:
    """Give the repository copy at ``root`` its own namespace, and the root ``tasks.py``.

    ``uid`` (default: a new one) suffixes deployment and pool names; ``project`` (default
    ``p-<uid>``) is the copy's project. Two copies given the same ``uid`` and different
    projects want the same deployment names: each other's conflicts."""
    uid = uid or new_uid()
    namespace = Namespace(uid, project or f"p-{uid}")
    shutil.copy2(PROJECT_ROOT / "tasks.py", root / "tasks.py")

    def main(data: dict[str, Any]) -> None:
        data["project"] = namespace.project
        data["naming"] = {**(data.get("naming") or {}),
                          "deployment": "{flow}-{type}-{env}-" + namespace.uid}
        data.setdefault("prefect", {})["ownership_tag"] = OWNERSHIP_TAG
        for kind, pool in (data.get("work_pools") or {}).items():
            pool["name"] = namespace.pool(kind, "dev")

    edit_config(root, main)
    for env, short in ENVIRONMENTS.items():
        overlay = Path("config") / "environments" / f"{env}.yaml"
        if not (root / overlay).is_file():
            continue

        def pools(data: dict[str, Any], short: str = short) -> None:
            for kind, pool in (data.get("work_pools") or {}).items():
                pool["name"] = namespace.pool(kind, short)

        edit_config(root, pools, overlay)
    return namespace


def set_flow_setting(root: Path, flow: str, key: str, value: Any) -> None:
    """``flows.<flow>.<key>: value`` in the main configuration (dotted keys nest)."""
    def change(data: dict[str, Any]) -> None:
        target = data.setdefault("flows", {}).setdefault(flow, {})
        *parents, last = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value

    edit_config(root, change)


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text that must be there (a test editing a file fails loudly if it is not);
    the first ``count`` occurrences, every one with ``count=-1``."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def clone_flows(root: Path, count: int, *, template: str = "rpa1",
                remove_others: bool = True) -> list[str]:
    """``count`` copies of a flow folder: ``rpaNNN``, flow name ``RPA1ProcessingFlowNNN``."""
    flows_dir = root / "flows"
    source = flows_dir / template
    flow_name = FLOW_NAMES[template]
    folders = []
    for number in range(1, count + 1):
        folder = f"rpa{number:03d}"
        target = flows_dir / folder
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "output"))
        edit(target / "workflow.py", f'name="{flow_name}"',
                        f'name="{flow_name}{number:03d}"')
        folders.append(folder)
    if remove_others:
        for name in FLOW_NAMES:
            if name not in folders:
                shutil.rmtree(flows_dir / name, ignore_errors=True)

    def drop_flow_sections(data: dict[str, Any]) -> None:
        data["flows"] = {}

    if remove_others:
        edit_config(root, drop_flow_sections)
    return folders


# Running the CLI --------------------------------------------------------------------------


@dataclass
class CliResult:
    """One finished ``invoke`` run."""

    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        """stdout as the one JSON document ``--json`` promises."""
        try:
            return json.loads(self.stdout)
        except ValueError as error:
            raise AssertionError(f"stdout of {' '.join(self.args)} is not one JSON document "
                                 f"({error}):\n{self.describe()}") from None

    def describe(self) -> str:
        """The run in one headline and its cause in one line, then the tails of its output."""
        return (f"$ invoke {' '.join(self.args)}  -> exit {self.code} in {self.seconds:.1f} s\n"
                f"cause: {self.cause()}\n"
                f"--- stdout (tail)\n{self.stdout[-TAIL:]}\n--- stderr (tail)\n"
                f"{self.stderr[-TAIL:]}")

    def cause(self) -> str:
        """Why the run did not succeed, in one line: the error line, else the failures the
        JSON document lists (deployments, skipped flows, problems), else the last line."""
        for line in self.stderr.splitlines():
            if line.startswith("error:"):
                return line
        try:
            document = json.loads(self.stdout)
        except ValueError:
            document = None
        reasons = _failure_reasons(document) if isinstance(document, dict) else []
        if reasons:
            return "; ".join(reasons)[:600]
        lines = [line for line in (self.stderr + self.stdout).splitlines() if line.strip()]
        return lines[-1].strip()[:600] if lines else "(no output)"


TAIL = 2500


def _failure_reasons(document: dict[str, Any]) -> list[str]:
    """``name: message`` for every failed result, skipped deployment and problem, every
    deployment ``deploy.check`` found missing or different, and what the UI check missed."""
    reasons = [f"{r.get('name')}: {r.get('message')}"
               for r in document.get("results") or [] if isinstance(r, dict) and not r.get("ok")]
    reasons += [f"{s.get('name') or s.get('flow')}: skipped: {s.get('reason')}"
                for s in document.get("skipped") or [] if isinstance(s, dict)]
    reasons += [f"{p.get('deployment')}: {p.get('message')}"
                for p in document.get("problems") or [] if isinstance(p, dict)]
    reasons += [f"{d.get('name')}: {'; '.join(d.get('mismatches') or ['not found'])}"
                for d in document.get("deployments") or []
                if isinstance(d, dict) and d.get("ok") is False]
    if document.get("ui_problem"):
        reasons.append(f"ui: {document['ui_problem']}")
    browser = document.get("browser")
    if isinstance(browser, dict) and browser.get("missing"):
        reasons.append(f"browser: not rendered: {', '.join(browser['missing'])}")
    return reasons


def cli_env(api_url: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI run: the caller's, scrubbed, pointed at ``api_url``."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    namespace = session_namespace()
    if namespace:  # images of this test session only, never an earlier run's
        env["DOCKER_NAMESPACE"] = namespace
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(extra or {})
    if not {"PREFECT_HOME", "PREFECT_PROFILES_PATH"} & set(extra or {}):
        env["PREFECT_PROFILES_PATH"] = str(NO_PROFILES)
    return env


def run_cli(root: Path, *args: str, api_url: str | None, timeout: float = 180,
            extra_env: dict[str, str] | None = None) -> CliResult:
    """``invoke <args>`` in ``root``, as a user would run it."""
    started = time.perf_counter()
    done = subprocess.run([str(invoke_path()), *args], cwd=root, env=cli_env(api_url, extra_env),
                          capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)
    return CliResult(list(args), done.returncode, done.stdout, done.stderr,
                     time.perf_counter() - started)


def start_cli(root: Path, *args: str, api_url: str | None, log: Path,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``invoke <args>`` in the background; stdout and stderr go to ``log``(.out/.err)."""
    out = log.with_suffix(".out").open("w")
    err = log.with_suffix(".err").open("w")
    return subprocess.Popen([str(invoke_path()), *args], cwd=root,
                            env=cli_env(api_url, extra_env), stdout=out, stderr=err, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_ctrl_c_as_in_a_terminal)


def _ctrl_c_as_in_a_terminal() -> None:
    """SIGINT back to its default in the child, as a terminal's foreground job has it. A
    test run started as a background job of a script (``cmd &``, ``nohup``) inherits
    SIGINT *ignored*, and so would every run it starts: a test that presses Ctrl-C would
    then see the run finish (it did, in a fresh-check started in the background)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli_until(root: Path, *args: str, api_url: str | None, log: Path,
                    until: Callable[[], bool], timeout: float = 120, poll: float = 0.02,
                    extra_env: dict[str, str] | None = None
                    ) -> tuple[subprocess.Popen[str], float]:
    """Start ``invoke <args>`` in the background and return once ``until()`` is true, the run
    has ended or ``timeout`` seconds have passed (``until=lambda: False`` just waits); the
    process and its start time, for ``finish_cli``. Tests that interrupt a run mid-way use it."""
    started = time.perf_counter()
    process = start_cli(root, *args, api_url=api_url, log=log, extra_env=extra_env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if until():
            break
        time.sleep(poll)
    return process, started


def start_deploy_until(root: Path, *args: str, api_url: str, log: Path, deployments: int,
                       tag: str | None = None, timeout: float = 120
                       ) -> tuple[subprocess.Popen[str], float, int]:
    """Start a deploy (``args``) in the background and return once the server holds
    ``deployments`` deployments (carrying ``tag``, when given): the process, its start time
    and the last count seen. The caller then stops the server or interrupts the run."""
    seen = 0

    def enough() -> bool:
        nonlocal seen
        seen = count_deployments(api_url, tag)
        return seen >= deployments

    process, started = start_cli_until(root, *args, api_url=api_url, log=log, until=enough,
                                       timeout=timeout)
    return process, started, seen


def finish_cli(process: subprocess.Popen[str], log: Path, args: Sequence[str],
               started: float, timeout: float = 180) -> CliResult:
    """Wait for a background run and collect it as a ``CliResult``."""
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        code = process.wait()
    return CliResult(list(args), code, log.with_suffix(".out").read_text(),
                     log.with_suffix(".err").read_text(), time.perf_counter() - started)


def task_names(listing: dict[str, Any]) -> frozenset[str]:
    """Every task's dotted name in the JSON of ``invoke --list --list-format=json``."""
    names: set[str] = set()

    def walk(node: dict[str, Any], prefix: str) -> None:
        names.update(prefix + task["name"] for task in node["tasks"])
        for child in node["collections"]:
            walk(child, f"{prefix}{child['name']}.")

    walk(listing, "")
    return frozenset(names)


# Reading the server ---------------------------------------------------------------------


@contextmanager
def client(api_url: str) -> Iterator[Any]:
    """Prefect's own synchronous client for ``api_url``."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(api_url) as prefect_client:
        yield prefect_client


def _paged(read: Callable[..., list[Any]], **kwargs: Any) -> list[Any]:
    found: list[Any] = []
    while True:
        page = read(limit=200, offset=len(found), **kwargs)
        found.extend(page)
        if len(page) < 200:
            return found


def deployments(api_url: str, tag: str | None = None) -> list[Any]:
    """Every deployment on the server (only those carrying ``tag``, when given)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    kwargs: dict[str, Any] = {}
    if tag:
        kwargs["deployment_filter"] = DeploymentFilter(tags=DeploymentFilterTags(all_=[tag]))
    with client(api_url) as prefect_client:
        return _paged(prefect_client.read_deployments, **kwargs)


def deployments_by_name(api_url: str, tag: str | None = None) -> dict[str, Any]:
    """Deployments by name; fails if a name appears twice (the tool must never duplicate)."""
    found = deployments(api_url, tag)
    names = [d.name for d in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicate deployments on the server: {duplicates}"
    return {d.name: d for d in found}


def deployment(api_url: str, flow_name: str, name: str) -> Any:
    with client(api_url) as prefect_client:
        return prefect_client.read_deployment_by_name(f"{flow_name}/{name}")


def work_pools(api_url: str) -> dict[str, Any]:
    with client(api_url) as prefect_client:
        return {p.name: p for p in _paged(prefect_client.read_work_pools)}


# What the server changes by itself while workers come and go (the foreman marks pools and
# deployments ready or not ready): not a write of the client under test.
LIVENESS_FIELDS = frozenset({"status", "last_polled", "updated"})


def server_dump(api_url: str, *, liveness: bool = True) -> dict[str, Any]:
    """Every deployment, flow and work pool, as JSON data sorted by id (to compare states);
    without the fields the server keeps up to date by itself when ``liveness`` is False."""
    with client(api_url) as prefect_client:
        dump = {
            "deployments": _paged(prefect_client.read_deployments),
            "flows": _paged(prefect_client.read_flows),
            "work_pools": _paged(prefect_client.read_work_pools),
        }
    drop = set() if liveness else LIVENESS_FIELDS
    return {kind: sorted(({k: v for k, v in item.model_dump(mode="json").items()
                           if k not in drop} for item in items),
                         key=lambda d: str(d["id"]))
            for kind, items in dump.items()}


def count_deployments(api_url: str, tag: str | None = None, timeout: float = 2.0) -> int:
    """How many deployments the server holds, only those carrying ``tag`` when given (one
    cheap request straight to the server, not through the gateway under test; raises if it
    is down)."""
    import httpx

    body = {"deployments": {"tags": {"all_": [tag]}}} if tag else {}
    response = httpx.post(f"{api_url}/deployments/count", json=body, timeout=timeout)
    response.raise_for_status()
    return int(response.json())


# Private servers ------------------------------------------------------------------------


@dataclass
class PrivateServer:
    """A ``LocalServer`` of one test, which it may stop and restart on the same home and port."""

    folder: Path
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 120) -> PrivateServer:
        from deploytasks.env.local_server import LocalServer

        LocalServer(self.folder).start(self.port, timeout=timeout)
        return self

    def stop(self) -> None:
        from deploytasks.env.local_server import LocalServer

        LocalServer(self.folder).stop()

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"


def new_private_server(folder: Path) -> PrivateServer:
    from deploytasks.env.local_server import free_port

    folder.mkdir(parents=True, exist_ok=True)
    return PrivateServer(folder, free_port())


# Small text helpers ---------------------------------------------------------------------


def one_line(text: str) -> bool:
    """True when ``text`` is exactly one non-empty line."""
    return len([line for line in text.strip().splitlines() if line.strip()]) == 1


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)

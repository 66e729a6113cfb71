"""Benchmark: deploy N generated flows, ours vs ``prefect deploy`` vs the raw-client floor.

Run:  .venv/bin/python bench/bench_deploy.py [--flows 100] [--repeat 1] [--profile]

Generates a temporary git repository with N copies of ``flows/rpa1`` (unique
folder and flow names), this repository's configuration, and a matching
``prefect.yaml`` (N process deployments, same entrypoints, parameters, tags and
pull step). Each contender then runs on its own FRESH local Prefect server
(``LocalServer`` on a free port, its own SQLite home; only one server runs at a
time) and is timed as a user would see it, as a subprocess, interpreter start
included:

- prefect: ``prefect --no-prompt deploy --all``, first time and unchanged re-run
  (its work pool is created beforehand, untimed).
- ours:    ``invoke deploy.python --env dev --json``, first time and unchanged
  re-run; requests per deployment come from the JSON's ``requests``.
- floor:   Prefect's own client registering the same N specs one by one
  (``create_flow_from_name`` + ``create_deployment``, plus the work pool) in a
  fresh interpreter, first time and again as upserts. The specs are the ones
  ``invoke deploy.build`` writes, so the floor sends what we send, with no
  discovery, no schema, no plan.

``--events-off`` starts the servers with the event persister off: fewer 503
"database is locked" answers, so the client-side cost of each contender shows.
``--db postgres`` gives every contender its own fresh PostgreSQL cluster
(``tests/support/postgres.py``) behind its fresh Prefect server;
``--concurrency N`` runs ours with ``--concurrency N`` (parallel API writes).
Every contender's peak RSS and CPU seconds are measured (``os.wait4`` on the
subprocess), and so are the server's and PostgreSQL's CPU seconds during each run.
``bench/bench_scale.py`` runs this for several N and concurrencies.

Targets (the issue): ours first <= 1.3 x floor first (same run); prefect
unchanged >= 15 x ours unchanged, with zero write requests. Prints a table and
writes JSON to ``bench/results/deploy-<N>.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "tests"))

from support.postgres import postgres_server  # noqa: E402
from support.prefect_helpers import (  # noqa: E402
    cli_env,
    clone_flows,
    count_deployments,
    invoke_path,
    run_cli,
)

from deploytasks.env.local_server import LocalServer, free_port  # noqa: E402
from deploytasks.paths import state_dir  # noqa: E402

BIN = Path(sys.executable).parent
FIRST_TARGET = 1.3
UNCHANGED_TARGET = 15.0


@dataclass
class Timing:
    """One contender on one fresh server."""

    first: float = 0.0
    unchanged: float = 0.0
    requests_first: dict[str, int] = field(default_factory=dict)
    requests_unchanged: dict[str, int] = field(default_factory=dict)
    deployments: int = 0
    # Per run ("first" / "unchanged"): the contender's peak RSS (MB) and CPU seconds
    # (user + sys), the server's and the database's CPU seconds meanwhile, and the
    # requests the server logged (by status class; None when not counted).
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    server_cpu: dict[str, float] = field(default_factory=dict)
    db_cpu: dict[str, float] = field(default_factory=dict)
    server_requests: dict[str, dict[str, int] | None] = field(default_factory=dict)
    concurrency: int | None = None


# The repository -----------------------------------------------------------------------


def make_repo(folder: Path, count: int) -> list[str]:
    """N flows, this repository's config (flow sections dropped) and a prefect.yaml; git."""
    folder.mkdir(parents=True)
    for name in ("config", "flows"):
        shutil.copytree(PROJECT_ROOT / name, folder / name,
                        ignore=shutil.ignore_patterns("__pycache__", "output", ".env"))
    shutil.copy2(PROJECT_ROOT / "tasks.py", folder / "tasks.py")
    flows = clone_flows(folder, count)
    write_prefect_yaml(folder, flows)
    (folder / ".gitignore").write_text("build/\n.deploytasks/\n__pycache__/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run([*git, *command], cwd=folder, check=True, capture_output=True)
    return flows


def write_prefect_yaml(folder: Path, flows: list[str]) -> None:
    """The same N process deployments for ``prefect deploy`` (same pool, tags, parameters)."""
    import yaml

    deployments = [{
        "name": f"{flow}-python-dev",
        "entrypoint": f"flows/{flow}/workflow.py:rpa1_processing_flow",
        "tags": ["managed-by:deploytasks", "env:dev", "type:python", "rpa"],
        "parameters": {"cleanup": True},
        "work_pool": {"name": "python-pool", "work_queue_name": "default",
                      "job_variables": {}},
        "enforce_parameter_schema": True,
        "schedules": [],
    } for flow in flows]
    document = {
        "name": "bench", "prefect-version": "3.9.1", "build": None, "push": None,
        "pull": [{"prefect.deployments.steps.set_working_directory":
                  {"directory": str(folder)}}],
        "deployments": deployments,
    }
    (folder / "prefect.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


# Servers --------------------------------------------------------------------------------

ACCESS_LINE = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) /api/(\S*) HTTP/[\d.]+" (\d{3})')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class FreshServer:
    """A new Prefect server with its own home; stopped (and its home removed) on exit.

    ``db="postgres"``: backed by its own fresh PostgreSQL cluster, stopped and removed
    with it. ``count_requests``: the server logs at INFO, so uvicorn's access log
    lines (one per request) can be counted between two marks."""

    def __init__(self, folder: Path, db: str = "sqlite", count_requests: bool = False) -> None:
        self.folder = folder
        self.db = db
        self.count_requests = count_requests
        self.server: LocalServer | None = None
        self.api_url = ""
        self.db_pid: int | None = None
        self._stack = ExitStack()

    def __enter__(self) -> FreshServer:
        try:
            database_url = None
            if self.db == "postgres":
                database_url = self._stack.enter_context(postgres_server())
                self.db_pid = postmaster_pid(int(database_url.rsplit(":", 1)[1].split("/")[0]))
            self.server = LocalServer(self.folder, database_url=database_url)
            saved = os.environ.get("PREFECT_SERVER_LOGGING_LEVEL")
            if self.count_requests:  # LocalServer passes its environment on to the server
                os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "INFO"
            try:
                self.api_url = self.server.start(free_port(), timeout=180).api_url
            finally:
                if saved is None:
                    os.environ.pop("PREFECT_SERVER_LOGGING_LEVEL", None)
                else:
                    os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = saved
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            self._stack.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def server_pid(self) -> int | None:
        state = self.server.state() if self.server else None
        return state.pid if state else None

    def mark(self) -> tuple[int, float, float]:
        """Where the access log ends, and the server's and database's CPU seconds so far."""
        table = process_table()
        size = (self.folder / "server.log").stat().st_size if self.count_requests else 0
        return (size, tree_cpu(self.server_pid, table), tree_cpu(self.db_pid, table))

    def since(self, mark: tuple[int, float, float]
              ) -> tuple[dict[str, int] | None, float, float]:
        """Requests logged (by status class, plus by endpoint) and CPU used since ``mark``."""
        size, server_cpu, db_cpu = mark
        table = process_table()
        cpu = (tree_cpu(self.server_pid, table) - server_cpu, tree_cpu(self.db_pid, table) - db_cpu)
        if not self.count_requests:
            return None, *cpu
        time.sleep(0.2)  # let the server flush its last access lines
        with (self.folder / "server.log").open("rb") as handle:
            handle.seek(size)
            text = handle.read().decode("utf-8", "replace")
        counts: dict[str, int] = defaultdict(int)
        for method, path, status in ACCESS_LINE.findall(text):
            if path.startswith("health"):
                continue
            counts["total"] += 1
            counts[f"{status[0]}xx"] += 1
            endpoint = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", path.split("?")[0])
            endpoint = re.sub(r"^deployments/name/[^/]+/[^/]+", "deployments/name/{flow}/{name}",
                              endpoint)
            counts[f"{method} /{endpoint}"] += 1
        return dict(counts), *cpu


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks of the process and of its reaped children)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return table


def tree_cpu(root: int | None, table: dict[int, tuple[int, int]]) -> float:
    """CPU seconds of a process tree: live members plus the children they reaped."""
    if root is None:
        return 0.0
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += table.get(pid, (0, 0))[1]
        stack.extend(children.get(pid, ()))
    return total / CLOCK_TICKS


def postmaster_pid(port: int) -> int | None:
    """The PostgreSQL server listening on ``port`` (found by its command line)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/postgres") and str(port).encode() in argv:
            return int(entry.name)
    return None


def env_for(api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_KEY", "DEPLOYTASKS_ROOT", "DEPLOYMENT_ENV", "GITHUB_ACTIONS")}
    env["PREFECT_API_URL"] = api_url
    return env


@dataclass
class Measured:
    """One finished subprocess: wall seconds, output, and its own resource use."""

    seconds: float
    code: int
    stdout: str
    stderr: str
    peak_rss_mb: float  # ru_maxrss: the process's (or a waited-for child's) peak
    cpu: float          # user + sys seconds, its waited-for children included

    def json(self) -> Any:
        return json.loads(self.stdout)


def measure(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 1800
            ) -> Measured:
    """Run ``command`` and collect its rusage with ``os.wait4`` (this process alone,
    not the servers this script started and reaped)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, process.send_signal, (signal.SIGKILL,))
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(seconds, process.returncode, out.read().decode("utf-8", "replace"),
                        err.read().decode("utf-8", "replace"), usage.ru_maxrss / 1024,
                        usage.ru_utime + usage.ru_stime)


def timed(command: list[str], cwd: Path, api_url: str, timeout: float = 1800,
          server: FreshServer | None = None, into: Timing | None = None,
          attempt: str = "") -> tuple[float, Measured]:
    """Run one contender's command; with ``server`` and ``into``, record what it cost."""
    mark = server.mark() if server else None
    done = measure(command, cwd, env_for(api_url), timeout)
    if done.code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.code}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    if server is not None and into is not None and mark is not None:
        record(into, attempt, done, server, mark)
    return done.seconds, done


def record(into: Timing, attempt: str, done: Measured, server: FreshServer,
           mark: tuple[int, float, float]) -> None:
    requests, server_cpu, db_cpu = server.since(mark)
    setattr(into, attempt, done.seconds)
    into.peak_rss_mb[attempt] = round(done.peak_rss_mb, 1)
    into.cpu[attempt] = round(done.cpu, 2)
    into.server_cpu[attempt] = round(server_cpu, 2)
    into.db_cpu[attempt] = round(db_cpu, 2)
    into.server_requests[attempt] = requests


@dataclass
class Setup:
    """How the servers are made and how ours is run."""

    db: str = "sqlite"
    concurrency: int | None = None
    count_requests: bool = False
    timeout: float = 1800
    # Our parameter-schema cache (.deploytasks/cache/, git-ignored) before our first run:
    # "warm" (filled by an untimed ``deploy.build`` if missing: a repeat deploy from the
    # same checkout) or "cold" (removed: a fresh checkout, e.g. a CI job without a cache).
    schema_cache: str = "warm"

    def server(self, folder: Path) -> FreshServer:
        return FreshServer(folder, self.db, self.count_requests)


# Contenders -----------------------------------------------------------------------------


def bench_prefect(repo: Path, work: Path, count: int, setup: Setup | None = None) -> Timing:
    setup = setup or Setup()
    result = Timing()
    with setup.server(work / "server-prefect") as server:
        timed([str(BIN / "prefect"), "--no-prompt", "work-pool", "create", "python-pool",
               "--type", "process"], repo, server.api_url)
        command = [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"]
        for attempt in ("first", "unchanged"):
            timed(command, repo, server.api_url, setup.timeout, server, result, attempt)
        result.deployments = count_deployments(server.api_url)
    return result


def ours_command(concurrency: int | None) -> list[str]:
    return [str(invoke_path()), "deploy.python", "--env", "dev", "--json",
            *(["--concurrency", str(concurrency)] if concurrency else [])]


def prepare_schema_cache(repo: Path, state: str) -> None:
    cache = state_dir(repo) / "cache"
    if state == "cold":
        shutil.rmtree(cache, ignore_errors=True)
    elif not (cache / "parameter-schemas.json").exists():
        build = run_cli(repo, "deploy.build", "--env", "dev", "--json", api_url=None, timeout=900)
        if build.code != 0:
            raise SystemExit(build.describe())


def failures(stdout: str) -> str:
    """The failed outcomes of our --json output, briefly (or the output's tail)."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return stdout[-3000:]
    failed = [f"{o.get('name')}: {o.get('message')}" for o in doc.get("results", [])
              if not o.get("ok")]
    problems = {k: v for k, v in doc.items() if k not in ("results", "environment")}
    return (f"{len(failed)} failed outcomes: {failed[:10]}; "
            f"{json.dumps(problems, default=str)[:1500]}")


def bench_ours(repo: Path, work: Path, count: int, setup: Setup | None = None) -> Timing:
    setup = setup or Setup()
    result = Timing(concurrency=setup.concurrency)
    prepare_schema_cache(repo, setup.schema_cache)
    with setup.server(work / "server-ours") as server:
        for attempt in ("first", "unchanged"):
            mark = server.mark()
            run = measure(ours_command(setup.concurrency), repo, cli_env(server.api_url),
                          setup.timeout)
            if run.code != 0:
                raise SystemExit(f"ours ({attempt}) failed ({run.code}): "
                                 f"{failures(run.stdout)}\n{run.stderr[-3000:]}")
            record(result, attempt, run, server, mark)
            setattr(result, f"requests_{attempt}", run.json()["requests"])
        result.deployments = count_deployments(server.api_url)
    return result


FLOOR_SCRIPT = r"""
import json, sys, time
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.workers.process import ProcessWorker

api_url, specs_file, create_pool = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
specs = json.load(open(specs_file))
with SyncPrefectClient(api_url) as client:
    if create_pool:
        client.create_work_pool(WorkPoolCreate(
            name=specs[0]["work_pool"]["name"], type="process",
            base_job_template=ProcessWorker.get_default_base_job_template()))
    for spec in specs:
        flow_id = client.create_flow_from_name(spec["flow_name"])
        client.create_deployment(
            flow_id=flow_id, name=spec["name"], version=spec["version"], schedules=[],
            concurrency_limit=spec["concurrency_limit"], parameters=spec["parameters"],
            description=spec["description"],
            work_queue_name=spec["work_pool"]["work_queue_name"],
            work_pool_name=spec["work_pool"]["name"], tags=spec["tags"],
            entrypoint=spec["entrypoint"],
            parameter_openapi_schema=spec["parameter_openapi_schema"],
            pull_steps=spec["pull"], enforce_parameter_schema=spec["enforce_parameter_schema"],
            job_variables=spec["job_variables"])
"""


def bench_floor(repo: Path, work: Path, count: int, setup: Setup | None = None) -> Timing:
    """Prefect's client sending our specs one by one, in a fresh interpreter."""
    setup = setup or Setup()
    result = Timing()
    build = run_cli(repo, "deploy.build", "--env", "dev", "--json", api_url=None, timeout=600)
    specs = [s for s in build.json()["specs"] if s["type"] == "python"]
    assert len(specs) == count, f"deploy.build gave {len(specs)} python specs, expected {count}"
    assert all(not s["schedules"] for s in specs), "the floor sends no schedules"
    specs_file = work / "floor-specs.json"
    specs_file.write_text(json.dumps(specs))
    script = work / "floor.py"
    script.write_text(FLOOR_SCRIPT)
    with setup.server(work / "server-floor") as server:
        for attempt, create_pool in (("first", "1"), ("unchanged", "0")):
            timed([sys.executable, str(script), server.api_url, str(specs_file), create_pool],
                  repo, server.api_url, setup.timeout, server, result, attempt)
        result.deployments = count_deployments(server.api_url)
    return result


# Profile --------------------------------------------------------------------------------


def profile_ours(repo: Path, work: Path, top: int = 25, setup: Setup | None = None,
                 attempts: tuple[str, ...] = ("first", "unchanged")) -> str:
    """cProfile of our first and unchanged runs (the invoke process itself)."""
    import pstats

    setup = setup or Setup()
    out = []
    with setup.server(work / "server-profile") as server:
        for attempt in attempts:
            stats_file = work / f"ours-{attempt}.prof"
            seconds, _ = timed([sys.executable, "-m", "cProfile", "-o", str(stats_file),
                                *ours_command(setup.concurrency)], repo, server.api_url,
                               setup.timeout)
            for order in ("cumulative", "tottime"):
                stream = _Capture()
                stats = pstats.Stats(str(stats_file), stream=stream)  # type: ignore[arg-type]
                stats.sort_stats(order).print_stats(top)
                out.append(f"== ours, {attempt} run ({seconds:.1f} s under cProfile; "
                           f"{order}, top {top})\n{stream.text}")
    return "\n".join(out)


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


# Report ---------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(count: int, runs: list[dict[str, Timing]]) -> dict[str, Any]:
    def pick(tool: str, what: str) -> float:
        return median([getattr(r[tool], what) for r in runs])

    def best(tool: str, what: str) -> float:
        return min(getattr(r[tool], what) for r in runs)

    ours, prefect, floor = ({w: pick(t, w) for w in ("first", "unchanged")}
                            for t in ("ours", "prefect", "floor"))
    fastest = {t: {w: best(t, w) for w in ("first", "unchanged")}
               for t in ("ours", "prefect", "floor")}
    last = runs[-1]["ours"]
    requests = last.requests_first
    per_deployment = (requests.get("reads", 0) + requests.get("writes", 0)) / count
    ratios = {
        "ours_first_over_floor_first": ours["first"] / floor["first"],
        "prefect_first_over_ours_first": prefect["first"] / ours["first"],
        "prefect_unchanged_over_ours_unchanged": prefect["unchanged"] / ours["unchanged"],
        "ours_unchanged_over_floor_upserts": ours["unchanged"] / floor["unchanged"],
    }
    targets = {
        "first_within_1.3x_floor": ratios["ours_first_over_floor_first"] <= FIRST_TARGET,
        "unchanged_15x_faster_than_prefect":
            ratios["prefect_unchanged_over_ours_unchanged"] >= UNCHANGED_TARGET,
        "unchanged_zero_writes": last.requests_unchanged.get("writes") == 0,
    }
    best_ratios = {
        "ours_first_over_floor_first": fastest["ours"]["first"] / fastest["floor"]["first"],
        "prefect_unchanged_over_ours_unchanged":
            fastest["prefect"]["unchanged"] / fastest["ours"]["unchanged"],
    }
    return {"flows": count, "repeat": len(runs), "seconds": {
        "prefect": prefect, "ours": ours, "floor": floor}, "best_seconds": fastest,
        "best_ratios": best_ratios,
        "ours_retries_first": [r["ours"].requests_first.get("retries", 0) for r in runs],
        "ours_requests": {"first": requests, "unchanged": last.requests_unchanged,
                          "per_deployment_first": per_deployment,
                          "per_deployment_unchanged":
                              (last.requests_unchanged.get("reads", 0)
                               + last.requests_unchanged.get("writes", 0)) / count},
        "deployments_on_server": {t: runs[-1][t].deployments for t in runs[-1]},
        "peak_rss_mb": {t: max((max(r[t].peak_rss_mb.values(), default=0) for r in runs),
                               default=0) for t in runs[-1]},
        "ratios": ratios, "targets_met": targets,
        "runs": [{t: asdict(v) for t, v in r.items()} for r in runs]}


def table(summary: dict[str, Any]) -> str:
    s, r, q = summary["seconds"], summary["ratios"], summary["ours_requests"]
    n = summary["flows"]
    rows = [("contender (median)", "first s", "unchanged s", "first ms/depl",
             "unchanged ms/depl", "peak RSS MB", "requests/depl (first / unchanged)")]
    for tool, label in (("prefect", "prefect deploy --all"), ("ours", "invoke deploy.python"),
                        ("floor", "raw client, one by one")):
        requests = (f"{q['per_deployment_first']:.2f} / {q['per_deployment_unchanged']:.2f} "
                    f"({q['unchanged'].get('writes')} writes)" if tool == "ours" else "")
        rss = summary["peak_rss_mb"].get(tool)
        rows.append((label, f"{s[tool]['first']:.2f}", f"{s[tool]['unchanged']:.2f}",
                     f"{s[tool]['first'] / n * 1000:.0f}", f"{s[tool]['unchanged'] / n * 1000:.0f}",
                     f"{rss:.0f}" if rss else "", requests))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    met = summary["targets_met"]
    lines += [
        "",
        f"ours first / floor first:            {r['ours_first_over_floor_first']:.2f}x "
        f"(target <= {FIRST_TARGET}x: {'met' if met['first_within_1.3x_floor'] else 'MISSED'})",
        f"prefect first / ours first:          {r['prefect_first_over_ours_first']:.1f}x",
        f"prefect unchanged / ours unchanged:  {r['prefect_unchanged_over_ours_unchanged']:.1f}x "
        f"(target >= {UNCHANGED_TARGET:.0f}x: "
        f"{'met' if met['unchanged_15x_faster_than_prefect'] else 'MISSED'})",
        f"ours unchanged / floor upserts:      {r['ours_unchanged_over_floor_upserts']:.2f}x",
        f"ours unchanged writes:               {q['unchanged'].get('writes')} "
        f"({'met' if met['unchanged_zero_writes'] else 'MISSED'})",
        f"ours first-run retries (per repeat): {summary['ours_retries_first']}"
        + (" (503 'database is locked' from the SQLite server)"
           if summary.get("db", "sqlite") == "sqlite" else ""),
    ]
    if summary["repeat"] > 1:
        b = summary["best_ratios"]
        lines.append(f"best of {summary['repeat']}: ours first / floor first "
                     f"{b['ours_first_over_floor_first']:.2f}x, prefect unchanged / ours "
                     f"unchanged {b['prefect_unchanged_over_ours_unchanged']:.1f}x")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=100, help="flows to generate (default 100)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="repeat every measurement on new fresh servers; medians reported")
    parser.add_argument("--skip-prefect", action="store_true",
                        help="leave out prefect deploy (slow); its ratios become 0")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile our first and unchanged runs (on another server)")
    parser.add_argument("--events-off", action="store_true",
                        help="start the servers with the event persister off (fewer 503s from "
                             "SQLite locks, so client-side costs show; not the default server)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                        help="the servers' database: SQLite in their home (default) or a fresh "
                             "PostgreSQL cluster per server")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="run ours with --concurrency N (default: the config's)")
    parser.add_argument("--cold-cache", action="store_true",
                        help="remove our parameter-schema cache before our first run (a fresh "
                             "checkout); by default it is warm")
    parser.add_argument("--count-requests", action="store_true",
                        help="servers log at INFO; count every contender's requests from "
                             "the access log")
    parser.add_argument("--keep", action="store_true", help="keep the generated repository")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON result file (default bench/results/deploy-<N>.json)")
    args = parser.parse_args()

    if args.events_off:  # LocalServer passes its environment on to the server
        os.environ["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] = "false"
    work = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    repo = work / "repo"
    started = time.perf_counter()
    try:
        make_repo(repo, args.flows)
        print(f"generated {args.flows} flows in {repo}", file=sys.stderr)
        runs: list[dict[str, Timing]] = []
        setup = Setup(args.db, args.concurrency, args.count_requests,
                      schema_cache="cold" if args.cold_cache else "warm")
        for number in range(args.repeat):
            run: dict[str, Timing] = {}
            for tool, bench in (("floor", bench_floor), ("ours", bench_ours),
                                ("prefect", bench_prefect)):
                if tool == "prefect" and args.skip_prefect:
                    run[tool] = Timing(1e-9, 1e-9)
                    continue
                print(f"[{number + 1}/{args.repeat}] {tool} ...", file=sys.stderr)
                run[tool] = bench(repo, work, args.flows, setup)
                print(f"    first {run[tool].first:.2f} s, unchanged {run[tool].unchanged:.2f} s",
                      file=sys.stderr)
            runs.append(run)
        summary = summarize(args.flows, runs)
        summary.update(machine={"python": platform.python_version(), "cpus": os.cpu_count(),
                                "load_average_1m": os.getloadavg()[0]},
                       event_persister=not args.events_off, db=args.db,
                       concurrency=args.concurrency,
                       schema_cache="cold" if args.cold_cache else "warm",
                       total_seconds=time.perf_counter() - started)
        if args.profile:
            summary["profile"] = profile_ours(repo, work, setup=setup)
        print(table(summary))
        if args.profile:
            print("\n" + summary["profile"])
        suffix = ("-events-off" if args.events_off else "") + (
            "-postgres" if args.db == "postgres" else "") + (
            f"-c{args.concurrency}" if args.concurrency else "") + (
            "-cold-cache" if args.cold_cache else "")
        output = args.output or BENCH_DIR / "results" / f"deploy-{args.flows}{suffix}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"\nwrote {output}", file=sys.stderr)
        met = summary["targets_met"]
        return 0 if all(met.values()) else 1
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

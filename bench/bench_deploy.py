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

Targets (the issue): ours first <= 1.3 x floor first (same run); prefect
unchanged >= 15 x ours unchanged, with zero write requests. Prints a table and
writes JSON to ``bench/results/deploy-<N>.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "tests"))

from support.prefect_helpers import (  # noqa: E402
    clone_flows,
    count_deployments,
    run_cli,
)

from deploytasks.env.local_server import LocalServer, free_port  # noqa: E402

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


class FreshServer:
    """A new Prefect server with its own home; stopped (and its home removed) on exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = LocalServer(folder)
        self.api_url = ""

    def __enter__(self) -> FreshServer:
        self.api_url = self.server.start(free_port(), timeout=120).api_url
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def env_for(api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_KEY", "DEPLOYTASKS_ROOT", "DEPLOYMENT_ENV", "GITHUB_ACTIONS")}
    env["PREFECT_API_URL"] = api_url
    return env


def timed(command: list[str], cwd: Path, api_url: str, timeout: float = 1800
          ) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env_for(api_url), capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done


# Contenders -----------------------------------------------------------------------------


def bench_prefect(repo: Path, work: Path, count: int) -> Timing:
    result = Timing()
    with FreshServer(work / "server-prefect") as server:
        timed([str(BIN / "prefect"), "--no-prompt", "work-pool", "create", "python-pool",
               "--type", "process"], repo, server.api_url)
        command = [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"]
        result.first, _ = timed(command, repo, server.api_url)
        result.unchanged, _ = timed(command, repo, server.api_url)
        result.deployments = count_deployments(server.api_url)
    return result


def bench_ours(repo: Path, work: Path, count: int) -> Timing:
    result = Timing()
    with FreshServer(work / "server-ours") as server:
        for attempt in ("first", "unchanged"):
            run = run_cli(repo, "deploy.python", "--env", "dev", "--json",
                          api_url=server.api_url, timeout=1800)
            if run.code != 0:
                raise SystemExit(run.describe())
            doc = run.json()
            setattr(result, attempt, run.seconds)
            setattr(result, f"requests_{attempt}", doc["requests"])
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


def bench_floor(repo: Path, work: Path, count: int) -> Timing:
    """Prefect's client sending our specs one by one, in a fresh interpreter."""
    result = Timing()
    build = run_cli(repo, "deploy.build", "--env", "dev", "--json", api_url=None, timeout=600)
    specs = [s for s in build.json()["specs"] if s["type"] == "python"]
    assert len(specs) == count, f"deploy.build gave {len(specs)} python specs, expected {count}"
    assert all(not s["schedules"] for s in specs), "the floor sends no schedules"
    specs_file = work / "floor-specs.json"
    specs_file.write_text(json.dumps(specs))
    script = work / "floor.py"
    script.write_text(FLOOR_SCRIPT)
    with FreshServer(work / "server-floor") as server:
        result.first, _ = timed([sys.executable, str(script), server.api_url, str(specs_file),
                                 "1"], repo, server.api_url)
        result.unchanged, _ = timed([sys.executable, str(script), server.api_url,
                                     str(specs_file), "0"], repo, server.api_url)
        result.deployments = count_deployments(server.api_url)
    return result


# Profile --------------------------------------------------------------------------------


def profile_ours(repo: Path, work: Path, top: int = 25) -> str:
    """cProfile of our first and unchanged runs (the invoke process itself)."""
    import pstats

    out = []
    with FreshServer(work / "server-profile") as server:
        for attempt in ("first", "unchanged"):
            stats_file = work / f"ours-{attempt}.prof"
            timed([sys.executable, "-m", "cProfile", "-o", str(stats_file), str(BIN / "invoke"),
                   "deploy.python", "--env", "dev", "--json"], repo, server.api_url)
            stream = _Capture()
            stats = pstats.Stats(str(stats_file), stream=stream)  # type: ignore[arg-type]
            stats.sort_stats("cumulative").print_stats(top)
            out.append(f"== ours, {attempt} run (cumulative, top {top})\n{stream.text}")
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
                              sum(last.requests_unchanged.values()) / count},
        "deployments_on_server": {t: runs[-1][t].deployments for t in runs[-1]},
        "ratios": ratios, "targets_met": targets,
        "runs": [{t: asdict(v) for t, v in r.items()} for r in runs]}


def table(summary: dict[str, Any]) -> str:
    s, r, q = summary["seconds"], summary["ratios"], summary["ours_requests"]
    n = summary["flows"]
    rows = [("contender (median)", "first s", "unchanged s", "first ms/depl",
             "unchanged ms/depl", "requests/depl (first / unchanged)")]
    for tool, label in (("prefect", "prefect deploy --all"), ("ours", "invoke deploy.python"),
                        ("floor", "raw client, one by one")):
        requests = (f"{q['per_deployment_first']:.2f} / {q['per_deployment_unchanged']:.2f} "
                    f"({q['unchanged'].get('writes')} writes)" if tool == "ours" else "")
        rows.append((label, f"{s[tool]['first']:.2f}", f"{s[tool]['unchanged']:.2f}",
                     f"{s[tool]['first'] / n * 1000:.0f}", f"{s[tool]['unchanged'] / n * 1000:.0f}",
                     requests))
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
        f"ours first-run retries (per repeat): {summary['ours_retries_first']} "
        "(503 'database is locked' from the SQLite server)",
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
        for number in range(args.repeat):
            run: dict[str, Timing] = {}
            for tool, bench in (("floor", bench_floor), ("ours", bench_ours),
                                ("prefect", bench_prefect)):
                if tool == "prefect" and args.skip_prefect:
                    run[tool] = Timing(1e-9, 1e-9)
                    continue
                print(f"[{number + 1}/{args.repeat}] {tool} ...", file=sys.stderr)
                run[tool] = bench(repo, work, args.flows)
                print(f"    first {run[tool].first:.2f} s, unchanged {run[tool].unchanged:.2f} s",
                      file=sys.stderr)
            runs.append(run)
        summary = summarize(args.flows, runs)
        summary.update(machine={"python": platform.python_version(), "cpus": os.cpu_count(),
                                "load_average_1m": os.getloadavg()[0]},
                       event_persister=not args.events_off,
                       total_seconds=time.perf_counter() - started)
        if args.profile:
            summary["profile"] = profile_ours(repo, work)
        print(table(summary))
        if args.profile:
            print("\n" + summary["profile"])
        suffix = "-events-off" if args.events_off else ""
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

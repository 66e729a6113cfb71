"""Benchmark: deploy N generated flows through a rate-limiting proxy, ours vs ``prefect deploy``.

Run:  .venv/bin/python bench/bench_ratelimit.py [--flows 100] [--limit 20 --window 5]

The proxy (``tests/support/api_proxy.py``) stands in front of a FRESH local Prefect
server per contender and allows ``--limit`` writes in any ``--window`` seconds; a write
over the limit is answered 429 with ``Retry-After`` in whole seconds, the way a hosted
API (Prefect Cloud) answers. Reads pass. For each contender it reports the wall time
against the time the limit allows for the writes the server accepted
(``accepted writes ÷ rate``; target for ours: within 1.2×), the 429s it received, and the
writes it sent while it had been told to wait (must be 0).

- ours:    ``invoke deploy.python --env dev --json`` through the proxy, then the same
           again unchanged (0 writes).
- prefect: ``prefect --no-prompt deploy --all`` through the same kind of proxy on its
           own fresh server (its work pool created beforehand, directly, untimed);
           Prefect's client retries 429s itself, per request, honouring ``Retry-After``.
- ``--baseline``: ours without the proxy on a fresh server, for scale.

The repository is ``bench_deploy.py``'s (N copies of ``flows/rpa1``, git, a matching
``prefect.yaml``). Prints a table; writes ``bench/results/ratelimit-<N>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

from bench_deploy import (  # noqa: E402
    BIN,
    FreshServer,
    env_for,
    make_repo,
    measure,
    ours_command,
    prepare_schema_cache,
    timed,
)
from support.api_proxy import ApiProxy  # noqa: E402
from support.prefect_helpers import cli_env, count_deployments  # noqa: E402

TARGET = 1.2


@dataclass
class Run:
    """One command through the proxy."""

    label: str
    seconds: float = 0.0
    code: int = 0
    writes_sent: int = 0
    writes_accepted: int = 0
    refused: int = 0
    early: int = 0
    allowed_seconds: float = 0.0
    requests: dict[str, Any] = field(default_factory=dict)
    deployments: int = 0
    tail: str = ""

    @property
    def ratio(self) -> float:
        return self.seconds / self.allowed_seconds if self.allowed_seconds else 0.0


def through_proxy(label: str, command: list[str], repo: Path, server: FreshServer,
                  policy: dict[str, Any], env_of: Any, timeout: float) -> Run:
    """Run ``command`` with its API behind a fresh proxy of ``policy``; what it cost."""
    rate = policy["limit"] / policy["window"]
    with ApiProxy(server.api_url, **policy) as proxy:
        done = measure(command, repo, env_of(proxy.url), timeout)
        accepted = len(proxy.accepted_writes())
        run = Run(label, done.seconds, done.code, proxy.writes, accepted, len(proxy.refused),
                  len(proxy.early), accepted / rate)
    if "invoke" in command[0]:
        with contextlib.suppress(ValueError):
            run.requests = done.json()["requests"]
    if done.code != 0:
        run.tail = (done.stdout[-1500:] + "\n" + done.stderr[-1500:]).strip()
    run.deployments = count_deployments(server.api_url)
    return run


def bench_ours(repo: Path, work: Path, policy: dict[str, Any], concurrency: int | None,
               timeout: float) -> list[Run]:
    prepare_schema_cache(repo, "warm")
    runs = []
    with FreshServer(work / "server-ours") as server:
        for attempt in ("first", "unchanged"):
            runs.append(through_proxy(f"invoke deploy.python ({attempt})",
                                      ours_command(concurrency), repo, server, policy,
                                      cli_env, timeout))
    return runs


def bench_prefect(repo: Path, work: Path, policy: dict[str, Any], unchanged: bool,
                  timeout: float) -> list[Run]:
    runs = []
    with FreshServer(work / "server-prefect") as server:
        timed([str(BIN / "prefect"), "--no-prompt", "work-pool", "create", "python-pool",
               "--type", "process"], repo, server.api_url)
        command = [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"]
        for attempt in ("first", "unchanged") if unchanged else ("first",):
            runs.append(through_proxy(f"prefect deploy --all ({attempt})", command, repo,
                                      server, policy, env_for, timeout))
    return runs


def bench_baseline(repo: Path, work: Path, concurrency: int | None, timeout: float) -> Run:
    with FreshServer(work / "server-baseline") as server:
        done = measure(ours_command(concurrency), repo, cli_env(server.api_url), timeout)
        run = Run("invoke deploy.python, no proxy (first)", done.seconds, done.code)
        run.requests = done.json()["requests"] if done.code == 0 else {}
        run.deployments = count_deployments(server.api_url)
    return run


def table(runs: list[Run], policy: dict[str, Any]) -> str:
    rows = [("contender", "exit", "wall s", "writes sent / accepted", "429s", "early writes",
             "limit allows s", "wall / allowed", "waits (ours)", "deployments")]
    for run in runs:
        waits = (f"{run.requests.get('waits')} ({run.requests.get('waited_seconds', 0):.1f} s)"
                 if "waits" in run.requests else "")
        rows.append((run.label, str(run.code), f"{run.seconds:.1f}",
                     f"{run.writes_sent} / {run.writes_accepted}", str(run.refused),
                     str(run.early), f"{run.allowed_seconds:.1f}",
                     f"{run.ratio:.2f}x" if run.allowed_seconds else "", waits,
                     str(run.deployments)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rate = policy["limit"] / policy["window"]
    lines.insert(0, f"limit: {policy['limit']} writes per {policy['window']:g} s "
                    f"({rate:g}/s), 429 + Retry-After (whole seconds)\n")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=100)
    parser.add_argument("--limit", type=int, default=20, help="writes allowed per window")
    parser.add_argument("--window", type=float, default=5.0, help="window in seconds")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="run ours with --concurrency N (default: the config's, 1)")
    parser.add_argument("--skip-prefect", action="store_true")
    parser.add_argument("--prefect-unchanged", action="store_true",
                        help="also time prefect deploy's unchanged re-run (it re-sends all)")
    parser.add_argument("--baseline", action="store_true",
                        help="also time ours without the proxy")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    policy = {"limit": args.limit, "window": args.window}
    work = Path(tempfile.mkdtemp(prefix="bench-ratelimit-"))
    repo = work / "repo"
    started = time.perf_counter()
    try:
        make_repo(repo, args.flows)
        print(f"generated {args.flows} flows in {repo}", file=sys.stderr)
        runs: list[Run] = []
        if args.baseline:
            runs.append(bench_baseline(repo, work, args.concurrency, args.timeout))
        print("ours through the proxy ...", file=sys.stderr)
        runs += bench_ours(repo, work, policy, args.concurrency, args.timeout)
        if not args.skip_prefect:
            print("prefect deploy through the proxy ...", file=sys.stderr)
            runs += bench_prefect(repo, work, policy, args.prefect_unchanged, args.timeout)
        first = runs[1 if args.baseline else 0]
        unchanged = runs[2 if args.baseline else 1]
        targets = {
            "ours_within_1.2x_of_the_limit": first.code == 0 and first.ratio <= TARGET,
            "ours_no_early_writes": first.early == 0 and unchanged.early == 0,
            "ours_every_deployment_once": first.deployments == args.flows,
            "ours_unchanged_zero_writes": unchanged.writes_sent == 0,
        }
        print(table(runs, policy))
        print()
        for name, met in targets.items():
            print(f"{name}: {'met' if met else 'MISSED'}")
        for run in runs:
            if run.code:
                print(f"\n{run.label} failed (exit {run.code}):\n{run.tail}")
        document = {"flows": args.flows, "policy": policy, "concurrency": args.concurrency,
                    "runs": [asdict(r) | {"ratio": r.ratio} for r in runs],
                    "targets_met": targets,
                    "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "load_average_1m": os.getloadavg()[0]},
                    "total_seconds": time.perf_counter() - started}
        suffix = f"-c{args.concurrency}" if args.concurrency else ""
        output = args.output or BENCH_DIR / "results" / f"ratelimit-{args.flows}{suffix}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(document, indent=2) + "\n")
        print(f"\nwrote {output}", file=sys.stderr)
        return 0 if all(targets.values()) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

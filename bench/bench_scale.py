"""Benchmark: how deploying grows with N flows and API-write concurrency (PostgreSQL by default).

Run:  .venv/bin/python bench/bench_scale.py                       # the full matrix, ~35 min
      .venv/bin/python bench/bench_scale.py --flows 100 --concurrency 1,8 --prefect-flows 100

For each N (``--flows``, default 100,300,1000) it generates the same repository
as ``bench_deploy.py`` (N copies of ``flows/rpa1``; each flow gives ONE process
deployment, ``<flow>-python-dev``) and measures, each contender on its own fresh
Prefect server backed by its own fresh PostgreSQL cluster (``--db postgres``,
the default; ``--db sqlite`` for the embedded kind):

- ours:    ``invoke deploy.python --env dev --json --concurrency C`` for every C
           in ``--concurrency`` (default 1,4,8), first deploy and unchanged re-run;
- floor:   Prefect's client sending the same specs one by one (``--floor-flows``);
- prefect: ``prefect --no-prompt deploy --all`` (``--prefect-flows``, default 100,300;
           each run is cut off after ``--prefect-timeout`` seconds). Where it was not
           run, its time at N is extrapolated linearly from the two largest measured N
           and marked as such.

Every run records wall seconds, the contender's peak RSS and CPU seconds
(``os.wait4``), the server's and PostgreSQL's CPU seconds meanwhile (from
``/proc``), and the requests the server received (its access log, by endpoint and
status class; the servers log at INFO for that). ``--profile N:C`` adds a
cProfile of our first deploy at N flows and concurrency C.

Targets (the issue, on PostgreSQL): our first deploy at least 5x faster than
``prefect deploy``'s at the same N; our peak RSS flat-ish from the smallest to the
largest N (we report the ratio; <= 1.5x is called flat). Prints a table and writes
``bench/results/scale-<db>.json`` (after every contender, so a cut-off run keeps
what it measured).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_deploy import (  # noqa: E402
    Setup,
    Timing,
    _Capture,
    bench_floor,
    bench_ours,
    bench_prefect,
    env_for,
    make_repo,
    measure,
    ours_command,
    postgres_server,
    postmaster_pid,
    process_table,
    tree_cpu,
)

from deploytasks.env.local_server import free_port, wait_healthy  # noqa: E402

SPEEDUP_TARGET = 5.0
RSS_FLAT = 1.5


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def run_one(rows: list[dict[str, Any]], save: Any, n: int, contender: str,
            concurrency: int | None, bench: Any, repo: Path, work: Path, setup: Setup) -> None:
    label = f"{contender}" + (f" c={concurrency}" if concurrency else "")
    print(f"[N={n}] {label} ... (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    row: dict[str, Any] = {"flows": n, "contender": contender, "concurrency": concurrency,
                           "load_before": os.getloadavg()}
    if contender == "ours":
        row["schema_cache"] = setup.schema_cache
    started = time.perf_counter()
    try:
        timing: Timing = bench(repo, work, n, setup)
        row.update(asdict(timing))
        print(f"    first {timing.first:.1f} s, unchanged {timing.unchanged:.1f} s, "
              f"peak RSS {max(timing.peak_rss_mb.values()):.0f} MB", file=sys.stderr)
    except SystemExit as error:  # a failed or cut-off command: keep going, say so
        row["error"] = str(error)[-2000:]
        print(f"    FAILED after {time.perf_counter() - started:.0f} s: "
              f"{str(error)[:300]}", file=sys.stderr)
    row["load_after"] = os.getloadavg()
    row["total_seconds"] = time.perf_counter() - started
    rows.append(row)
    save()


# The Prefect server under cProfile, profiling only between SIGUSR1 (start) and SIGUSR2
# (stop and write), so startup and migrations stay out of the profile.
SERVER_UNDER_PROFILE = r"""
import cProfile, runpy, signal, sys

out, sys.argv = sys.argv[1], ["prefect", *sys.argv[2:]]
profile = cProfile.Profile()

def dump(*_):
    profile.disable()
    profile.dump_stats(out)

signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, dump)
runpy.run_module("prefect", run_name="__main__", alter_sys=True)
"""


def profile_both(repo: Path, work: Path, concurrency: int, db: str, top: int = 35
                 ) -> dict[str, Any]:
    """Our first deploy with BOTH sides under cProfile: ``invoke`` and the Prefect server.

    The server is started like ``LocalServer`` starts it (same settings), but as
    ``prefect server start`` under cProfile (``SERVER_UNDER_PROFILE``), profiling just
    while ours runs. Profiling slows both sides (read shares, not seconds). Only the
    server's main thread (the API's event loop) is profiled."""
    import pstats

    folder = work / "server-profiled"
    home = folder / "home"
    home.mkdir(parents=True)
    server_prof, client_prof = folder / "server.prof", folder / "client.prof"
    cached = (repo / ".deploytasks" / "cache" / "parameter-schemas.json").exists()
    result: dict[str, Any] = {"concurrency": concurrency,
                              "schema_cache": "warm" if cached else "cold"}
    with ExitStack() as stack:
        database = (stack.enter_context(postgres_server()) if db == "postgres"
                    else f"sqlite+aiosqlite:///{home / 'prefect.db'}")
        db_pid = (postmaster_pid(int(database.rsplit(":", 1)[1].split("/")[0]))
                  if db == "postgres" else None)
        port = free_port()
        env = {**os.environ, "PREFECT_HOME": str(home),
               "PREFECT_API_DATABASE_CONNECTION_URL": database,
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
               "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api"}
        env.pop("PREFECT_API_URL", None)
        wrapper = folder / "server_under_profile.py"
        wrapper.write_text(SERVER_UNDER_PROFILE)
        with (folder / "server.log").open("ab") as log:
            server = subprocess.Popen(
                [sys.executable, str(wrapper), str(server_prof), "server", "start",
                 "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        api_url = f"http://127.0.0.1:{port}/api"
        try:
            wait_healthy(api_url, 240, server)
            table = process_table()
            before = (tree_cpu(server.pid, table), tree_cpu(db_pid, table))
            os.kill(server.pid, signal.SIGUSR1)
            done = measure([sys.executable, "-m", "cProfile", "-o", str(client_prof),
                            *ours_command(concurrency)], repo, env_for(api_url))
            table = process_table()
            result.update(seconds=done.seconds, code=done.code, client_cpu=done.cpu,
                          server_cpu=tree_cpu(server.pid, table) - before[0],
                          db_cpu=tree_cpu(db_pid, table) - before[1])
            os.kill(server.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 60
            while not server_prof.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)  # let it finish writing
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    for side, path in (("client", client_prof), ("server", server_prof)):
        if not path.exists():
            result[side] = "(no profile written)"
            continue
        texts = []
        for order in ("tottime", "cumulative"):
            stream = _Capture()
            stats = pstats.Stats(str(path), stream=stream)  # type: ignore[arg-type]
            stats.sort_stats(order).print_stats(top)
            texts.append(f"== {side}, {order}, top {top}\n{stream.text}")
        result[side] = "\n".join(texts)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def requests_per_deployment(row: dict[str, Any], attempt: str) -> float | None:
    counted = (row.get("server_requests") or {}).get(attempt)
    return counted["total"] / row["flows"] if counted else None


def find(rows: list[dict[str, Any]], n: int, contender: str,
         concurrency: int | None = None) -> dict[str, Any] | None:
    for row in rows:
        if (row["flows"], row["contender"], row["concurrency"]) == (n, contender, concurrency) \
                and "error" not in row:
            return row
    return None


def prefect_estimate(rows: list[dict[str, Any]], n: int) -> tuple[dict[str, float], bool] | None:
    """Prefect's seconds at N: measured, or a line through the two largest measured N."""
    measured = find(rows, n, "prefect")
    if measured:
        return {"first": measured["first"], "unchanged": measured["unchanged"]}, False
    points = sorted((r["flows"], r) for r in rows
                    if r["contender"] == "prefect" and "error" not in r)
    if not points:
        return None
    if len(points) == 1:  # proportional
        (n0, r0), = points
        return {a: r0[a] * n / n0 for a in ("first", "unchanged")}, True
    (n0, r0), (n1, r1) = points[-2], points[-1]
    return {a: r0[a] + (r1[a] - r0[a]) * (n - n0) / (n1 - n0)
            for a in ("first", "unchanged")}, True


def summarize(rows: list[dict[str, Any]], flows: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"per_n": {}}
    for n in flows:
        every = [r for r in rows
                 if r["flows"] == n and r["contender"] == "ours" and "error" not in r]
        cold = [r for r in every if r.get("schema_cache") == "cold"]
        ours = [r for r in every if r.get("schema_cache") != "cold"] or cold
        if not ours:
            continue
        best = min(ours, key=lambda r: r["first"])
        entry: dict[str, Any] = {"best_concurrency": best["concurrency"],
                                 "ours_first_best": best["first"],
                                 "ours_unchanged_best": min(r["unchanged"] for r in ours)}
        estimate = prefect_estimate(rows, n)
        if estimate:
            seconds, extrapolated = estimate
            entry.update(prefect_first=seconds["first"], prefect_unchanged=seconds["unchanged"],
                         prefect_extrapolated=extrapolated,
                         prefect_first_over_ours_first=seconds["first"] / best["first"],
                         prefect_unchanged_over_ours_unchanged=(
                             seconds["unchanged"] / entry["ours_unchanged_best"]))
            entry["first_5x_met"] = entry["prefect_first_over_ours_first"] >= SPEEDUP_TARGET
            if cold and cold is not ours:
                coldest = min(cold, key=lambda r: r["first"])
                entry.update(ours_first_cold=coldest["first"],
                             cold_concurrency=coldest["concurrency"],
                             prefect_first_over_ours_first_cold=seconds["first"] / coldest["first"])
                entry["first_5x_met_cold"] = (entry["prefect_first_over_ours_first_cold"]
                                              >= SPEEDUP_TARGET)
        floor = find(rows, n, "floor")
        if floor:
            entry["ours_first_best_over_floor_first"] = best["first"] / floor["first"]
        entry["ours_peak_rss_mb"] = max(max(r["peak_rss_mb"].values()) for r in every)
        out["per_n"][n] = entry
    sizes = sorted(out["per_n"])
    if len(sizes) > 1:
        low, high = out["per_n"][sizes[0]], out["per_n"][sizes[-1]]
        ratio = high["ours_peak_rss_mb"] / low["ours_peak_rss_mb"]
        out["ours_peak_rss_growth"] = {"from": sizes[0], "to": sizes[-1], "ratio": ratio,
                                       "flat": ratio <= RSS_FLAT}
    return out


def table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    head = ("N", "contender", "first s", "unch. s", "first ms/d", "unch. ms/d",
            "req/d first", "req/d unch.", "unch. writes", "peak RSS MB",
            "CPU s client/server/db (first)", "load")
    lines = [head]
    for row in rows:
        label = {"ours": "ours", "floor": "raw client floor",
                 "prefect": "prefect deploy --all"}[row["contender"]]
        if row["concurrency"]:
            label += f" --concurrency {row['concurrency']}"
        if row.get("schema_cache") == "cold":
            label += " (cold cache)"
        if "error" in row:
            lines.append((str(row["flows"]), label, "FAILED / cut off", "", "", "", "", "", "", "",
                          f"{row['total_seconds']:.0f} s", f"{row['load_before'][0]:.1f}"))
            continue
        n = row["flows"]
        first_req, unch_req = (requests_per_deployment(row, a) for a in ("first", "unchanged"))
        writes = (row["requests_unchanged"].get("writes", "") if row["contender"] == "ours"
                  else sum(v for k, v in (row["server_requests"].get("unchanged") or {}).items()
                           if k.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE")
                           and "/filter" not in k))
        rss = row["peak_rss_mb"]
        lines.append((
            str(n), label, f"{row['first']:.1f}", f"{row['unchanged']:.1f}",
            f"{row['first'] / n * 1000:.0f}", f"{row['unchanged'] / n * 1000:.0f}",
            f"{first_req:.2f}" if first_req else "", f"{unch_req:.2f}" if unch_req else "",
            str(writes), f"{rss['first']:.0f} / {rss['unchanged']:.0f}",
            f"{row['cpu']['first']:.1f} / {row['server_cpu']['first']:.1f} / "
            f"{row['db_cpu']['first']:.1f}",
            f"{row['load_before'][0]:.1f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    text.append("")
    for n, entry in summary["per_n"].items():
        parts = [f"N={n}: ours best first {entry['ours_first_best']:.1f} s "
                 f"(--concurrency {entry['best_concurrency']})"]
        if "prefect_first" in entry:
            mark = " (prefect EXTRAPOLATED)" if entry["prefect_extrapolated"] else ""
            parts.append(f"prefect first / ours first {entry['prefect_first_over_ours_first']:.1f}x"
                         f" (target >= {SPEEDUP_TARGET:.0f}x: "
                         f"{'met' if entry['first_5x_met'] else 'MISSED'}){mark}")
            parts.append(f"prefect unchanged / ours unchanged "
                         f"{entry['prefect_unchanged_over_ours_unchanged']:.1f}x{mark}")
        if "prefect_first_over_ours_first_cold" in entry:
            parts.append(f"cold cache (c={entry['cold_concurrency']}): "
                         f"{entry['prefect_first_over_ours_first_cold']:.1f}x "
                         f"({'met' if entry['first_5x_met_cold'] else 'MISSED'})")
        if "ours_first_best_over_floor_first" in entry:
            parts.append("ours first / floor first "
                         f"{entry['ours_first_best_over_floor_first']:.2f}x")
        text.append("; ".join(parts))
    growth = summary.get("ours_peak_rss_growth")
    if growth:
        text.append(f"ours peak RSS N={growth['from']} -> N={growth['to']}: "
                    f"{growth['ratio']:.2f}x ({'flat' if growth['flat'] else 'NOT flat'}, "
                    f"<= {RSS_FLAT}x counts as flat)")
    return "\n".join(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--flows", type=numbers, default=[100, 300, 1000],
                        help="comma-separated N (default 100,300,1000)")
    parser.add_argument("--concurrency", type=numbers, default=[1, 4, 8],
                        help="our --concurrency values (default 1,4,8)")
    parser.add_argument("--prefect-flows", type=numbers, default=[100, 300],
                        help="N at which to run prefect deploy (default 100,300; '' for none)")
    parser.add_argument("--floor-flows", type=numbers, default=None,
                        help="N at which to run the raw-client floor (default: all of --flows)")
    parser.add_argument("--prefect-timeout", type=float, default=900,
                        help="cut prefect deploy off after this many seconds per run (900)")
    parser.add_argument("--cold-cache", action="store_true",
                        help="our first runs start without our parameter-schema cache (a fresh "
                             "checkout); by default the cache is warm")
    parser.add_argument("--profile", default="",
                        help="N:C - also cProfile our first deploy at N flows, concurrency C")
    parser.add_argument("--report", type=Path, nargs="+", default=None,
                        help="measure nothing: print the table of these result files together")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON file (default bench/results/scale-<db>.json)")
    args = parser.parse_args()
    if args.report:
        loaded = [row for path in args.report for row in json.loads(path.read_text())["rows"]]
        loaded.sort(key=lambda r: (r["flows"], ["floor", "ours", "prefect"].index(r["contender"]),
                                   r.get("schema_cache") == "cold", r["concurrency"] or 0))
        print(table(loaded, summarize(loaded, sorted({r["flows"] for r in loaded}))))
        return 0
    floor_flows = args.floor_flows if args.floor_flows is not None else args.flows
    profile = tuple(int(x) for x in args.profile.split(":")) if args.profile else None
    output = args.output or BENCH_DIR / "results" / f"scale-{args.db}.json"
    output.parent.mkdir(parents=True, exist_ok=True)

    rows: list[dict[str, Any]] = []
    document: dict[str, Any] = {
        "db": args.db, "flows": args.flows, "concurrency": args.concurrency,
        "deployments_per_flow": 1, "kinds": ["python"],
        "schema_cache": "cold" if args.cold_cache else "warm",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_start": os.getloadavg()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows}

    def save() -> None:
        document["summary"] = summarize(rows, args.flows)
        document["machine"]["load_average_now"] = os.getloadavg()
        output.write_text(json.dumps(document, indent=2, default=str) + "\n")

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        for n in args.flows:
            repo = work / f"repo-{n}"
            make_repo(repo, n)
            if n in floor_flows:
                run_one(rows, save, n, "floor", None, bench_floor, repo, work,
                        Setup(args.db, None, True))
            cache = "cold" if args.cold_cache else "warm"
            for concurrency in args.concurrency:
                run_one(rows, save, n, "ours", concurrency, bench_ours, repo, work,
                        Setup(args.db, concurrency, True, schema_cache=cache))
            if n in args.prefect_flows:
                run_one(rows, save, n, "prefect", None, bench_prefect, repo, work,
                        Setup(args.db, None, True, timeout=args.prefect_timeout))
            if profile and profile[0] == n:
                print(f"[N={n}] profiling ours c={profile[1]} (client and server) ...",
                      file=sys.stderr)
                document["profile"] = {"flows": n, **profile_both(repo, work, profile[1],
                                                                  args.db)}
                save()
            shutil.rmtree(repo, ignore_errors=True)
        document["total_seconds"] = time.perf_counter() - started
        save()
        print(table(rows, document["summary"]))
        if "profile" in document:
            prof = document["profile"]
            print(f"\nprofiled first deploy, N={prof['flows']} c={prof['concurrency']}: "
                  f"{prof['seconds']:.1f} s wall; CPU client {prof['client_cpu']:.1f} s, "
                  f"server {prof['server_cpu']:.1f} s, db {prof['db_cpu']:.1f} s "
                  "(both sides under cProfile)")
            print(prof["client"] + "\n" + prof["server"])
        print(f"\nwrote {output} ({document['total_seconds'] / 60:.1f} min)", file=sys.stderr)
        entries = document["summary"]["per_n"].values()
        met = all(e.get("first_5x_met", True) for e in entries) and \
            document["summary"].get("ours_peak_rss_growth", {}).get("flat", True)
        return 0 if met else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

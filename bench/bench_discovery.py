"""Benchmark: discover + validate 1,000 generated flows, next to Prefect's per-file way.

Run:  .venv/bin/python bench/bench_discovery.py [--flows 1000] [--prefect-budget 60]
                                                [--layout folders|files|both]

``folders`` (the guide's layout) generates varied, realistic flow folders in a
temporary directory (tasks, typed parameters, stdlib / installed /
requirements-only / local imports, Dockerfiles, requirements, env files).
``files`` generates the same flows as one file each in a single ``flows/`` folder
(the flat layout): a shared helper module, dependencies declared once at the root
(``requirements.txt``, ``pyproject.toml``), one shared root ``Dockerfile`` and
``.dockerignore``. Both measure in-process wall time of
``deploytasks.flows.discovery.discover`` and ``validation.validate``. For
comparison it calls Prefect's ``parameter_schema_from_entrypoint`` on each
entrypoint until the budget runs out and extrapolates to all flows (that call
also *executes* each file's imports through ``safe_load_namespace``; ours runs
nothing). Prints a table and writes JSON to ``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

STDLIB = ["os", "json", "csv", "re", "logging", "shutil", "tempfile", "statistics",
          "collections", "itertools", "hashlib", "uuid", "datetime", "decimal", "pathlib"]
INSTALLED = ["yaml", "httpx", "pydantic", "anyio"]
LISTED = [("pandas", "pandas>=2.2"), ("openpyxl", "openpyxl==3.1.2"),
          ("requests", "requests>=2.31"), ("bs4", "beautifulsoup4~=4.12"),
          ("dateutil", "python-dateutil")]
TYPES = [("int", "10"), ("str", "'daily'"), ("float", "0.5"), ("bool", "False"),
         ("list[str] | None", "None"), ("dict[str, int] | None", "None")]


@dataclass
class Result:
    """What one run measured (seconds of wall time unless named cpu)."""

    layout: str
    flows: int
    workers: int
    load_average: float
    import_modules: float
    first_discover: float
    first_validate: float
    first_total: float
    parallel_median: float
    parallel_best: float
    serial_median: float
    serial_best: float
    serial_cpu: float
    valid: int
    invalid: int
    prefect_import: float
    prefect_measured_flows: int
    prefect_measured_seconds: float
    prefect_extrapolated_seconds: float


def flow_source(rng: random.Random, index: int, helper: bool) -> str:
    """One workflow.py: a few tasks and a flow with typed parameters."""
    stdlib = rng.sample(STDLIB, 5)
    third = rng.sample(INSTALLED, 2) + [name for name, _ in rng.sample(LISTED, 2)]
    lines = [f'"""Generated flow {index}: extract, transform and load a batch."""', ""]
    lines += [f"import {name}" for name in stdlib] + [f"import {name}" for name in third]
    lines += ["", "from prefect import flow, get_run_logger, task"]
    lines += ["", "from helpers import clean_record", ""] if helper else [""]
    for step in range(rng.randint(3, 7)):
        lines += ["", "@task(retries=2, retry_delay_seconds=5)",
                  f"def step_{step}(records: list[dict], factor: float = 1.0) -> list[dict]:",
                  f'    """Step {step} of the pipeline."""',
                  "    logger = get_run_logger()",
                  f"    logger.info('step {step}: %d records', len(records))",
                  "    result = []",
                  "    for record in records:",
                  "        item = dict(record)",
                  "        item['value'] = float(item.get('value', 0)) * factor",
                  "        result.append(item)",
                  "    return result", ""]
    params = [f"{name}: {rng.choice(TYPES)[0]} = {rng.choice(TYPES)[1]}"
              for name in rng.sample(["batch_size", "mode", "threshold", "dry_run", "regions",
                                      "limits", "source", "target"], rng.randint(2, 6))]
    lines += ["", f'@flow(name="Flow{index:04d}", version="1.{index % 7}", tags=["bench"])',
              f"def flow_{index}(records: list[dict] | None = None, {', '.join(params)}) -> int:",
              '    """Run the generated pipeline.', "", "    Longer description.", '    """',
              "    records = records or [{'value': 1}]"]
    lines += [f"    records = step_{step}(records)" for step in range(3)]
    lines += ["    return len(records)", ""]
    return "\n".join(lines)


DOCKERFILE = """\
ARG BASE_IMAGE=prefecthq/prefect:3.9.1-python3.11
FROM ${BASE_IMAGE} AS deps
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --prefix=/install \\
        -r /tmp/requirements.txt
FROM ${BASE_IMAGE}
RUN useradd --create-home --uid 10001 app
COPY --from=deps /install /usr/local
COPY --chown=app:app . /opt/prefect/flow/
USER app
"""


def generate(root: Path, count: int, seed: int = 7) -> list[str]:
    """``count`` flow folders under ``root/flows``; returns their entrypoints."""
    rng = random.Random(seed)
    entrypoints = []
    for index in range(count):
        folder = root / "flows" / f"flow_{index:04d}"
        folder.mkdir(parents=True)
        helper = index % 3 == 0
        source = flow_source(rng, index, helper)
        (folder / "workflow.py").write_text(source)
        if helper:
            (folder / "helpers.py").write_text(
                "import re\n\n\ndef clean_record(record: dict) -> dict:\n"
                "    return {k: re.sub(r'\\s+', ' ', str(v)) for k, v in record.items()}\n")
        (folder / "requirements.txt").write_text(
            "# generated\n" + "\n".join(spec for _, spec in LISTED) + "\n")
        (folder / "Dockerfile").write_text(DOCKERFILE)
        (folder / ".env.example").write_text("API_URL=https://example.org\nexport TOKEN=\n")
        entrypoints.append(f"{folder / 'workflow.py'}:flow_{index}")
    return entrypoints


def generate_flat(root: Path, count: int, seed: int = 7) -> list[str]:
    """``count`` flow files in one ``root/flows`` folder, with what a flat repository shares."""
    rng = random.Random(seed)
    flows = root / "flows"
    flows.mkdir(parents=True)
    (flows / "helpers.py").write_text(
        "import re\n\n\ndef clean_record(record: dict) -> dict:\n"
        "    return {k: re.sub(r'\\s+', ' ', str(v)) for k, v in record.items()}\n")
    (root / "requirements.txt").write_text(
        "# generated\n" + "\n".join(spec for _, spec in LISTED[:3]) + "\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench-flat"\ndependencies = [\n' +
        "".join(f'  "{spec}",\n' for _, spec in LISTED[3:]) + "]\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / ".dockerignore").write_text(".git\n.venv\n**/__pycache__\n")
    (root / ".env.example").write_text("API_URL=https://example.org\n")
    entrypoints = []
    for index in range(count):
        path = flows / f"flow_{index:04d}.py"
        path.write_text(flow_source(rng, index, helper=index % 3 == 0))
        entrypoints.append(f"{path}:flow_{index}")
    return entrypoints


def options_for(layout: str) -> tuple[Any, Any]:
    """The discovery and validation options of a layout (as the configuration gives them)."""
    from deploytasks.flows.discovery import DiscoveryOptions
    from deploytasks.flows.validation import ValidationOptions

    if layout == "files":
        return (DiscoveryOptions(layout="files", pattern="*.py", shared_dockerfile="Dockerfile"),
                ValidationOptions())
    return DiscoveryOptions(), ValidationOptions()


def measure_ours(root: Path, layout: str, repeats: int = 3) -> dict[str, float | int]:
    """Import our modules; time the first discover + validate, then repeats of each mode."""
    started = time.perf_counter()
    from deploytasks.flows import discovery
    from deploytasks.flows.parallel import workers
    from deploytasks.flows.validation import validate

    imported = time.perf_counter()
    options, checks = options_for(layout)
    specs = discovery.discover(root, options)
    discovered = time.perf_counter()
    checked = validate(root, specs, checks)
    validated = time.perf_counter()
    parallel = [_one_pass(root, layout) for _ in range(repeats)]
    os.environ["DEPLOYTASKS_WORKERS"] = "1"
    cpu_before = time.process_time()
    serial = [_one_pass(root, layout) for _ in range(repeats)]
    cpu = (time.process_time() - cpu_before) / repeats
    del os.environ["DEPLOYTASKS_WORKERS"]
    return {
        "workers": workers(len(specs)), "import_modules": imported - started,
        "first_discover": discovered - imported, "first_validate": validated - discovered,
        "first_total": validated - imported,
        "parallel_median": statistics.median(parallel), "parallel_best": min(parallel),
        "serial_median": statistics.median(serial), "serial_best": min(serial),
        "serial_cpu": cpu,
        "valid": sum(s.valid for s in checked), "invalid": sum(not s.valid for s in checked),
    }


def _one_pass(root: Path, layout: str) -> float:
    from deploytasks.flows.discovery import discover
    from deploytasks.flows.validation import validate

    options, checks = options_for(layout)
    started = time.perf_counter()
    validate(root, discover(root, options), checks)
    return time.perf_counter() - started


def measure_prefect(entrypoints: list[str], budget: float) -> dict[str, float | int]:
    """Prefect's per-entrypoint schema extraction, as many as fit in ``budget`` seconds."""
    import logging

    started = time.perf_counter()
    from prefect.utilities.callables import parameter_schema_from_entrypoint

    imported = time.perf_counter()
    logging.getLogger("prefect").setLevel(logging.ERROR)
    done = 0
    for entrypoint in entrypoints:
        parameter_schema_from_entrypoint(entrypoint)
        done += 1
        if time.perf_counter() - imported > budget:
            break
    spent = time.perf_counter() - imported
    return {"prefect_import": imported - started, "prefect_measured_flows": done,
            "prefect_measured_seconds": spent,
            "prefect_extrapolated_seconds": spent / done * len(entrypoints)}


def table(result: Result) -> str:
    """A small text table of the numbers."""
    n = result.flows
    rows = [
        ("layout", result.layout),
        ("machine load average (1 min) before the run", f"{result.load_average:.2f}"),
        ("import deploytasks.flows modules", f"{result.import_modules:.3f} s"),
        (f"discover, {n} flows (first run)", f"{result.first_discover:.3f} s"),
        (f"validate, {n} flows (first run)", f"{result.first_validate:.3f} s"),
        (f"discover + validate, first run ({result.workers} workers)",
         f"{result.first_total:.3f} s"),
        (f"discover + validate, {result.workers} workers, median / best",
         f"{result.parallel_median:.3f} / {result.parallel_best:.3f} s"),
        ("discover + validate, 1 process, median / best",
         f"{result.serial_median:.3f} / {result.serial_best:.3f} s"),
        ("discover + validate, 1 process, CPU time", f"{result.serial_cpu:.3f} s"),
        ("valid / invalid flows", f"{result.valid} / {result.invalid}"),
        ("import prefect.utilities.callables", f"{result.prefect_import:.3f} s"),
        (f"prefect parameter_schema_from_entrypoint × {result.prefect_measured_flows}",
         f"{result.prefect_measured_seconds:.3f} s"),
        (f"  extrapolated to {n} flows", f"{result.prefect_extrapolated_seconds:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>15}" for name, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--prefect-budget", type=float, default=60.0,
                        help="seconds to spend on Prefect's per-file approach")
    parser.add_argument("--layout", choices=("folders", "files", "both"), default="both",
                        help="the guide's flow folders, one folder of flow files, or both")
    args = parser.parse_args()
    layouts = ("folders", "files") if args.layout == "both" else (args.layout,)
    for layout in layouts:
        run_layout(layout, args.flows, args.prefect_budget)


def run_layout(layout: str, flows: int, budget: float) -> None:
    """Generate one repository of ``layout``, measure it, print and save the numbers."""
    with tempfile.TemporaryDirectory(prefix=f"bench-discovery-{layout}-") as tmp:
        root = Path(tmp)
        entrypoints = generate(root, flows) if layout == "folders" else \
            generate_flat(root, flows)
        load = os.getloadavg()[0]
        ours = measure_ours(root, layout)
        theirs = measure_prefect(entrypoints, budget)
    result = Result(layout=layout, flows=flows, load_average=load,
                    **ours, **theirs)  # type: ignore[arg-type]
    print(table(result))
    out_dir = BENCH_DIR / "results"
    out_dir.mkdir(exist_ok=True)
    target = out_dir / f"bench_discovery-{layout}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.write_text(json.dumps({"result": asdict(result), "python": sys.version,
                                  "machine": platform.machine(), "cpus": _cpus()}, indent=2))
    print(f"\nwrote {target.relative_to(BENCH_DIR.parent)}\n")


def _cpus() -> int | None:
    return os.cpu_count()


if __name__ == "__main__":
    main()

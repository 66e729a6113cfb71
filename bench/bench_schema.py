"""Benchmark: derive parameter schemas from source, in process (no server).

Run:  .venv/bin/python bench/bench_schema.py [--rounds 15]

Derives the schema of every signature that ``tests/unit/test_parameter_schema.py``
compares with Prefect's (enums, pydantic models, dataclasses, TypedDicts,
string annotations...) and of every flow under ``flows/``, ``--rounds`` times,
with ``deploytasks.deploy.schema.parameter_schema_with_warnings`` (what
``deploy.build`` and ``deploy.python`` call on a schema-cache miss). Prints
the import time of the deriver and the median and best milliseconds per round
and per schema; writes JSON to ``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))


def _load_cases() -> list[tuple[str, str]]:
    """(source, function) of every case the equality test compares."""
    path = ROOT / "tests" / "unit" / "test_parameter_schema.py"
    spec = importlib.util.spec_from_file_location("bench_schema_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    cases = [(module._source(case), case.function) for case in module.CASES]
    for flow_path in module.REPO_FLOWS:
        source = flow_path.read_text(encoding="utf-8")
        cases += [(source, name) for name in module._flow_functions(flow_path)]
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "schema.json")
    args = parser.parse_args()

    started = time.perf_counter()
    from deploytasks.deploy.schema import parameter_schema_with_warnings

    import_seconds = time.perf_counter() - started
    cases = _load_cases()
    rounds: list[float] = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for source, function in cases:
            parameter_schema_with_warnings(source, function)
        rounds.append(time.perf_counter() - started)
    result: dict[str, Any] = {
        "schemas": len(cases),
        "rounds": args.rounds,
        "import_ms": round(import_seconds * 1000, 1),
        "round_median_ms": round(statistics.median(rounds) * 1000, 1),
        "round_best_ms": round(min(rounds) * 1000, 1),
        "per_schema_median_ms": round(statistics.median(rounds) * 1000 / len(cases), 2),
        "load_average": round(os.getloadavg()[0], 2),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for key, value in result.items():
        print(f"{key:22} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the shipped example flows (flows/rpa1..3) for real against a temporary Prefect API.

Expected numbers are recomputed here from the shipped CSVs with small,
independent oracles, so editing the sample data does not require editing magic
numbers, while a behaviour change in a flow still fails the test.
"""

import ast
import csv
import importlib.util
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prefect.testing.utilities import prefect_test_harness

from tests.support.policy import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
FLOWS = REPO / "flows"
FLOW_NAMES = ("rpa1", "rpa2", "rpa3")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole module (starting it is the slow part);
    it starts a service, hence this module lives in ``tests/integration``."""
    with ExitStack() as stack:
        try:
            stack.enter_context(prefect_test_harness())
        except Exception as error:  # any failure to start is a reason to skip (or fail in CI)
            skip_or_fail(f"cannot start Prefect's test server: {error}")
        yield


@pytest.fixture(autouse=True)
def foreign_cwd(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an unrelated directory, with no env overrides, as a worker would."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    for name in (
        "RPA1_DATA_DIR",
        "RPA2_DATA_DIR",
        "RPA3_DATA_DIR",
        "RPA1_SOURCE_SYSTEM",
        "RPA2_BANK_NAME",
        "RPA3_COMPANY_NAME",
    ):
        monkeypatch.delenv(name, raising=False)


def load_workflow(name: str) -> ModuleType:
    """Import flows/<name>/workflow.py by path under a unique module name."""
    module_name = f"deploytasks_example_{name}_workflow"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, FLOWS / name / "workflow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def run_flow(name: str, **params: Any) -> dict[str, Any]:
    """Call the flow function of flows/<name> with params and return its result."""
    flow_fn = getattr(load_workflow(name), f"{name}_processing_flow")
    result = flow_fn(**params)
    assert isinstance(result, dict)
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def amount_sum(rows: list[dict[str, str]]) -> float:
    """Exact sum of the ``amount`` column, rounded to cents."""
    return cents(sum((Decimal(r["amount"]) for r in rows), Decimal("0")))


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("name", FLOW_NAMES)
def test_workflow_has_exactly_one_flow_with_cleanup_parameter(name: str) -> None:
    source = (FLOWS / name / "workflow.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    flows = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") == "flow"
            for d in node.decorator_list
        )
    ]
    assert [f.name for f in flows] == [f"{name}_processing_flow"]
    assert ast.get_docstring(tree) and ast.get_docstring(flows[0])

    flow_obj = getattr(load_workflow(name), f"{name}_processing_flow")
    assert flow_obj.name == f"{name.upper()}ProcessingFlow"
    assert flow_obj.description
    assert flow_obj.parameters.properties["cleanup"]["default"] is False


@pytest.mark.parametrize("name", FLOW_NAMES)
def test_dockerfile_is_multistage_and_non_root(name: str) -> None:
    lines = [
        line.strip()
        for line in (FLOWS / name / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    from_lines = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    assert any(line.startswith("ARG BASE_IMAGE") for line in lines[: from_lines[0]])
    assert len(from_lines) >= 2
    final_stage = lines[from_lines[-1] :]
    users = [line.split()[1] for line in final_stage if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert not any("pip download" in line for line in lines)
    assert (FLOWS / name / "requirements.txt").read_text().split() == ["prefect>=3.9.1,<3.10"]
    ignored = (FLOWS / name / ".dockerignore").read_text().split()
    for pattern in (".env", "__pycache__/", "*.pyc", "output/", ".git"):
        assert pattern in ignored


# ---------------------------------------------------------------- rpa1


def rpa1_expected(currency: str, strict: bool) -> tuple[list[dict[str, str]], list[str]]:
    """Independent oracle: (valid rows, rejected ids) per the documented rules."""
    rows = read_csv(FLOWS / "rpa1" / "data" / "invoices.csv")
    valid, rejected, seen = [], [], set()
    for row in rows:
        try:
            amount_ok = Decimal(row["amount"]) > 0
        except InvalidOperation:
            amount_ok = False
        try:
            issue: date | None = date.fromisoformat(row["issue_date"])
        except ValueError:
            issue = None
        ok = all(
            [
                row["invoice_id"],
                row["vendor"],
                amount_ok,
                issue,
                row["currency"] == currency,
                row["invoice_id"] not in seen,
            ]
        )
        if strict:
            due = row["due_date"]
            ok = (
                ok
                and issue is not None
                and bool(row["po_number"])
                and bool(due)
                and date.fromisoformat(due) >= issue
            )
        seen.add(row["invoice_id"])
        if ok:
            valid.append(row)
        else:
            rejected.append(row["invoice_id"])
    return valid, rejected


def test_rpa1_validates_invoices(tmp_path: Path) -> None:
    valid, rejected = rpa1_expected("EUR", strict=False)
    result = run_flow("rpa1", work_dir=str(tmp_path))

    assert result["records"] == len(valid) + len(rejected)
    assert (result["valid"], result["invalid"]) == (len(valid), len(rejected))
    assert result["invalid"] > 0
    assert result["rejected_ids"] == rejected
    assert result["total_amount"] == amount_sum(valid)
    assert result["batches"] == math.ceil(len(valid) / 100)
    staged = sorted((tmp_path / "staging").glob("batch_*.json"))
    assert len(staged) == result["batches"]
    assert len(read_csv(tmp_path / "staging" / "rejects.csv")) == len(rejected)
    assert sum(result["invalid_reasons"].values()) >= result["invalid"]


def test_rpa1_strict_mode_rejects_more(tmp_path: Path) -> None:
    lenient = rpa1_expected("EUR", strict=False)[0]
    valid, _ = rpa1_expected("EUR", strict=True)
    result = run_flow("rpa1", strict=True, work_dir=str(tmp_path))

    assert len(valid) < len(lenient)
    assert result["valid"] == len(valid)
    assert result["total_amount"] == amount_sum(valid)
    assert result["invalid_reasons"]["missing_po_number"] == sum(
        1 for r in read_csv(FLOWS / "rpa1" / "data" / "invoices.csv") if not r["po_number"]
    )


def test_rpa1_batch_size_currency_and_cleanup(tmp_path: Path) -> None:
    valid, _ = rpa1_expected("USD", strict=False)
    result = run_flow("rpa1", currency="USD", batch_size=1, work_dir=str(tmp_path), cleanup=True)

    assert result["valid"] == len(valid) > 0
    assert result["batches"] == len(valid)
    assert result["cleaned_up"] is True
    assert not (tmp_path / "staging").exists()


def test_rpa1_default_temp_dir_is_removed_on_cleanup() -> None:
    result = run_flow("rpa1", cleanup=True)
    assert not Path(result["staging_dir"]).exists()
    assert not Path(result["staging_dir"]).parent.exists()


# ---------------------------------------------------------------- rpa2


def rpa2_expected(
    tolerance: str = "0.01", window: int | None = None, ignore: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Independent oracle; the sample data has unique references per side."""

    def load(file: str, date_col: str) -> dict[str, tuple[Decimal, date]]:
        out = {}
        for row in read_csv(FLOWS / "rpa2" / "data" / file):
            ref = re.sub(r"\s", "", row["reference"]).upper()
            assert ref not in out, "oracle assumes unique references"
            if not ref.startswith(ignore):
                out[ref] = (Decimal(row["amount"]), date.fromisoformat(row[date_col]))
        return out

    bank = load("bank_statement.csv", "booking_date")
    ledger = load("ledger.csv", "posting_date")
    both = bank.keys() & ledger.keys()
    bad = {
        ref
        for ref in both
        if abs(bank[ref][0] - ledger[ref][0]) > Decimal(tolerance)
        or (window is not None and abs((bank[ref][1] - ledger[ref][1]).days) > window)
    }
    return {
        "matched": len(both - bad),
        "mismatched_references": sorted(bad),
        "unmatched_bank_references": sorted(bank.keys() - ledger.keys()),
        "unmatched_ledger_references": sorted(ledger.keys() - bank.keys()),
    }


def test_rpa2_reconciles_bank_against_ledger(tmp_path: Path) -> None:
    expected = rpa2_expected()
    result = run_flow("rpa2", work_dir=str(tmp_path))

    for key, value in expected.items():
        assert result[key] == value, key
    assert result["mismatched"] == len(expected["mismatched_references"]) > 0
    assert result["unmatched_bank"] == len(expected["unmatched_bank_references"]) > 0
    assert result["unmatched_ledger"] == len(expected["unmatched_ledger_references"]) > 0
    bank_rows = read_csv(FLOWS / "rpa2" / "data" / "bank_statement.csv")
    ledger_rows = read_csv(FLOWS / "rpa2" / "data" / "ledger.csv")
    assert result["bank_records"] == len(bank_rows)
    assert result["bank_total"] == amount_sum(bank_rows)
    assert result["ledger_total"] == amount_sum(ledger_rows)
    exceptions = read_csv(tmp_path / "exceptions.csv")
    assert len(exceptions) == (
        result["mismatched"] + result["unmatched_bank"] + result["unmatched_ledger"]
    )
    assert (tmp_path / "normalized" / "bank.json").is_file()


def test_rpa2_parameters_change_the_outcome(tmp_path: Path) -> None:
    exact = run_flow("rpa2", amount_tolerance=0.0, work_dir=str(tmp_path / "exact"))
    assert exact["mismatched_references"] == rpa2_expected("0")["mismatched_references"]
    assert exact["mismatched"] > len(rpa2_expected()["mismatched_references"])

    dated = run_flow(
        "rpa2", match_on="reference_and_date", date_window_days=3, work_dir=str(tmp_path / "dated")
    )
    assert dated["mismatched_references"] == rpa2_expected(window=3)["mismatched_references"]
    assert dated["matched"] < rpa2_expected()["matched"]


def test_rpa2_ignores_prefixes_and_cleans_up(tmp_path: Path) -> None:
    expected = rpa2_expected(ignore=("FEE-", "INT-"))
    result = run_flow(
        "rpa2", ignore_prefixes=["fee-", "INT-"], work_dir=str(tmp_path), cleanup=True
    )

    assert result["unmatched_bank_references"] == expected["unmatched_bank_references"]
    assert result["ignored"] == 2
    assert not (tmp_path / "normalized").exists()
    assert (tmp_path / "exceptions.csv").is_file()


# ---------------------------------------------------------------- rpa3


def rpa3_expected(group: str, regions: set[str] | None = None) -> dict[str, Any]:
    """Independent oracle over completed orders."""
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    orders = units = 0
    for row in read_csv(FLOWS / "rpa3" / "data" / "sales.csv"):
        if row["status"] != "completed" or (regions and row["region"] not in regions):
            continue
        key = row["order_date"][:7] if group == "month" else row[group]
        revenue[key] += int(row["quantity"]) * Decimal(row["unit_price"])
        orders += 1
        units += int(row["quantity"])
    net = sum(revenue.values(), Decimal("0"))
    return {
        "orders": orders,
        "units": units,
        "net_revenue": cents(net),
        "groups": {k: cents(v) for k, v in revenue.items()},
    }


def test_rpa3_writes_report(tmp_path: Path) -> None:
    expected = rpa3_expected("region")
    result = run_flow("rpa3", output_dir=str(tmp_path))

    assert {k: result[k] for k in expected} == expected
    assert result["gross_revenue"] == cents(Decimal(str(expected["net_revenue"])) * Decimal("1.19"))
    assert result["top"][0] == max(expected["groups"], key=expected["groups"].get)
    assert result["report_paths"] == [str(tmp_path / "report.md"), str(tmp_path / "report.csv")]
    table = read_csv(tmp_path / "report.csv")
    assert {r["region"]: float(r["net_revenue"]) for r in table} == expected["groups"]
    markdown = (tmp_path / "report.md").read_text()
    assert f"Net revenue: {expected['net_revenue']:.2f}" in markdown
    assert (tmp_path / ".work" / "aggregates.json").is_file()


def test_rpa3_parameters_and_cleanup(tmp_path: Path) -> None:
    expected = rpa3_expected("month", regions={"North"})
    result = run_flow(
        "rpa3",
        output_dir=str(tmp_path),
        group_by="month",
        report_format="csv",
        regions=["north"],
        top_n=1,
        cleanup=True,
    )

    assert {k: result[k] for k in expected} == expected
    assert all(re.fullmatch(r"\d{4}-\d{2}", key) for key in result["groups"])
    assert len(result["top"]) == 1
    assert result["report_path"] == str(tmp_path / "report.csv")
    assert not (tmp_path / "report.md").exists()
    assert not (tmp_path / ".work").exists()

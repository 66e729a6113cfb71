"""Rate limits and busy servers: ``Retry-After`` honoured with one wait shared by all writers.

``tests/support/api_proxy.py`` stands in front of the session's real Prefect server and
limits writes the way a hosted API (Prefect Cloud) does: N writes in any W seconds, a write
over the limit answered 429 (or 503) with ``Retry-After`` — and it counts the writes that
arrive while the client had been told to wait. Every deploy here must end with each
deployment on the server exactly once, zero such writes, and a re-run that sends nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from deploytasks.env.local_server import ServerState
from tests.support.api_proxy import ApiProxy
from tests.support.prefect_helpers import (
    CliResult,
    Namespace,
    clone_flows,
    deployments_by_name,
    edit_config,
    isolate_repo,
    run_cli,
    strip_ansi,
)
from tests.support.troubleshooting import guide_patterns, printed_problems

ARGS = ("deploy.python", "--env", "dev")


def _deploy(root: Path, proxy: ApiProxy, *extra: str, timeout: float = 300) -> CliResult:
    result = run_cli(root, *ARGS, *extra, api_url=proxy.url, timeout=timeout)
    assert "Traceback" not in result.stdout + result.stderr, result.describe()
    return result


def _exactly_once(api_url: str, ns: Namespace, folders: list[str]) -> None:
    found = deployments_by_name(api_url, ns.tag)  # fails on a duplicate
    assert set(found) == {ns.name(f) for f in folders}


def _rerun_sends_nothing(root: Path, upstream: str, **policy: Any) -> None:
    with ApiProxy(upstream, **policy) as proxy:
        again = _deploy(root, proxy, "--json")
    assert again.code == 0, again.describe()
    assert again.json()["requests"]["writes"] == 0 and proxy.writes == 0, again.describe()


def test_three_flows_through_three_writes_per_eight_seconds(
        repo_copy: Path, prefect_server: ServerState) -> None:
    """Finding 7: this deploy failed ("gave up after retries") after 11 writes inside the
    wait it was told to keep."""
    ns = isolate_repo(repo_copy)
    upstream = prefect_server.api_url
    with ApiProxy(upstream, limit=3, window=8) as proxy:
        result = _deploy(repo_copy, proxy, "--json")
    assert result.code == 0, result.describe()
    doc = result.json()
    assert doc["failed"] == 0 and doc["plan"]["create"] == 3, result.describe()
    assert proxy.refused, "the proxy refused nothing: the test proves nothing"
    assert proxy.early == [], f"writes sent inside the wait: {proxy.early}"
    requests = doc["requests"]
    assert requests["waits"] >= 1 and requests["waited_seconds"] >= 1.0, requests
    # each refused write sent once more (and a 5xx of the loaded server itself, if any)
    assert requests["retries"] == len(proxy.refused) + len(proxy.server_errors), \
        (requests, proxy.refused, proxy.server_errors)
    assert requests["writes"] == proxy.writes  # and nothing else
    _exactly_once(upstream, ns, ["rpa1", "rpa2", "rpa3"])
    _rerun_sends_nothing(repo_copy, upstream, limit=3, window=8)


def test_the_human_summary_says_that_it_waited(repo_copy: Path,
                                               prefect_server: ServerState) -> None:
    ns = isolate_repo(repo_copy)
    with ApiProxy(prefect_server.api_url, limit=4, window=3) as proxy:
        result = _deploy(repo_copy, proxy)
    assert result.code == 0, result.describe()
    text = strip_ansi(result.stdout)
    assert "Deployed 3 of 3 changes" in text, text
    said = [line for line in text.splitlines() if line.startswith("Waited ")]
    assert said and "s in all, as the server asked (HTTP 429/503 Retry-After)" in said[0], text
    assert proxy.early == []
    _exactly_once(prefect_server.api_url, ns, ["rpa1", "rpa2", "rpa3"])


def test_many_flows_with_concurrency_share_one_wait(repo_copy: Path,
                                                    prefect_server: ServerState) -> None:
    """40 flows, four writers: the wait is shared (no writer sends inside it), concurrency
    comes down, and every deployment lands exactly once."""
    ns = isolate_repo(repo_copy)
    folders = clone_flows(repo_copy, 40)
    upstream = prefect_server.api_url
    policy: dict[str, Any] = {"limit": 20, "window": 4}
    with ApiProxy(upstream, **policy) as proxy:
        result = _deploy(repo_copy, proxy, "--json", "--concurrency", "4", timeout=400)
    assert result.code == 0, result.describe()
    doc = result.json()
    assert doc["failed"] == 0 and doc["plan"]["create"] == 40, result.describe()
    assert len(proxy.refused) >= 2 and proxy.early == [], (proxy.refused, proxy.early)
    requests = doc["requests"]
    assert requests["waits"] >= 3, requests  # 121 writes at 20 per 4 s
    assert requests["lowest_concurrency"] is not None and requests["lowest_concurrency"] < 4
    assert requests["writes"] == proxy.writes == len(proxy.forwarded) + len(proxy.refused)
    # One pool, 40 flows, 40 deployments and their 40 drift records: nothing accepted twice
    # (the SQLite server's own "database is locked" 503s under four writers are retried, and
    # pass the proxy twice).
    accepted = proxy.accepted_writes()
    assert len(accepted) == 121, Counter(accepted)
    _exactly_once(upstream, ns, folders)
    _rerun_sends_nothing(repo_copy, upstream, **policy)


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_503_with_retry_after_is_honoured_too(form: str, repo_copy: Path,
                                              prefect_server: ServerState) -> None:
    """A busy server's 503 with ``Retry-After`` (seconds, or an HTTP date)."""
    ns = isolate_repo(repo_copy)
    with ApiProxy(prefect_server.api_url, limit=3, window=3, status=503,
                  retry_after_form=form) as proxy:
        result = _deploy(repo_copy, proxy, "--json")
    assert result.code == 0, result.describe()
    assert proxy.refused and proxy.early == [], (proxy.refused, proxy.early)
    assert result.json()["requests"]["waits"] >= 1
    _exactly_once(prefect_server.api_url, ns, ["rpa1", "rpa2", "rpa3"])


def test_used_up_wait_budget_fails_the_rest_clearly_and_a_rerun_finishes(
        repo_copy: Path, prefect_server: ServerState) -> None:
    ns = isolate_repo(repo_copy)
    folders = clone_flows(repo_copy, 6)
    upstream = prefect_server.api_url
    edit_config(repo_copy, lambda d: d["prefect"].update(wait_budget=3))
    with ApiProxy(upstream, limit=4, window=5) as proxy:
        first = _deploy(repo_copy, proxy)
    assert first.code == 1, first.describe()
    assert proxy.early == []
    problems = printed_problems(strip_ansi(first.stdout + first.stderr))
    budget = [p for p in problems if "waiting budget" in p]
    assert budget, first.describe()
    assert all("a re-run sends only what is still missing" in p for p in budget), budget
    patterns = guide_patterns()
    assert [p for p in problems if not any(g.search(p) for g in patterns)] == []
    landed = deployments_by_name(upstream, ns.tag)
    assert 0 < len(landed) < 6, sorted(landed)

    edit_config(repo_copy, lambda d: d["prefect"].update(wait_budget=120))
    with ApiProxy(upstream, limit=4, window=5) as proxy:
        second = _deploy(repo_copy, proxy, "--json")
    assert second.code == 0, second.describe()
    assert second.json()["plan"]["create"] == 6 - len(landed)
    assert proxy.early == []
    _exactly_once(upstream, ns, folders)

"""One result type for every check, and the documented JSON shapes built from it."""

from __future__ import annotations

from deploytasks.deploy.pools import check_pools
from deploytasks.findings import Finding, problem_document, skipped_document
from deploytasks.flows.model import FlowSpec
from deploytasks.settings import WorkPool

# The README's "JSON output" table: these keys, exactly.
FLOW_FINDING_KEYS = ["severity", "file", "line", "message", "hint"]
PROBLEM_KEYS = ["deployment", "setting", "message", "hint", "where"]
SKIPPED_KEYS = ["flow", "type", "name", "reason", "hint"]


def test_a_flow_finding_keeps_its_shape_and_knows_its_flow() -> None:
    found = Finding.error("flows/a/workflow.py", 3, "no @flow-decorated function", "decorate it")
    spec = FlowSpec(folder="a", path="flows/a/workflow.py").with_findings([found])
    [error] = spec.errors
    assert error.flow == "a" and error.is_error and not spec.valid
    assert list(error.to_dict()) == FLOW_FINDING_KEYS
    assert error.to_dict() == {"severity": "error", "file": "flows/a/workflow.py", "line": 3,
                               "message": "no @flow-decorated function", "hint": "decorate it"}


def test_a_problem_says_where_its_setting_was_set() -> None:
    problem = Finding.problem("rpa1-python-dev", "parameters.x", "f() has no parameter 'x'",
                              "remove it", ("config/deployment-config.yaml", 12))
    assert list(problem_document(problem)) == PROBLEM_KEYS
    assert problem_document(problem)["where"] == "config/deployment-config.yaml:12"
    assert str(problem) == ("rpa1-python-dev: parameters.x (config/deployment-config.yaml:12): "
                            "f() has no parameter 'x' — remove it")
    nowhere = Finding.problem("rpa1-python-dev", "parameters.y", "missing", "set it")
    assert problem_document(nowhere)["where"] is None
    assert str(nowhere) == "rpa1-python-dev: parameters.y: missing — set it"


def test_a_skipped_deployment_or_flow() -> None:
    deployment = Finding.skipped("rpa1", "docker", "rpa1-docker-dev", "no image", "build it")
    assert list(skipped_document(deployment)) == SKIPPED_KEYS
    assert skipped_document(deployment) == {"flow": "rpa1", "type": "docker",
                                            "name": "rpa1-docker-dev", "reason": "no image",
                                            "hint": "build it"}
    whole = Finding.skipped("rpa2", None, None, "invalid flow: x")
    assert skipped_document(whole)["type"] is None and whole.reason == "invalid flow: x"


def test_a_pool_of_the_wrong_type_carries_a_finding_about_its_setting() -> None:
    pools = {"python": WorkPool(name="shared", type="process"),
             "docker": WorkPool(name="images", type="docker")}
    ok, wrong = check_pools(pools, ["python", "docker"], {"shared": "process", "images": "k8s"})
    assert ok.problem is None and wrong.state == "wrong-type"
    assert wrong.problem is not None and wrong.problem.setting == "work_pools.docker"
    assert wrong.problem.message == ("work pool 'images' exists with type 'k8s', but docker "
                                     "deployments need type 'docker'")
    assert wrong.problem.hint == "use another pool name in work_pools.docker"

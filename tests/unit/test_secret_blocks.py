"""Secret block names and the plan of their values: stable, distinct, never the value."""

from __future__ import annotations

import re
from pathlib import Path

from deploytasks.deploy.secret_blocks import (
    SecretValue,
    block_name,
    blocked_by_conflicts,
    digest,
    plan_secrets,
    reference,
)

NAME = re.compile(r"^[a-z0-9-]+$")


def test_names_are_stable_lowercase_and_keep_lookalike_keys_apart() -> None:
    first = block_name("rpa-platform", "dev", "rpa1", "API_KEY")
    assert first == block_name("rpa-platform", "dev", "rpa1", "API_KEY")
    assert first.startswith("dt-rpa-platform-dev-rpa1-api-key-") and NAME.match(first)
    others = {block_name("rpa-platform", "dev", "rpa1", "api-key"),
              block_name("rpa-platform", "prod", "rpa1", "API_KEY"),
              block_name("other", "dev", "rpa1", "API_KEY"),
              block_name("rpa-platform", "dev", "rpa2", "API_KEY")}
    assert first not in others and len(others) == 4
    assert NAME.match(block_name("p", "dev", "Ünï_cödé", "x" * 300))
    assert len(block_name("p" * 63, "dev", "f" * 60, "k" * 300)) < 140


def test_a_reference_is_what_the_worker_resolves() -> None:
    assert reference("dt-a") == "{{ prefect.blocks.secret.dt-a }}"


def test_the_plan_compares_digests_and_never_holds_a_value() -> None:
    wanted = {name: (SecretValue(name, "K", value), ["d1"]) for name, value in
              (("new", "v1"), ("same", "v2"), ("changed", "v3"), ("theirs", "v4"))}
    server = {"same": digest("v2"), "changed": digest("old"), "theirs": digest("v4")}
    changes = {c.block: c.action for c in plan_secrets(wanted, server, {"same", "changed"})}
    assert changes == {"new": "create", "same": "unchanged", "changed": "update",
                       "theirs": "conflict"}
    documents = str([c.to_document() for c in plan_secrets(wanted, server, set())])
    assert not any(value in documents for value in ("v1", "v2", "v3", "v4"))
    assert "v1" not in repr(wanted["new"][0])
    blocked = blocked_by_conflicts(plan_secrets(wanted, server, {"same", "changed"}))
    assert list(blocked) == ["d1"] and "'theirs' (K) exists but is not this project's" in \
        blocked["d1"]


def test_deleting_orphaned_production_blocks_asks(repo_copy: Path) -> None:
    from deploytasks.config import ConfigurationManager
    from deploytasks.deploy.clean import confirm_secrets

    config = ConfigurationManager().load("dev")
    owned = {"dt-a": "dev", "dt-b": "prod"}
    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    assert confirm_secrets(config, ["dt-a"], owned, yes=False, confirm=no) is True
    assert asked == []
    assert confirm_secrets(config, ["dt-a", "dt-b"], owned, yes=False, confirm=no) is False
    assert asked == ["Delete 2 secret blocks no deployment uses any more, including prod ones?"]
    assert confirm_secrets(config, ["dt-b"], owned, yes=True, confirm=no) is True


def test_a_block_another_deployment_uses_is_no_orphan() -> None:
    from deploytasks.deploy.clean import orphan_secrets
    from deploytasks.deploy.plan import RemoteDeployment

    def remote(id_: str, blocks: list[str]) -> RemoteDeployment:
        env = {f"K{n}": reference(b) for n, b in enumerate(blocks)}
        return RemoteDeployment(id=id_, name=id_, flow_name="f", tags=(),
                                fields={"job_variables": {"env": env}})

    project = [remote("1", ["dt-a", "dt-b"]), remote("2", ["dt-b"])]
    owned = {"dt-a": "dev", "dt-b": "dev", "dt-c": "dev"}
    assert orphan_secrets(project, [project[0]], owned) == ["dt-a", "dt-c"]
    assert orphan_secrets(project, [], owned) == ["dt-c"]

"""``--flow`` means one thing in every collection: one help text, repeatable, comma-separated,
and one matcher (a key, a flow name, a flow file, a folder or an entrypoint)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploytasks.console import Output
from deploytasks.deploy.resolve import resolve
from deploytasks.errors import UsageError
from deploytasks.flows import commands
from deploytasks.flows.selection import FLOW_HELP, split_flows

REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCES = Path(__file__).resolve().parent.parent / "resources" / "flowtrees"

# Every task that takes --flow: how Invoke parses "--flow a --flow b,c", and its help.
PARSE = """
import json, tasks
from invoke.parser import Parser
contexts = tasks.ns.to_contexts()
found = {}
for context in contexts:
    if "--flow" not in context.flags:
        continue
    help = context.flags["--flow"].help
    [parsed] = Parser(contexts=contexts).parse_argv(
        [context.name, "--flow", "a", "--flow", "b, c"])
    found[context.name] = {"help": help, "value": parsed.args["flow"].value}
print(json.dumps(found))
"""


def flow_options() -> dict[str, dict[str, object]]:
    """Each task's --flow, as a fresh interpreter builds the parser (``invoke --list`` does)."""
    done = subprocess.run([sys.executable, "-c", PARSE], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_flow_option_is_repeatable_and_documented_alike() -> None:
    options = flow_options()
    collections = {name.partition(".")[0] for name in options}
    assert collections == {"flows", "deploy", "images", "env"}, sorted(options)
    assert {name: o["help"] for name, o in options.items() if o["help"] != FLOW_HELP} == {}
    assert {name: o["value"] for name, o in options.items() if o["value"] != ["a", "b, c"]} == {}
    assert split_flows(["a", "b, c"]) == split_flows("a,b,c") == ("a", "b", "c")


@pytest.mark.parametrize("value", [None, "", [], [" ", ","]])
def test_no_names_select_everything(value: str | list[str] | None) -> None:
    assert split_flows(value) == ()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(RESOURCES / "basic", root)
    for name in ("DEPLOYMENT_ENV", "DEPLOYMENT_CONFIG_PATH", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEPLOYTASKS_ROOT", str(root))
    monkeypatch.chdir(root / "flows")  # paths relative to the working directory count too
    return root


def test_flows_collection_takes_several_names_like_the_others(repo: Path) -> None:
    config = commands.load_config(None)
    wanted = ["good,sidefx/workflow.py"]  # a key and a file relative to the working directory
    chosen = [spec.folder for spec in commands.find_flows(config, wanted)]
    deployed = [flow.folder for flow in resolve(config, ("python",), split_flows(wanted)).flows]
    assert chosen == deployed == ["good", "sidefx"]


def test_each_collection_names_a_name_that_selects_nothing(repo: Path) -> None:
    config = commands.load_config(None)
    with pytest.raises(UsageError, match="no flow folder or flow file at 'nope'"):
        commands.find_flows(config, "good,nope")
    with pytest.raises(UsageError, match="no flow named 'nope'"):
        resolve(config, ("python",), split_flows("good,nope"))
    assert commands.discover_command(Output(), flow=["good", "good"]) == 0  # each once

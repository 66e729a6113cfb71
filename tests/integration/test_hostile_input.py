"""Hostile input never runs, writes outside build/, hangs or crashes.

Every case feeds values from ``tests/resources/hostile/`` (shell metacharacters,
``..``, newlines, unicode, option-like strings, a YAML alias bomb, 10,000-deep
nesting, 5 MB files) to the real CLI in a copy of the repository, and checks:

- nothing ran: no file named ``PWNED`` appears (in the copy, its parent, /tmp);
- nothing was written outside ``build/`` and ``.deploytasks/`` (the copy's files
  are snapshotted before and after);
- nothing hangs (each run has 60 s);
- invalid input ends with exit 1 or 2 and one error line — never a traceback.

Every value goes through the cheap commands (flows.*, env.show, deploy.clean,
make); the commands that pay ~1.5 s of ``import prefect`` per run get a
representative subset (``SUBSET``: a subshell, a path out, an option, a glob,
unicode), since they share one code path per option. Independent runs of one
test go two at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.docker_services import private_namespace
from tests.support.policy import require_engine, require_program
from tests.support.prefect_helpers import (
    PROJECT_ROOT,
    CliResult,
    Namespace,
    cli_env,
    client,
    deployments_by_name,
    edit,
    isolate_repo,
    one_line,
    run_cli,
    set_flow_setting,
)

CORPUS = Path(__file__).resolve().parents[1] / "resources" / "hostile"
STRINGS: dict[str, str] = json.loads((CORPUS / "strings.json").read_text(encoding="utf-8"))
TIMEOUT = 60
OWNED = ("build", ".deploytasks")  # where the tool may write


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` outside the tool's own folders: path → (size, mtime)."""
    found = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] in OWNED or "__pycache__" in relative.parts:
            continue
        if path.is_file() or path.is_symlink():
            stat = path.lstat()
            found[str(relative)] = (stat.st_size, stat.st_mtime_ns)
    return found


def pwned(*folders: Path) -> list[str]:
    hits = []
    for folder in folders:
        if folder.exists():
            hits += [str(p) for p in folder.rglob("PWNED")]
    return hits


@dataclass
class Repo:
    """A repository copy in its own namespace; every run is checked the same way."""

    root: Path
    ns: Namespace
    api_url: str
    before: dict[str, tuple[int, int]]
    tmp_pwned: bool

    def cli(self, *args: str, codes: tuple[int, ...] = (1, 2), one_error_line: bool = True,
            api: bool = True, **env: str) -> CliResult:
        """Run ``invoke <args>``; check the exit code, the error line and that nothing ran."""
        result = run_cli(self.root, *args, api_url=self.api_url if api else None,
                         timeout=TIMEOUT, extra_env=env)
        self.check(result, codes, one_error_line)
        return result

    def check(self, result: CliResult, codes: tuple[int, ...], one_error_line: bool) -> None:
        assert "Traceback" not in result.stderr + result.stdout, result.describe()
        assert result.code in codes, result.describe()
        if one_error_line and result.code == 2:
            assert one_line(result.stderr) and result.stderr.startswith("error: "), \
                result.describe()
        assert pwned(self.root.parent) == [], result.describe()
        assert Path("/tmp/PWNED").exists() == self.tmp_pwned, result.describe()

    def unchanged(self, *, allowed: frozenset[str] = frozenset()) -> None:
        """Nothing outside build/ and .deploytasks/ was created, changed or removed."""
        after = snapshot(self.root)
        changed = {p for p in set(self.before) | set(after)
                   if self.before.get(p) != after.get(p)} - allowed
        assert changed == set(), sorted(changed)

    def rebase(self) -> None:
        """The test changed files itself: take a new snapshot."""
        self.before = snapshot(self.root)


@pytest.fixture()
def repo(repo_copy: Path, prefect_api: str) -> Iterator[Repo]:
    namespace = isolate_repo(repo_copy)
    shutil.copy2(PROJECT_ROOT / "Makefile", repo_copy / "Makefile")
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", repo_copy / "pyproject.toml")
    made = Repo(repo_copy, namespace, prefect_api, snapshot(repo_copy),
                Path("/tmp/PWNED").exists())
    yield made
    assert pwned(repo_copy.parent) == []


def add_flow(root: Path, folder: str, flow_name: str) -> Path:
    """A copy of rpa1 under ``flows/<folder>`` whose flow is called ``flow_name``."""
    target = root / "flows" / folder
    shutil.copytree(root / "flows" / "rpa1", target,
                    ignore=shutil.ignore_patterns("__pycache__", "output"))
    edit(target / "workflow.py", 'name="RPA1ProcessingFlow"',
                    f"name={flow_name!r}")
    return target


ONE_LINE_VALUES = {k: v for k, v in STRINGS.items() if "\n" not in v}
SUBSET = {k: STRINGS[k] for k in ("dollar-paren", "dotdot-path", "option-help", "glob",
                                  "unicode")}


def run_many(repo: Repo, calls: Sequence[tuple[tuple[str, ...], dict[str, object]]]
             ) -> list[CliResult]:
    """``repo.cli(*args, **options)`` for each call, two at a time; results in order."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(repo.cli, *args, **options)  # type: ignore[arg-type]
                   for args, options in calls]
        return [future.result() for future in futures]


# ---- option values: --flow, --env, --pattern, --registry -----------------------------------------


def test_hostile_flow_and_env_options(repo: Repo) -> None:
    calls: list[tuple[tuple[str, ...], dict[str, object]]] = []
    for value in ONE_LINE_VALUES.values():
        calls += [(("flows.discover", "--flow", value), {"api": False}),
                  (("flows.validate", "--flow", value, "--json"), {"api": False}),
                  (("env.show",), {"api": False, "DEPLOYMENT_ENV": value})]
    for value in SUBSET.values():
        calls += [(("deploy.build", "--flow", value), {"api": False}),
                  (("deploy.test", "--env", value), {})]
    run_many(repo, calls)
    repo.unchanged()


def test_hostile_clean_patterns_match_nothing(repo: Repo) -> None:
    deployed = repo.cli("deploy.python", "--env", "dev", "--flow", "rpa1", "--json", codes=(0,))
    assert deployed.json()["failed"] == 0
    results = run_many(repo, [(("deploy.clean", "--pattern", value, "--json"), {"codes": (0,)})
                              for value in STRINGS.values()])
    for result in results:
        assert result.json()["matched"] == [] == result.json()["deleted"], result.describe()
    repo.cli("deploy.clean", "--pattern", STRINGS["dollar-paren"], "--dry-run", codes=(0,))
    assert set(deployments_by_name(repo.api_url, repo.ns.tag)) == {repo.ns.name("rpa1")}
    repo.unchanged()


def test_hostile_registry_values(repo: Repo) -> None:
    calls: list[tuple[tuple[str, ...], dict[str, object]]] = []
    for value in ONE_LINE_VALUES.values():  # refused before Docker is asked (exit 2)
        calls.append((("images.build", "--registry", value, "--flow", "rpa1"),
                      {"api": False, "codes": (2,)}))
    for value in SUBSET.values():  # each docker deployment's bad image name is a finding
        calls.append((("deploy.build", "--registry", value, "--json"), {"api": False}))
    run_many(repo, calls)
    repo.unchanged()


@pytest.mark.parametrize("args", [("deploy.build", "--flow", STRINGS["newline"]),
                                  ("deploy.build", "--env", STRINGS["newline"])],
                         ids=["flow", "env"])
def test_a_value_with_a_newline_gives_one_error_line(repo: Repo, args: tuple[str, ...]) -> None:
    result = repo.cli(*args, api=False, codes=(2,))  # a usage error: one line, checked there
    assert "\n" not in result.stderr.strip(), result.describe()


def test_newline_values_do_not_run_anything(repo: Repo) -> None:
    value = STRINGS["newline"]
    for args in (("flows.discover", "--flow", value), ("flows.validate", "--flow", value),
                 ("deploy.build", "--flow", value), ("deploy.build", "--env", value)):
        repo.cli(*args, api=False)  # and an exit-2 error is one line here too
    repo.unchanged()


# ---- values inside the repository: folder names, flow names, tags, parameters --------------------


FOLDER_NAMES = {k: v for k, v in STRINGS.items() if "/" not in v and v not in (".", "..")}


def test_hostile_flow_folder_names_are_read_not_run(repo: Repo) -> None:
    for number, folder in enumerate(FOLDER_NAMES.values()):
        add_flow(repo.root, folder, f"HostileFolder{number}")
    repo.rebase()
    for args in (("flows.discover", "--json"), ("flows.validate", "--json"),
                 ("flows.discover",), ("flows.validate", "--verbose")):
        result = repo.cli(*args, api=False, codes=(0, 1))
        if "--json" in args:
            folders = {flow["folder"] for flow in result.json()["flows"]}
            assert set(FOLDER_NAMES.values()) <= folders, folders
    result = repo.cli("deploy.python", "--env", "dev", "--json", codes=(0, 1))
    doc = result.json()
    deployed = {o["name"] for o in doc["results"] if o["ok"]}
    assert repo.ns.name("rpa1") in deployed, doc
    live = deployments_by_name(repo.api_url, repo.ns.tag)
    for name, found in live.items():  # whatever was deployed is named literally
        assert found.entrypoint.startswith("flows/"), name
    repo.unchanged()


@pytest.mark.parametrize("folder", ["Invoices", STRINGS["dollar-paren"]],
                         ids=["uppercase", "dollar-paren"])
def test_folder_docker_refuses_is_a_finding_not_a_crash(repo: Repo, folder: str) -> None:
    add_flow(repo.root, folder, "RefusedName")
    repo.rebase()
    result = repo.cli("deploy.build", "--env", "dev", "--json", api=False, codes=(1,))
    doc = result.json()
    assert any(folder in json.dumps(s) for s in doc["skipped"] + doc["problems"]), doc
    assert len(doc["specs"]) >= 6  # the good flows are still built


def test_hostile_flow_names_tags_and_parameters_round_trip(repo: Repo) -> None:
    values = [v for v in STRINGS.values() if v]
    set_flow_setting(repo.root, "rpa1", "tags", ["rpa", *values])
    set_flow_setting(repo.root, "rpa1", "parameters.currency", "".join(values))
    set_flow_setting(repo.root, "rpa1", "parameters.source_file", STRINGS["dotdot-path"])
    set_flow_setting(repo.root, "rpa1", "description", STRINGS["double-quote"])
    for number, name in enumerate(STRINGS.values()):
        folder = f"hostile{number:02d}"
        add_flow(repo.root, folder, name)
    repo.rebase()
    for args in (("flows.validate", "--json"), ("deploy.build", "--env", "dev", "--json"),
                 ("deploy.test", "--env", "dev", "--verbose"), ("env.show", "--json")):
        repo.cli(*args, codes=(0, 1))
    result = repo.cli("deploy.python", "--env", "dev", "--json", codes=(0, 1))
    doc = result.json()
    assert doc["failed"] == 0, doc
    live = deployments_by_name(repo.api_url, repo.ns.tag)
    rpa1 = live[repo.ns.name("rpa1")]
    assert set(values) <= set(rpa1.tags)
    assert rpa1.parameters["currency"] == "".join(values)
    assert rpa1.parameters["source_file"] == STRINGS["dotdot-path"]
    assert rpa1.description == STRINGS["double-quote"]
    with client(repo.api_url) as prefect:  # flow names stored literally, or refused
        flows = {f.name for f in prefect.read_flows(limit=200)}
    accepted = {repo.ns.name(f"hostile{n:02d}") for n in range(len(STRINGS))} & set(live)
    for number, name in enumerate(STRINGS.values()):
        if repo.ns.name(f"hostile{number:02d}") in accepted:
            assert name in flows, name
    refused = [s["flow"] for s in doc["skipped"]]
    assert set(refused) | {n.rsplit("-python-dev-", 1)[0] for n in accepted} >= {
        f"hostile{n:02d}" for n in range(len(STRINGS))}
    repo.unchanged()


# ---- configuration: a path outside, an alias bomb, deep nesting ----------------------------------


def test_config_path_outside_the_repository(repo: Repo) -> None:
    outside = repo.root.parent / "outside.yaml"
    shutil.copy2(repo.root / "config/deployment-config.yaml", outside)
    calls: list[tuple[tuple[str, ...], dict[str, object]]] = []
    for value in ("../outside.yaml", "config/../../outside.yaml", "/etc/passwd", str(outside)):
        calls += [((command,), {"api": False, "codes": (2,), "DEPLOYMENT_CONFIG_PATH": value})
                  for command in ("env.show", "flows.validate")]
    calls.append((("deploy.build",), {"api": False, "codes": (2,),
                                      "DEPLOYMENT_CONFIG_PATH": "../outside.yaml"}))
    for result in run_many(repo, calls):
        assert "DEPLOYMENT_CONFIG_PATH" in result.stderr and "outside" in result.stderr, \
            result.describe()
    repo.unchanged()


def _fast(repo: Repo, *args: str, codes: tuple[int, ...] = (2,), limit: float = 5.0
          ) -> CliResult:
    started = time.monotonic()
    result = repo.cli(*args, api=False, codes=codes)
    assert time.monotonic() - started < limit, result.describe()
    return result


@pytest.mark.parametrize("where", ["main", "overlay"])
def test_yaml_alias_bomb_fails_fast(repo: Repo, where: str) -> None:
    bomb = (CORPUS / "config/billion-laughs.yaml").read_text()
    target = repo.root / ("config/deployment-config.yaml" if where == "main"
                          else "config/environments/development.yaml")
    target.write_text(bomb + target.read_text())
    repo.rebase()
    for args in (("env.show",), ("deploy.build", "--env", "dev"), ("flows.validate",)):
        result = _fast(repo, *args)
        assert str(target.relative_to(repo.root)) in result.stderr, result.describe()
    repo.unchanged()


def test_nesting_past_the_bound_fails_fast(repo: Repo) -> None:
    target = repo.root / "config/deployment-config.yaml"
    target.write_text(target.read_text() + (CORPUS / "config/nesting-60.yaml").read_text())
    repo.rebase()
    for args in (("env.show",), ("deploy.build", "--env", "dev")):
        _fast(repo, *args)
    repo.unchanged()


@pytest.mark.parametrize(("corpus", "where"), [("deep-nesting-list.yaml", "main"),
                                               ("deep-nesting-map.yaml", "overlay")])
def test_ten_thousand_deep_nesting_fails_fast(repo: Repo, corpus: str, where: str) -> None:
    target = repo.root / ("config/deployment-config.yaml" if where == "main"
                          else "config/environments/development.yaml")
    target.write_text(target.read_text() + "\n" + (CORPUS / "config" / corpus).read_text())
    repo.rebase()
    for args in (("env.show",), ("deploy.build", "--env", "dev")):
        result = _fast(repo, *args)
        assert str(target.relative_to(repo.root)) in result.stderr, result.describe()


# ---- big files -----------------------------------------------------------------------------------


FIVE_MB = 5 * 1024 * 1024


def _fill(path: Path, line: str, size: int) -> None:
    path.write_text((line * (size // len(line) + 1))[:size], encoding="utf-8")


def test_five_megabyte_dockerfile_and_env(repo: Repo) -> None:
    original = (repo.root / "flows/rpa1/Dockerfile").read_text()
    _fill(repo.root / "flows/rpa1/Dockerfile", "RUN echo hostile \\\n", FIVE_MB)
    _fill(repo.root / "flows/rpa2/.env", "KEY=value-that-goes-on-and-on\n", FIVE_MB)
    (repo.root / "flows/rpa3/.env").write_text("A" * FIVE_MB)  # one 5 MB line, no '='
    repo.rebase()
    for args in (("flows.validate",), ("flows.validate", "--json", "--verbose"),
                 ("flows.discover", "--verbose"), ("deploy.validate", "--offline"),
                 ("deploy.build", "--json")):
        result = _fast(repo, *args, codes=(0, 1) if args[0] == "flows.discover" else (1,),
                       limit=10)
        text = result.stdout + result.stderr
        for rel in ("flows/rpa1/Dockerfile", "flows/rpa2/.env", "flows/rpa3/.env"):
            assert rel in text or "discover" in args[0], result.describe()
        assert len(text) < 200_000, "the big files were echoed"
    # Just under the 1 MB reading limit, pathological content is still quick.
    (repo.root / "flows/rpa1/Dockerfile").write_text(
        original + "RUN echo a \\\n" * 75_000 + "RUN true\n")
    (repo.root / "flows/rpa2/.env").write_text("".join(f'K{i}="v\n' for i in range(90_000)))
    (repo.root / "flows/rpa3/.env").write_text('Q="' + "x\n" * 400_000)
    repo.rebase()
    for args in (("flows.validate",), ("deploy.build", "--json")):
        _fast(repo, *args, codes=(0, 1), limit=10)
    repo.unchanged()


# ---- .env values that look like options ----------------------------------------------------------


def test_env_values_that_look_like_options(repo: Repo) -> None:
    source = (CORPUS / "env/option-like.env").read_text()
    (repo.root / "flows/rpa2/.env").write_text(source)
    keys = [line.split("=", 1)[0] for line in source.splitlines()
            if line and not line.startswith("#")]
    set_flow_setting(repo.root, "rpa2", "env_vars", keys)
    repo.rebase()
    for args in (("flows.validate", "--verbose"), ("deploy.build", "--env", "dev", "--json"),
                 ("deploy.test", "--env", "dev", "--verbose"), ("env.show",)):
        repo.cli(*args, codes=(0,))
    repo.cli("deploy.python", "--env", "dev", "--flow", "rpa2", "--json", codes=(0,))
    live = deployments_by_name(repo.api_url, repo.ns.tag)[repo.ns.name("rpa2")]
    expected = dict(line.split("=", 1) for line in source.splitlines()
                    if line and not line.startswith("#"))
    expected["HOSTILE_QUOTED"] = expected["HOSTILE_QUOTED"].strip("'")
    # each value reaches its Secret block literally; the deployment holds references
    prefix, suffix = "{{ prefect.blocks.secret.", " }}"
    references = live.job_variables["env"]
    assert set(references) == set(expected)
    with client(repo.api_url) as prefect:
        stored = {key: prefect.read_block_document_by_name(
            ref.removeprefix(prefix).removesuffix(suffix), "secret").data["value"]
            for key, ref in references.items()}
    assert stored == expected
    repo.unchanged()


# ---- git: --changed-since ------------------------------------------------------------------------


def _git_repo(root: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-qm", "init")):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_hostile_changed_since_refs(repo: Repo) -> None:
    _git_repo(repo.root)
    repo.rebase()
    run_many(repo, [(("deploy.build", "--changed-since", value), {"api": False, "codes": (2,)})
                    for value in SUBSET.values()])
    repo.unchanged()


def test_changed_since_cannot_smuggle_git_options(repo: Repo) -> None:
    _git_repo(repo.root)
    with (repo.root / "flows/rpa1/workflow.py").open("a") as handle:
        handle.write("\n# changed\n")
    repo.rebase()
    written = repo.root.parent / "INJECTED-by-git"
    result = run_cli(repo.root, "deploy.build", f"--changed-since=--output={written}",
                     api_url=None, timeout=TIMEOUT)
    assert not written.exists(), f"git wrote {written}:\n{result.describe()}"
    assert result.code == 2, result.describe()


# ---- make ----------------------------------------------------------------------------------------


def _make_ready(root: Path) -> None:
    """``make`` in the copy uses the project's virtualenv and believes it is set up."""
    venv = root / ".venv"
    venv.mkdir()
    (venv / "bin").symlink_to(PROJECT_ROOT / ".venv" / "bin")
    stamp = venv / ".deploytasks-installed"
    stamp.touch()
    later = (root / "pyproject.toml").stat().st_mtime + 10
    os.utime(stamp, (later, later))


def _make(repo: Repo, *args: str) -> CliResult:
    started = time.perf_counter()
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=repo.root,
                          env=cli_env(repo.api_url), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    result = CliResult(["make", *args], done.returncode, done.stdout, done.stderr,
                       time.perf_counter() - started)
    assert "pip install" not in done.stdout + done.stderr, result.describe()
    return result


@pytest.fixture()
def make_repo(repo: Repo) -> Repo:
    require_program("make", package="make")
    _make_ready(repo.root)
    deployed = repo.cli("deploy.python", "--env", "dev", "--json", codes=(0,))
    assert deployed.json()["failed"] == 0
    repo.rebase()
    return repo


def test_make_clean_deployments_quotes_the_pattern(make_repo: Repo) -> None:
    for key in ("backticks", "single-quote", "double-quote", "semicolon-rm", "pipe-redirect",
                "glob", "unicode", "option-help"):
        result = _make(make_repo, "clean-deployments", f"PATTERN={STRINGS[key]}")
        make_repo.check(result, (0,), True)
        assert "No managed deployments matching" in result.stdout, result.describe()
    assert len(deployments_by_name(make_repo.api_url, make_repo.ns.tag)) == 3
    make_repo.unchanged()


@pytest.mark.parametrize("args", [("clean-deployments", "PATTERN=$(touch PWNED)"),
                                  ("test-deployments", "ENV=$(shell touch PWNED)")],
                         ids=["pattern-vanishes", "shell-runs"])
def test_make_passes_dollar_values_literally(make_repo: Repo, args: tuple[str, ...]) -> None:
    result = _make(make_repo, *args)
    ran = pwned(make_repo.root.parent)
    for path in ran:  # leave nothing for the fixture's final check
        Path(path).unlink()
    assert ran == [], result.describe()
    assert len(deployments_by_name(make_repo.api_url, make_repo.ns.tag)) == 3, \
        result.describe()
    assert result.code in (0, 2), result.describe()


# ---- docker: tags the engine refuses -------------------------------------------------------------


@pytest.mark.docker
def test_non_ascii_docker_tag_is_a_usage_error(repo: Repo) -> None:
    require_engine()
    with private_namespace("hostile") as namespace:
        result = repo.cli("images.build", "--flow", "rpa1", api=False, codes=(2,),
                          DOCKER_TAG="ünï", DOCKER_NAMESPACE=namespace)
        assert "DOCKER_TAG" in result.stderr

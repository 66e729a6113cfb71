"""Content tags and .dockerignore semantics: pure, no Docker engine needed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from deploytasks.images.content import (
    InvalidReference,
    content_digest,
    image_name,
    looks_secret,
    split_domain,
)
from deploytasks.images.dockerignore import Matcher, context_entries, read_patterns

DOCKERFILE = ("ARG BASE_IMAGE=x\nFROM ${BASE_IMAGE}\nARG FLOW_NAME\n"
              "COPY . /opt/prefect/flows/${FLOW_NAME}/\n")
ARGS = {"BASE_IMAGE": "deploytasks/prefect-base:3.9.1-python3.11", "FLOW_NAME": "demo"}


def make_context(root: Path, files: dict[str, str], ignore: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(DOCKERFILE)
    if ignore is not None:
        (root / ".dockerignore").write_text(ignore)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def sent(root: Path) -> set[str]:
    patterns = read_patterns((root / ".dockerignore").read_text()) if (
        root / ".dockerignore").exists() else []
    return {e.path for e in context_entries(root, patterns) if e.kind != "dir"}


# ---- .dockerignore reading ------------------------------------------------------------------


def test_read_patterns_follows_docker_readall() -> None:
    text = "\ufeff# comment\n\n  *.pyc  \n! keep.pyc\n/abs/path/\n  # not a comment\na/../b\n"
    assert read_patterns(text) == ["*.pyc", "!keep.pyc", "abs/path", "# not a comment", "b"]


# ---- matching ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.pyc"], "a.pyc", True),
        (["*.pyc"], "sub/a.pyc", False),  # '*' never crosses '/'
        (["**/*.pyc"], "a.pyc", True),  # '**/' also matches no folder at all
        (["**/*.pyc"], "x/y/a.pyc", True),
        (["data"], "data/x/y.csv", True),  # a parent folder that matches excludes its files
        (["a/**/b"], "a/b", True),
        (["a/**/b"], "a/x/y/b", True),
        (["a/**"], "a/x/y", True),
        (["temp?"], "tempa", True),
        (["temp?"], "temp/a", False),
        (["Secret.txt"], "secret.txt", False),  # case-sensitive, unlike docker-py's fnmatch
        (["\\*.txt"], "*.txt", True),  # backslash escapes a metacharacter
        (["\\*.txt"], "a.txt", False),
        (["*.md", "!README.md"], "README.md", False),  # a later exception wins
        (["!README.md", "*.md"], "README.md", True),  # order matters
        (["*", "!src"], "src/app.py", False),
        (["[ab].txt"], "b.txt", True),
        (["[ab].txt"], "c.txt", False),
        (["file(1).txt"], "file(1).txt", True),  # regexp characters are literal
    ],
)
def test_matcher_follows_moby(patterns: list[str], path: str, excluded: bool) -> None:
    assert Matcher(patterns).excluded(path) is excluded


def test_exception_inside_excluded_folder_is_sent(tmp_path: Path) -> None:
    root = make_context(tmp_path, {"data/keep.csv": "k", "data/drop.csv": "d"},
                        ignore="data\n!data/keep.csv\n")
    assert sent(root) == {"Dockerfile", ".dockerignore", "data/keep.csv"}


def test_wildcard_exception_does_not_reach_into_excluded_folder(tmp_path: Path) -> None:
    # Docker only walks into an excluded folder for an exception that starts with its path.
    root = make_context(tmp_path, {"data/keep.csv": "k"}, ignore="data\n!**/keep.csv\n")
    assert sent(root) == {"Dockerfile", ".dockerignore"}


def test_dockerfile_and_dockerignore_are_always_sent(tmp_path: Path) -> None:
    root = make_context(tmp_path, {"flow.py": "x"}, ignore="*\n")
    assert sent(root) == {"Dockerfile", ".dockerignore"}


def test_double_star_prunes_nested_folders(tmp_path: Path) -> None:
    root = make_context(tmp_path, {"a/__pycache__/m.pyc": "", "a/m.py": "", "m.pyc": ""},
                        ignore="**/__pycache__\n*.pyc\n")
    assert sent(root) == {"Dockerfile", ".dockerignore", "a/m.py"}


def test_same_list_as_docker_py_for_the_example_ignore_file(tmp_path: Path) -> None:
    from docker.utils.build import exclude_paths

    ignore = ".env\n.env.*\n!.env.example\n__pycache__/\n**/__pycache__/\n*.pyc\noutput/\n"
    root = make_context(tmp_path, {".env": "S=1", ".env.example": "S=", "workflow.py": "",
                                   "data/a.csv": "", "data/__pycache__/x.pyc": "",
                                   "output/r.txt": "", "x.pyc": ""}, ignore=ignore)
    ours = {e.path for e in context_entries(root, read_patterns(ignore))}
    theirs = set(exclude_paths(str(root), read_patterns(ignore)))
    assert ours == theirs


# ---- content tags -----------------------------------------------------------------------------


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    return make_context(tmp_path / "demo", {"workflow.py": "print('hi')\n", "data/a.csv": "1\n",
                                            "output/run.log": "old\n"},
                        ignore="output/\n*.log\n")


def tag_of(root: Path, args: dict[str, str] | None = None, base: str | None = "sha256:b") -> str:
    return content_digest(root, args if args is not None else ARGS, base_image_id=base).tag


def test_tag_is_stable_and_well_formed(flow: Path) -> None:
    tag = tag_of(flow)
    assert tag == tag_of(flow)
    assert tag.startswith("c-") and len(tag) == 14
    assert all(c in "0123456789abcdef" for c in tag[2:])


def test_changing_a_sent_file_changes_the_tag(flow: Path) -> None:
    before = tag_of(flow)
    (flow / "workflow.py").write_text("print('changed')\n")
    assert tag_of(flow) != before


def test_changing_the_dockerfile_changes_the_tag(flow: Path) -> None:
    before = tag_of(flow)
    (flow / "Dockerfile").write_text(DOCKERFILE + "USER app\n")
    assert tag_of(flow) != before


def test_changing_or_adding_an_ignored_file_keeps_the_tag(flow: Path) -> None:
    before = tag_of(flow)
    (flow / "output" / "run.log").write_text("new\n")
    (flow / "output" / "other.txt").write_text("new\n")
    (flow / "debug.log").write_text("x\n")
    assert tag_of(flow) == before


def test_file_mode_changes_the_tag(flow: Path) -> None:
    before = tag_of(flow)
    os.chmod(flow / "workflow.py", 0o755)
    assert tag_of(flow) != before


def test_renaming_a_file_changes_the_tag(flow: Path) -> None:
    before = tag_of(flow)
    (flow / "data" / "a.csv").rename(flow / "data" / "b.csv")
    assert tag_of(flow) != before


def test_build_args_and_base_image_change_the_tag(flow: Path) -> None:
    before = tag_of(flow)
    assert tag_of(flow, {**ARGS, "FLOW_NAME": "other"}) != before
    assert tag_of(flow, {**ARGS, "EXTRA": "1"}) != before
    assert tag_of(flow, base="sha256:other") != before


def test_mtime_does_not_change_the_tag(flow: Path) -> None:
    before = tag_of(flow)
    os.utime(flow / "workflow.py", (1, 1))
    assert tag_of(flow) == before


def test_secret_looking_files_are_reported_unless_ignored(tmp_path: Path) -> None:
    loose = make_context(tmp_path / "loose", {".env": "TOKEN=x", ".env.example": "TOKEN=",
                                              "keys/server.pem": "k"})
    assert content_digest(loose, ARGS).secret_files == (".env", "keys/server.pem")
    guarded = make_context(tmp_path / "guarded", {".env": "TOKEN=x"}, ignore=".env\n")
    assert content_digest(guarded, ARGS).secret_files == ()


@pytest.mark.parametrize("name", [".env", ".env.local", "id_rsa", "cert.pem", ".netrc"])
def test_looks_secret(name: str) -> None:
    assert looks_secret(f"sub/{name}")


@pytest.mark.parametrize("name", [".env.example", "id_rsa.pub", "workflow.py", "environment.py"])
def test_does_not_look_secret(name: str) -> None:
    assert not looks_secret(name)


# ---- names ------------------------------------------------------------------------------------


def test_image_name_with_and_without_registry() -> None:
    local = image_name("rpa1", registry="", namespace="deploytasks", tag="latest")
    assert local.ref == "deploytasks/rpa1-worker:latest"
    remote = image_name("rpa1", registry="localhost:5000/proj/", namespace="deploytasks",
                        tag="v1.2")
    assert remote.ref == "localhost:5000/proj/deploytasks/rpa1-worker:v1.2"
    assert remote.with_tag("c-0123456789ab").endswith("rpa1-worker:c-0123456789ab")


@pytest.mark.parametrize("flow", ["RPA1", "my flow", "rpa:1", "-rpa", "rpä"])
def test_flow_names_docker_refuses(flow: str) -> None:
    with pytest.raises(InvalidReference, match="Docker refuses"):
        image_name(flow, registry="", namespace="deploytasks", tag="latest")


# Docker's path-component grammar (distribution/reference), written out here
# independently of the product's regular expression.
DOCKER_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


@pytest.mark.parametrize("flow", ["rpa1", "rpa_1", "rpa.1", "rpa--1", "rpa__1"])
def test_flow_names_docker_accepts(flow: str) -> None:
    name = image_name(flow, registry="", namespace="deploytasks", tag="latest")

    assert name.ref == f"deploytasks/{flow}-worker:latest"  # the folder name, unchanged
    assert all(DOCKER_PATH_COMPONENT.fullmatch(part) for part in name.repository.split("/"))


@pytest.mark.parametrize("tag", ["", ".hidden", "-dash", "has space", "x" * 129, "a:b"])
def test_tags_docker_refuses(tag: str) -> None:
    with pytest.raises(InvalidReference, match="not a valid Docker tag"):
        image_name("rpa1", registry="", namespace="deploytasks", tag=tag)


def test_registry_docker_refuses() -> None:
    with pytest.raises(InvalidReference, match="registry"):
        image_name("rpa1", registry="bad_host:5000", namespace="ns", tag="latest")


def test_split_domain_like_docker() -> None:
    assert split_domain("localhost/x")[0] == "localhost"
    assert split_domain("reg.example.com/x/y")[0] == "reg.example.com"
    assert split_domain("127.0.0.1:5000/x")[0] == "127.0.0.1:5000"
    assert split_domain("deploytasks/rpa1-worker")[0] == ""


# ---- the rest of the images package that needs no engine -----------------------------------


def test_tasks_module_imports_nothing_heavy_and_lists_cleanly() -> None:
    import subprocess
    import sys

    code = ("import sys, deploytasks.images.tasks as t; t.ns.to_contexts(); "
            "print(sorted(m for m in ('prefect', 'docker', 'python_on_whales', 'rich') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def _fake_wheel(folder: Path, name: str, version: str, requires: list[str]) -> None:
    import zipfile

    metadata = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires))
    wheel = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", metadata)


def test_wheelhouse_closure_uses_the_containers_markers(tmp_path: Path) -> None:
    from deploytasks.images.wheelhouse import unmet_requirements

    _fake_wheel(tmp_path, "app", "1.0", ["redis>=5", "extra-only; extra == 'x'"])
    _fake_wheel(tmp_path, "redis", "8.1.0",
                ['async-timeout>=4.0.3; python_full_version < "3.11.3"'])
    host = {"python_full_version": "3.11.7", "python_version": "3.11"}
    debian = {"python_full_version": "3.11.2", "python_version": "3.11"}
    assert unmet_requirements(tmp_path, ["app==1.0"], host) == []
    missing = unmet_requirements(tmp_path, ["app==1.0"], debian)
    assert [str(r.name) for r in missing] == ["async-timeout"]
    assert [r.name for r in unmet_requirements(tmp_path, ["app[x]==1.0"], host)] == [
        "extra-only"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused',
         "RegistryUnavailable"),
        ("unauthorized: authentication required", "RegistryAuthFailed"),
        ("no basic auth credentials", "RegistryAuthFailed"),
        ("manifest for x:latest not found: manifest unknown", "ImageMissing"),
        ("something else entirely", "ImageFailure"),
    ],
)
def test_registry_errors_are_classified(text: str, kind: str) -> None:
    from deploytasks.images.failures import registry_error

    error = registry_error(text, "127.0.0.1:9", action="pull", ref="x:latest")
    assert type(error).__name__ == kind
    assert "127.0.0.1:9" in str(error) or kind == "ImageFailure"


def test_log_tail_keeps_the_failing_step_and_its_last_lines() -> None:
    from deploytasks.images.docker_api import LogTail

    seen: list[str] = []
    tail = LogTail(seen.append)
    tail.feed("Step 1/2 : FROM base\n ---> abc\nStep 2/2 : RUN make\n ---> Running in 1\n")
    for i in range(15):
        tail.feed(f"out{i}\n" if i % 2 else f"out{i}")
        tail.feed("" if i % 2 else "\n")
    tail.feed("Removing intermediate container 1\npartial")
    assert tail.tail() == ["Step 2/2 : RUN make", *[f"out{i}" for i in range(6, 15)], "partial"]
    assert seen[0] == "Step 1/2 : FROM base"


def test_manifest_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    from deploytasks.images.manifest import ImageRecord, Manifest

    manifest = Manifest.load(tmp_path)
    record = ImageRecord("rpa1", "ns/rpa1-worker:latest", "ns/rpa1-worker", "latest",
                         "c-0123456789ab", "0123456789ab" + "0" * 52, "sha256:1", "built", "t")
    manifest.put(record)
    manifest.mark_pushed("rpa1", "sha256:feed")
    again = Manifest.load(tmp_path)
    assert again.get("rpa1", "ns/rpa1-worker") == record
    assert again.get("rpa1", "other/rpa1-worker") is None
    assert [p.name for p in manifest.path.parent.iterdir()] == ["manifest.json"]


def test_build_args_precedence() -> None:
    from deploytasks.images.targets import ImageOptions

    options = ImageOptions(Path("."), "flows", "", "ns", "latest", "base:1",
                           {"A": "config", "BASE_IMAGE": "ignored"})
    args = options.args_for("rpa1", {"DOCKER_BUILD_ARG_A": "env", "DOCKER_BUILD_ARG_B": "b",
                                     "DOCKER_BUILD_ARG_FLOW_NAME": "ignored"})
    assert args == {"A": "env", "B": "b", "BASE_IMAGE": "base:1", "FLOW_NAME": "rpa1"}

"""Prefect Cloud's shapes and self-hosted authentication, against real servers.

No Prefect Cloud account is reachable here. What can be run for real is run:

- **Profiles**: the real ``prefect`` CLI writes a profile (``prefect profile create``,
  ``prefect profile use``, ``prefect config set``) into a ``PREFECT_HOME`` of the test;
  deploytasks, with no ``PREFECT_API_URL``, must connect through it and say so in
  ``env.show``.
- **Workspace URLs**: ``tests/support/api_proxy.py`` serves Cloud's path shape,
  ``/api/accounts/<A>/workspaces/<W>/…`` → ``/api/…`` of a private server (a bare
  ``/api/…`` is refused), and that server serves its UI under
  ``/account/<A>/workspace/<W>`` (``PREFECT_UI_SERVE_BASE``) — where Cloud's UI is for
  such a workspace. Deploy, check (links and the UI check) and the browser check run
  through it.
- **Basic auth**: a private server started with ``PREFECT_SERVER_API_AUTH_STRING``
  refuses requests without ``PREFECT_API_AUTH_STRING`` (or credentials in the URL).

Not run (no account): Prefect Cloud's own authentication of ``PREFECT_API_KEY``, its
real rate limits, and its UI at ``app.prefect.cloud`` (only the link shapes are checked,
in ``tests/unit/test_connection.py``).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploytasks.env.local_server import LocalServer, free_port
from tests.support.api_proxy import ApiProxy
from tests.support.policy import require_chromium, skip_or_fail
from tests.support.prefect_helpers import (
    CliResult,
    Namespace,
    deployments_by_name,
    edit_config,
    isolate_repo,
    new_private_server,
    run_cli,
    strip_ansi,
)
from tests.support.troubleshooting import guide_patterns, printed_problems

ACCOUNT = "0ff44498-a1b2-4c3d-8e9f-0123456789ab"
WORKSPACE = "c5b3a0e1-1111-4222-8333-444455556666"
PREFIX = f"/api/accounts/{ACCOUNT}/workspaces/{WORKSPACE}"
UI_BASE = f"/account/{ACCOUNT}/workspace/{WORKSPACE}"
API_KEY = "pnu_cloudKEYnotreal0123456789abcdef"
AUTH = "admin:basicAUTHsecret42"


@dataclass
class Server:
    api_url: str
    origin: str


def _start(folder: Path, database: str | None, **env: str) -> Iterator[Server]:
    """A private server started with extra settings (``LocalServer`` passes the
    environment on to it)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    private = new_private_server(folder)
    server = LocalServer(private.folder, database)
    try:
        state = server.start(private.port, timeout=180)
    except Exception as error:
        skip_or_fail(f"cannot start a private Prefect server: {error}")
        raise
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield Server(state.api_url, state.api_url.removesuffix("/api"))
    server.stop()


@pytest.fixture(scope="module")
def workspace_server(tmp_path_factory: pytest.TempPathFactory,
                     prefect_database: str | None) -> Iterator[Server]:
    """A server whose UI lives where a Cloud workspace's does."""
    folder = tmp_path_factory.mktemp("workspace-server")
    # Its UI files of its own: Prefect rewrites the served files for the serve base, by
    # default inside the installed package, which every other server of the run serves too.
    yield from _start(folder, prefect_database, PREFECT_SERVER_UI_SERVE_BASE=UI_BASE,
                      PREFECT_SERVER_UI_STATIC_DIRECTORY=str(folder / "ui"))


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory,
                prefect_database: str | None) -> Iterator[Server]:
    """A self-hosted server with basic auth."""
    yield from _start(tmp_path_factory.mktemp("auth-server"), prefect_database,
                      PREFECT_SERVER_API_AUTH_STRING=AUTH)


def prefect_cli(home: Path, *args: str) -> None:
    """The real ``prefect`` CLI with its own home (it writes ``home/profiles.toml``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    done = subprocess.run([str(Path(sys.executable).parent / "prefect"), "--no-prompt", *args],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def write_profile(home: Path, name: str, **settings: str) -> None:
    prefect_cli(home, "profile", "create", name)
    prefect_cli(home, "--profile", name, "config", "set",
                *(f"{key}={value}" for key, value in settings.items()))
    prefect_cli(home, "profile", "use", name)


def python_only(root: Path) -> Namespace:
    """An isolated repository copy whose flows have python deployments only (no images
    needed, so ``deploy.check`` expects only what ``deploy.python`` makes)."""
    ns = isolate_repo(root)
    edit_config(root, lambda d: d.setdefault("defaults", {}).update(kinds=["python"]))
    return ns


def _cli(root: Path, *args: str, home: Path, **env: str) -> CliResult:
    result = run_cli(root, *args, api_url=None, timeout=300,
                     extra_env={"PREFECT_HOME": str(home), **env})
    assert "Traceback" not in result.stdout + result.stderr, result.describe()
    return result


def test_a_cloud_workspace_through_the_active_profile(
        repo_copy: Path, workspace_server: Server, tmp_path: Path) -> None:
    ns: Namespace = python_only(repo_copy)
    home = tmp_path / "prefect-home"
    with ApiProxy(workspace_server.api_url, prefix=PREFIX) as proxy:
        write_profile(home, "cloudish", PREFECT_API_URL=proxy.url, PREFECT_API_KEY=API_KEY)
        shown = _cli(repo_copy, "env.show", "--json", home=home)
        assert shown.code == 0, shown.describe()
        settings = {row["path"]: row for row in shown.json()["settings"]}
        where = f"profile cloudish ({home / 'profiles.toml'})"
        assert settings["prefect.api_url"] == {"path": "prefect.api_url", "value": proxy.url,
                                               "source": where}
        assert settings["prefect.api_key"]["value"] == "********"
        human = _cli(repo_copy, "env.show", home=home, COLUMNS="300")
        assert "profile cloudish" in strip_ansi(human.stdout), human.describe()

        deployed = _cli(repo_copy, "deploy.python", "--env", "dev", "--json", home=home)
        assert deployed.code == 0, deployed.describe()
        assert deployed.json()["plan"]["create"] == 3
        checked = _cli(repo_copy, "deploy.check", "--env", "dev", "--json",
                       home=home)
        human_check = _cli(repo_copy, "deploy.check", "--env", "dev", home=home)
    assert proxy.not_prefixed == [], proxy.not_prefixed  # every API call in the workspace
    assert proxy.authorization == {f"Bearer {API_KEY}"}  # the profile's key, on every call
    doc = checked.json()
    assert checked.code == 0, checked.describe()
    assert doc["ui_problem"] is None  # the UI answered where the links point
    live = deployments_by_name(workspace_server.api_url, ns.tag)
    ui = f"{proxy.origin}{UI_BASE}"
    for item in doc["deployments"]:
        assert item["link"] == f"{ui}/deployments/deployment/{live[item['name']].id}"
    assert f"{ui}/deployments/deployment/" in strip_ansi(human_check.stdout)
    for run in (shown, human, deployed, checked, human_check):
        assert API_KEY not in run.stdout + run.stderr


def test_prefect_ui_url_is_used_for_links_and_the_ui_check(
        repo_copy: Path, workspace_server: Server, tmp_path: Path) -> None:
    python_only(repo_copy)
    home = tmp_path / "prefect-home"
    ui = f"{workspace_server.origin}{UI_BASE}"  # the UI, not behind the proxy
    with ApiProxy(workspace_server.api_url, prefix=PREFIX) as proxy:
        env = {"PREFECT_API_URL": proxy.url, "PREFECT_UI_URL": ui}
        deployed = _cli(repo_copy, "deploy.python", "--env", "dev", "--flow", "rpa1",
                        home=home, **env)
        assert deployed.code == 0, deployed.describe()
        check = ("deploy.check", "--env", "dev", "--flow", "rpa1", "--json")
        checked = _cli(repo_copy, *check, home=home, **env)
        wrong = _cli(repo_copy, *check, home=home, PREFECT_API_URL=proxy.url,
                     PREFECT_UI_URL=f"http://127.0.0.1:{free_port()}")
    assert checked.code == 0, checked.describe()
    assert checked.json()["deployments"][0]["link"].startswith(f"{ui}/deployments/deployment/")
    assert wrong.code == 1 and "does not answer" in wrong.json()["ui_problem"], wrong.describe()


def test_the_browser_check_renders_a_workspace_ui(repo_copy: Path, workspace_server: Server,
                                                  tmp_path: Path) -> None:
    require_chromium()
    ns = python_only(repo_copy)
    home = tmp_path / "prefect-home"
    with ApiProxy(workspace_server.api_url, prefix=PREFIX) as proxy:
        env = {"PREFECT_API_URL": proxy.url}
        deployed = _cli(repo_copy, "deploy.python", "--env", "dev", "--flow", "rpa1",
                        home=home, **env)
        assert deployed.code == 0, deployed.describe()
        checked = run_cli(repo_copy, "deploy.check", "--env", "dev", "--flow", "rpa1",
                          "--browser", "--json", api_url=proxy.url, timeout=400,
                          extra_env={"PREFECT_HOME": str(home)})
    page = repo_copy / "build/check-ui/deployments.html"
    assert checked.code == 0, f"{checked.describe()}\n--- page kept\n" + \
        (page.read_text(encoding="utf-8")[:3000] if page.exists() else "(none)")
    browser = checked.json()["browser"]
    assert browser["seen"] == [ns.name("rpa1")] and browser["missing"] == [], browser
    assert any(p.startswith(f"GET {UI_BASE}/deployments") for p in proxy.paths), proxy.paths[:20]


def test_basic_auth_with_prefect_api_auth_string(repo_copy: Path, auth_server: Server,
                                                 tmp_path: Path) -> None:
    ns = python_only(repo_copy)
    home = tmp_path / "prefect-home"
    api = auth_server.api_url
    refused = _cli(repo_copy, "deploy.python", "--env", "dev", home=home, PREFECT_API_URL=api)
    wrong = _cli(repo_copy, "deploy.python", "--env", "dev", home=home, PREFECT_API_URL=api,
                 PREFECT_API_AUTH_STRING="admin:wrong")
    for result in (refused, wrong):
        assert result.code == 2, result.describe()
        problems = printed_problems(result.stderr)
        assert any("refused the credentials (HTTP 401" in p for p in problems), result.describe()
        patterns = guide_patterns()
        assert [p for p in problems if not any(g.search(p) for g in patterns)] == []
    done = _cli(repo_copy, "deploy.python", "--env", "dev", "--json", home=home,
                PREFECT_API_URL=api, PREFECT_API_AUTH_STRING=AUTH)
    assert done.code == 0, done.describe()
    assert set(deployments_by_name_auth(api, ns.tag)) == ns.names(kinds=("python",))
    shown = _cli(repo_copy, "env.show", "--json", home=home, PREFECT_API_URL=api,
                 PREFECT_API_AUTH_STRING=AUTH)
    settings = {row["path"]: row for row in shown.json()["settings"]}
    assert settings["prefect.auth_string"] == {
        "path": "prefect.auth_string", "value": "********",
        "source": "environment variable PREFECT_API_AUTH_STRING"}
    for run in (refused, wrong, done, shown):
        assert "basicAUTHsecret42" not in run.stdout + run.stderr


def test_basic_auth_from_a_profile_and_from_the_url(repo_copy: Path, auth_server: Server,
                                                    tmp_path: Path) -> None:
    ns = python_only(repo_copy)
    home = tmp_path / "prefect-home"
    write_profile(home, "selfhosted", PREFECT_API_URL=auth_server.api_url,
                  PREFECT_API_AUTH_STRING=AUTH)
    by_profile = _cli(repo_copy, "deploy.python", "--env", "dev", "--flow", "rpa1", "--json",
                      home=home)
    assert by_profile.code == 0, by_profile.describe()
    user, password = AUTH.split(":")
    in_url = auth_server.api_url.replace("http://", f"http://{user}:{password}@")
    empty_home = tmp_path / "empty-home"
    by_url = _cli(repo_copy, "deploy.python", "--env", "dev", "--json", home=empty_home,
                  PREFECT_API_URL=in_url)
    assert by_url.code == 0, by_url.describe()
    assert by_url.json()["plan"]["create"] == 2 and by_url.json()["plan"]["unchanged"] == 1
    assert set(deployments_by_name_auth(auth_server.api_url, ns.tag)) == \
        ns.names(kinds=("python",))
    for run in (by_profile, by_url):
        assert password not in run.stdout + run.stderr


def deployments_by_name_auth(api_url: str, tag: str) -> dict[str, object]:
    """Read the auth server back with Prefect's own client and the auth string."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    with SyncPrefectClient(api_url, auth_string=AUTH) as client:
        found = client.read_deployments(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[tag])))
    names = [d.name for d in found]
    assert len(names) == len(set(names)), names
    assert all(re.fullmatch(r"[\w-]+", n) for n in names)
    return {d.name: d for d in found}


def test_the_auth_header_is_basic(auth_server: Server) -> None:
    """What the server checks (so the tests above test what they claim)."""
    import httpx

    token = base64.b64encode(AUTH.encode()).decode()
    body = {"deployments": {}}
    assert httpx.post(f"{auth_server.api_url}/deployments/count", json=body,
                      timeout=10).status_code == 401
    assert httpx.post(f"{auth_server.api_url}/deployments/count", json=body, timeout=10,
                      headers={"Authorization": f"Basic {token}"}).status_code == 200

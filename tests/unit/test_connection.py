"""How deploytasks finds and shows its Prefect API: the active Prefect profile as the lowest
layer, UI addresses (Prefect Cloud workspaces, ``PREFECT_UI_URL``), and credentials inside
URLs masked by the one redactor.

Profiles files are written by Prefect's own ``save_profiles`` (what ``prefect profile``
and ``prefect cloud login`` call) and read back through ``PREFECT_PROFILES_PATH``, set
with Prefect's ``temporary_settings`` because Prefect reads its settings at import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import (
    PREFECT_PROFILES_PATH,
    Profile,
    ProfilesCollection,
    save_profiles,
    temporary_settings,
)

from deploytasks.config import ENV_VARIABLES, ConfigurationManager
from deploytasks.console import Output
from deploytasks.deploy.session import api_url, gateway, ui_url
from deploytasks.env.commands import show_config
from deploytasks.errors import ConfigError
from deploytasks.secrets import MASK, redact, register_url_secret

KEY = "pnu_profileKEY0123456789"
CLOUD = "https://api.prefect.cloud/api/accounts/0ff44498/workspaces/c5b3a0e1"


@pytest.fixture(autouse=True)
def no_connection_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (*ENV_VARIABLES, "PREFECT_PROFILE", "DEPLOYMENT_ENV"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture()
def profiles(tmp_path: Path) -> Iterator[Path]:
    """A profiles file with a Cloud profile (active), a self-hosted one and an empty one."""
    path = tmp_path / "prefect-home" / "profiles.toml"
    with temporary_settings({PREFECT_PROFILES_PATH: path}):
        save_profiles(ProfilesCollection([
            Profile(name="cloud", settings={"PREFECT_API_URL": CLOUD, "PREFECT_API_KEY": KEY}),
            Profile(name="selfhosted", settings={
                "PREFECT_API_URL": "https://prefect.example.com/api",
                "PREFECT_API_AUTH_STRING": "admin:s3cretAuth",
                "PREFECT_UI_URL": "https://ui.example.com/prefect"}),
            Profile(name="bare", settings={}),
        ], active="cloud"))
        yield path


def rows(env: str | None = None) -> dict[str, tuple[object, str]]:
    config = ConfigurationManager().load(env, profile=True)
    return {row.path: (row.value, str(row.origin)) for row in config.values()}


def test_the_active_profile_connects_and_env_show_names_it(repo_copy: Path, profiles: Path
                                                           ) -> None:
    shown = rows()
    assert shown["prefect.api_url"] == (CLOUD, f"profile cloud ({profiles})")
    assert shown["prefect.api_key"] == (MASK, f"profile cloud ({profiles})")
    assert KEY not in repr(shown)
    config = ConfigurationManager().load(profile=True)
    assert api_url(config) == CLOUD
    assert gateway(config).api_key == KEY


def test_prefect_profile_chooses_another(repo_copy: Path, profiles: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_PROFILE", "selfhosted")
    config = ConfigurationManager().load(profile=True)
    prefect = config.settings.prefect
    assert prefect.api_url == "https://prefect.example.com/api"
    assert prefect.auth_string is not None
    assert gateway(config).auth_string == "admin:s3cretAuth"
    assert ui_url(api_url(config), prefect.ui_url) == "https://ui.example.com/prefect"
    assert rows()["prefect.auth_string"][0] == MASK


def test_the_environment_and_the_configuration_win_over_the_profile(
        repo_copy: Path, profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4999/api")
    shown = rows()
    assert shown["prefect.api_url"] == ("http://127.0.0.1:4999/api",
                                        "environment variable PREFECT_API_URL")
    assert shown["prefect.api_key"][0] is None  # the profile's key never goes elsewhere
    monkeypatch.delenv("PREFECT_API_URL")
    config_file = repo_copy / "config" / "deployment-config.yaml"
    config_file.write_text(config_file.read_text().replace(
        "prefect:\n", "prefect:\n  api_url: http://10.0.0.5:4200/api\n", 1))
    assert rows()["prefect.api_url"][1].startswith("config/deployment-config.yaml:")
    # Only commands that talk to the API read the profile.
    monkeypatch.delenv("PREFECT_API_KEY", raising=False)
    assert ConfigurationManager().load().settings.prefect.api_url == "http://10.0.0.5:4200/api"


def test_a_key_from_the_environment_beats_the_profiles(repo_copy: Path, profiles: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_KEY", "pnu_fromTheEnvironment")
    shown = rows()
    assert shown["prefect.api_url"][1].startswith("profile cloud")
    assert shown["prefect.api_key"][1] == "environment variable PREFECT_API_KEY"


def test_a_profile_without_a_url_falls_back_to_the_local_server(
        repo_copy: Path, profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_PROFILE", "bare")
    assert ConfigurationManager().load(profile=True).settings.prefect.api_url is None


def test_an_unknown_profile_is_a_clear_error(repo_copy: Path, profiles: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_PROFILE", "staging")
    with pytest.raises(ConfigError) as caught:
        ConfigurationManager().load(profile=True)
    error = caught.value
    assert error.where == "PREFECT_PROFILE" and error.exit_code == 2
    assert "no Prefect profile named 'staging'" in error.message and str(profiles) in error.message
    assert "bare, cloud" in (error.hint or "")


def test_an_unreadable_profiles_file_names_the_file(repo_copy: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('active = "x\n')
    with temporary_settings({PREFECT_PROFILES_PATH: broken}), \
            pytest.raises(ConfigError) as caught:
        ConfigurationManager().load(profile=True)
    assert caught.value.where == str(broken)
    assert "cannot read the Prefect profiles" in caught.value.message


# --- UI addresses ------------------------------------------------------------------------

@pytest.mark.parametrize(("api", "ui"), [
    ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200"),
    ("http://127.0.0.1:4200/api/", "http://127.0.0.1:4200"),
    (CLOUD, "https://app.prefect.cloud/account/0ff44498/workspace/c5b3a0e1"),
    ("https://prefect.example.com/prefect/api", "https://prefect.example.com/prefect"),
])
def test_ui_addresses_follow_prefects_rule(api: str, ui: str) -> None:
    assert ui_url(api.rstrip("/")) == ui


def test_prefect_ui_url_wins(monkeypatch: pytest.MonkeyPatch, repo_copy: Path) -> None:
    monkeypatch.setenv("PREFECT_API_URL", CLOUD)
    monkeypatch.setenv("PREFECT_UI_URL", "https://prefect-ui.internal/")
    config = ConfigurationManager().load(profile=True)
    assert ui_url(api_url(config), config.settings.prefect.ui_url) == \
        "https://prefect-ui.internal"


# --- credentials inside URLs -------------------------------------------------------------

@pytest.mark.parametrize(("text", "shown"), [
    ("https://user:tok3nValue@host/api", f"https://{MASK}@host/api"),
    ("at http://tok3nValue@127.0.0.1:4200/api.", f"at http://{MASK}@127.0.0.1:4200/api."),
    ("https://u:p@ss@host/api", f"https://{MASK}@host/api"),  # an unescaped @ in a password
    ("https://host/api/a@b and a@b.example", "https://host/api/a@b and a@b.example"),
    ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),  # no scheme, no URL
])
def test_the_redactor_masks_user_info_of_any_url(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_the_password_stays_masked_outside_its_url() -> None:
    register_url_secret("https://deployer:p%40ssWord99@host/api")
    assert redact("Basic auth with p@ssWord99 or p%40ssWord99") == \
        f"Basic auth with {MASK} or {MASK}"


def test_env_show_masks_a_url_with_credentials(repo_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "https://bot:urlTOKEN123@prefect.example.com/api")
    monkeypatch.setenv("COLUMNS", "200")  # the table's cells unwrapped
    for mode in (False, True):
        show_config(Output(json_mode=mode), "development")
        captured = capsys.readouterr()
        assert "urlTOKEN123" not in captured.out + captured.err
        assert f"https://{MASK}@prefect.example.com/api" in captured.out
    settings = {r["path"]: r for r in json.loads(captured.out)["settings"]}
    assert settings["prefect.api_url"]["value"] == f"https://{MASK}@prefect.example.com/api"

"""ConfigurationManager: precedence with provenance, the guide's variables, and every bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from deploytasks.config import ENV_VARIABLES, ConfigurationManager, ResolvedConfig
from deploytasks.console import Output
from deploytasks.env.commands import show_config
from deploytasks.errors import EXIT_USAGE, ConfigError
from deploytasks.secrets import MASK
from tests.support.prefect_helpers import edit

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN = Path("config/deployment-config.yaml")
TEMPLATE = Path("config/templates/python_deployment.yaml")
DEV = Path("config/environments/development.yaml")
PROD = Path("config/environments/production.yaml")
GUIDE_VARIABLES = {"PREFECT_API_URL": "prefect.api_url", "PREFECT_API_KEY": "prefect.api_key",
                   "DOCKER_REGISTRY": "docker.registry", "DOCKER_NAMESPACE": "docker.namespace",
                   "DOCKER_TAG": "docker.tag"}
SECRET = "pnu_very-secret-api-key-1234"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (*ENV_VARIABLES, "DEPLOYMENT_ENV", "DEPLOYMENT_CONFIG_PATH"):
        monkeypatch.delenv(variable, raising=False)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


def rows(config: ResolvedConfig) -> dict[str, tuple[object, str]]:
    return {row.path: (row.value, str(row.origin)) for row in config.values()}


def load_error(env: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        ConfigurationManager().load(env)
    assert caught.value.exit_code == EXIT_USAGE
    return caught.value


def main_error(text: str) -> str:
    MAIN.write_text(text, encoding="utf-8")
    return str(load_error())


# --- precedence, lowest first --------------------------------------------------------------

DESCRIPTION_LEVELS = ("template", "defaults", "flow", "overlay", "cli")


def set_descriptions(upto: int) -> dict[str, str]:
    """Set rpa1's description at the first ``upto`` levels; return each level's origin."""
    edit(MAIN, "    description: Ingest and validate a batch of invoice records.\n", "")
    levels = DESCRIPTION_LEVELS[:upto]
    if "template" in levels:
        edit(TEMPLATE, "description: null", "description: from-template")
    if "defaults" in levels:
        edit(MAIN, "defaults:\n", "defaults:\n  description: from-defaults\n")
    if "flow" in levels:
        edit(MAIN, "  rpa1:\n", "  rpa1:\n    description: from-flow\n")
    if "overlay" in levels:
        append(DEV, "flows:\n  rpa1:\n    description: from-overlay\n")
    files = {"template": TEMPLATE, "defaults": MAIN, "flow": MAIN, "overlay": DEV}
    return {level: f"{files[level]}:{line_of(files[level], 'from-' + level)}"
            if level in files else "command-line option" for level in levels}


@pytest.mark.parametrize("upto", range(1, len(DESCRIPTION_LEVELS) + 1),
                         ids=DESCRIPTION_LEVELS)
def test_each_deployment_level_overrides_the_one_below(repo_copy: Path, upto: int) -> None:
    origins = set_descriptions(upto)
    top = DESCRIPTION_LEVELS[upto - 1]
    overrides = {"flows.rpa1.description": "from-cli"} if top == "cli" else None
    resolved = ConfigurationManager().load("development", overrides) \
        .deployment_settings("rpa1", "python")
    assert resolved.settings.description == f"from-{top}"
    assert str(resolved.provenance[("description",)]) == origins[top]


REGISTRY_LEVELS = ("main", "overlay", "variable", "cli")


@pytest.mark.parametrize("upto", range(1, len(REGISTRY_LEVELS) + 1), ids=REGISTRY_LEVELS)
def test_each_settings_level_overrides_the_one_below(repo_copy: Path, upto: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    edit(MAIN, 'registry: ""', "registry: main.example")
    expected = {"main": ("main.example", f"{MAIN}:{line_of(MAIN, 'main.example')}")}
    if upto >= 2:
        append(DEV, "docker:\n  registry: overlay.example\n")
        expected["overlay"] = ("overlay.example", f"{DEV}:{line_of(DEV, 'overlay.example')}")
    if upto >= 3:
        monkeypatch.setenv("DOCKER_REGISTRY", "variable.example")
        expected["variable"] = ("variable.example", "environment variable DOCKER_REGISTRY")
    overrides = {"docker.registry": "cli.example"} if upto >= 4 else None
    expected["cli"] = ("cli.example", "command-line option")
    config = ConfigurationManager().load("development", overrides)
    assert rows(config)["docker.registry"] == expected[REGISTRY_LEVELS[upto - 1]]


def test_unset_values_say_built_in_default(repo_copy: Path) -> None:
    assert rows(ConfigurationManager().load())["docker.network_mode"] == \
        (None, "built-in default")


def test_per_kind_section_beats_the_flow_level(repo_copy: Path) -> None:
    edit(MAIN, "  rpa3:\n", "  rpa3:\n    docker:\n      concurrency_limit: 5\n")
    config = ConfigurationManager().load("development")
    assert config.deployment_settings("rpa3", "docker").settings.concurrency_limit.limit == 5
    assert config.deployment_settings("rpa3", "python").settings.concurrency_limit.limit == 1


def test_template_value_survives_where_nothing_overrides_it(repo_copy: Path) -> None:
    resolved = ConfigurationManager().load("production").deployment_settings("rpa1", "docker")
    template = Path("config/templates/docker_deployment.yaml")
    assert resolved.settings.job_variables["auto_remove"] is True
    assert str(resolved.provenance[("job_variables", "auto_remove")]) == \
        f"{template}:{line_of(template, 'auto_remove')}"


# --- the guide's environment variables -----------------------------------------------------

def test_env_variables_cover_the_guide() -> None:
    assert GUIDE_VARIABLES.items() <= ENV_VARIABLES.items()


@pytest.mark.parametrize("variable", sorted(GUIDE_VARIABLES))
def test_guide_variable_sets_its_setting(repo_copy: Path, variable: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "value-from-" + variable.lower())
    config = ConfigurationManager().load()
    section, key = GUIDE_VARIABLES[variable].split(".")
    value = getattr(getattr(config.settings, section), key)
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    assert raw == "value-from-" + variable.lower()
    assert rows(config)[GUIDE_VARIABLES[variable]][1] == f"environment variable {variable}"


def test_deployment_env_chooses_the_environment(repo_copy: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT_ENV", "prod")
    assert ConfigurationManager().load().env.name == "production"


def test_env_option_beats_deployment_env(repo_copy: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT_ENV", "prod")
    assert ConfigurationManager().load("staging").env.name == "staging"


def test_no_env_at_all_means_development(repo_copy: Path) -> None:
    assert ConfigurationManager().load().env.name == "development"


def test_deployment_config_path_chooses_the_file(repo_copy: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    alternative = Path("config/alternative.yaml")
    alternative.write_text("project: alternative-project\n", encoding="utf-8")
    monkeypatch.setenv("DEPLOYMENT_CONFIG_PATH", str(alternative))
    config = ConfigurationManager().load()
    assert config.settings.project == "alternative-project"
    assert config.config_path == (repo_copy / alternative).resolve()
    assert rows(config)["project"][1] == "config/alternative.yaml:1"


# --- environments --------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "name", "short"), [
    ("development", "development", "dev"), ("dev", "development", "dev"),
    ("DEV", "development", "dev"), ("Development", "development", "dev"),
    ("staging", "staging", "staging"), ("STAGING", "staging", "staging"),
    ("production", "production", "prod"), ("prod", "production", "prod"),
    ("PROD", "production", "prod"), (" Prod ", "production", "prod"),
])
def test_environment_names_resolve_in_any_case(repo_copy: Path, given: str, name: str,
                                               short: str) -> None:
    env = ConfigurationManager().load(given).env
    assert (env.name, env.short) == (name, short)


def test_only_production_is_protected(repo_copy: Path) -> None:
    manager = ConfigurationManager()
    assert [manager.load(e).env.protected for e in ("dev", "staging", "prod")] == \
        [False, False, True]


def test_development_cleans_up_with_small_resources(repo_copy: Path) -> None:
    settings = ConfigurationManager().load("dev").deployment_settings("rpa1", "docker").settings
    assert settings.parameters["cleanup"] is True
    assert (settings.resources.memory, settings.resources.cpu) == ("512Mi", 0.5)
    assert settings.schedules_active is False


def test_production_keeps_files_with_full_resources(repo_copy: Path) -> None:
    settings = ConfigurationManager().load("prod").deployment_settings("rpa1", "docker").settings
    assert settings.parameters["cleanup"] is False
    assert (settings.resources.memory, settings.resources.cpu) == ("4Gi", 2)
    assert settings.schedules_active is True


def test_flow_parameters_merge_with_environment_parameters(repo_copy: Path) -> None:
    settings = ConfigurationManager().load("dev").deployment_settings("rpa1", "python").settings
    assert settings.parameters == {"batch_size": 100, "cleanup": True}


def test_environment_pools_replace_the_main_ones(repo_copy: Path) -> None:
    pools = ConfigurationManager().load("prod").settings.work_pools
    assert (pools["python"].name, pools["docker"].name) == ("python-pool-prod",
                                                            "docker-pool-prod")


# --- secrets -------------------------------------------------------------------------------

def test_values_mask_secrets(repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_KEY", SECRET)
    monkeypatch.setenv("DOCKER_PASSWORD", SECRET + "-docker")
    shown = rows(ConfigurationManager().load())
    assert shown["prefect.api_key"] == (MASK, "environment variable PREFECT_API_KEY")
    assert shown["docker.password"][0] == MASK
    assert SECRET not in repr(shown)


def test_env_show_json_never_prints_the_api_key(repo_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PREFECT_API_KEY", SECRET)
    assert show_config(Output(json_mode=True), "development") == 0
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    settings = {row["path"]: row for row in json.loads(captured.out)["settings"]}
    assert settings["prefect.api_key"]["value"] == MASK


def test_env_show_text_never_prints_the_api_key(repo_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PREFECT_API_KEY", SECRET)
    show_config(Output(), "development")
    captured = capsys.readouterr()
    assert "prefect.api_key" in captured.out
    assert SECRET not in captured.out + captured.err


# --- bad input: ConfigError, exit 2, file and line, what to do -----------------------------

def test_unclosed_quote_names_file_line_and_fix(repo_copy: Path) -> None:
    message = main_error('project: x\nnaming:\n  deployment: "{flow}-{env}\n')
    assert re.match(r"config/deployment-config\.yaml:\d+: invalid YAML", message)
    assert "unclosed quote" in message


def test_bad_indentation_names_its_line(repo_copy: Path) -> None:
    edit(MAIN, "  pattern: workflow.py", "   pattern: workflow.py")
    message = str(load_error())
    assert message.startswith(f"{MAIN}:{line_of(MAIN, 'pattern: workflow.py')}: invalid YAML")


def test_work_pools_must_be_a_mapping(repo_copy: Path) -> None:
    message = main_error("project: x\nwork_pools: 3\n")
    assert message.startswith(f"{MAIN}:2: work_pools:")
    assert "valid dictionary" in message and "(got 3)" in message and "fix the value" in message


@pytest.mark.parametrize(("old", "new", "suggestion"), [
    ("work_pools:", "wrok_pools:", "did you mean 'work_pools'?"),
    ("    parameters:\n      batch_size", "    paramters:\n      batch_size",
     "did you mean 'parameters'?"),
], ids=["wrok_pools", "paramters"])
def test_unknown_key_suggests_the_known_one(repo_copy: Path, old: str, new: str,
                                            suggestion: str) -> None:
    edit(MAIN, old, new)
    message = str(load_error())
    assert message.startswith(f"{MAIN}:")
    assert f"unknown key '{new.split(':')[0].strip()}'" in message
    assert message.endswith(suggestion)


def test_unknown_scalar_key_names_its_line(repo_copy: Path) -> None:
    message = main_error("project: x\nprojcet: y\n")
    assert message.startswith(f"{MAIN}:2: unknown key 'projcet'")
    assert "did you mean 'project'?" in message


@pytest.mark.parametrize(("old", "new"), [
    ("work_pools:", "wrok_pools:"),
    ("    parameters:\n      batch_size", "    paramters:\n      batch_size"),
], ids=["wrok_pools", "paramters"])
def test_unknown_mapping_key_names_its_own_line(repo_copy: Path, old: str, new: str) -> None:
    edit(MAIN, old, new)
    key = new.split(":")[0].strip()
    assert str(load_error()).startswith(f"{MAIN}:{line_of(MAIN, key + ':')}:")


def test_unknown_key_in_environment_overlay_names_that_file(repo_copy: Path) -> None:
    append(PROD, "\nwrok_pools: 3\n")
    message = str(load_error("prod"))
    assert message.startswith(f"{PROD}:{line_of(PROD, 'wrok_pools')}: unknown key")


def test_unknown_key_in_template_names_the_template(repo_copy: Path) -> None:
    append(TEMPLATE, "tgas: [x]\n")
    message = str(load_error())
    assert message.startswith(f"{TEMPLATE}:{line_of(TEMPLATE, 'tgas')}: unknown key 'tgas'")
    assert "did you mean 'tags'?" in message


def test_unknown_environment_lists_the_known_ones(repo_copy: Path) -> None:
    error = load_error("nope")
    assert error.where == "--env"
    assert "unknown environment 'nope'" in str(error)
    assert all(name in str(error) for name in ("development", "staging", "production"))


def test_unknown_deployment_env_names_the_variable(repo_copy: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT_ENV", "qa")
    assert str(load_error()).startswith("DEPLOYMENT_ENV: unknown environment 'qa'")


def test_environment_without_overlay_file_says_create_it(repo_copy: Path) -> None:
    edit(MAIN, "environments:\n", "environments:\n  qa: {short_name: qa}\n")
    message = str(load_error("qa"))
    assert message.startswith("config/environments/qa.yaml: configuration file not found")
    assert "create it" in message


def test_missing_config_file_via_variable(repo_copy: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT_CONFIG_PATH", "config/missing.yaml")
    message = str(load_error())
    assert message.startswith("config/missing.yaml: configuration file not found")
    assert "DEPLOYMENT_CONFIG_PATH" in message


@pytest.mark.parametrize("outside", ["../elsewhere.yaml", "/etc/hostname"])
def test_config_path_outside_the_repository_is_refused(repo_copy: Path, outside: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYMENT_CONFIG_PATH", outside)
    error = load_error()
    assert error.where == "DEPLOYMENT_CONFIG_PATH"
    assert "outside the repository" in str(error) and "keep configuration inside" in str(error)


def test_duplicate_key_names_the_second_line(repo_copy: Path) -> None:
    message = main_error("project: a\ndocker:\n  tag: x\n  tag: y\n")
    assert message.startswith(f"{MAIN}:4: duplicate key 'tag' (first at line 3)")


def test_billion_laughs_fails_fast(repo_copy: Path) -> None:
    bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
        for i in range(8))
    started = time.perf_counter()
    message = main_error(bomb)
    assert time.perf_counter() - started < 2
    assert re.match(rf"{MAIN}:\d+: more than \d+ values after expanding aliases", message)


def test_nesting_200_levels_is_refused(repo_copy: Path) -> None:
    deep = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
    assert re.match(rf"{MAIN}:\d+: nested deeper than", main_error(deep))


def test_non_utf8_file_says_save_as_utf8(repo_copy: Path) -> None:
    MAIN.write_bytes("project: café\n".encode("latin-1"))
    message = str(load_error())
    assert message.startswith(f"{MAIN}: not UTF-8")
    assert message.endswith("save the file as UTF-8")


def test_bad_memory_size_names_setting_and_line(repo_copy: Path) -> None:
    message = main_error("project: x\ndefaults:\n  resources: {memory: lots}\n")
    assert message.startswith(f"{MAIN}:3: defaults.resources.memory:")
    assert "'lots' is not a memory size" in message and "512Mi" in message


def test_bad_naming_placeholder_is_named(repo_copy: Path) -> None:
    message = main_error('project: x\nnaming:\n  deployment: "{flw}-{type}-{env}"\n')
    assert message.startswith(f"{MAIN}:3: naming.deployment: unknown placeholder {{flw}}")
    assert "{flow}" in message


def test_naming_without_flow_is_refused(repo_copy: Path) -> None:
    assert "must contain {flow}" in main_error(
        'project: x\nnaming:\n  deployment: "{type}-{env}"\n')


def test_bad_value_in_overlay_names_the_overlay(repo_copy: Path) -> None:
    append(PROD, "\nprefect:\n  concurrency: 0\n")
    message = str(load_error("prod"))
    assert message.startswith(f"{PROD}:{line_of(PROD, 'concurrency: 0')}: prefect.concurrency")


def test_unknown_yaml_tag_is_a_config_error(repo_copy: Path) -> None:
    message = main_error("project: !!python/name:os.system x\n")
    # file and line, what is wrong (the tag), what to do; nothing was constructed from it
    assert message.startswith(f"{MAIN}:1: "), message
    assert "python/name:os.system" in message and "write a plain value" in message, message


def test_invoke_env_show_bad_env_is_one_line_exit_2(repo_copy: Path) -> None:
    shutil.copy(REPO_ROOT / "tasks.py", repo_copy / "tasks.py")
    environment = {k: v for k, v in os.environ.items() if k not in ("DEPLOYTASKS_ROOT",)}
    done = subprocess.run([str(REPO_ROOT / ".venv/bin/invoke"), "env.show", "--env", "nope"],
                          cwd=repo_copy, capture_output=True, text=True, timeout=60,
                          env=environment)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "unknown environment 'nope'" in done.stderr


# --- concurrency options and paused -------------------------------------------------------

@pytest.mark.parametrize(("value", "complaint"), [
    ("0", "greater than or equal to 1"),
    ("{limit: 1, collision_strategy: QUEUE}", "'ENQUEUE' or 'CANCEL_NEW'"),
    ("{limit: 2, grace_period_seconds: 5}", "greater than or equal to 60"),
    ("{collision_strategy: CANCEL_NEW}", "limit"),
    ("{limit: 1, colision_strategy: ENQUEUE}", "unknown key 'colision_strategy'"),
    ("yes", "write an integer"),
], ids=["zero", "strategy", "grace", "no-limit", "typo", "bool"])
def test_a_bad_concurrency_limit_names_its_line(repo_copy: Path, value: str,
                                                 complaint: str) -> None:
    edit(MAIN, "    concurrency_limit: 1\n", f"    concurrency_limit: {value}\n")
    message = str(load_error())
    assert message.startswith(f"{MAIN}:{line_of(MAIN, 'concurrency_limit:')}:"), message
    assert complaint in message


def test_concurrency_options_layer_key_by_key_with_their_origin(repo_copy: Path) -> None:
    edit(MAIN, "    concurrency_limit: 1\n",
         "    concurrency_limit: {limit: 1, collision_strategy: CANCEL_NEW}\n    paused: true\n")
    append(DEV, "flows:\n  rpa3:\n    concurrency_limit: {limit: 3}\n")
    resolved = ConfigurationManager().load("development").deployment_settings("rpa3", "python")
    limit = resolved.settings.concurrency_limit
    assert limit is not None and (limit.limit, limit.collision_strategy) == (3, "CANCEL_NEW")
    assert resolved.settings.paused is True
    assert str(resolved.provenance[("concurrency_limit", "limit")]).startswith(str(DEV))
    assert str(resolved.provenance[("paused",)]) == f"{MAIN}:{line_of(MAIN, 'paused:')}"


# --- triggers ------------------------------------------------------------------------------

TRIGGER = "{match: {prefect.resource.id: shop.orders}, expect: [shop.orders.arrived]}"


@pytest.mark.parametrize(("value", "complaint"), [
    ("[{expect: [a], posture: Sideways}]", "Prefect refuses trigger 1: posture"),
    (f"[{TRIGGER}, {{type: compound, require: some, triggers: [{{within: soon}}]}}]",
     "Prefect refuses trigger 2: triggers.within"),
    ("[{name: go, expect: [a]}, {name: go, expect: [b]}]", "two triggers have the name 'go'"),
    ("{expect: [a]}", "valid list"),
], ids=["posture", "nested", "twice", "not-a-list"])
def test_a_trigger_prefect_refuses_names_its_line(repo_copy: Path, value: str,
                                                   complaint: str) -> None:
    edit(MAIN, "    concurrency_limit: 1\n", f"    concurrency_limit: 1\n    triggers: {value}\n")
    message = str(load_error())
    assert message.startswith(f"{MAIN}:{line_of(MAIN, 'triggers:')}:"), message
    assert complaint in message


def test_an_environment_replaces_a_flows_triggers(repo_copy: Path) -> None:
    edit(MAIN, "    concurrency_limit: 1\n",
         f"    concurrency_limit: 1\n    triggers: [{TRIGGER}]\n")
    prod = ConfigurationManager().load("prod").deployment_settings("rpa3", "python")
    assert prod.settings.triggers == [{"match": {"prefect.resource.id": "shop.orders"},
                                       "expect": ["shop.orders.arrived"]}]
    append(DEV, "flows:\n  rpa3:\n    triggers: []\n")
    dev = ConfigurationManager().load("development").deployment_settings("rpa3", "python")
    assert dev.settings.triggers == []
    assert str(dev.provenance[("triggers",)]).startswith(str(DEV))

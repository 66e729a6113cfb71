"""build_spec: the real flows and configuration of each environment to complete deployments."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploytasks.config import ENV_VARIABLES, ConfigurationManager
from deploytasks.deploy.resolve import resolve
from deploytasks.deploy.rules import check_spec
from deploytasks.deploy.secret_blocks import block_name, reference
from deploytasks.deploy.specs import (
    GIT_CLONE,
    SET_WORKING_DIRECTORY,
    DeploymentSpec,
    SpecInputs,
    build_spec,
)
from deploytasks.deployment_settings import DeploymentSettings
from deploytasks.flows.discovery import FlowSpec, Parameter
from tests.support.prefect_helpers import edit

MAIN = Path("config/deployment-config.yaml")
OWNERSHIP = "managed-by:deploytasks"
PROJECT = "project:rpa-platform"  # the example configuration's project


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def specs(env: str) -> dict[str, DeploymentSpec]:
    config = ConfigurationManager().load(env)
    resolution = resolve(config, ("python", "docker"),
                         image_for=lambda _config, flow: f"local/{flow.folder}:test")
    assert not resolution.skipped, resolution.skipped
    return {spec.name: spec for spec in resolution.specs}


def test_names_follow_flow_type_env(repo_copy: Path) -> None:
    assert set(specs("dev")) == {f"rpa{n}-{kind}-dev" for n in (1, 2, 3)
                                 for kind in ("python", "docker")}
    assert "rpa1-docker-prod" in specs("prod")


def test_naming_template_from_config(repo_copy: Path) -> None:
    edit(MAIN, 'deployment: "{flow}-{type}-{env}"', 'deployment: "{env}.{flow}.{type}"')
    assert "staging.rpa1.python" in specs("staging")


def test_tags_carry_ownership_env_and_type_first(repo_copy: Path) -> None:
    spec = specs("dev")["rpa1-python-dev"]
    assert spec.tags[:4] == (OWNERSHIP, PROJECT, "env:dev", "type:python")
    assert {"rpa", "invoices"} <= set(spec.tags)
    assert specs("prod")["rpa1-docker-prod"].tags[:4] == (OWNERSHIP, PROJECT, "env:prod",
                                                          "type:docker")


def test_entrypoint_and_flow_name_come_from_source(repo_copy: Path) -> None:
    spec = specs("dev")["rpa1-python-dev"]
    assert spec.entrypoint == "flows/rpa1/workflow.py:rpa1_processing_flow"
    assert spec.flow_name == "RPA1ProcessingFlow"


def test_development_turns_cleanup_on(repo_copy: Path) -> None:
    assert all(spec.parameters["cleanup"] is True for spec in specs("dev").values())
    assert all(spec.parameters["cleanup"] is False for spec in specs("prod").values())


def test_flow_parameters_reach_the_spec(repo_copy: Path) -> None:
    assert specs("dev")["rpa1-python-dev"].parameters == {"batch_size": 100, "cleanup": True}


def test_docker_job_variables_in_development(repo_copy: Path) -> None:
    variables = specs("dev")["rpa1-docker-dev"].job_variables
    assert variables["image"] == "local/rpa1:test"
    assert variables["mem_limit"] == "512m"
    assert variables["container_create_kwargs"] == {"nano_cpus": 500_000_000}
    assert variables["network_mode"] == "host"


def test_docker_job_variables_in_production(repo_copy: Path) -> None:
    variables = specs("prod")["rpa1-docker-prod"].job_variables
    assert (variables["mem_limit"], variables["image_pull_policy"]) == ("4096m", "Always")
    assert "network_mode" not in variables


def test_configured_job_variables_beat_derived_ones(repo_copy: Path) -> None:
    edit(MAIN, "  rpa3:\n", "  rpa3:\n    docker:\n      job_variables: {mem_limit: 1g}\n")
    assert specs("dev")["rpa3-docker-dev"].job_variables["mem_limit"] == "1g"


def test_process_deployments_have_no_image(repo_copy: Path) -> None:
    spec = specs("dev")["rpa1-python-dev"]
    assert spec.image is None and "image" not in spec.job_variables


def test_schedules_inactive_in_development_active_in_production(repo_copy: Path) -> None:
    dev, prod = specs("dev")["rpa1-python-dev"], specs("prod")["rpa1-python-prod"]
    assert [(s.kind, s.value, s.timezone, s.active) for s in dev.schedules] == \
        [("cron", "0 6 * * 1-5", "Europe/Berlin", False)]
    assert [s.active for s in prod.schedules] == [True]


def test_interval_schedule_defaults_to_utc(repo_copy: Path) -> None:
    (schedule,) = specs("staging")["rpa2-docker-staging"].schedules
    assert (schedule.kind, schedule.value, schedule.timezone) == ("interval", 3600.0, "UTC")


def test_process_pull_step_is_the_repository_root(repo_copy: Path) -> None:
    steps = specs("dev")["rpa1-python-dev"].pull_steps
    assert steps == ({SET_WORKING_DIRECTORY: {"directory": str(repo_copy.resolve())}},)


def test_docker_pull_step_is_the_image_workdir(repo_copy: Path) -> None:
    steps = specs("dev")["rpa1-docker-dev"].pull_steps
    assert steps == ({SET_WORKING_DIRECTORY: {"directory": "/opt/prefect"}},)


def test_git_source_becomes_a_clone_step(repo_copy: Path) -> None:
    edit(MAIN, "  git: null", '  git: {url: "https://example.com/acme/flows.git", branch: release,'
         " credentials_block: github-credentials/acme}")
    (step,) = specs("prod")["rpa1-python-prod"].pull_steps
    assert step == {GIT_CLONE: {"repository": "https://example.com/acme/flows.git",
                                "branch": "release",
                                "credentials": "{{ github-credentials/acme }}"}}


def test_work_pools_follow_the_environment(repo_copy: Path) -> None:
    built = specs("staging")
    assert built["rpa1-python-staging"].work_pool == "python-pool-staging"
    assert built["rpa1-docker-staging"].work_pool == "docker-pool-staging"
    assert built["rpa1-docker-staging"].work_queue == "default"


def test_env_vars_come_from_the_flow_env_file(repo_copy: Path) -> None:
    (repo_copy / "flows/rpa1/.env").write_text("API_TOKEN='tok-123456'\nOTHER=x\n")
    edit(MAIN, "  rpa1:\n", "  rpa1:\n    env_vars: [API_TOKEN]\n")
    spec = specs("dev")["rpa1-docker-dev"]
    [secret] = spec.secrets
    assert (secret.key, secret.value) == ("API_TOKEN", "tok-123456")
    assert secret.block == block_name("rpa-platform", "dev", "rpa1", "API_TOKEN")
    assert spec.job_variables["env"] == {"API_TOKEN": reference(secret.block)}
    assert "tok-123456" not in repr(spec) and "tok-123456" not in str(spec.to_document())


def test_defaults_parameter_the_flow_does_not_take_is_dropped(repo_copy: Path) -> None:
    edit(MAIN, "  tags: [rpa]\n", "  tags: [rpa]\n  parameters: {not_a_parameter: 1}\n")
    spec = specs("dev")["rpa1-python-dev"]
    assert "not_a_parameter" not in spec.parameters
    assert any("not_a_parameter" in note for note in spec.notes)


def test_flow_unknown_parameter_is_kept_and_flagged(repo_copy: Path) -> None:
    edit(MAIN, "      batch_size: 100\n", "      batch_size: 100\n      bogus: 2\n")
    config = ConfigurationManager().load("dev")
    resolution = resolve(config, ("python",), ["rpa1"])
    (spec,) = resolution.specs
    assert spec.parameters["bogus"] == 2
    problems = check_spec(config, spec, resolution.flows[0])
    (problem,) = [p for p in problems if p.setting == "parameters.bogus"]
    assert problem.where == f"{MAIN}:{_line('bogus: 2')}"
    assert "has no parameter 'bogus'" in problem.message


def _line(needle: str) -> int:
    return next(n for n, line in enumerate(MAIN.read_text().splitlines(), 1) if needle in line)


def test_flow_taking_kwargs_keeps_every_parameter(repo_copy: Path) -> None:
    config = ConfigurationManager().load("dev")
    flow = FlowSpec(folder="demo", path="flows/demo/workflow.py", function="run", name="demo",
                    parameters=(Parameter("options", "var_keyword"),))
    settings = DeploymentSettings(parameters={"anything": 1, "cleanup": True})
    spec = build_spec(config, flow, "python", settings, None, SpecInputs(version="v1"),
                      {"cleanup"})
    assert spec.parameters == {"anything": 1, "cleanup": True}
    # no description: "" (Prefect's client would send None as the text "None")
    assert (spec.name, spec.version, spec.description) == ("demo-python-dev", "v1", "")


def test_spec_is_the_same_for_the_same_inputs(repo_copy: Path) -> None:
    assert specs("dev") == specs("dev")


# --- a schedule's parameters, slug, anchor_date and day_or ----------------------------------

SCHEDULED = '''    schedules:
      - cron: "0 6 * * 1-5"
        timezone: Europe/Berlin
'''


def test_schedule_extras_reach_the_spec(repo_copy: Path) -> None:
    edit(MAIN, SCHEDULED, '''    schedules:
      - cron: "0 6 * * 1-5"
        timezone: Europe/Berlin
        slug: morning
        day_or: false
        parameters: {batch_size: 5}
      - interval: 900
        anchor_date: "2026-01-01T00:30:00"
''')
    cron, interval = specs("dev")["rpa1-python-dev"].schedules
    assert (cron.slug, cron.day_or, cron.parameters) == ("morning", False, {"batch_size": 5})
    assert interval.anchor_date == "2026-01-01T00:30:00+00:00"  # no zone: UTC, as Prefect reads
    assert interval.day_or is True and interval.slug is None
    assert cron.to_dict() == {"cron": "0 6 * * 1-5", "timezone": "Europe/Berlin",
                              "active": False, "parameters": {"batch_size": 5},
                              "slug": "morning", "day_or": False}


def test_a_schedule_parameter_the_flow_does_not_take_names_its_line(repo_copy: Path) -> None:
    edit(MAIN, SCHEDULED, SCHEDULED + "        parameters: {batch_sise: 5, batch_size: many}\n")
    config = ConfigurationManager().load("dev")
    resolution = resolve(config, ("python",), ["rpa1"])
    (spec,) = resolution.specs
    problems = {p.setting: p for p in check_spec(config, spec, resolution.flows[0])}
    unknown = problems["schedules[0].parameters.batch_sise"]
    assert "has no parameter 'batch_sise'" in unknown.message
    assert unknown.where == f"{MAIN}:{_line('schedules:')}"
    assert "is not of type 'integer'" in problems["schedules[0].parameters.batch_size"].message


@pytest.mark.parametrize(("extra", "complaint"), [
    ("        anchor_date: 2026-01-01\n", "anchor_date belongs to interval schedules"),
    ("        slug: 'no spaces'\n", "cannot be a slug"),
    ("        day_or: maybe\n", "valid boolean"),
], ids=["anchor-on-cron", "slug", "day_or"])
def test_a_bad_schedule_extra_is_a_configuration_error(repo_copy: Path, extra: str,
                                                        complaint: str) -> None:
    from deploytasks.errors import ConfigError

    edit(MAIN, SCHEDULED, SCHEDULED + extra)
    with pytest.raises(ConfigError) as caught:
        ConfigurationManager().load("dev")
    assert str(caught.value).startswith(f"{MAIN}:"), caught.value
    assert complaint in str(caught.value)


def test_two_schedules_with_one_slug_are_refused(repo_copy: Path) -> None:
    from deploytasks.errors import ConfigError

    edit(MAIN, SCHEDULED, SCHEDULED + "        slug: s\n      - interval: 60\n        slug: s\n")
    with pytest.raises(ConfigError, match="two schedules have the slug 's'"):
        ConfigurationManager().load("dev")


def test_git_source_with_an_access_token_block_references_the_secret(repo_copy: Path) -> None:
    edit(MAIN, "  git: null", '  git: {url: "https://example.com/acme/private.git",'
         " access_token_block: acme-token}")
    (step,) = specs("dev")["rpa1-python-dev"].pull_steps
    # repo_copy is no git work tree: there is no commit to pin, so the branch is cloned
    assert step == {GIT_CLONE: {"repository": "https://example.com/acme/private.git",
                                "branch": "main",
                                "access_token": "{{ prefect.blocks.secret.acme-token }}"}}


def test_git_source_takes_one_credential(repo_copy: Path) -> None:
    from deploytasks.errors import ConfigError

    edit(MAIN, "  git: null", '  git: {url: "https://example.com/a.git", access_token_block: t,'
         " credentials_block: prefect.blocks.github-credentials.c}")
    with pytest.raises(ConfigError, match="set credentials_block or access_token_block"):
        ConfigurationManager().load("dev")


def test_a_git_source_pins_the_commit_being_deployed(repo_copy: Path) -> None:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                              capture_output=True, text=True, check=True).stdout.strip()

    edit(MAIN, "  git: null", '  git: {url: "https://example.com/acme/flows.git"}')
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "one")
    config = ConfigurationManager().load("dev")
    resolution = resolve(config, ("python",), flows=["rpa1"])
    (step,) = resolution.specs[0].pull_steps
    assert step == {GIT_CLONE: {"repository": "https://example.com/acme/flows.git",
                                "commit_sha": git("rev-parse", "HEAD")}}
    # no remote-tracking branch: not fetchable by a worker, said as a warning in development
    assert [w.setting for w in resolution.warnings] == ["source.git"]
    assert "is not on origin/main" in resolution.warnings[0].message
    production = resolve(ConfigurationManager().load("prod"), ("python",), flows=["rpa1"])
    assert production.specs == [] and len(production.skipped) == 1


def test_an_env_var_of_the_environment_beats_the_env_file(
        repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo_copy / "flows/rpa1/.env").write_text("API_TOKEN=from-file\n")
    edit(MAIN, "  rpa1:\n", "  rpa1:\n    env_vars: [API_TOKEN, CI_ONLY]\n")
    monkeypatch.setenv("CI_ONLY", "from-ci-secret")
    values = {s.key: s.value for s in specs("dev")["rpa1-python-dev"].secrets}
    assert values == {"API_TOKEN": "from-file", "CI_ONLY": "from-ci-secret"}
    monkeypatch.setenv("API_TOKEN", "from-ci-too")
    values = {s.key: s.value for s in specs("dev")["rpa1-python-dev"].secrets}
    assert values["API_TOKEN"] == "from-ci-too"

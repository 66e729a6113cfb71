"""Rules about a flow's env files: each one parses, and ``.env`` and ``.env.example`` hold
every key ``flows.<key>.required_env`` lists.

Parsed by ``deploytasks.envfile``, the same parser that reads the values ``env_vars``
deploys. Only keys are looked at here: no value is kept, so no output can show one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from deploytasks.envfile import parse_env
from deploytasks.findings import Finding
from deploytasks.flows.files import read_text
from deploytasks.flows.model import FlowSpec


def check_env_files(root: Path, spec: FlowSpec, required: Sequence[str] = ()) -> list[Finding]:
    """Every env file parses; ``.env`` and ``.env.example`` hold every required key."""
    findings: list[Finding] = []
    keys_by_file: dict[str, set[str]] = {}
    for rel in spec.files.env_files:
        text, problem = read_text(root / rel, root)
        if text is None:
            findings += [problem] if problem else []
            continue
        keys, file_findings = parse_env_keys(text, rel)
        keys_by_file[rel] = set(keys)
        findings += file_findings
    return findings + _required_keys(spec, keys_by_file, required)


def parse_env_keys(text: str, rel: str) -> tuple[dict[str, int], list[Finding]]:
    """The keys of an env file (name → first line) and its problems; values are not kept."""
    parsed = parse_env(text, rel)
    return parsed.keys, list(parsed.findings)


def _required_keys(
    spec: FlowSpec, keys_by_file: Mapping[str, set[str]], required: Sequence[str]
) -> list[Finding]:
    """Required keys must be in ``.env`` and ``.env.example`` (whichever exist)."""
    if not required:
        return []
    checked = {rel: keys for rel, keys in keys_by_file.items()
               if rel.rsplit("/", 1)[-1] in (".env", ".env.example")}
    setting = f"flows.{spec.folder}.required_env"
    if not checked:
        return [Finding.error(
            spec.directory, None, f"{setting} lists {', '.join(required)}, but the folder has no "
            ".env or .env.example", f"add {spec.directory}/.env.example with those keys",
        )]
    return [
        Finding.error(rel, None, f"{rel} lacks {', '.join(missing)}, required by {setting}",
                      f"add {missing[0]}=... to {rel} (values are never shown)")
        for rel, keys in checked.items()
        if (missing := [key for key in required if key not in keys])
    ]

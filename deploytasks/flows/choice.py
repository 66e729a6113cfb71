"""Which flows a key deploys, when its file (or folder) holds several.

The configured ones (``flows.<key>.flow``, or the functions an entrypoint names), else
the only one, else the file's entry flow (``entry``); when none of these singles one
out, the key's spec carries the error that says so (``rules.structure``). One spec per
deployed flow comes out, each with the findings of its file and its own metadata.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from deploytasks.findings import Finding
from deploytasks.flows.model import FlowSpec
from deploytasks.flows.rules import structure
from deploytasks.flows.source import Meta, ParsedFile, Segments, flow_metadata


@dataclass(frozen=True)
class Rules:
    """How a key's flows are chosen: its configuration section, or its entrypoints."""

    key: str
    entrypoint: str | None = None  # the setting when the functions come from entrypoints

    @property
    def setting(self) -> str:
        return self.entrypoint or f"flows.{self.key}.flow"

    @property
    def rule(self) -> str:
        return "entrypoint" if self.entrypoint else "configured"


def assemble(base: FlowSpec, parsed: list[ParsedFile], selection: tuple[str, ...],
             rules: Rules) -> list[FlowSpec]:
    """One spec per flow the key deploys; a flow that cannot be chosen keeps the errors."""
    findings = [finding for item in parsed for finding in item.findings]
    metas = [flow_metadata(item.path, candidate, Segments(item.source), dict(item.constants))
             for item in parsed for candidate in item.candidates]
    candidates = tuple((meta["function"], meta["name"]) for meta, _ in metas)
    several = len(selection) > 1
    base = dataclasses.replace(base, path=parsed[0].path, candidates=candidates, several=several,
                               guessed=selection or parsed[0].guessed or base.guessed)
    imports = tuple(ref for item in parsed for ref in item.imports)
    specs = []
    for chosen, problem, rule, wanted in _choose(metas, parsed, selection, rules):
        if chosen is None:
            specs.append(dataclasses.replace(
                base, imports=imports, guessed=(wanted,) if wanted else base.guessed,
            ).with_findings(findings + ([problem] if problem else [])))
            continue
        meta, meta_findings = chosen
        own = next(item.imports for item in parsed if item.path == meta["path"])
        spec = dataclasses.replace(base, **meta, imports=own, selected_by=rule)
        specs.append(spec.with_findings(findings + meta_findings))
    return specs


Choice = tuple[Meta | None, Finding | None, str | None, str | None]  # meta, problem, rule, wanted


def _choose(metas: list[Meta], parsed: list[ParsedFile], selection: tuple[str, ...],
            rules: Rules) -> list[Choice]:
    """The flows to deploy: the configured ones, else the only one, else the entry flow."""
    if not metas:
        return [(None, None, None, wanted) for wanted in selection] or [(None, None, None, None)]
    listed = ", ".join(f"{m['function']} (name {m['name']!r})" for m, _ in metas)
    if selection:
        return [_configured(metas, wanted, listed, parsed[0].path, rules)
                for wanted in selection]
    if len(metas) == 1:
        return [(metas[0], None, "only", None)]
    with_flows = [item for item in parsed if item.candidates]
    entry = with_flows[0].entry if len(with_flows) == 1 else None
    if entry is not None:
        return [(next(m for m in metas if m[0]["function"] == entry[0]), None, entry[1], None)]
    return [(None, structure.no_flow_selected(parsed[0].path, rules.key, len(metas), listed),
             None, None)]


def _configured(metas: list[Meta], wanted: str, listed: str, rel: str, rules: Rules) -> Choice:
    matches = [m for m in metas if wanted in (m[0]["function"], m[0]["name"])]
    if len(matches) == 1:
        return matches[0], None, rules.rule, wanted
    how = "several" if matches else "none"
    if rules.entrypoint:
        problem = structure.entrypoint_matches_no_one_flow(rel, wanted, rules.entrypoint, how,
                                                           listed)
    else:
        problem = structure.selection_matches_no_one_flow(rel, wanted, rules.setting, how, listed)
    return None, problem, None, wanted

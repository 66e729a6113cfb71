"""Rendering for the ``flows`` collection: one line per flow, details, JSON, CI annotations.

The lines follow the guide's example (``✓ flows/rpa1/workflow.py - RPA1ProcessingFlow``,
then ``Found 3 valid flows, 1 invalid flow``). Data is printed as rich ``Text``, never
as markup, so a path or message holding ``[`` cannot change the styling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from deploytasks.console import Output, markdown_table
from deploytasks.flows.discovery import Finding, FlowSpec
from deploytasks.secrets import redact

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

INDENT = "    "
ENTRY_RULES = {"main-block": "the flow the file's __main__ block runs",
               "uncalled": "the only flow no other flow of the file calls"}
# The usual kind (positional or keyword) stays blank so the unusual ones stand out.
KIND_LABELS = {"positional_or_keyword": "", "positional_only": "positional-only",
               "keyword_only": "keyword-only", "var_positional": "*args",
               "var_keyword": "**kwargs"}


def show_flows(
    out: Output, specs: Sequence[FlowSpec], *, command: str, flows_dir: str, strict: bool = False,
    where: str | None = None,
) -> None:
    """The whole report of ``flows.discover`` or ``flows.validate``, in the output's mode."""
    out.json(flows_document(specs, command=command, strict=strict))
    if not out.json_mode:
        verb = "Discovering" if command == "discover" else "Validating"
        out.line(f"{verb} flows in {where or flows_dir + '/ directory'}...", markup=False)
        out.render(_flow_lines(specs, verbose=out.verbose, findings=command == "validate"))
        out.line()
        out.render(summary_text(specs, strict=strict))
        annotate(out, specs)
    if command == "validate":
        out.step_summary(step_summary(specs))


def _flow_lines(specs: Sequence[FlowSpec], *, verbose: bool, findings: bool) -> RenderableType:
    """Every flow's line (and details) as one renderable: one print for a thousand flows."""
    from rich.console import Group

    parts: list[RenderableType] = []
    for spec in specs:
        parts.append(flow_line(spec))
        parts += _details(spec, verbose=verbose, findings=findings)
    return Group(*parts)


def flow_line(spec: FlowSpec) -> Text:
    """``✓ path - name`` for a valid flow, ``✗ path - first error`` for an invalid one."""
    from rich.text import Text

    line = Text()
    if spec.valid:
        line.append("✓ ", style="bold green")
        line.append(f"{spec.path} - {spec.name}")
    else:
        line.append("✗ ", style="bold red")
        line.append(redact(f"{spec.path} - {_headline(spec.errors[0], spec.path)}"))
        if len(spec.errors) > 1:
            line.append(f" (+{len(spec.errors) - 1} more)", style="red")
    if spec.warnings:
        line.append(f" ({plural(len(spec.warnings), 'warning')})", style="yellow")
    return line


def _headline(error: Finding, path: str) -> str:
    """The first error, short: its line when in the flow file, else where it is."""
    if error.file not in (path, path.rpartition("/")[0]):
        return f"{error.location}: {error.message}"
    if error.line and f"line {error.line}" not in error.message:
        return f"{error.message} (line {error.line})"
    return error.message


def _details(spec: FlowSpec, *, verbose: bool, findings: bool) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if verbose:
        parts += metadata(spec)
    if verbose or findings:
        parts += [finding_text(f) for f in (*spec.errors, *spec.warnings)]
    return parts


def metadata(spec: FlowSpec) -> list[RenderableType]:
    """What ``--verbose`` adds: function, description, version, tags, parameters, files."""
    from rich.padding import Padding
    from rich.text import Text

    rows = [(key, value) for key, value in _metadata_rows(spec) if value]
    parts: list[RenderableType] = [
        Text.assemble((f"{INDENT}{key}: ", "dim"), redact(value)) for key, value in rows
    ]
    if spec.parameters:
        parts.append(Padding(parameter_table(spec), (0, 0, 0, len(INDENT)), expand=False))
    return parts


def _metadata_rows(spec: FlowSpec) -> list[tuple[str, str]]:
    files = spec.files
    found = [files.dockerfile, files.requirements, *files.env_files, *files.config_files,
             files.dockerignore, *files.modules]
    description = (spec.description or "").strip().splitlines()
    return [
        ("key", f"{spec.folder} ({spec.layout}{', deploys several flows' if spec.several else ''})"
         if spec.layout != "folders" or spec.several else ""),
        ("function", f"{spec.function} (line {spec.line}{', async' if spec.is_async else ''})"
         if spec.function else ""),
        ("entry", ENTRY_RULES.get(spec.selected_by or "", "")),
        ("description", description[0] if description else ""),
        ("version", spec.version or ""),
        ("tags", ", ".join(spec.tags)),
        ("files", ", ".join(f.rsplit("/", 1)[-1] for f in found if f)),
        ("imports", ", ".join(sorted({ref.top for ref in spec.imports if ref.top}))),
        ("candidates", ", ".join(f"{fn} ({name})" for fn, name in spec.candidates)
         if len(spec.candidates) > 1 else ""),
        ("parameters", "none" if spec.function and not spec.parameters else ""),
    ]


def parameter_table(spec: FlowSpec) -> RenderableType:
    """Parameters with their type, default and kind."""
    from rich.table import Table

    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="dim")
    table.add_column("parameter", no_wrap=True)
    table.add_column("type", overflow="fold")
    table.add_column("default", overflow="fold")
    table.add_column("kind", no_wrap=True)
    from rich.text import Text

    for parameter in spec.parameters:
        default = parameter.default if parameter.default is not None else (
            "(required)" if parameter.required else "")
        cells = (parameter.name, parameter.annotation or "", default,
                 KIND_LABELS.get(parameter.kind, parameter.kind))
        table.add_row(*(Text(cell) for cell in cells))  # source text, never markup
    return table


def finding_text(finding: Finding) -> Text:
    """``error   file:line  message`` and, under it, what to do."""
    from rich.text import Text

    style = "red" if finding.severity == "error" else "yellow"
    text = Text(INDENT)
    text.append(f"{finding.severity:<8}", style=style)
    text.append(redact(f"{finding.location}  {finding.message}"))
    if finding.hint:
        text.append(redact(f"\n{INDENT}{' ' * 8}→ {finding.hint}"), style="dim")
    return text


def summary_text(specs: Sequence[FlowSpec], *, strict: bool = False) -> Text:
    """``Found 3 valid flows, 1 invalid flow`` (and the warnings, when there are any)."""
    from rich.text import Text

    valid, invalid, warnings = counts(specs)
    text = Text(f"Found {plural(valid, 'valid flow')}, {plural(invalid, 'invalid flow')}",
                style="bold")
    if warnings:
        text.append(f", {plural(warnings, 'warning')}")
        if strict:
            text.append(" (warnings fail under --strict)", style="yellow")
    return text


def counts(specs: Sequence[FlowSpec]) -> tuple[int, int, int]:
    """Valid flows, invalid flows, warnings."""
    valid = sum(1 for spec in specs if spec.valid)
    return valid, len(specs) - valid, sum(len(spec.warnings) for spec in specs)


def plural(count: int, noun: str) -> str:
    """``1 invalid flow``, ``3 valid flows``, ``0 warnings``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def flows_document(
    specs: Sequence[FlowSpec], *, command: str, strict: bool = False
) -> dict[str, Any]:
    """The ``--json`` document: every flow and a summary."""
    valid, invalid, warnings = counts(specs)
    return {
        "command": command,
        "flows": [spec.to_dict() for spec in specs],
        "summary": {"valid": valid, "invalid": invalid, "warnings": warnings, "strict": strict},
    }


def annotate(out: Output, specs: Sequence[FlowSpec]) -> None:
    """One GitHub Actions annotation per finding (no-op outside Actions)."""
    for spec in specs:
        for finding in (*spec.errors, *spec.warnings):
            message = f"{finding.message} — {finding.hint}" if finding.hint else finding.message
            out.annotate(finding.severity, message, file=finding.file, line=finding.line)


def step_summary(specs: Sequence[FlowSpec]) -> str:
    """A Markdown table of the flows for the job summary."""
    rows = [(spec.folder, spec.name or "", "✓" if spec.valid else "✗",
             len(spec.errors), len(spec.warnings)) for spec in specs]
    valid, invalid, _ = counts(specs)
    table = markdown_table(("flow", "name", "valid", "errors", "warnings"), rows)
    return f"### Flow validation\n\n{table}\n\n{plural(valid, 'valid flow')}, " \
           f"{plural(invalid, 'invalid flow')}"

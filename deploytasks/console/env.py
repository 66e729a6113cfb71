"""Rendering for the ``env`` collection: the local server and the merged configuration."""

from __future__ import annotations

from deploytasks.config import ResolvedConfig
from deploytasks.console import Output
from deploytasks.env.local_server import ServerState


def server_state(out: Output, state: ServerState, *, started: bool) -> None:
    """Where the server's API and UI answer."""
    verb = "Started" if started else "Already running:"
    out.line(f"[green]✓[/] {verb} local Prefect server (PID {state.pid})")
    out.line(f"  API: {state.api_url}")
    out.line(f"  UI:  {state.ui_url}")
    out.line(f"  Log: {state.log}", style="dim")
    out.json(_state_document(state))


def server_stopped(out: Output, state: ServerState | None) -> None:
    """What ``env.down`` stopped."""
    if state is None:
        out.line("No local Prefect server was running.")
    else:
        out.line(f"[green]✓[/] Stopped local Prefect server (PID {state.pid}).")
    out.json({"stopped": state is not None})


def server_status(out: Output, state: ServerState | None) -> None:
    """Running or not, and where."""
    if state is None:
        out.line("Local Prefect server: [yellow]not running[/] (start it: invoke env.up)")
    else:
        out.line(f"Local Prefect server: [green]running[/] (PID {state.pid}) "
                 f"API {state.api_url}  UI {state.ui_url}")
    out.json(_state_document(state) if state else {"running": False})


def _state_document(state: ServerState) -> dict[str, object]:
    return {"running": True, "pid": state.pid, "api_url": state.api_url,
            "ui_url": state.ui_url, "log": state.log}


def config_values(out: Output, config: ResolvedConfig) -> None:
    """A table of every setting: value and where it came from."""
    from rich.table import Table

    rows = config.values()
    out.json({"environment": config.env.name, "short_name": config.env.short,
              "config_path": str(config.config_path),
              "settings": [{"path": r.path, "value": r.value, "source": str(r.origin)}
                           for r in rows]})
    table = Table(title=f"Configuration for {config.env.name} ({config.env.short})",
                  title_justify="left")
    table.add_column("setting", style="cyan", overflow="fold", ratio=4)
    table.add_column("value", overflow="fold", ratio=3)
    table.add_column("from", style="dim", overflow="fold", ratio=3)
    for row in rows:
        if row.value in (None, [], {}) and not out.verbose and row.origin.source.startswith(
                "built-in"):
            continue
        table.add_row(row.path, _show(row.value), str(row.origin))
    out.render(table)


def _show(value: object) -> str:
    from rich.markup import escape

    return escape("" if value is None else str(value))

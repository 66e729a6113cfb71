"""``python -m deploytasks.cli`` (and ``deploytasks``): the debugging commands of the guide.

    discover [--flow PATH] [--verbose] [--json]
    validate [--deployment NAME | --flow PATH] [--env E] [--json]
    config --show [--env E] [--json]

The same command bodies as the Invoke tasks; only the argument parsing differs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from deploytasks import taskrun
from deploytasks.console import Output
from deploytasks.errors import EXIT_USAGE
from deploytasks.flows.selection import FLOW_HELP


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    root = argparse.ArgumentParser(prog="python -m deploytasks.cli",
                                   description="Debug flow discovery, deployments and config.")
    commands = root.add_subparsers(dest="command", required=True)
    discover = commands.add_parser("discover", help="find flows and show their status")
    discover.add_argument("--flow", action="append", help=FLOW_HELP)
    _common(discover)
    validate = commands.add_parser("validate", help="validate flows, or one deployment")
    target = validate.add_mutually_exclusive_group()
    target.add_argument("--deployment", help="a deployment name, e.g. rpa1-python-dev")
    target.add_argument("--flow", action="append", help=FLOW_HELP)
    validate.add_argument("--strict", action="store_true", help="warnings fail too")
    validate.add_argument("--offline", action="store_true",
                          help="skip checks that need the Prefect server")
    _common(validate)
    config = commands.add_parser("config", help="show the merged configuration")
    config.add_argument("--show", action="store_true", help="print it (the default)")
    _common(config)
    return root


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--env", help="environment: development|staging|production")
    command.add_argument("--verbose", action="store_true", help="more detail")
    command.add_argument("--json", action="store_true", help="one JSON document")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:
        return EXIT_USAGE if stop.code else 0
    return taskrun.execute(lambda out: _dispatch(out, args), json=args.json,
                           verbose=args.verbose)


def _dispatch(out: Output, args: argparse.Namespace) -> int:
    if args.command == "discover":
        from deploytasks.flows.commands import discover_command

        return discover_command(out, flow=args.flow, verbose=args.verbose, json=args.json,
                                env=args.env)
    if args.command == "validate" and args.deployment:
        from deploytasks.deploy.commands import validate_deployment

        return validate_deployment(out, args.deployment, args.env, offline=args.offline)
    if args.command == "validate":
        from deploytasks.flows.commands import validate_command

        return validate_command(out, flow=args.flow, verbose=args.verbose, json=args.json,
                                strict=args.strict, env=args.env)
    from deploytasks.env.commands import show_config

    return show_config(out, args.env)


if __name__ == "__main__":
    sys.exit(main())

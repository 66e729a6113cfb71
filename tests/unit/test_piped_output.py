"""Output that is not a terminal keeps every table row on one line, at full width.

Piped into grep, less or a CI log, rich would fold table cells at 80 columns
(its width without a terminal), so ``config --show | grep deployment-config.yaml``
found nothing: the path was split over two lines. Each test runs the real CLI
with its stdout a real pipe into ``grep``, or a real pseudo-terminal, which must
keep rich's own width.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

import pytest

from deploytasks.console.width import UNLIMITED, console_width
from tests.support.policy import needs_program
from tests.support.prefect_helpers import PROJECT_ROOT

CONFIG = "config/deployment-config.yaml"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DROPPED = {"COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "DEPLOYTASKS_ROOT",
           "DEPLOYMENT_ENV", "DEPLOYMENT_CONFIG_PATH", "PREFECT_API_KEY"}
CONFIG_SHOW = [sys.executable, "-m", "deploytasks.cli", "config", "--show", "--env", "development"]
ENV_SHOW = [sys.executable, "-m", "invoke", "env.show", "--env", "development"]
needs_grep = needs_program("grep", package="grep")


def environment(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that sets a width or a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    return {**env, **extra}


def grep(repo: Path, command: list[str], pattern: str, **env: str) -> list[str]:
    """The lines of `command`'s stdout that ``grep -F pattern`` finds (escapes removed)."""
    with tempfile.TemporaryFile() as errors:
        producer = subprocess.Popen(command, cwd=repo, env=environment(**env),
                                    stdout=subprocess.PIPE, stderr=errors)
        assert producer.stdout is not None
        found = subprocess.run(["grep", "-F", pattern], stdin=producer.stdout,
                               capture_output=True, timeout=120, check=False)
        producer.stdout.close()
        code = producer.wait(timeout=120)
        errors.seek(0)
        assert code == 0, errors.read().decode(errors="replace")
    assert found.returncode == 0, f"grep found no line with {pattern!r}"
    return [ANSI.sub("", line) for line in found.stdout.decode().splitlines()]


def config_rows(repo: Path, command: list[str]) -> set[tuple[str, str]]:
    """(setting, source) of every setting read from the main config file, per --json."""
    done = subprocess.run([*command, "--json"], cwd=repo, env=environment(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)["settings"]
    return {(s["path"], s["source"]) for s in settings if s["source"].startswith(f"{CONFIG}:")}


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


@pytest.fixture
def repo(repo_copy: Path) -> Path:
    (repo_copy / "tasks.py").write_text((PROJECT_ROOT / "tasks.py").read_text())
    return repo_copy


@needs_grep
@pytest.mark.parametrize("command", [CONFIG_SHOW, ENV_SHOW], ids=["cli config", "env.show"])
@pytest.mark.parametrize("colour", ["", "1"], ids=["plain", "FORCE_COLOR"])
def test_grep_finds_every_config_row_whole(repo: Path, command: list[str], colour: str) -> None:
    expected = config_rows(repo, command)
    assert len(expected) >= 10  # the file sets many values; each must come out whole
    lines = grep(repo, command, CONFIG, **({"FORCE_COLOR": colour} if colour else {}))
    found = [(row[0], row[2]) for row in map(cells, lines)]
    assert sorted(found) == sorted(expected)  # one line per row: setting and source together


@needs_grep
def test_grep_finds_a_long_parameter_row_whole(repo: Path) -> None:
    default = "reports/monthly/reconciliation/" + "nested/" * 12 + "invoices-final.csv"
    workflow = repo / "flows" / "rpa1" / "workflow.py"
    text = workflow.read_text()
    assert 'source_file: str = "invoices.csv",' in text
    workflow.write_text(text.replace('source_file: str = "invoices.csv",',
                                     f'source_file: str = "{default}",'))
    command = [sys.executable, "-m", "invoke", "flows.discover", "--flow", "rpa1", "--verbose"]
    lines = grep(repo, command, "source_file")
    assert len(lines) == 1 and f'"{default}"' in lines[0], lines
    assert len(lines[0]) < 2 * len(default)  # drawn at its own width, not padded to the limit


@needs_grep
def test_columns_set_explicitly_is_respected(repo: Path) -> None:
    lines = grep(repo, CONFIG_SHOW, "│", COLUMNS="70")
    assert max(len(line) for line in lines) <= 70


def test_a_terminal_keeps_its_width(repo: Path) -> None:
    # a value longer than any terminal, so the table's own width cannot decide the result
    long_value = "registry.example.com/" + "a" * 120 + ":1"
    output = on_terminal(repo, CONFIG_SHOW, columns=100, DOCKER_BASE_IMAGE=long_value)
    widths = [len(line) for line in output.splitlines()]
    assert "Configuration for development" in output
    assert 80 < max(widths) <= 100  # the terminal's width, neither 80 nor unlimited


def on_terminal(repo: Path, command: list[str], *, columns: int, **env: str) -> str:
    """What `command` prints on a pseudo-terminal `columns` wide (escapes removed)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(command, cwd=repo, env=environment(TERM="xterm", **env),
                               stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while select.select([master], [], [], 120)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        code = process.wait(timeout=120)
    assert code == 0, b"".join(chunks).decode(errors="replace")
    return ANSI.sub("", b"".join(chunks).decode().replace("\r", ""))


def test_console_width_is_unlimited_only_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal, tempfile.TemporaryFile("w") as file:
        monkeypatch.setattr(sys, "stdout", terminal)
        monkeypatch.setattr(sys, "stderr", file)
        assert console_width(stderr=False) is None  # rich measures the terminal
        assert console_width(stderr=True) == UNLIMITED
        monkeypatch.setenv("COLUMNS", "120")
        assert console_width(stderr=True) is None  # rich reads COLUMNS itself
    os.close(master)

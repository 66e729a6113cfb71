"""One ``.env`` parser: the env-file rule and the values ``env_vars`` deploys read a file alike.

Before, ``deploy/resolve.py`` read values line by line and stripped quote characters from
both ends, while the env-file rule followed quotes across lines: a multi-line value
deployed only its first line (and a line inside it looked like a key of its own), a
comment after a quoted value became part of it, and escaped or nested quotes were lost.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from deploytasks.deploy.resolve import read_env_values
from deploytasks.envfile import parse_env
from deploytasks.flows.validation import parse_env_keys

# Distinctive values: read_env_values registers each as a secret for the whole session.
QUOTING = textwrap.dedent("""\
    # the forms the two readers used to disagree on
    PLAIN=q7-plain
    SPACED = "q7 two words"
    SINGLE='q7 # not a comment; "kept"' # a comment
    ESCAPED="q7 say \\"hi\\" \\\\ bye"
    NESTED="'q7-inner'"
    MULTI="q7 first line
    SHADOW=q7-not-a-key
    q7 last line"
    TRAILING=q7-trailing"
    export EXPORTED=q7-exported
    """)
EXPECTED = {
    "PLAIN": "q7-plain",
    "SPACED": "q7 two words",
    "SINGLE": 'q7 # not a comment; "kept"',
    "ESCAPED": 'q7 say "hi" \\ bye',
    "NESTED": "'q7-inner'",
    "MULTI": "q7 first line\nSHADOW=q7-not-a-key\nq7 last line",
    "TRAILING": 'q7-trailing"',
    "EXPORTED": "q7-exported",
}


def test_the_rule_and_the_deployed_values_read_the_same_keys(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(QUOTING, encoding="utf-8")
    keys, findings = parse_env_keys(QUOTING, ".env")
    assert findings == []
    assert list(keys) == list(EXPECTED)  # SHADOW is inside MULTI's value, not a key
    values = read_env_values(tmp_path, [*EXPECTED, "SHADOW", "MISSING"], tmp_path)
    assert values == EXPECTED


@pytest.mark.parametrize(("line", "value"), [
    ('A="a \\"b\\""', 'a "b"'),
    ("A='a \\' b", "a \\"),  # no escapes inside single quotes
    ('A="C:\\new\\table"', "C:\\new\\table"),  # only \\" and \\\\ are escapes
    ("A=$(touch PWNED) # kept", "$(touch PWNED) # kept"),  # unquoted: literal, to the end
    ('A=""', ""),
    ("A=", ""),
])
def test_value_forms(line: str, value: str) -> None:
    parsed = parse_env(line + "\n", ".env")
    assert parsed.values(["A"]) == {"A": value}


def test_an_unclosed_quote_is_reported_and_deploys_no_value() -> None:
    parsed = parse_env('A=1\nB="q7-open\nC=2\n', ".env")
    assert [(f.line, f.message) for f in parsed.findings] == [
        (2, 'the value on line 2 opens a " quote that is never closed')]
    assert parsed.values(["A", "B", "C"]) == {"A": "1"}  # C is inside B's open quote


def test_the_last_assignment_wins() -> None:
    parsed = parse_env("A=1\nA='2'\n", ".env")
    assert parsed.values(["A"]) == {"A": "2"}
    assert [f.severity for f in parsed.findings] == ["warning"]


def test_an_env_file_outside_the_repository_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.env"
    outside.write_text("TOKEN=q7-outside\n", encoding="utf-8")
    (tmp_path / "repo" / "flow").mkdir(parents=True)
    (tmp_path / "repo" / "flow" / ".env").symlink_to(outside)
    assert read_env_values(tmp_path / "repo" / "flow", ["TOKEN"], tmp_path / "repo") == {}

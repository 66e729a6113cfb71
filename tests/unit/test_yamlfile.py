"""YAML with line numbers: every key's line, and every bad file a clear, fast ``YamlError``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deploytasks.yamlfile import MAX_BYTES, YamlError, load_yaml_file, parse_yaml

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def error_of(text: str) -> YamlError:
    with pytest.raises(YamlError) as caught:
        parse_yaml(text)
    return caught.value


def test_every_key_remembers_its_line() -> None:
    document = parse_yaml("a:\n  b: 1\n  c: [x, y]\nd: text\n")
    assert document.data == {"a": {"b": 1, "c": ["x", "y"]}, "d": "text"}
    assert document.lines == {("a",): 1, ("a", "b"): 2, ("a", "c"): 3, ("d",): 4}


def test_empty_text_is_an_empty_mapping() -> None:
    assert parse_yaml("").data == {}
    assert parse_yaml("# only a comment\n").data == {}


def test_top_level_list_is_rejected_with_its_line() -> None:
    error = error_of("\n- a\n- b\n")
    assert "top level must be a mapping" in error.message
    assert error.line == 2


def test_unclosed_quote_names_a_line_and_a_fix() -> None:
    error = error_of('a: 1\nb: "open\nc: 2\n')
    assert error.message.startswith("invalid YAML")
    assert error.line is not None
    assert error.hint and "unclosed quote" in error.hint


def test_bad_indentation_names_its_line() -> None:
    error = error_of("a:\n  b: 1\n   c: 2\n")
    assert error.line == 3


def test_duplicate_key_names_both_lines() -> None:
    error = error_of("a: 1\nb: 2\na: 3\n")
    assert error.line == 3
    assert "duplicate key 'a'" in error.message and "line 1" in error.message


def test_duplicate_key_in_flow_mapping_is_rejected() -> None:
    assert "duplicate key" in error_of("{a: 1, a: 2}").message


def test_billion_laughs_fails_fast() -> None:
    started = time.perf_counter()
    error = error_of(BILLION_LAUGHS)
    assert time.perf_counter() - started < 2
    assert "aliases" in error.message and error.hint and "alias" in error.hint


def test_recursive_alias_is_an_error_not_a_recursion_crash() -> None:
    assert "nested deeper" in error_of("a: &a [*a]\n").message


def test_nesting_200_levels_is_rejected() -> None:
    deep = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
    error = error_of(deep)
    assert "nested deeper" in error.message
    assert error.line is not None and error.line < 60


def test_nesting_in_flow_style_is_rejected() -> None:
    assert "nested deeper" in error_of("a: " + "[" * 200 + "]" * 200 + "\n").message


def test_merge_key_merges_and_local_keys_win() -> None:
    document = parse_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n")
    assert document.data["c"] == {"x": 1, "y": 3}
    assert document.lines[("c", "y")] == 4


def test_key_before_merge_keeps_its_own_line() -> None:
    document = parse_yaml("base: &b {x: 1, y: 2}\nc:\n  y: 3\n  <<: *b\n")
    assert document.data["c"] == {"y": 3, "x": 1}
    assert document.lines[("c", "y")] == 3


def test_mapping_as_key_is_rejected() -> None:
    assert "plain words" in error_of("? [a, b]\n: 1\n").message


def test_second_document_is_rejected() -> None:
    assert error_of("x: 1\n---\ny: 2\n").line == 2


def test_unknown_tag_is_a_yaml_error() -> None:
    error = error_of("a: 1\nb: !!python/name:os.system x\n")
    assert error.line == 2


def test_bad_explicit_int_is_a_yaml_error() -> None:
    assert error_of("a: !!int notanint\n").line == 1


def test_non_utf8_file_says_to_save_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("project: café\n".encode("latin-1"))
    with pytest.raises(YamlError) as caught:
        load_yaml_file(path)
    assert "not UTF-8" in caught.value.message
    assert caught.value.hint == "save the file as UTF-8"


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (MAX_BYTES + 1) + "\n")
    with pytest.raises(YamlError, match="larger than"):
        load_yaml_file(path)

"""Merging configuration layers: mappings merge, the rest is replaced, each leaf has an origin."""

from __future__ import annotations

from deploytasks.layers import Layer, Origin, merge_layers, set_path


def layer(source: str, data: dict, lines: dict | None = None, **kwargs: object) -> Layer:
    return Layer(source, data, lines or {}, **kwargs)  # type: ignore[arg-type]


def test_later_scalar_wins_and_names_its_file_and_line() -> None:
    low = layer("low.yaml", {"a": 1, "b": 2}, {("a",): 3, ("b",): 4})
    high = layer("high.yaml", {"a": 10}, {("a",): 7})
    merged, provenance = merge_layers([low, high])
    assert merged == {"a": 10, "b": 2}
    assert str(provenance[("a",)]) == "high.yaml:7"
    assert str(provenance[("b",)]) == "low.yaml:4"


def test_mappings_merge_key_by_key() -> None:
    merged, provenance = merge_layers([
        layer("low", {"docker": {"registry": "r", "tag": "t"}}),
        layer("high", {"docker": {"tag": "v2"}}),
    ])
    assert merged == {"docker": {"registry": "r", "tag": "v2"}}
    assert provenance[("docker", "registry")].source == "low"
    assert provenance[("docker", "tag")].source == "high"


def test_lists_are_replaced_whole() -> None:
    merged, _ = merge_layers([layer("low", {"tags": ["a", "b"]}), layer("high", {"tags": ["c"]})])
    assert merged == {"tags": ["c"]}


def test_scalar_over_mapping_forgets_the_old_leaves() -> None:
    _, provenance = merge_layers([layer("low", {"a": {"b": 1, "c": 2}}), layer("high", {"a": 5})])
    assert set(provenance) == {("a",)}
    assert provenance[("a",)].source == "high"


def test_mapping_over_scalar_records_the_mapping_and_its_leaves() -> None:
    merged, provenance = merge_layers([layer("low", {"a": 5}), layer("high", {"a": {"b": 1}})])
    assert merged == {"a": {"b": 1}}
    assert set(provenance) == {("a",), ("a", "b")}
    assert provenance[("a",)].source == "high"


def test_a_mapping_belongs_to_the_last_layer_that_set_a_key_in_it() -> None:
    _, provenance = merge_layers([layer("low", {"a": {}}), layer("high", {"a": {"b": 1}})])
    assert set(provenance) == {("a",), ("a", "b")}
    assert provenance[("a",)].source == "high"


def test_merge_does_not_mutate_the_layers() -> None:
    low = layer("low", {"a": {"b": [1]}})
    merged, _ = merge_layers([low, layer("high", {"a": {"c": 2}})])
    merged["a"]["b"].append(99)
    assert low.data == {"a": {"b": [1]}}


def test_origin_falls_back_to_the_nearest_parent_line() -> None:
    base = layer("f.yaml", {"a": {"b": {"c": 1}}}, {("a",): 2})
    assert base.origin(("a", "b", "c")) == Origin("f.yaml", 2, "")


def test_named_sources_win_over_lines() -> None:
    env = layer("environment variables", {"docker": {"tag": "x"}}, scope="env",
                sources={("docker", "tag"): "environment variable DOCKER_TAG"})
    _, provenance = merge_layers([env])
    assert str(provenance[("docker", "tag")]) == "environment variable DOCKER_TAG"


def test_section_keeps_full_path_lines_and_sets_scope() -> None:
    main = layer("main.yaml", {"flows": {"rpa1": {"tags": ["x"]}}},
                 {("flows",): 1, ("flows", "rpa1"): 2, ("flows", "rpa1", "tags"): 3})
    section = main.section("flows", "rpa1", scope="flow")
    assert section.data == {"tags": ["x"]}
    assert section.origin(("tags",)) == Origin("main.yaml", 3, "flow")


def test_missing_section_is_empty() -> None:
    assert layer("m", {"flows": None}).section("flows", "nope").data == {}


def test_without_drops_top_level_keys_only() -> None:
    trimmed = layer("m", {"python": {"a": 1}, "tags": ["t"]}).without("python")
    assert trimmed.data == {"tags": ["t"]}


def test_set_path_creates_the_mappings() -> None:
    data: dict = {"docker": {"tag": "a"}}
    set_path(data, "docker.registry", "r")
    set_path(data, "prefect.api_url", "u")
    assert data == {"docker": {"tag": "a", "registry": "r"}, "prefect": {"api_url": "u"}}

"""The schema derived from source must equal the one Prefect builds by importing.

Each case is written to a temporary file and imported for real here (the test
trusts its own sources); Prefect's schema of the imported flow is the expected
value. The module under test only reads the source.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic_core
import pytest
from prefect.deployments.runner import RunnerDeployment
from prefect.utilities.callables import ParameterSchema, parameter_schema

from deploytasks.deploy.schema import (
    SchemaError,
    parameter_schema_from_source,
    parameter_schema_with_warnings,
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A flow source; `warns` when the source names things that are not read."""

    id: str
    source: str
    function: str = "my_flow"
    warns: bool = False


HEADER = "from prefect import flow\n"

# Importing the cases for real makes pydantic warn (as it does for any flow).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Field name .* shadows an attribute:UserWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.json_schema.PydanticJsonSchemaWarning"),
]

CASES = [
    Case("scalars_with_defaults", """
        @flow
        def my_flow(a: int = 1, b: str = "x", c: float = 1.5, d: bool = True, e: bytes = b"z"):
            pass
    """),
    Case("no_defaults_no_annotations", """
        @flow
        def my_flow(a, b: int, c, d: str):
            pass
    """),
    Case("optional_int", """
        from typing import Optional

        @flow
        def my_flow(a: Optional[int] = None, b: Optional[int] = 3, c: Optional[str] = None):
            pass
    """),
    Case("pep604_union", """
        @flow
        def my_flow(a: int | None = None, b: int | str = 1, c: list[int] | None = None):
            pass
    """),
    Case("literal", """
        from typing import Literal

        @flow
        def my_flow(mode: Literal["fast", "slow"] = "fast", n: Literal[1, 2, 3] = 2):
            pass
    """),
    Case("list_of_str", """
        @flow
        def my_flow(names: list[str], tags: list[str] = ["a", "b"], empty: list = []):
            pass
    """),
    Case("dict_of_str_int", """
        from typing import Dict

        @flow
        def my_flow(a: dict[str, int] = {"x": 1}, b: Dict[str, float] = {}, c: dict = None):
            pass
    """),
    Case("tuples_and_sets", """
        @flow
        def my_flow(a: tuple[int, str] = (1, "a"), b: tuple[int, ...] = (), c: set[int] = {1, 2},
                    d: frozenset[str] = frozenset({"x"})):
            pass
    """),
    Case("nested_generics", """
        from typing import Optional, Union

        @flow
        def my_flow(
            a: dict[str, list[Optional[int]]] = {"k": [1, None]},
            b: list[dict[str, tuple[int, float]]] = [],
            c: Union[int, list[Union[str, float]]] = 0,
        ):
            pass
    """),
    Case("stdlib_value_types", """
        import datetime as dt
        from datetime import date, timedelta
        from decimal import Decimal
        from pathlib import Path
        from uuid import UUID

        @flow
        def my_flow(
            when: dt.datetime = dt.datetime(2024, 1, 2, 3, 4, 5),
            day: date = date(2024, 2, 29),
            iso: date = date.fromisoformat("2024-03-01"),
            wait: timedelta = timedelta(hours=1, minutes=30),
            where: Path = Path("/tmp") / "out",
            ident: UUID = UUID("12345678-1234-5678-1234-567812345678"),
            amount: Decimal = Decimal("1.50"),
            maybe_day: date | None = None,
        ):
            pass
    """),
    Case("enums_in_file", """
        import enum
        from enum import Enum, IntEnum

        class Color(str, Enum):
            \"\"\"Paint colours.\"\"\"
            RED = "red"
            GREEN = "green"

        class Level(IntEnum):
            LOW = 1
            HIGH = 2

        class Auto(enum.Enum):
            A = enum.auto()
            B = enum.auto()

        @flow
        def my_flow(color: Color = Color.RED, level: Level = Level.HIGH, auto: Auto = Auto.B,
                    colors: list[Color] = [Color.GREEN], by_value: Color = Color("green")):
            pass
    """),
    Case("pydantic_model_with_defaults", """
        from pydantic import BaseModel

        class Settings(BaseModel):
            retries: int = 3
            name: str = "job"
            ratio: float | None = None

        @flow
        def my_flow(settings: Settings = Settings(), other: Settings = Settings(retries=5)):
            pass
    """),
    Case("nested_models_and_field_descriptions", """
        from typing import Optional
        from pydantic import BaseModel, Field

        class Address(BaseModel):
            \"\"\"Where to ship.

            Both lines are free text.
            \"\"\"
            street: str = Field(..., description="Street and number")
            city: str = Field("Paris", description="City", min_length=1)
            zip_code: Optional[str] = Field(default=None, pattern=r"^[0-9]+$")

        class Customer(BaseModel):
            name: str
            addresses: list[Address] = Field(default_factory=list, description="All of them")
            main: Address | None = None

        @flow
        def my_flow(customer: Customer, fallback: Optional[Address] = None):
            pass
    """),
    Case("keyword_only", """
        @flow
        def my_flow(a: int, *, b: int = 2, c: str, d: float = 0.5):
            pass
    """),
    Case("varargs_and_kwargs", """
        @flow
        def my_flow(a: int, *args: str, flag: bool = False, **kwargs: int):
            pass
    """),
    Case("untyped_varargs", """
        @flow
        def my_flow(*args, **kwargs):
            pass
    """),
    Case("async_flow", """
        @flow(name="async-one", log_prints=True)
        async def my_flow(a: int = 1, b: list[str] | None = None):
            pass
    """),
    Case("docstring_descriptions", """
        @flow
        def my_flow(source: str, limit: int = 10, dry_run=False):
            \"\"\"Copy things.

            Args:
                source: Where the things come from.
                limit: At most this many,
                    counted after filtering.
                dry_run: Only report.

            Returns:
                Nothing.
            \"\"\"
    """),
    Case("default_none_without_annotation", """
        @flow
        def my_flow(a=None, b=1, c="x", d=[1, "two"], e={"k": (1, 2)}, f=-3, g=2 ** 10):
            pass
    """),
    Case("string_annotations", """
        from typing import Optional
        from pydantic import BaseModel

        class Item(BaseModel):
            sku: str

        @flow
        def my_flow(a: "int" = 1, b: "Optional[int]" = None, c: "Item" = None,
                    d: "list[Item]" = [], e: Optional["Item"] = None, f: list["int"] = []):
            pass
    """),
    Case("annotated_constraints", """
        from typing import Annotated
        from pydantic import Field, conint, PositiveInt
        import annotated_types

        @flow
        def my_flow(
            a: Annotated[int, Field(ge=1, le=10)] = 5,
            b: Annotated[str, Field(description="the b", max_length=3)] = "abc",
            c: int = Field(default=4, description="described by Field"),
            d: conint(ge=0) = 0,
            e: PositiveInt = 1,
            f: Annotated[float, annotated_types.Gt(0)] = 1.0,
            g: Annotated[list[int], Field(min_length=1)] = [1],
        ):
            pass
    """),
    Case("future_annotations_like_rpa2", """
        from __future__ import annotations

        from typing import Any, Literal
        from pydantic import BaseModel

        Entry = dict[str, Any]
        MatchOn = Literal["reference", "reference_and_date"]

        @flow(name="Reconcile")
        def my_flow(
            amount_tolerance: float = 0.01,
            match_on: MatchOn = "reference",
            ignore_prefixes: list[str] | None = None,
            entries: list[Entry] | None = None,
            options: Options | None = None,
        ) -> dict[str, Any]:
            \"\"\"Reconcile.\"\"\"

        class Options(BaseModel):
            strict: bool = False
    """),
    Case("type_checking_only_name", """
        from typing import TYPE_CHECKING, Optional
        if TYPE_CHECKING:
            from collections import OrderedDict

        @flow
        def my_flow(a: "OrderedDict" = None, b: int = 1, c: "list[int]" = [],
                    d: "Optional[int]" = None, e: Optional[int] = None):
            pass
    """, warns=True),
    Case("positional_only", """
        @flow
        def my_flow(a: int, b: str = "x", /, c: float = 1.0, *, d: int = 4):
            pass
    """),
    Case("module_constants_as_defaults", """
        from pathlib import Path

        BATCH = 100
        NAME, MODE = "job", "fast"
        LIMITS = {"min": 1, "max": BATCH * 2}
        BASE = Path("/data")

        @flow
        def my_flow(batch: int = BATCH, name: str = NAME, mode: str = MODE,
                    limits: dict[str, int] = LIMITS, where: Path = BASE / "in",
                    half: float = BATCH / 2):
            pass
    """),
    Case("third_party_types", """
        from typing import Optional
        import httpx
        from httpx import Timeout

        @flow
        def my_flow(a: Timeout = None, b: Optional[httpx.URL] = None, c: list[Timeout] = [],
                    d: int = 1):
            pass
    """, warns=True),
    Case("recursive_and_mutual_models", """
        from __future__ import annotations
        from pydantic import BaseModel

        class Node(BaseModel):
            value: int = 0
            children: list[Node] = []

        class Left(BaseModel):
            right: Right | None = None

        class Right(BaseModel):
            left: Left | None = None

        @flow
        def my_flow(tree: Node = Node(), pair: Left | None = None):
            pass
    """),
    Case("model_config_and_class_keywords", """
        from pydantic import BaseModel, ConfigDict

        class Strict(BaseModel, extra="forbid"):
            a: int = 1

        class Titled(BaseModel):
            model_config = ConfigDict(title="Fancy title", json_schema_extra={"examples": [1]})
            b: str = "x"

        class Child(Strict):
            c: float = 0.5

        @flow
        def my_flow(strict: Strict, titled: Titled = Titled(), child: Child | None = None):
            pass
    """),
    Case("dataclass_and_typeddict", """
        import dataclasses
        from dataclasses import dataclass, field
        from typing_extensions import TypedDict, NotRequired

        @dataclass
        class Point:
            x: int
            y: int = 0
            tags: list[str] = field(default_factory=list)

        @dataclasses.dataclass(frozen=True)
        class Frozen:
            name: str = "f"

        class Movie(TypedDict):
            title: str
            year: NotRequired[int]

        @flow
        def my_flow(p: Point, f: Frozen = Frozen(), m: Movie | None = None):
            pass
    """),
    Case("literal_of_enum_and_enum_lookup", """
        from enum import Enum
        from typing import Literal

        class Kind(Enum):
            A = "a"
            B = "b"

        @flow
        def my_flow(k: Literal[Kind.A] = Kind.A, j: Kind = Kind["B"]):
            pass
    """),
    Case("names_colliding_with_basemodel", """
        @flow
        def my_flow(json: str = "{}", schema: int = 1, copy: bool = False, dict: dict = {}):
            pass
    """),
    Case("unsupported_types_become_any", """
        from typing import Callable, Any
        import re

        @flow
        def my_flow(fn: Callable[[int], str] = None, x: Any = 1, pattern: re.Pattern = None,
                    t: type = int):
            pass
    """),
    Case("flow_wrapping_assignment", """
        def _impl(a: int = 1, b: str = "b"):
            pass

        my_flow = flow(name="wrapped")(_impl)
    """),
    Case("with_options_alias", """
        @flow
        def base(a: int = 1):
            pass

        my_flow = base.with_options(name="other")
    """),
    Case("model_methods_inheritance_generics", """
        from typing import ClassVar, Generic, Literal, NamedTuple, Optional, TypeVar
        from pydantic import BaseModel, Field, computed_field, field_validator, model_validator
        import pydantic.dataclasses

        T = TypeVar("T")

        class Base(BaseModel):
            \"\"\"Base doc.\"\"\"
            a: int = 1
            LIMIT: ClassVar[int] = 5
            _private: str = "p"

            @field_validator("a")
            @classmethod
            def check_a(cls, v):
                return v

            @model_validator(mode="before")
            @classmethod
            def pre(cls, data):
                return data

            @computed_field
            @property
            def double(self) -> int:
                return self.a * 2

        class Derived(Base):
            a: int = 2
            b: Optional[Literal["x", "y"]] = None

        class Page(BaseModel, Generic[T]):
            items: list[T] = []
            total: int = 0

        class Pair(NamedTuple):
            left: int
            right: str = "r"

        @pydantic.dataclasses.dataclass
        class PD:
            x: int = 1
            y: list[str] = Field(default_factory=list)

        @flow
        def my_flow(d: Derived, p: Page[int] = Page[int](items=[1]), pair: Pair = Pair(1),
                    pd: PD = PD(), b: Base | None = None):
            pass
    """),
    Case("enum_varieties", """
        from enum import Enum, Flag, auto

        class Mixed(Enum):
            A = 1
            B = "b"
            C = (1, 2)

        class Perm(Flag):
            R = auto()
            W = auto()

        class Shape(Enum):
            \"\"\"Shapes.\"\"\"
            SQUARE = "square"

            def area(self):
                return 0

        @flow
        def my_flow(m: Mixed = Mixed.C, p: Perm = Perm.R, s: Shape = Shape.SQUARE,
                    ms: list[Mixed] = []):
            pass
    """),
    Case("model_instance_defaults_and_docstring", """
        from pydantic import BaseModel

        class Inner(BaseModel):
            v: int = 0

        class Outer(BaseModel):
            inner: Inner = Inner(v=2)
            inners: dict[str, Inner] = {"a": Inner()}

        @flow
        def my_flow(o: Outer = Outer(inner=Inner(v=5), inners={"z": Inner(v=1)})):
            \"\"\"Run.

            Args:
                o: The outer thing.
            \"\"\"
    """),
    Case("import_styles_and_later_class", """
        from typing import *
        import typing as t
        import datetime
        from pydantic import BaseModel as BM, Field as F

        @flow
        def my_flow(a: Optional[int] = None, b: t.Union[int, str] = 1,
                    c: datetime.date = datetime.date(2020, 1, 1), d: "Later" = None,
                    e: List[Dict[str, Any]] = [], f: int = F(2, description="eff")):
            pass

        class Later(BM):
            x: int = 1
    """),
    Case("self_reference_and_annotated_fields", """
        from typing import Annotated, Optional
        from pydantic import BaseModel, Field

        class Cfg(BaseModel):
            \"\"\"Config.

            Attributes:
                a: the a
            \"\"\"
            a: Annotated[int, Field(ge=0, description="A!")] = 0
            b: Optional["Cfg"] = None

        @flow
        async def my_flow(*, cfg: Cfg = Cfg(a=1, b=Cfg()), retries: int = 0, **extra):
            \"\"\"Doc without args.\"\"\"
    """),
    Case("more_stdlib_values", """
        import pathlib, uuid, decimal
        from datetime import datetime, timezone, timedelta, time

        @flow
        def my_flow(p: pathlib.PurePosixPath = pathlib.PurePosixPath("/a"), u: uuid.UUID = None,
                    d: decimal.Decimal = decimal.Decimal("3.14"), t: time = time(12, 30),
                    dt: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc),
                    td: timedelta = timedelta(0), neg: float = -1.5e3, cx: complex = None):
            pass
    """),
    Case("pydantic_special_types", """
        from pydantic import HttpUrl, SecretStr, Json, StrictInt
        from ipaddress import IPv4Address

        @flow
        def my_flow(url: HttpUrl = "https://example.com", secret: SecretStr = "s",
                    n: StrictInt = 3, ip: IPv4Address = IPv4Address("10.0.0.1"),
                    payload: Json = None):
            pass
    """),
]


def _source(case: Case) -> str:
    """The case's source with `flow` imported (after any __future__ import)."""
    source = textwrap.dedent(case.source).lstrip()
    future = "from __future__ import annotations\n"
    if source.startswith(future):
        return future + HEADER + source[len(future):]
    return HEADER + source


def _import_flow(path: Path, name: str) -> Any:
    """Import the case for real (in the test only) and return the flow object."""
    module_name = f"schema_case_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.fixture
def flow_file(tmp_path: Path) -> Iterator[Path]:
    before = set(sys.modules)
    yield tmp_path / "case_flow.py"
    for name in set(sys.modules) - before:
        if name.startswith("schema_case_"):
            del sys.modules[name]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_schema_equals_prefect(case: Case, flow_file: Path) -> None:
    source = _source(case)
    flow_file.write_text(source)
    real_flow = _import_flow(flow_file, case.function)
    expected = parameter_schema(real_flow)

    ours, warnings = parameter_schema_with_warnings(source, case.function)

    assert ours == expected.model_dump(exclude_unset=True)
    assert ParameterSchema(**ours).model_dump_for_openapi() == expected.model_dump_for_openapi()
    assert bool(warnings) == case.warns, warnings


@pytest.mark.parametrize("case", CASES[:6] + CASES[10:13], ids=lambda c: c.id)
def test_schema_equals_what_runner_deployment_registers(case: Case, flow_file: Path) -> None:
    source = _source(case)
    flow_file.write_text(source)
    deployment = RunnerDeployment.from_flow(_import_flow(flow_file, case.function), name="t")
    registered = deployment._parameter_openapi_schema.model_dump(exclude_unset=True)

    assert parameter_schema_from_source(source, case.function) == registered


def test_at_least_24_signatures_are_compared() -> None:
    assert len(CASES) >= 24


MALICIOUS = """
import os
from pathlib import Path
from typing import Annotated
from pydantic import BaseModel, Field
from prefect import flow

MARKER = {marker!r}
Path(MARKER).write_text("top-level call")
open(MARKER, "w").write("open")
os.system("touch " + MARKER)
WRITTEN = Path(MARKER).write_text("assignment")
ALSO = __import__("os").system("touch " + MARKER)

class Evil(BaseModel):
    print(open(MARKER, "w").write("class body"))
    a: int = Path(MARKER).write_text("field default")
    b: Annotated[int, Field(default_factory=lambda: open(MARKER, "w"))] = 1

    def __init_subclass__(cls):
        open(MARKER, "w").write("hook")

class Model(BaseModel):
    side: int = Path(MARKER).write_text("model default")

@flow
def my_flow(
    a: "__import__('os').system('touch ' + MARKER)" = 1,
    b: int = Path(MARKER).write_text("default"),
    c: int = WRITTEN,
    d: Evil = None,
    e: list["__import__('os').system('touch x')"] = [],
    f: Model = None,
    g: Annotated[int, Path(MARKER).write_text("metadata")] = 1,
    h: Path = Path(MARKER).parent.joinpath("x").write_text("method"),
):
    open(MARKER, "w").write("flow body")

if __name__ == "__main__":
    open(MARKER, "w").write("main")
"""


def test_source_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed.txt"
    source = MALICIOUS.format(marker=str(marker))

    schema, warnings = parameter_schema_with_warnings(source, "my_flow")

    assert not marker.exists()
    assert not (Path.cwd() / "x").exists()
    assert list(schema["properties"]) == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert "default" not in schema["properties"]["b"]
    assert warnings


ESCAPES = """
import builtins
import dataclasses
import pathlib
import typing
from typing import Annotated
import annotated_types
from pydantic import BaseModel, ConfigDict, Field
from prefect import flow

class ViaPredicate(BaseModel):
    cmd: Annotated[str, annotated_types.Predicate(pathlib.os.system)] = ""

class ViaConfig(BaseModel):
    model_config = ConfigDict(alias_generator=builtins.input)
    a: int = 1

class ViaDict(BaseModel):
    model_config = {{"field_title_generator": builtins.exit}}
    a: int = 1

class ViaFactory(BaseModel):
    a: int = Field(default_factory=builtins.exit)

class ViaModules(BaseModel):
    a: typing.sys.modules["os"].PathLike = None
    b: int = dataclasses.sys.exit

@flow
def my_flow(
    p: ViaPredicate = ViaPredicate(cmd="touch " + {marker!r}),
    c: ViaConfig = ViaConfig(),
    d: ViaDict = ViaDict(),
    f: ViaFactory = ViaFactory(),
    m: ViaModules = None,
    g: int = Field(default_factory=pathlib.os.getcwd),
):
    pass
"""


def test_callables_never_reach_library_code(tmp_path: Path) -> None:
    # Library code calls some values it is given (validators, factories,
    # generators); the interpreter must never hand it a function from anywhere.
    marker = tmp_path / "executed.txt"

    schema, warnings = parameter_schema_with_warnings(
        ESCAPES.format(marker=str(marker)), "my_flow"
    )

    assert not marker.exists()
    for name in "pcdfmg":
        assert "default" not in schema["properties"][name] or name == "m"
    assert "definitions" not in schema  # none of the classes was rebuilt
    refused = [w.split(": ")[1] for w in warnings if ": class " in w]
    assert refused == [f"class {name!r} not rebuilt" for name in (
        "ViaPredicate", "ViaConfig", "ViaDict", "ViaFactory", "ViaModules")]


def test_instances_of_classes_with_methods_are_not_guessed() -> None:
    # Validators, serializers and computed fields would change the dumped
    # default; they are not run, so the default is left out.
    source = HEADER + textwrap.dedent("""
        from pydantic import BaseModel, computed_field

        class Box(BaseModel):
            a: int = 1

            @computed_field
            @property
            def double(self) -> int:
                return self.a * 2

        class Plain(BaseModel):
            a: int = 1

            @property
            def double(self) -> int:
                return self.a * 2

        @flow
        def my_flow(box: Box = Box(), boxes: list[Box] = [Box()], plain: Plain = Plain()):
            pass
    """)

    schema, warnings = parameter_schema_with_warnings(source, "my_flow")

    assert "default" not in schema["properties"]["box"]
    assert "default" not in schema["properties"]["boxes"]
    assert schema["properties"]["plain"]["default"] == {"a": 1}
    assert schema["definitions"]["Box"]["properties"] == {
        "a": {"default": 1, "title": "A", "type": "integer"}
    }
    assert len(warnings) == 2
    assert "method 'double' of class 'Box' (line 10) is not run" in warnings[0]


REPO_FLOWS = sorted(Path(__file__).parents[2].glob("flows/*/*.py"))


def _flow_functions(path: Path) -> list[str]:
    """Top-level functions decorated with `@flow` or `@flow(...)`."""
    import ast

    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            decorators = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
            if any(isinstance(d, ast.Name) and d.id == "flow" for d in decorators):
                names.append(node.name)
    return names


@pytest.mark.skipif(not REPO_FLOWS, reason="no flows in this repository")
@pytest.mark.parametrize("path", REPO_FLOWS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_repository_flows_match_prefect(path: Path) -> None:
    source = path.read_text()
    for name in _flow_functions(path):
        real = parameter_schema(_import_flow(path, name))
        ours, warnings = parameter_schema_with_warnings(source, name)
        assert ours == real.model_dump(exclude_unset=True)
        assert warnings == []


def test_unresolved_default_is_left_out_with_a_warning() -> None:
    source = HEADER + textwrap.dedent("""
        import httpx

        @flow
        def my_flow(status: int = httpx.codes.OK, when: str = str(len("abc")), n: int = 1):
            pass
    """)

    schema, warnings = parameter_schema_with_warnings(source, "my_flow")

    status = schema["properties"]["status"]
    assert status == {"position": 0, "title": "status", "type": "integer"}
    assert "status" not in schema.get("required", [])
    assert schema["properties"]["n"]["default"] == 1
    assert any("'status'" in w and "httpx" in w for w in warnings)
    assert any("'when'" in w and "len" in w for w in warnings)


def test_third_party_annotation_warns_and_accepts_anything() -> None:
    source = HEADER + "import numpy as np\n\n@flow\ndef my_flow(a: np.ndarray, b: int = 1): ...\n"

    schema, warnings = parameter_schema_with_warnings(source, "my_flow")

    assert schema["properties"]["a"] == {"position": 0, "title": "a"}
    assert warnings == [
        "line 5: parameter 'a': annotation uses 'np', imported from 'numpy' (not read); "
        "that part accepts any value"
    ]


def test_class_method_entrypoint() -> None:
    source = HEADER + textwrap.dedent("""
        class Flows:
            @flow
            def run(self, a: int = 1):
                pass
    """)

    schema = parameter_schema_from_source(source, "Flows.run")

    assert list(schema["properties"]) == ["a"]


def test_other_decorator_warns() -> None:
    source = "import functools\n\n@functools.lru_cache\ndef my_flow(a: int = 1): ...\n"

    _, warnings = parameter_schema_with_warnings(source, "my_flow")

    assert warnings == [
        "line 3: decorator 'functools.lru_cache' is not prefect's flow; "
        "the undecorated signature is used"
    ]


def test_missing_function_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="'nope' is not defined"):
        parameter_schema_from_source(HEADER + "def my_flow(): ...\n", "nope")


def test_schema_error_where_prefect_itself_fails(flow_file: Path) -> None:
    # pydantic refuses typing.TypedDict before Python 3.12; importing the flow fails.
    source = HEADER + textwrap.dedent("""
        from typing import TypedDict

        class TD(TypedDict):
            a: int

        @flow
        def my_flow(ok: int = 1, td: TD = None):
            pass
    """)
    flow_file.write_text(source)
    with pytest.raises(Exception, match=r"typing_extensions\.TypedDict"):
        _import_flow(flow_file, "my_flow")

    with pytest.raises(SchemaError, match=r"^line 9: parameter 'td': .*TypedDict"):
        parameter_schema_from_source(source, "my_flow")


def test_syntax_error_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="line 2: the flow source does not parse"):
        parameter_schema_from_source("x = 1\ndef my_flow(:\n", "my_flow")


def test_schema_error_names_the_parameter_prefect_cannot_describe() -> None:
    # Prefect itself raises here (pydantic_core cannot compile the pattern).
    source = "from typing import Annotated\nfrom pydantic import Field\n\n" + textwrap.dedent("""
        def my_flow(
            ok: int = 1,
            bad: Annotated[str, Field(pattern="(")] = "x",
        ): ...
    """)

    with pytest.raises(SchemaError, match=r"^line 7: parameter 'bad': ") as info:
        parameter_schema_from_source(source, "my_flow")

    assert "unclosed group" in str(info.value)  # pydantic's own reason is kept
    assert isinstance(info.value.__cause__, pydantic_core.SchemaError)  # and chained


def test_huge_values_are_refused_not_built() -> None:
    source = "def my_flow(a='x' * 10**9, b=[0] * 10_000_000, c=9 ** 9 ** 9): ...\n"

    schema, warnings = parameter_schema_with_warnings(source, "my_flow")

    assert all("default" not in schema["properties"][name] for name in "abc")
    assert len(warnings) == 3

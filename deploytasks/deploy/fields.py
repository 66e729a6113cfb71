"""The deployment fields: one row each, read by everything that touches a field.

A deployment field is a value the server holds for a deployment and the tool sets:
its description, tags, parameters, pool, schedules, ... Each row says which
``DeploymentSpec`` attribute holds it; what the server calls it (that name is the
key of the compared fields, of a plan's changes, of a drift record's hashes and of
the create and update arguments); how to read it back from Prefect's
``DeploymentResponse``; how it is compared and sent; where the ``build/`` document
writes it; and whether ``deploy.check`` shows it, ``env.promote`` pins it, and an
undone takeover can put it back. ``specs.py`` (the spec, its comparison and
document), the gateway (create, update, the read-back snapshot), ``takeover.py``,
``readback.py`` and ``promote.py`` iterate over ``FIELDS`` instead of naming fields.

Adding a deployment setting: its row here, its typed attribute (with a default) on
``DeploymentSpec``, its setting in ``deployment_settings.py``, and tests. A setting passed
through as configured needs no line in ``build_spec`` (``configured``).

A row marked ``kept`` holds a state a person may set in the UI (``paused``): the plan
changes it only when the configuration changed it since the last apply (its drift
record says what was applied; no record counts as ``unset``), so a pause made in the
UI survives a redeploy, as a paused schedule does.

The rows are in the order a plan lists changes. Schedules and triggers are the rows the
payloads leave out (``synced``): the gateway sends schedules with a create and then keeps
them in step one by one, so a schedule paused in the UI stays paused
(``prefect_api/schedules.py``); each trigger is an automation of its own, made after the
deployment and kept in step by id (``prefect_api/automations.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.client.schemas.responses import DeploymentResponse

    from deploytasks.deploy.specs import DeploymentSpec
    from deploytasks.deployment_settings import DeploymentSettings

Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class DeploymentField:
    """One deployment field: where the spec holds it, what the server calls it, and how
    each place that touches it treats it."""

    attribute: str  # the DeploymentSpec attribute
    name: str  # the server's name: compared fields, plan changes, records, create/update
    read: Callable[[DeploymentResponse], Any] | None = None  # None: the response's `name`
    plain: Convert = _same  # the spec's value as plain data: sent, and written to build/
    compared: Convert | None = None  # as the plan compares it (None: as ``plain``)
    document: tuple[str, ...] = ()  # where the build/ document holds it (): at ``name``
    configured: Callable[[DeploymentSettings], Any] | None = None  # a setting, as set
    shown: bool = False  # deploy.check compares it: the UI shows it
    pin: Callable[[Any, Any], Any] | None = None  # env.promote: (source's, own) → promoted
    restore: bool = False  # an update can put back what a takeover overwrote
    event: str | None = None  # its name in the server's update event (None: ``name``)
    synced: bool = False  # left out of the payloads: the gateway syncs it one by one
    kept: bool = False  # the server's state wins unless the configuration changed it
    # The server's value as far as the configuration speaks of it: (server's, wanted) → the
    # server's as compared (schedules: an anchor date the configuration does not give)
    project: Callable[[Any, Any], Any] | None = None
    unset: Any = None  # a kept row's value before any record of it (the server's default)

    def value(self, spec: DeploymentSpec) -> Any:
        """The spec's value of this field."""
        return getattr(spec, self.attribute)

    def wanted(self, spec: DeploymentSpec) -> Any:
        """The spec's value as the plan compares it with the server's."""
        return (self.compared or self.plain)(self.value(spec))

    def read_back(self, deployment: DeploymentResponse) -> Any:
        """The server's value, in the shape ``wanted`` gives."""
        return self.read(deployment) if self.read else getattr(deployment, self.name)

    @property
    def path(self) -> tuple[str, ...]:
        return self.document or (self.name,)


def _limit(deployment: DeploymentResponse) -> int | None:
    limit = deployment.global_concurrency_limit
    return limit.limit if limit is not None else None


def _options(deployment: DeploymentResponse) -> dict[str, Any] | None:
    options = deployment.concurrency_options
    return options.model_dump(mode="json") if options is not None else None


def _limit_of(settings: DeploymentSettings) -> int | None:
    return settings.concurrency_limit.limit if settings.concurrency_limit else None


def _options_of(settings: DeploymentSettings) -> dict[str, Any] | None:
    return settings.concurrency_limit.options() if settings.concurrency_limit else None


def _pinned_dict(source: Any, own: Any) -> dict[str, Any]:
    return dict(source or {})


def _project_schedules(server: Any, wanted: Any) -> Any:
    from deploytasks.deploy.schedule_items import project

    return project(server or [], wanted or [])


# Sent with a create, then kept in step one by one (``prefect_api/schedules.py``).
SCHEDULES = DeploymentField("schedules", "schedules", plain=lambda s: [x.to_dict() for x in s],
                            compared=lambda s: sorted(x.compared() for x in s), synced=True,
                            project=_project_schedules)

def _compared_triggers(documents: Any) -> Any:
    from deploytasks.deploy.triggers import compared

    return compared(list(documents))


# Each trigger is an automation of its own, read with the snapshot and kept in step by name
# and document hash (``deploy/triggers.py``, ``prefect_api/automations.py``).
TRIGGERS = DeploymentField("triggers", "triggers", plain=lambda t: [dict(x) for x in t],
                           compared=_compared_triggers, synced=True)

FIELDS: tuple[DeploymentField, ...] = (
    DeploymentField("description", "description", shown=True, restore=True),
    DeploymentField("version", "version", pin=lambda source, own: source, restore=True),
    DeploymentField("tags", "tags", read=lambda d: sorted(d.tags), plain=list,
                    compared=sorted, restore=True),
    DeploymentField("parameters", "parameters", shown=True, pin=_pinned_dict, restore=True),
    DeploymentField("parameter_schema", "parameter_openapi_schema", pin=_pinned_dict,
                    restore=True),
    DeploymentField("job_variables", "job_variables", restore=True, event="infra_overrides"),
    DeploymentField("work_pool", "work_pool_name", document=("work_pool", "name"),
                    shown=True),
    DeploymentField("work_queue", "work_queue_name",
                    document=("work_pool", "work_queue_name"), shown=True),
    DeploymentField("entrypoint", "entrypoint", pin=lambda source, own: source or own,
                    restore=True),
    DeploymentField("pull_steps", "pull_steps", plain=list, document=("pull",),
                    restore=True),
    DeploymentField("enforce_parameter_schema", "enforce_parameter_schema",
                    configured=lambda s: s.enforce_parameter_schema, restore=True),
    DeploymentField("concurrency_limit", "concurrency_limit", read=_limit,
                    configured=_limit_of),
    DeploymentField("concurrency_options", "concurrency_options", read=_options,
                    configured=_options_of, restore=True),
    DeploymentField("paused", "paused", configured=lambda s: s.paused, restore=True,
                    kept=True, unset=False),
    SCHEDULES,
    TRIGGERS,
)

_BY_NAME = {field.name: field for field in FIELDS}

# The build/ document's top-level keys in the order it has always had (README,
# existing build/ folders). A row whose key is not listed goes at the end.
DOCUMENT_LAYOUT = ("name", "flow", "flow_name", "type", "environment", "entrypoint",
                   "work_pool", "description", "version", "tags", "parameters",
                   "parameter_openapi_schema", "job_variables", "schedules",
                   "concurrency_limit", "concurrency_options", "paused",
                   "enforce_parameter_schema", "pull", "image", "triggers")
_RANK = {key: index for index, key in enumerate(DOCUMENT_LAYOUT)}


def normal(value: Any) -> Any:
    """A field's value as compared: JSON-like data without caring about tuple/list or
    int/float spelling."""
    if isinstance(value, dict):
        return {str(k): normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    if isinstance(value, bool):
        return ("bool", value)  # True == 1 in Python; not in a deployment's parameters
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def kept() -> tuple[DeploymentField, ...]:
    """The rows whose server state wins unless the configuration changed them."""
    return tuple(field for field in FIELDS if field.kept)


def projected(server: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The server's compared fields as far as the wanted ones speak of them."""
    return {name: (row.project(value, wanted.get(name)) if (row := _BY_NAME.get(name))
                   and row.project else value) for name, value in server.items()}


def comparable(spec: DeploymentSpec) -> dict[str, Any]:
    """Every field as the plan compares it, by the server's name, in the table's order."""
    return {field.name: field.wanted(spec) for field in FIELDS}


def payload(spec: DeploymentSpec, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The create (every field) or update (``names`` only) arguments, synced fields aside."""
    chosen = None if names is None else set(names)
    return {field.name: field.plain(field.value(spec)) for field in FIELDS
            if not field.synced and (chosen is None or field.name in chosen)}


def configured(settings: DeploymentSettings) -> dict[str, Any]:
    """The spec attributes that are settings passed through as configured."""
    return {field.attribute: field.configured(settings) for field in FIELDS
            if field.configured is not None}


def document_fields(spec: DeploymentSpec, head: dict[str, Any]) -> dict[str, Any]:
    """``head`` (the spec's identity and image) with every field at its place, in the
    document's layout."""
    document = dict(head)
    for field in FIELDS:
        *parents, key = field.path
        place = document
        for parent in parents:
            place = place.setdefault(parent, {})
        place[key] = field.plain(field.value(spec))
    return dict(sorted(document.items(), key=lambda item: _RANK.get(item[0], len(_RANK))))


def snapshot_fields(deployment: DeploymentResponse) -> dict[str, Any]:
    """A server deployment's fields as the plan compares them (synced fields aside: their
    owner reads them)."""
    return {field.name: field.read_back(deployment) for field in FIELDS if not field.synced}


def shown() -> tuple[str, ...]:
    """The fields ``deploy.check`` compares, as the UI shows them."""
    return tuple(field.name for field in FIELDS if field.shown)


def restorable() -> dict[str, str]:
    """The server's update-event name of each field an update can restore → its name."""
    return {field.event or field.name: field.name for field in FIELDS if field.restore}


def pinned(spec: DeploymentSpec, source: dict[str, Any]) -> dict[str, Any]:
    """The spec attributes ``env.promote`` takes from the source's fields."""
    return {field.attribute: field.pin(source.get(field.name), field.value(spec))
            for field in FIELDS if field.pin is not None}

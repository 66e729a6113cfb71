"""A deployment's triggers: prefect.yaml's trigger mappings, one automation each.

``prefect deploy`` names each trigger's automation ``{deployment}__automation_{i}`` (unless
the trigger names it) and links it to the deployment (``prefect.deployment.<id>``); so do
we. Unlike ``prefect deploy`` we never delete every automation the deployment owns
(``delete_resource_owned_automations`` would take hand-made ones too): an automation is
ours when it carries this project's tags (``ownership.py``), and it also carries the hash
of the trigger document it was made from (``trigger:<hash>``). The plan compares, per
deployment, the names and hashes of the wanted triggers with those of our automations, so
an unchanged redeploy reads one page of automations and writes nothing; an automation is
found, updated and deleted by its id.

The documents pass through as configured (``{{ event }}`` templates in a triggered run's
parameters are the server's to render); Prefect's own models (what ``prefect deploy``'s
``DeploymentTriggerAdapter`` is made of) check them when the configuration is loaded, before
any write (``deployment_settings.py``), and build the automation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from deploytasks.deploy.records import field_hash

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

HASH_PREFIX = "trigger:"  # the automation's tag holding its document's hash
OWNER_PREFIX = "prefect.deployment."  # Prefect's owner resource of a deployment's automation


@dataclass(frozen=True)
class RemoteAutomation:
    """One of our automations on the server: its id, name, owning deployment and the hash
    of the trigger document it was made from."""

    id: str
    name: str
    deployment_id: str
    hash: str | None

    @property
    def key(self) -> str:
        return key_of(self.name, self.hash)


def named(deployment_name: str, documents: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The documents with the name ``prefect deploy`` gives an unnamed trigger's automation."""
    return tuple({**document, "name": document.get("name")
                  or f"{deployment_name}__automation_{index}"}
                 for index, document in enumerate(documents, start=1))


def document_hash(document: dict[str, Any]) -> str:
    """The spelling-independent hash of one trigger document (``records.field_hash``)."""
    return field_hash(document)


def key_of(name: str, digest: str | None) -> str:
    """How the plan compares one trigger: its automation's name and its document's hash."""
    return f"{name} ({digest or 'made elsewhere'})"


def compared(documents: Sequence[dict[str, Any]]) -> list[str]:
    """The spec's triggers as the plan compares them."""
    return sorted(key_of(str(d["name"]), document_hash(d)) for d in documents)


def automation_of(document: dict[str, Any], deployment_id: str,
                  tags: Sequence[str]) -> AutomationCore:
    """The automation Prefect's ``prefect deploy`` makes of ``document``, with our tags."""
    from uuid import UUID

    trigger = validated(document)
    trigger.set_deployment_id(UUID(deployment_id))
    automation = trigger.as_automation()
    automation.tags = [*tags, f"{HASH_PREFIX}{document_hash(document)}"]
    return automation


@cache
def _adapter() -> Any:
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    return TypeAdapter(DeploymentTriggerTypes)  # as prefect deploy builds its adapter


def validated(document: dict[str, Any]) -> Any:
    """The trigger Prefect's own models make of ``document`` (raises pydantic's
    ``ValidationError`` when they refuse it), as ``prefect deploy``'s
    ``DeploymentTriggerAdapter`` does."""
    return _adapter().validate_python(dict(document))


def refused(documents: Sequence[dict[str, Any]]) -> str | None:
    """What is wrong with the first trigger Prefect's models refuse, or with two triggers
    naming one automation; None when Prefect takes them all."""
    from pydantic import ValidationError

    for index, document in enumerate(documents):
        try:
            validated(document)
        except ValidationError as error:
            return (f"Prefect refuses trigger {index + 1}: {_first(error)}; write it as "
                    "prefect.yaml does, e.g. {enabled: true, match: {prefect.resource.id: "
                    "my.resource}, expect: [my.event], parameters: {...}}")
    names = [str(d["name"]) for d in documents if d.get("name")]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return (f"two triggers have the name '{twice[0]}': each trigger becomes one automation "
                "of its name; give each its own name, or leave names out")
    return None


def _first(error: Any) -> str:
    """The first of pydantic's complaints, with where in the trigger it is."""
    detail = error.errors()[0]
    where = ".".join(str(part) for part in detail.get("loc", ()) if not str(part).isdigit()
                     and part not in ("event", "metric", "compound", "sequence"))
    return f"{where}: {detail.get('msg')}" if where else str(detail.get("msg"))


def remote_of(automation: Any) -> RemoteAutomation | None:
    """Prefect's ``Automation`` as one of ours (None: it runs no deployment). The server
    does not answer with the owner resource it was created with, so the deployment is the
    one its action runs."""
    owner = (automation.owner_resource or "").removeprefix(OWNER_PREFIX) or next(
        (str(action.deployment_id) for action in automation.actions
         if getattr(action, "deployment_id", None) is not None), None)
    if not owner:
        return None
    digest = next((t.removeprefix(HASH_PREFIX) for t in automation.tags
                   if t.startswith(HASH_PREFIX)), None)
    return RemoteAutomation(str(automation.id), automation.name, owner, digest)


@dataclass(frozen=True)
class TriggerSync:
    """What keeps one deployment's automations in step: which to create, which to replace
    (same name, another document) and which to delete, by id."""

    create: tuple[dict[str, Any], ...]
    update: tuple[tuple[str, dict[str, Any]], ...]
    delete: tuple[str, ...]


def sync_of(wanted: Sequence[dict[str, Any]], current: Sequence[RemoteAutomation]) -> TriggerSync:
    """The writes that turn ``current`` into ``wanted`` (a name is a trigger's identity; a
    second automation of ours with one name is deleted)."""
    by_name: dict[str, RemoteAutomation] = {}
    extra: list[str] = []
    for automation in sorted(current, key=lambda a: a.id):
        if automation.name in by_name:
            extra.append(automation.id)
        else:
            by_name[automation.name] = automation
    create, update = [], []
    for document in wanted:
        have = by_name.pop(str(document["name"]), None)
        if have is None:
            create.append(document)
        elif have.hash != document_hash(document):
            update.append((have.id, document))
    return TriggerSync(tuple(create), tuple(update),
                       tuple([*extra, *(a.id for a in by_name.values())]))

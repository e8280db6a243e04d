"""The protocol seam: every protocol registers its config model and its graph builder here.

A protocol is one module (built-ins live in ``graphs/protocols/``) that defines a
:class:`ProtocolConfig` subclass, whose ``kind`` names it in a config file and whose methods
say who speaks (:class:`Seat`), who argues which answer, and which models it calls, and
registers it with :func:`register` together with the function that builds its LangGraph graph.
Config validation, the runner, the pipeline and the report find protocols only through this
registry, so adding a protocol touches its module and its prompt templates, nothing else.

Built-in protocols are loaded the first time a config is validated (or a protocol looked up);
other packages add theirs through the ``oversight.protocols`` entry-point group, whose entries
are modules that call :func:`register` when imported.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Annotated, Any, ClassVar, Union

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema

BUILTIN_PROTOCOLS = "graphs.protocols"
"""The package whose import registers the built-in protocols."""
ENTRY_POINT_GROUP = "oversight.protocols"
"""Entry-point group through which other packages register protocols."""


class Role(StrEnum):
    """What a speaker is; it decides how the speaker is named to judges and others and which
    prompt template it speaks with."""

    DEBATER = "debater"
    CONSULTANT = "consultant"
    AGENT = "agent"
    """A cooperative agent (Du et al. 2023): it answers, then reads the others' answers."""
    JUDGE = "judge"
    """The judge, where it asks the speakers a question between rounds."""

    @property
    def display(self) -> str:
        """How the role is named in prompts and transcripts (``Debater``)."""
        return self.value.capitalize()


_SLOT = re.compile(r"^(?P<role>[a-z]+)(?:_(?P<number>[1-9][0-9]*))?$")


@dataclass(frozen=True, order=True)
class Seat:
    """One speaker of a protocol: a role and, where a protocol has several of one role, its
    number. Stored as its slot name (``Turn.speaker``, ``Debate.assignment`` keys):
    ``debater_1``, ``consultant``, ``agent_3``."""

    role: Role
    number: int | None = None

    @property
    def slot(self) -> str:
        return self.role.value if self.number is None else f"{self.role.value}_{self.number}"

    @classmethod
    def parse(cls, slot: str) -> Seat:
        """The seat a stored slot name stands for; a name no protocol writes is an error."""
        found = _SLOT.match(slot)
        roles = {r.value for r in Role}
        if found is None or found["role"] not in roles:
            raise ValueError(
                f"speaker {slot!r} is not a seat of any protocol "
                f"(seats are ROLE or ROLE_N with ROLE one of {sorted(roles)})"
            )
        number = found["number"]
        return cls(Role(found["role"]), int(number) if number else None)


JUDGE_SEAT = Seat(Role.JUDGE)
"""The slot of the judge's questions between rounds (``judge``); it argues no answer."""


def seats(role: Role, count: int) -> list[Seat]:
    """``count`` numbered seats of one role (``debater_1``, ``debater_2``, ...)."""
    return [Seat(role, i) for i in range(1, count + 1)]


class ProtocolConfig(BaseModel):
    """The config of one protocol; subclasses add their fields and fix ``kind``.

    The defaults describe a protocol in which nobody speaks (direct QA)."""

    model_config = ConfigDict(extra="forbid")

    fields_added: ClassVar[dict[str, Any]] = {}
    """Fields added after experiments were first stored, with their defaults: left out of the
    experiment's identity at those defaults, so those experiments keep their config hash."""

    kind: str

    def identity(self) -> dict[str, Any]:
        """What of this config defines the experiment (its part of the config hash)."""
        data = self.model_dump(mode="json")
        for key, default in self.fields_added.items():
            if data.get(key) == default:
                data.pop(key)
        return data

    def seats(self) -> list[Seat]:
        """Who speaks, in speaking order."""
        return []

    def assignments(self) -> list[dict[str, int]]:
        """Who argues which choice, for each run of the protocol on one binarized question
        (slot name -> choice index); one Debate row is planned per assignment. A protocol
        whose speakers choose their own answers gives one empty assignment."""
        return [{}]

    def planned_rounds(self) -> int:
        """Rounds of speeches planned per debate (a debate may stop earlier)."""
        return 0

    def models_used(self) -> dict[str, str]:
        """The model aliases its speakers call, by the field that names each (a dotted path
        inside this config), so that an unknown alias is reported at its field."""
        return {}

    def speaks(self) -> bool:
        """Whether the protocol produces a transcript (debate-reading judges need one)."""
        return bool(self.seats())


GraphBuilder = Callable[[str, Any], Any]
"""``build(protocol_name, config) -> compiled LangGraph graph``; the graph reads what it needs
at run time from its runtime context (``graphs.context.GraphContext``)."""


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered protocol."""

    kind: str
    config: type[ProtocolConfig]
    build: GraphBuilder
    summary: str
    """One line for help texts and the report."""


_REGISTRY: dict[str, ProtocolSpec] = {}
_loaded = False
_schema_kinds: frozenset[str] | None = None
"""The kinds the config schemas were last built with."""


def register(config: type[ProtocolConfig], build: GraphBuilder, summary: str) -> ProtocolSpec:
    """Register a protocol under its config's ``kind`` (a ``Literal`` default); registering
    one kind twice with another config is an error, registering the same one again is not."""
    default = config.model_fields["kind"].default
    if not isinstance(default, str) or not default:
        raise TypeError(f"{config.__name__}.kind needs a Literal string default")
    spec = ProtocolSpec(default, config, build, summary)
    known = _REGISTRY.get(spec.kind)
    if known is not None and known.config is not config:
        raise ValueError(
            f"protocol kind {spec.kind!r} is registered twice "
            f"({known.config.__module__}.{known.config.__name__} and "
            f"{config.__module__}.{config.__name__})"
        )
    _REGISTRY[spec.kind] = spec
    return spec


def load_protocols() -> None:
    """Import the built-in protocols and those of installed plugins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    importlib.import_module(BUILTIN_PROTOCOLS)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        importlib.import_module(entry.value)


def schemas_stale() -> bool:
    """Whether a protocol was registered after the config schemas were built (they must then
    be rebuilt to accept it: :func:`oversight.config.validate_as` does so)."""
    return _schema_kinds is not None and _schema_kinds != frozenset(_REGISTRY)


def protocol_kinds() -> list[str]:
    load_protocols()
    return sorted(_REGISTRY)


def protocol_spec(kind: str) -> ProtocolSpec:
    load_protocols()
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ValueError(f"unknown protocol kind {kind!r} (known: {protocol_kinds()})") from None


class RegisteredProtocol:
    """Pydantic marker: validate as whichever registered protocol config ``kind`` names.

    The schema is built when the model using it is first validated (``defer_build``), by
    which time every protocol is registered; errors then carry the usual field paths
    (``protocols.NAME.rounds``), and an unknown ``kind`` lists the known ones."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        global _schema_kinds
        load_protocols()
        _schema_kinds = frozenset(_REGISTRY)
        configs = tuple(_REGISTRY[k].config for k in sorted(_REGISTRY))
        union: Any = configs[0] if len(configs) == 1 else Union[configs]  # noqa: UP007
        return handler.generate_schema(Annotated[union, Field(discriminator="kind")])


AnyProtocol = Annotated[ProtocolConfig, RegisteredProtocol()]
"""A field type: any registered protocol's config, chosen by its ``kind``."""

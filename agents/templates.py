"""Prompt templates: a system part and a user part in one text file.

A template file holds the system message, a line ``=== user ===``, then the user message.
Fields are ``str.format`` placeholders. The template's hash is part of a judge's id, so a changed
prompt is a different judge.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from oversight.backends.base import Message
from oversight.config import ExperimentConfig

SEPARATOR = "=== user ==="


class TemplateError(ValueError):
    """A template that cannot be found, parsed or filled."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: str
    user: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(f"{self.system}\n{SEPARATOR}\n{self.user}".encode()).hexdigest()[:8]

    def render(self, **fields: object) -> list[Message]:
        try:
            return [
                {"role": "system", "content": self.system.format(**fields).strip()},
                {"role": "user", "content": self.user.format(**fields).strip()},
            ]
        except KeyError as err:
            raise TemplateError(f"template {self.name!r}: unknown field {err}") from None


def parse_template(text: str, name: str) -> PromptTemplate:
    if SEPARATOR not in text:
        raise TemplateError(f"template {name!r}: missing the line {SEPARATOR!r}")
    system, user = text.split(SEPARATOR, 1)
    return PromptTemplate(name=name, system=system.strip(), user=user.strip())


def builtin_templates() -> list[str]:
    folder = resources.files("agents") / "prompts"
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt"))


def load_template(name_or_path: str) -> PromptTemplate:
    """A built-in template by name (``agents/prompts/NAME.txt``) or a template file by path."""
    path = Path(name_or_path)
    if path.suffix == ".txt" and path.exists():
        try:
            return parse_template(path.read_text(encoding="utf-8"), str(path))
        except UnicodeDecodeError as err:
            raise TemplateError(
                f"template {str(path)!r} is not UTF-8 text (byte {err.start}: {err.reason})"
            ) from None
        except OSError as err:
            raise TemplateError(
                f"template {str(path)!r} cannot be read: {err.strerror or err}"
            ) from None
    if path.suffix and path.suffix != ".txt" and path.exists():
        raise TemplateError(
            f"{str(path)!r} is not a prompt template: templates are .txt files "
            f"(a system part, a line {SEPARATOR!r}, a user part)"
        )
    res = resources.files("agents") / "prompts" / f"{name_or_path}.txt"
    if not res.is_file():
        raise TemplateError(
            f"no prompt template {name_or_path!r} (built-in: {builtin_templates()}; "
            "or give a path to a .txt file)"
        )
    return parse_template(res.read_text(encoding="utf-8"), name_or_path)


_FIELD = re.compile(r"\{[a-z_]+\}")


def template_tokens(name_or_path: str) -> int:
    """Estimated tokens of a template's own text, its fields left empty (``ceil(chars / 4)``,
    as :func:`oversight.run_plan.text_tokens` counts)."""
    t = load_template(name_or_path)
    return math.ceil(len(_FIELD.sub("", t.system + t.user)) / 4)


def prompt_overhead(cfg: ExperimentConfig) -> dict[str, int]:
    """Template tokens per speaker role and per judge (``judge:NAME``) of an experiment, for
    the plan's token estimate; roles without a built-in template add nothing."""
    out: dict[str, int] = {}
    for role in {s.role.value for p in cfg.protocols.values() for s in p.seats()}:
        if role in builtin_templates():
            out[role] = template_tokens(role)
    for j in cfg.judges:
        out[f"judge:{j.name}"] = template_tokens(j.prompt)
    return out

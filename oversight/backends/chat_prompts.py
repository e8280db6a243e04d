"""Rendering chat requests to token ids the way the transformers backend does.

A judge's probabilities and a debater's greedy text must not depend on which backend served
the model. The vllm and openai backends therefore build prompts with the same recipe as
:mod:`oversight.backends.transformers_backend`: the tokenizer's chat template with the
generation prompt, then the request's ``assistant_prefix``, tokenized without adding special
tokens (the template already writes them), and answer labels mapped to token ids by
:func:`~oversight.backends.transformers_backend.label_token_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oversight.backends.base import BackendError, Message, ScoreRequest
from oversight.backends.transformers_backend import label_token_ids
from oversight.models import resolve_model

__all__ = ["ChatPrompter", "ScorePrompt"]


@dataclass(frozen=True)
class ScorePrompt:
    """A scoring prompt: its text, its token ids, and the token id of each answer label."""

    text: str
    prompt_ids: list[int]
    label_ids: list[int]


class ChatPrompter:
    """A model's Hugging Face tokenizer, used only to render and tokenize prompts."""

    def __init__(self, tokenizer: Any, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = name

    @classmethod
    def load(
        cls, model: str, *, name: str | None = None, cache_dir: Path | None = None
    ) -> ChatPrompter:
        """Load the tokenizer of a registry alias, local folder or Hub id (no weights)."""
        from transformers import AutoTokenizer

        path = resolve_model(model, cache_dir)
        return cls(AutoTokenizer.from_pretrained(path), name or model)

    def chat_text(self, messages: list[Message]) -> str:
        """The chat with the generation prompt appended, as text."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise BackendError(f"{self.name}: the tokenizer has no chat template")
        text = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        return str(text)

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def generate_ids(self, messages: list[Message]) -> list[int]:
        return self.encode(self.chat_text(messages))

    def score_prompt(self, request: ScoreRequest) -> ScorePrompt:
        text = self.chat_text(request.messages) + request.assistant_prefix
        return ScorePrompt(
            text=text,
            prompt_ids=self.encode(text),
            label_ids=label_token_ids(self.tokenizer, list(request.labels), text),
        )

    def label_ids(self, request: ScoreRequest) -> list[int]:
        """Label token ids for a request whose prompt another party renders (a server)."""
        text = self.chat_text(request.messages) + request.assistant_prefix
        return label_token_ids(self.tokenizer, list(request.labels), text)

"""Rendering chat requests to token ids the way the transformers backend does.

A judge's probabilities and a debater's greedy text must not depend on which backend served
the model. The vllm and openai backends therefore build prompts with the same recipe as
:mod:`oversight.backends.transformers_backend`: the tokenizer's chat template with the
generation prompt, then the request's ``assistant_prefix``, tokenized without adding special
tokens (the template already writes them), and answer labels mapped to token ids by
:func:`label_token_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oversight.backends.base import BackendError, Message, ScoreRequest
from oversight.models import resolve_model

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["ChatPrompter", "ScorePrompt", "label_token_ids"]


def label_token_ids(
    tokenizer: PreTrainedTokenizerBase, labels: list[str], prompt_text: str
) -> list[int]:
    """The token id that stands for each label right after ``prompt_text``.

    BPE tokenizers spell "A" differently at the start of a word (" A" / "ĠA") than glued to
    what precedes it ("A"). After a prompt that ends in whitespace (``"Answer: "`` or the
    generation prompt's newline) the bare label comes first, otherwise the label with a
    leading space; the other spelling is the fallback, and the first spelling that is a
    single token wins. A label that is several tokens in both spellings is read at its first
    token. Labels that share a token could not be told apart and are rejected.
    """
    after_space = not prompt_text or prompt_text[-1].isspace()
    ids: list[int] = []
    for label in labels:
        if not label:
            raise BackendError("empty answer label")
        spellings = [label, " " + label] if after_space else [" " + label, label]
        encoded = [tokenizer.encode(s, add_special_tokens=False) for s in spellings]
        single = [e for e in encoded if len(e) == 1]
        chosen = single[0] if single else next(e for e in encoded if e)
        ids.append(int(chosen[0]))
    if len(set(ids)) != len(ids):
        raise BackendError(
            f"answer labels {labels!r} share a first token ({ids}); use distinct labels"
        )
    return ids


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

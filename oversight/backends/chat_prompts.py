"""Rendering chat requests to token ids the way the transformers backend does.

A judge's probabilities and a debater's greedy text must not depend on which backend served
the model. The vllm and openai backends therefore build prompts with the same recipe as
:mod:`oversight.backends.transformers_backend`: the tokenizer's chat template with the
generation prompt, then the request's ``assistant_prefix``, tokenized without adding special
tokens (the template already writes them), and answer labels mapped to token ids by
:func:`label_token_ids`.

Message contents are untrusted (a debater's speech, a dataset's passage): before templating,
:func:`neutralize_control_tokens` breaks every spelling of a control token in them, so the
control tokens in a prompt's ids are exactly those the chat template wrote. Every backend
applies it, the openai one to the messages it sends, since the server templates and tokenizes
them itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oversight.backends.base import BackendError, Message, ScoreRequest
from oversight.models import resolve_model

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "COMMON_CONTROL_TOKENS",
    "WORD_JOINER",
    "ChatPrompter",
    "ScorePrompt",
    "control_tokens",
    "label_token_ids",
    "neutralize_control_tokens",
    "neutralize_messages",
]

WORD_JOINER = "\u2060"
"""Inserted after the first character of a control token's spelling: a format character with
no glyph, so the text reads the same, but it is no longer the token's spelling, and tokenizers
(which match special tokens on the text before any merging) see ordinary characters."""

COMMON_CONTROL_TOKENS = re.compile(
    r"<\|[^<>|\s]{1,64}\|>"  # ChatML, Llama 3, Phi, GPT: <|im_end|>, <|eot_id|>
    r"|<\uff5c[^<>\uff5c]{1,64}\uff5c>"  # DeepSeek: <｜end▁of▁sentence｜>
    r"|</?s>|\[/?INST\]|<</?SYS>>"  # Llama 2, Mistral
    r"|<(?:start|end)_of_turn>|<(?:bos|eos|pad|unk|mask)>"  # Gemma and friends
)
"""Control-token spellings of the common chat formats, neutralised whatever the tokenizer:
the openai backend may have no local tokenizer to ask for the exact list."""


def control_tokens(tokenizer: Any) -> frozenset[str]:
    """The strings ``tokenizer`` reads as special tokens wherever they occur in text.

    Its declared special tokens and every added token marked special (SmolLM2's
    ``<repo_name>``, ``<jupyter_code>``, ...). Single characters are left out: they cannot be
    broken up, and no chat template uses one as a control token.
    """
    found = set(getattr(tokenizer, "all_special_tokens", None) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(added, "special", False):
            found.add(str(getattr(added, "content", added)))
    return frozenset(t for t in found if len(t) > 1 and WORD_JOINER not in t)


@functools.lru_cache(maxsize=32)
def _control_pattern(tokens: frozenset[str]) -> re.Pattern[str]:
    exact = [re.escape(t) for t in sorted(tokens, key=len, reverse=True)]
    return re.compile("|".join([*exact, COMMON_CONTROL_TOKENS.pattern]))


def neutralize_control_tokens(text: str, tokens: Iterable[str] = ()) -> str:
    """``text`` with every control-token spelling broken by a :data:`WORD_JOINER`.

    ``tokens`` are the exact spellings of one tokenizer (:func:`control_tokens`); the common
    ones (:data:`COMMON_CONTROL_TOKENS`) are always included. Untrusted text can then never
    become a special token id: the chat template's own control tokens are the only ones in a
    prompt. The rest of the text is left as it is, and applying it twice changes nothing more.
    """
    pattern = _control_pattern(frozenset(tokens))
    # Overlapping spellings ("ab", "bc" in "abc") need another pass; each pass breaks at
    # least one occurrence and creates none, so this ends.
    while pattern.search(text):
        text = pattern.sub(lambda m: m[0][0] + WORD_JOINER + m[0][1:], text)
    return text


def neutralize_messages(messages: Sequence[Message], tokens: Iterable[str] = ()) -> list[Message]:
    """Copies of ``messages`` with :func:`neutralize_control_tokens` applied to each content."""
    frozen = frozenset(tokens)
    return [{**m, "content": neutralize_control_tokens(m["content"], frozen)} for m in messages]


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
        self.control_tokens = control_tokens(tokenizer)
        """The spellings :meth:`safe_messages` breaks up in message contents."""
        tokens = sorted(self.control_tokens)
        ids = tokenizer.convert_tokens_to_ids(tokens)
        unk = getattr(tokenizer, "unk_token_id", None)
        # A spelling outside the vocabulary maps to the unknown token: not a control id, unless
        # it is the unknown token itself (Llama's "<unk>").
        self.control_ids = frozenset(
            int(i)
            for t, i in zip(tokens, ids, strict=True)
            if i is not None and (i != unk or t == getattr(tokenizer, "unk_token", None))
        )
        """Token ids that must come from the chat template only."""

    @classmethod
    def load(
        cls, model: str, *, name: str | None = None, cache_dir: Path | None = None
    ) -> ChatPrompter:
        """Load the tokenizer of a registry alias, local folder or Hub id (no weights)."""
        from transformers import AutoTokenizer

        path = resolve_model(model, cache_dir)
        return cls(AutoTokenizer.from_pretrained(path), name or model)

    def safe_messages(self, messages: Sequence[Message]) -> list[Message]:
        """``messages`` with this tokenizer's control tokens neutralised in every content,
        checked: a content whose ids still hold a control token (a tokenizer whose normalizer
        undid the neutralisation) is refused rather than sent."""
        safe = neutralize_messages(messages, self.control_tokens)
        for message in safe:
            if self.control_ids.intersection(self.encode(message["content"])):
                raise BackendError(
                    f"{self.name}: a {message['role']} message still encodes to control "
                    "tokens after neutralisation; refusing to send it"
                )
        return safe

    def chat_text(self, messages: list[Message]) -> str:
        """The chat with the generation prompt appended, as text (contents made safe by
        :meth:`safe_messages`)."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise BackendError(f"{self.name}: the tokenizer has no chat template")
        text = self.tokenizer.apply_chat_template(
            self.safe_messages(messages), add_generation_prompt=True, tokenize=False
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

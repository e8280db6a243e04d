"""Shared fixtures: tiny offline chat models, built in seconds, never fetched from the Hub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""ChatML, the format of SmolLM2 and Qwen: the tiny model formats prompts like the real ones."""

SPECIAL_TOKENS = ["<|im_start|>", "<|im_end|>", "<pad>"]

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Question: Which answer is correct? Answer: A",
    "Question: Which answer is correct? Answer: B",
    "A debate has two debaters and a judge who decides between answer A and answer B.",
    "The judge reads the transcript and picks the more convincing answer.",
    "Paris is the capital of France. Berlin is the capital of Germany.",
    "Two plus two is four. Three times three is nine.",
    "I think the answer is A because the evidence supports it.",
    "I think the answer is B because the story says so.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "You are a helpful assistant. Please answer the question briefly.",
    "system user assistant: hello, how are you today? I am fine, thank you.",
]


def build_tiny_chat_model(path: Path, *, seed: int = 0) -> Path:
    """Write a random 2-layer Llama chat model with a ChatML tokenizer to ``path``.

    head_dim is 64 (hidden 128, 2 heads) because vLLM's CPU attention accepts no smaller one;
    ``initializer_range`` is raised so greedy argmaxes are not near-ties that float noise flips.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        chat_template=CHATML_TEMPLATE,
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=1024,
        initializer_range=0.1,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Llama chat model (ChatML template), loadable with Auto* classes."""
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


@pytest.fixture(scope="session")
def long_context_model(tiny_chat_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny chat model, allowed the positions a long transcript needs.

    Llama's rotary embeddings have no learned positions, so raising the limit changes no
    weight; it only keeps the model from being run past its declared context.
    """
    import json
    import shutil

    folder = tmp_path_factory.mktemp("tiny-long") / "model"
    shutil.copytree(tiny_chat_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 8192
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="session", autouse=True)
def oversight_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session cache for converted models: the SmolLM2 GGUF is converted once per session.

    Exported as ``OVERSIGHT_CACHE`` so code that resolves an alias without a ``cache_dir``
    shares it instead of writing to the home folder. An ``OVERSIGHT_CACHE`` already set wins:
    CI can keep the conversion between runs.
    """
    configured = os.environ.get("OVERSIGHT_CACHE")
    if configured:
        yield Path(configured)
        return
    cache = tmp_path_factory.mktemp("oversight-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERSIGHT_CACHE", str(cache))
        yield cache


def build_tiny_bert(path: Path, *, seed: int = 0) -> Path:
    """Write a random 2-layer BERT encoder (no head) with a WordPiece tokenizer to ``path``.

    The shape of all-MiniLM-L6-v2's folder, in miniature: ``AutoModelForSequenceClassification``
    loads it and adds a fresh classification head, as it does for the real weak judge.
    """
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    raw = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    raw.normalizer = normalizers.BertNormalizer(lowercase=True)
    raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    raw.train_from_iterator(
        _CORPUS * 4,
        trainer=trainers.WordPieceTrainer(
            vocab_size=400, special_tokens=special, show_progress=False
        ),
    )
    cls_id, sep_id = raw.token_to_id("[CLS]"), raw.token_to_id("[SEP]")
    raw.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random BERT encoder, the offline stand-in for a weak judge backbone."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))

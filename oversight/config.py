"""Experiment configuration: one TOML file validated by pydantic.

Errors name the file and the dotted field path, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from oversight.data.errors import DataError
from oversight.data.registry import source_spec
from oversight.protocol_registry import AnyProtocol, schemas_stale

DEFAULT_STORE = "sqlite:///oversight.db"

ContextPolicy = Literal["fail", "drop_oldest"]
"""What a speaker or judge does when its prompt would not fit its model's context."""


STORE_ENV = "OVERSIGHT_DB"
"""Environment variable naming the Store URL."""
STORE_PRECEDENCE = f"--db, then ${STORE_ENV}, then the config's `store`, then {DEFAULT_STORE}"
"""How every command chooses its Store, in words (for help texts and errors)."""


def resolve_store_url(cli: str | None, config: str | None = None) -> str:
    """The Store URL by one precedence for every command: command line, environment, config,
    default. A config names where its author stored it; a user's ``--db`` or environment is a
    decision made now, so both override it."""
    return cli or os.environ.get(STORE_ENV) or config or DEFAULT_STORE


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the questions come from."""

    source: str
    """Source name: mmlu, arc, cosmosqa, boolq, truthfulqa, jsonl, or a Hub dataset id."""
    path: str | None = None
    """Data folder or file; defaults to $OVERSIGHT_SHARED_DATA or a ../shared/data folder."""
    split: str = "test"
    """Split of the source to read."""
    limit: int | None = Field(default=None, ge=1)
    """Number of questions (a seeded sample, so raising it extends the selection)."""
    binarize: bool = True
    """Keep the correct answer and one distractor, as in openai/weak-to-strong."""
    strict: bool = False
    """Fail on the first malformed row instead of skipping it (skipped rows are counted and
    reported with file and line). Not part of the experiment's identity: it decides only
    whether a bad row stops the run."""

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        """An unknown source is a config error now, not a failure after the run has begun."""
        try:
            source_spec(value)
        except DataError as err:
            raise ValueError(err.problem) from None
        return value


class ModelConfig(_Strict):
    """A model served by one backend; referred to by its alias (the table key)."""

    model: str
    """Registry alias, local path or Hugging Face hub id."""
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    """Which backend serves the model: local transformers, in-process vLLM, or an
    OpenAI-compatible server (first of all ``vllm serve``)."""
    device: str = "cpu"
    """Torch device for the transformers backend."""
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    """Weights dtype (transformers and vllm); ``auto`` takes the checkpoint's, as GPUs want."""
    max_batch_size: int = Field(default=8, ge=1)
    """Most requests gathered into one forward pass."""
    context_policy: ContextPolicy = "fail"
    """What a speaker or judge on this model does when the transcript makes its prompt longer
    than the model's context: ``fail`` fails that debate with the model, its context length and
    the prompt length as the reason; ``drop_oldest`` leaves the earliest rounds out of what that
    speaker or judge reads until the prompt fits, says so in the prompt, and records the
    rounds dropped on the Turn or Judgment (its ``context`` field). Nothing is ever cut
    silently. Part of what a judge is (its id) and of the experiment's identity, since dropped
    rounds change what is said and decided."""
    # -- vllm (in-process engine) ---------------------------------------------------------
    max_model_len: int | None = Field(default=None, ge=16)
    """vllm: context length of the engine (prompt + completion); None takes the model's.
    openai: the server's context length; None asks the server (vLLM reports it)."""
    gpu_memory_utilization: float = Field(default=0.9, gt=0.0, le=1.0)
    """vllm: fraction of GPU memory the engine may use (weights + KV cache). On CPU builds the
    KV cache is sized from the model and the free memory (``oversight.backends.cpu_kv_cache``)
    unless ``VLLM_CPU_KVCACHE_SPACE`` (GiB) is set."""
    tensor_parallel_size: int = Field(default=1, ge=1)
    """vllm: GPUs the model is sharded over."""
    enable_prefix_caching: bool = True
    """vllm: reuse the KV cache of shared prompt prefixes (a judge's two presentation orders,
    a debate's growing transcript)."""
    enforce_eager: bool | None = None
    """vllm: skip torch.compile / CUDA graphs; None means eager on CPU builds (compiling costs
    minutes at every start there) and compiled on GPUs."""
    lora: str | None = None
    """vllm: LoRA adapter folder applied to every request of this alias (e.g. a trained strong
    student); aliases that differ only in their adapter share one engine."""
    max_lora_rank: int = Field(default=16, ge=1)
    """vllm: largest LoRA rank the engine accepts."""
    # -- openai (HTTP) ------------------------------------------------------------------------
    base_urls: list[str] = Field(default_factory=list)
    """openai: base URLs of the server replicas (``http://host:port/v1``); requests go to the
    least-loaded one."""
    served_model: str | None = None
    """openai: model name the server knows (``--served-model-name``); defaults to ``model``."""
    api_key_env: str | None = None
    """openai: name of the environment variable holding the API key. The key itself is never
    written to a config, the Store or a log."""
    timeout_s: float = Field(default=120.0, gt=0.0)
    """openai: seconds one HTTP request may take before it counts as a (transient) timeout."""
    max_retries: int = Field(default=3, ge=0)
    """openai: retries with exponential backoff on 429, 5xx, timeouts and lost connections."""
    tokenizer: str | None = None
    """openai: local tokenizer (alias, path or hub id) for answer-label token ids; defaults to
    ``model``. Without one, judges match labels in the server's top-20 log-probs by text."""

    @model_validator(mode="after")
    def _backend_options(self) -> ModelConfig:
        if self.backend == "openai" and not self.base_urls:
            raise ValueError("base_urls: backend 'openai' needs at least one server URL")
        if self.lora is not None and self.backend != "vllm":
            raise ValueError(
                f"lora: only the vllm backend applies adapters (this model uses {self.backend!r}); "
                "for an OpenAI-compatible server, serve the adapter under its own name and set "
                "served_model"
            )
        return self

    def output_identity(self) -> dict[str, Any]:
        """The fields that change what this model outputs, beyond its reference: its adapter,
        weights dtype, served name and tokenizer. How it is served (backend, device, batch
        size, URLs, timeouts) is left out: the same model gives the same verdicts on any."""
        return {
            "dtype": self.dtype,
            "lora": self.lora,
            "served_model": self.served_model,
            "tokenizer": self.tokenizer,
        }


class GenerationConfig(_Strict):
    """Sampling settings for a speaker."""

    max_new_tokens: int = Field(default=96, ge=1)
    """Token budget of one speech."""
    temperature: float = Field(default=0.0, ge=0.0)
    """0 means greedy decoding (repeatable)."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass."""


class JudgeConfig(_Strict):
    """One member of the judge ensemble."""

    name: str
    """Short name shown in reports."""
    model: str
    """Alias of the judge's model."""
    prompt: str = "judge"
    """Prompt template name (agents/prompts/NAME.txt) or a path to a template file."""
    sees_context: bool = False
    """Whether the judge sees the hidden context (normally not: that is the oversight gap)."""


class ExperimentConfig(_Strict):
    """A whole experiment, as written in its TOML file."""

    # Built on first use, when the protocol registry (graphs/protocols) is loaded.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1)
    """Experiment name; rerunning a name resumes it."""
    seed: int = 0
    """Seed for question sampling, binarization and generation."""
    store: str | None = None
    """SQLAlchemy URL of the Store; ``--db`` and ``$OVERSIGHT_DB`` take precedence over it
    (see :func:`resolve_store_url`), and without any of them it is ``sqlite:///oversight.db``."""
    concurrency: int = Field(default=8, ge=1)
    """Debates in flight at once."""
    data: DataConfig
    """Question source."""
    models: dict[str, ModelConfig]
    """Models by alias."""
    protocols: dict[str, AnyProtocol]
    """Protocols by name, each a registered kind (:mod:`oversight.protocol_registry`); each
    name becomes a Debate.protocol value."""
    judges: list[JudgeConfig] = Field(min_length=1)
    """The judge ensemble; every debate is judged by every member."""

    @model_validator(mode="after")
    def _aliases_exist(self) -> ExperimentConfig:
        known = set(self.models)
        for pname, proto in self.protocols.items():
            for where, alias in proto.models_used().items():
                if alias not in known:
                    raise ValueError(
                        f"protocols.{pname}.{where}: unknown model alias {alias!r} "
                        f"(defined: {sorted(known)})"
                    )
        for i, judge in enumerate(self.judges):
            if judge.model not in known:
                raise ValueError(
                    f"judges.{i}.model: unknown model alias {judge.model!r} "
                    f"(defined: {sorted(known)})"
                )
        names = [j.name for j in self.judges]
        if len(set(names)) != len(names):
            raise ValueError(f"judges: names must be unique, got {names}")
        return self

    def identity(self) -> dict[str, Any]:
        """The fields that define what is computed (not where it is stored or how fast)."""
        data = self.model_dump(mode="json", exclude={"store", "concurrency"})
        data["protocols"] = {name: p.identity() for name, p in self.protocols.items()}
        data["data"].pop("limit", None)
        data["data"].pop("strict", None)
        for model in data["models"].values():
            _drop_serving_fields(model)
        return data

    def stored_config(self) -> dict[str, Any]:
        """The config as the Experiment row keeps it: without the Store URL (which says where,
        not what, and may hold a password) and with credentials masked in server URLs."""
        data = self.model_dump(mode="json", exclude={"store"})
        for model in data["models"].values():
            model["base_urls"] = [mask_credentials(u) for u in model.get("base_urls", [])]
        return data

    def config_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


SERVING_FIELDS = frozenset(
    {
        "max_model_len",
        "gpu_memory_utilization",
        "tensor_parallel_size",
        "enable_prefix_caching",
        "enforce_eager",
        "base_urls",
        "api_key_env",
        "timeout_s",
        "max_retries",
    }
)
"""Model fields that say where and how fast a model is served, not what it computes: changing
them (more replicas, another URL, a longer timeout) resumes the same experiment."""

_RESULT_FIELDS_ADDED = {
    "lora": None,
    "max_lora_rank": 16,
    "served_model": None,
    "tokenizer": None,
    "context_policy": "fail",
}
"""Model fields that can change results, added after experiments were first stored: left out of
the hash at their defaults, so those experiments keep their hash."""


def mask_credentials(url: str) -> str:
    """``scheme://user:***@host/...``: a URL's password never leaves the process."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{parts.username or ''}:***@{host}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _drop_serving_fields(model: dict[str, Any]) -> None:
    for key in SERVING_FIELDS:
        model.pop(key, None)
    for key, default in _RESULT_FIELDS_ADDED.items():
        if model.get(key) == default:
            model.pop(key, None)


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per problem: ``file: dotted.field: message``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}")
    return "\n".join(lines)


M = TypeVar("M", bound=BaseModel)


def validate_as(model: type[M], data: dict[str, Any], source: str) -> M:
    """Validate ``data`` as ``model``; problems become one ConfigError naming file and fields."""
    if schemas_stale():
        _rebuild(ExperimentConfig)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def _rebuild(model: type[BaseModel]) -> None:
    """Rebuild a config schema and its subclasses' to take in newly registered protocols."""
    model.model_rebuild(force=True)
    for sub in model.__subclasses__():
        _rebuild(sub)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a ConfigError naming it."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, expected a TOML file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{p}: is not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"{p}: cannot be read: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: invalid TOML: {err}") from None


def parse_config(data: dict[str, Any], source: str = "<config>") -> ExperimentConfig:
    return validate_as(ExperimentConfig, data, source)


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment TOML file."""
    return parse_config(read_toml(path), str(path))

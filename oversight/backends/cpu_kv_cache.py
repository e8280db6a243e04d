"""How much memory vLLM's CPU build reserves for its KV cache when the user says nothing.

Left alone, vLLM's CPU worker reserves ``gpu_memory_utilization`` (90%) of the whole memory
node and refuses to start when other processes already hold some of it, which on a shared
machine or a laptop is always. So both the in-process engine and ``oversight serve`` pass an
explicit ``kv_cache_memory_bytes`` sized from the model and the memory free right now:

- wanted: what ``max_num_seqs`` sequences of ``max_model_len`` tokens would need
  (2 (K and V) x layers x KV heads x head dim x bytes per element, per token);
- at most ``FREE_FRACTION`` of the memory available after the weights are loaded: CPU memory
  is shared with everything else on the machine, unlike a GPU's;
- at least one sequence of ``max_model_len`` tokens, without which vLLM cannot start.

``VLLM_CPU_KVCACHE_SPACE`` (GiB), when set, always wins: vLLM reads it itself and no size
is computed here. So does ``--kv-cache-memory-bytes`` passed to ``oversight serve``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "FREE_FRACTION",
    "KVCachePlan",
    "KVLayout",
    "available_memory_bytes",
    "kv_cache_bytes",
    "kv_layout",
    "plan_cpu_kv_cache",
]

log = logging.getLogger(__name__)

ENV_VAR = "VLLM_CPU_KVCACHE_SPACE"
FREE_FRACTION = 0.1
"""Share of the available memory (after the weights) the KV cache may take by default."""
BLOCK_TOKENS = 128
"""vLLM's CPU block size: the cache is allocated in blocks of this many tokens."""
GiB = 1 << 30

_DTYPE_BYTES = {
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "fp8": 1,
    "float8": 1,
}


@dataclass(frozen=True)
class KVLayout:
    """The shape of one token's keys and values, read from a model's config."""

    layers: int
    kv_heads: int
    head_dim: int
    dtype_bytes: int

    @property
    def bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes


@dataclass(frozen=True)
class KVCachePlan:
    """The chosen size and what it was derived from, for the log line."""

    bytes: int
    wanted: int
    budget: int
    minimum: int
    available: int

    def describe(self) -> str:
        return (
            f"{self.bytes / GiB:.2f} GiB (wanted {self.wanted / GiB:.2f} GiB, at most "
            f"{self.budget / GiB:.2f} GiB = {FREE_FRACTION:.0%} of the "
            f"{self.available / GiB:.1f} GiB available after the weights, at least one "
            f"full-length sequence {self.minimum / GiB:.3f} GiB)"
        )


def kv_cache_bytes(
    layout: KVLayout,
    *,
    max_model_len: int,
    max_num_seqs: int,
    available: int,
    weights: int = 0,
    fraction: float = FREE_FRACTION,
) -> KVCachePlan:
    """The KV cache size for ``layout``: wanted, capped by the budget, never below one sequence.

    Sizes are whole blocks of :data:`BLOCK_TOKENS` tokens.
    """
    per_block = layout.bytes_per_token * BLOCK_TOKENS
    blocks_per_seq = math.ceil(max_model_len / BLOCK_TOKENS)
    wanted = per_block * blocks_per_seq * max_num_seqs
    minimum = per_block * blocks_per_seq
    free_after_weights = max(0, available - weights)
    budget = (int(free_after_weights * fraction) // per_block) * per_block
    size = max(minimum, min(wanted, budget))
    return KVCachePlan(size, wanted, budget, minimum, free_after_weights)


def available_memory_bytes() -> int:
    """Memory the kernel can give without swapping (``MemAvailable``), now."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise OSError("cannot read the available memory")


def _dtype_bytes(dtype: str, config: Mapping[str, object]) -> int:
    name = dtype.removeprefix("torch.")
    if name == "auto":
        # vLLM runs "auto" in the checkpoint's dtype on CPUs that support it.
        name = str(config.get("torch_dtype") or config.get("dtype") or "float32")
        name = name.removeprefix("torch.")
    return _DTYPE_BYTES.get(name, 4)


def kv_layout(model_dir: str | Path, dtype: str = "auto") -> KVLayout | None:
    """The KV layout of a local model folder, or None when it has no readable config."""
    path = Path(model_dir) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    text = config.get("text_config") or config
    try:
        heads = int(text["num_attention_heads"])
        layout = KVLayout(
            layers=int(text["num_hidden_layers"]),
            kv_heads=int(text.get("num_key_value_heads") or heads),
            head_dim=int(text.get("head_dim") or int(text["hidden_size"]) // heads),
            dtype_bytes=_dtype_bytes(dtype, text),
        )
    except (KeyError, TypeError, ValueError):
        return None
    return layout


def _weights_bytes(model_dir: Path, layout: KVLayout, config_dtype_bytes: int) -> int:
    """Size of the loaded weights: the checkpoint files, scaled to the dtype they run in."""
    files = [*model_dir.glob("*.safetensors"), *model_dir.glob("*.bin")]
    on_disk = sum(f.stat().st_size for f in files)
    return on_disk * layout.dtype_bytes // max(1, config_dtype_bytes)


def plan_cpu_kv_cache(
    model_dir: str | Path,
    *,
    dtype: str = "auto",
    max_model_len: int | None = None,
    max_num_seqs: int = 128,
    environ: Mapping[str, str] | None = None,
    available: int | None = None,
) -> KVCachePlan | None:
    """The default KV cache for serving ``model_dir`` on a CPU, or None to leave it to vLLM.

    None when ``VLLM_CPU_KVCACHE_SPACE`` is set (the user's setting wins) or the model's
    config cannot be read (a Hub id not downloaded yet). ``max_model_len`` None means the
    model's own context length; ``max_num_seqs`` is vLLM's default for both the in-process
    engine and the server on CPUs (128).
    """
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR, "") != "":
        log.info("CPU KV cache: %s=%s GiB, as set", ENV_VAR, env[ENV_VAR])
        return None
    layout = kv_layout(model_dir, dtype)
    if layout is None:
        log.warning("CPU KV cache: no config.json in %s; vLLM's default applies", model_dir)
        return None
    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text())
    text = config.get("text_config") or config
    if max_model_len is None:
        max_model_len = int(text.get("max_position_embeddings") or 2048)
    plan = kv_cache_bytes(
        layout,
        max_model_len=max_model_len,
        max_num_seqs=max_num_seqs,
        available=available_memory_bytes() if available is None else available,
        weights=_weights_bytes(folder, layout, _dtype_bytes("auto", text)),
    )
    if plan.budget < plan.minimum:
        log.warning(
            "CPU KV cache: one %d-token sequence needs %.2f GiB, more than the %.2f GiB "
            "budget; lower max_model_len or set %s",
            max_model_len,
            plan.minimum / GiB,
            plan.budget / GiB,
            ENV_VAR,
        )
    log.info("CPU KV cache for %s: %s", folder.name, plan.describe())
    return plan

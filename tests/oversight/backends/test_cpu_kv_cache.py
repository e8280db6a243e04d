"""The default CPU KV cache size, checked against sizes computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oversight.backends.cpu_kv_cache import (
    KVLayout,
    kv_cache_bytes,
    kv_layout,
    plan_cpu_kv_cache,
)

GiB = 1 << 30
# SmolLM2-135M in float32: 30 layers, 3 KV heads of 64: 2 * 30 * 3 * 64 * 4 = 46,080 B/token;
# one 128-token block is 5,898,240 B; a 2,048-token sequence 16 blocks = 94,371,840 B.
SMOL = KVLayout(layers=30, kv_heads=3, head_dim=64, dtype_bytes=4)


def test_bytes_per_token_is_keys_and_values_of_every_layer() -> None:
    assert SMOL.bytes_per_token == 46_080


def test_capped_at_a_tenth_of_the_memory_left_after_the_weights() -> None:
    # 128 x 2,048 tokens want 128 * 94,371,840 = 12,079,595,520 B. Budget: (20 GiB - 540 MB)
    # * 0.1 = 2,093,483,648 B, rounded down to whole blocks: 354 * 5,898,240 = 2,087,976,960.
    plan = kv_cache_bytes(
        SMOL, max_model_len=2048, max_num_seqs=128, available=20 * GiB, weights=540_000_000
    )
    assert plan.wanted == 12_079_595_520
    assert plan.budget == 2_087_976_960
    assert plan.bytes == 2_087_976_960


def test_no_more_than_the_sequences_need() -> None:
    # 4 sequences of 1,000 tokens, each rounded up to 8 blocks: 4 * 8 * 5,898,240 B.
    plan = kv_cache_bytes(SMOL, max_model_len=1000, max_num_seqs=4, available=20 * GiB)
    assert plan.bytes == 4 * 8 * 5_898_240 == 188_743_680


def test_never_below_one_full_length_sequence() -> None:
    plan = kv_cache_bytes(SMOL, max_model_len=2048, max_num_seqs=128, available=500 << 20)
    assert plan.budget < plan.minimum
    assert plan.bytes == plan.minimum == 94_371_840


def _write_config(folder: Path, **config: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_layout_from_a_config_with_grouped_query_attention(tmp_path: Path) -> None:
    # Qwen2.5-7B: 28 layers, 28 heads of 128 (hidden 3,584), 4 KV heads, bf16 checkpoint.
    folder = _write_config(
        tmp_path / "qwen",
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        hidden_size=3584,
        torch_dtype="bfloat16",
    )
    auto = kv_layout(folder)
    assert auto == KVLayout(layers=28, kv_heads=4, head_dim=128, dtype_bytes=2)
    assert auto.bytes_per_token == 57_344
    assert kv_layout(folder, "float32") == KVLayout(28, 4, 128, 4)


def test_user_setting_wins_and_unknown_models_are_left_to_vllm(tmp_path: Path) -> None:
    folder = _write_config(
        tmp_path / "m",
        num_hidden_layers=2,
        num_attention_heads=2,
        hidden_size=128,
        max_position_embeddings=1024,
    )
    assert plan_cpu_kv_cache(folder, environ={"VLLM_CPU_KVCACHE_SPACE": "3"}) is None
    assert plan_cpu_kv_cache(tmp_path / "no-config", environ={}) is None
    # No max_model_len: the model's own 1,024 positions; 2 * 2 * 2 * 64 * 4 = 2,048 B/token,
    # 8 blocks of 262,144 B per sequence, 128 sequences = 268,435,456 B, under the budget.
    plan = plan_cpu_kv_cache(folder, environ={}, available=20 * GiB)
    assert plan is not None
    assert plan.bytes == 268_435_456


def test_weights_are_counted_in_the_dtype_they_run_in(tmp_path: Path) -> None:
    folder = _write_config(
        tmp_path / "m",
        num_hidden_layers=2,
        num_attention_heads=2,
        hidden_size=128,
        torch_dtype="bfloat16",
    )
    (folder / "model.safetensors").write_bytes(b"\0" * 1000)
    # bf16 on disk, run in float32: 2,000 B of weights leave 10,000 - 2,000 = 8,000 B.
    plan = plan_cpu_kv_cache(
        folder, dtype="float32", max_model_len=128, environ={}, available=10_000
    )
    assert plan is not None
    assert plan.available == 8_000


@pytest.mark.parametrize("dtype", ["float16", "half", "bfloat16"])
def test_half_precision_halves_the_cache(tmp_path: Path, dtype: str) -> None:
    folder = _write_config(
        tmp_path / "m", num_hidden_layers=1, num_attention_heads=1, hidden_size=64
    )
    layout = kv_layout(folder, dtype)
    assert layout is not None and layout.bytes_per_token == 2 * 64 * 2

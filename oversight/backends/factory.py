"""Choosing a backend for a configured model."""

from __future__ import annotations

from oversight.backends.base import Backend
from oversight.config import ModelConfig


def make_backend(alias: str, cfg: ModelConfig) -> Backend:
    """A backend for one configured model; models load lazily on first use."""
    if cfg.backend == "transformers":
        from oversight.backends.transformers_backend import TransformersBackend

        return TransformersBackend(
            cfg.model,
            name=alias,
            device=cfg.device,
            dtype=cfg.dtype,
            max_batch_size=cfg.max_batch_size,
        )
    if cfg.backend == "vllm":
        from oversight.backends.vllm_backend import VLLMBackend

        return VLLMBackend(
            cfg.model,
            name=alias,
            dtype=cfg.dtype,
            max_model_len=cfg.max_model_len,
            gpu_memory_utilization=cfg.gpu_memory_utilization,
            tensor_parallel_size=cfg.tensor_parallel_size,
            enable_prefix_caching=cfg.enable_prefix_caching,
            enforce_eager=cfg.enforce_eager,
            lora=cfg.lora,
            max_lora_rank=cfg.max_lora_rank,
        )
    if cfg.backend == "openai":
        from oversight.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            cfg.model,
            name=alias,
            base_urls=cfg.base_urls,
            served_model=cfg.served_model,
            api_key_env=cfg.api_key_env,
            timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries,
            tokenizer=cfg.tokenizer,
            max_model_len=cfg.max_model_len,
        )
    raise ValueError(f"models.{alias}.backend: unknown backend {cfg.backend!r}")

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
    raise ValueError(f"models.{alias}.backend: unknown backend {cfg.backend!r}")

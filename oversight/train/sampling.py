"""Confidence as a sample weight: examples drawn in proportion to the judges' confidence.

TRL's trainers have no per-example loss weight. Sampling with replacement in proportion to a
weight gives the same expected gradient as weighting each example's loss, without touching
any trainer's loss code, so it works for SFT and DPO alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def with_sample_weights(base: type[Any]) -> type[Any]:
    """A subclass of the trainer class ``base`` whose training sampler is weighted.

    The subclass takes ``sample_weights`` (one per training example, in dataset order).
    """
    import torch
    from torch.utils.data import WeightedRandomSampler

    class Weighted(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, sample_weights: Sequence[float], **kwargs: Any) -> None:
            self._sample_weights = [float(w) for w in sample_weights]
            super().__init__(*args, **kwargs)

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            data = train_dataset if train_dataset is not None else self.train_dataset
            if len(data) != len(self._sample_weights):
                raise ValueError(
                    f"{len(self._sample_weights)} sample weights for {len(data)} training examples"
                )
            generator = torch.Generator().manual_seed(int(self.args.seed))
            return WeightedRandomSampler(
                self._sample_weights, num_samples=len(data), replacement=True, generator=generator
            )

    Weighted.__name__ = f"Weighted{base.__name__}"
    Weighted.__qualname__ = Weighted.__name__
    return Weighted

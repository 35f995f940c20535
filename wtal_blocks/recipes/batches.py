"""The order of training batches: a pure function of ``(seed, step)``, the same on any number of
processes and data-loader workers."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..data.base import FeatureDataset, PaddedBatch, pad_collate
from .distributed import Dist

__all__ = ["BatchOrder", "EpochIndexed", "StepBatchSampler", "collate_or_none"]

BatchOrder = Literal["epochs", "fresh_shuffle"]
"""``epochs``: each epoch visits every video once, in a fresh permutation (the last batch may
be short). ``fresh_shuffle``: the first epoch, then every batch is the first ``batch_size``
videos of a fresh permutation (BaS-Net's official loop, which re-creates its exhausted data
iterator at every later step)."""


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields, for global steps ``start .. stop-1``, this rank's ``(video, epoch)`` pairs.

    Epoch ``e`` visits the videos in ``randperm(N)`` seeded by ``(seed, e)``, in batches of
    ``batch_size`` (the last one smaller, as the official ``drop_last=False`` loaders). With
    ``order="fresh_shuffle"`` every step after the first epoch takes the first batch of its own
    permutation. Each global batch is cut into ``world`` contiguous parts.
    """

    def __init__(
        self,
        n_videos: int,
        batch_size: int,
        seed: int,
        start: int,
        stop: int,
        dist: Dist,
        order: BatchOrder = "epochs",
    ) -> None:
        if order not in ("epochs", "fresh_shuffle"):
            raise ValueError(f"batch order must be 'epochs' or 'fresh_shuffle', got {order!r}")
        self.n = n_videos
        self.batch_size = batch_size
        self.seed = seed
        self.start = start
        self.stop = stop
        self.dist = dist
        self.order = order
        self.steps_per_epoch = math.ceil(n_videos / batch_size)

    def _permutation(self, key: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + key)
        return torch.randperm(self.n, generator=g).tolist()

    def global_batch(self, step: int) -> tuple[list[int], int]:
        """The videos of global step ``step`` and the epoch they count for (their sampling)."""
        epoch, pos = divmod(step, self.steps_per_epoch)
        if self.order == "fresh_shuffle" and epoch > 0:
            epoch = self.steps_per_epoch + step  # one permutation of its own per step
            return self._permutation(epoch)[: self.batch_size], epoch
        return self._permutation(epoch)[pos * self.batch_size : (pos + 1) * self.batch_size], epoch

    def local_range(self, global_size: int) -> tuple[int, int]:
        """This rank's contiguous share ``[lo, hi)`` of a global batch of ``global_size``."""
        bounds = np.linspace(0, global_size, self.dist.world + 1).round().astype(int)
        return int(bounds[self.dist.rank]), int(bounds[self.dist.rank + 1])

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            videos, epoch = self.global_batch(step)
            lo, hi = self.local_range(len(videos))
            yield [(v, epoch) for v in videos[lo:hi]]

    def __len__(self) -> int:
        return self.stop - self.start


def collate_or_none(samples: list[Any]) -> PaddedBatch | None:
    """``pad_collate``, or None for a rank whose share of a small global batch is empty."""
    return pad_collate(samples) if samples else None


class EpochIndexed(Dataset[Any]):
    """Adapter: items are ``(index, epoch)`` so that workers need no shared epoch state."""

    def __init__(self, dataset: FeatureDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: tuple[int, int]) -> Any:
        index, epoch = item
        return self.dataset.get(index, epoch)

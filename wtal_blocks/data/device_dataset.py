"""A training set resident on the device, with the official random sampling done there.

A THUMOS'14-sized training set (200 videos, ~60k segments of 2048 float32 channels, as the
built-in synthetic one) takes about 0.5 GB: it fits in a GPU's memory many times over. :class:`DeviceFeatures` keeps every video
of a :class:`~wtal_blocks.data.FeatureDataset` in one flat ``(ΣL, F)`` buffer with per-video
offsets, and builds a training batch on the device: the official ``random_perturb`` sampling
(:func:`random_perturb_batch`, vectorised over the batch, drawn from a
:class:`torch.Generator` on the device) and one gather of the ``B × T`` sampled rows. A
training step then never waits for host data, a data-loader worker or a host-to-device copy,
and no step reads the device.

The sampling rule is the official one (:func:`~wtal_blocks.data.random_perturb`); the random
numbers come from the device generator instead of the host loader's per-video numpy
generators, so the two paths draw different (equally distributed) samples. Given the same
indices, :meth:`DeviceFeatures.gather` returns exactly the host loader's batch.

:class:`CachedSamples` keeps a test set's samples (deterministic: uniform or stretch sampling)
in host memory after their first read, so that evaluating every 1,000 steps reads and samples
the feature files once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .base import DataError, FeatureDataset, VideoSample

__all__ = ["CachedSamples", "DeviceFeatures", "random_perturb_batch"]


def random_perturb_batch(
    lengths: Tensor, num_segments: int, generator: torch.Generator | None = None
) -> Tensor:
    """The official training sampling of a batch of videos, on ``lengths.device``.

    Vectorised :func:`~wtal_blocks.data.random_perturb`: with ``s = arange(T) * L / T``, index
    ``i < T-1`` is drawn uniformly from ``[int(s_i), int(s_{i+1})]`` (both ends inclusive) when
    the two differ, else it is ``int(s_i)``; the last index is drawn from
    ``[int(s_{T-1}), L-1]``. A video with ``L == T`` takes every segment in order; a shorter one
    (``L < T``) is stretched by repetition. The slice bounds are computed in float64, as numpy
    computes them, so they are the official ones exactly.

    Args:
        lengths: ``(B,)`` int64 video lengths ``L >= 1`` (not re-checked: that would read the
            device).
        num_segments: ``T >= 1``.
        generator: the source of the uniform draws (on ``lengths.device``).

    Returns:
        ``(B, T)`` int64 indices, ``0 <= idx[b, t] < L_b``, non-decreasing along ``t``.

    Example:
        >>> import torch
        >>> idx = random_perturb_batch(torch.tensor([4, 2]), 4, torch.Generator().manual_seed(0))
        >>> idx.tolist()  # L == T: every segment; L < T: stretched
        [[0, 1, 2, 3], [0, 1, 1, 1]]
    """
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    if lengths.dim() != 1:
        raise ValueError(f"lengths must have shape (B,), got {tuple(lengths.shape)}")
    t = num_segments
    device = lengths.device
    length = lengths.to(torch.float64)[:, None]
    # int64(i * L / T) in float64: numpy's (arange(T) * L / T).astype(int64)
    base = (torch.arange(t, device=device, dtype=torch.float64)[None, :] * length / t).long()
    last = torch.maximum(base[:, -1:], lengths[:, None] - 1)
    upper = torch.cat([base[:, 1:], last], dim=1)
    span = upper - base + 1
    u = torch.rand(base.shape, generator=generator, device=device, dtype=torch.float64)
    # floor(u * span) is uniform on 0 .. span-1; the minimum guards the rounding of u * span up
    draw = base + torch.minimum((u * span.to(torch.float64)).long(), span - 1)
    picked = torch.where(upper > base, draw, base)
    every = torch.arange(t, device=device).expand_as(picked)
    return torch.where(lengths[:, None] == t, every, picked)


class DeviceFeatures:
    """Every video's features and labels on one device; batches sampled there.

    Build it with :meth:`from_dataset`. The features are one ``(ΣL, F)`` float32 buffer (video
    ``v`` occupies rows ``offsets[v] : offsets[v] + lengths[v]``), so memory is the dataset's
    own size, with no padding.

    Attributes:
        features: ``(ΣL, F)`` float32.
        offsets: ``(V,)`` int64 first row of each video.
        lengths: ``(V,)`` int64 ``L`` of each video.
        labels: ``(V, C)`` float32 multi-hot labels.
        num_segments: ``T``, the segments sampled per video.
    """

    def __init__(
        self,
        features: Tensor,
        offsets: Tensor,
        lengths: Tensor,
        labels: Tensor,
        num_segments: int,
    ) -> None:
        if features.dim() != 2 or offsets.dim() != 1 or lengths.shape != offsets.shape:
            raise ValueError(
                "features must be (N, F), offsets and lengths (V,), got "
                f"{tuple(features.shape)}, {tuple(offsets.shape)}, {tuple(lengths.shape)}"
            )
        if labels.dim() != 2 or labels.shape[0] != offsets.shape[0]:
            raise ValueError(
                f"labels must be (V, C) with V = {offsets.shape[0]}, got {tuple(labels.shape)}"
            )
        if num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {num_segments}")
        self.features = features
        self.offsets = offsets
        self.lengths = lengths
        self.labels = labels
        self.num_segments = num_segments

    @staticmethod
    def nbytes(dataset: FeatureDataset) -> int:
        """Device memory :meth:`from_dataset` takes for ``dataset`` (features and labels)."""
        total = int(np.asarray(dataset.lengths, dtype=np.int64).sum())
        return 4 * (total * dataset.feature_dim + dataset.labels.size) + 16 * len(dataset)

    @staticmethod
    def fits(dataset: FeatureDataset, device: torch.device, fraction: float = 0.5) -> bool:
        """Whether ``dataset`` takes at most ``fraction`` of the device's free memory (always
        True off CUDA, where host memory holds it anyway)."""
        if device.type != "cuda":
            return True
        free, _ = torch.cuda.mem_get_info(device)
        return DeviceFeatures.nbytes(dataset) <= fraction * free

    @classmethod
    def from_dataset(cls, dataset: FeatureDataset, device: torch.device | str) -> DeviceFeatures:
        """Copy every video of ``dataset`` to ``device`` (its full ``(L, F)`` features, float32).

        Each video is read once (``dataset.load_features``) and checked to be finite.

        Raises:
            DataError: a video whose features contain NaN or inf, or whose length or width
                contradicts the dataset's.
        """
        device = torch.device(device)
        lengths_np = np.asarray(dataset.lengths, dtype=np.int64)
        offsets_np = np.concatenate([[0], np.cumsum(lengths_np)[:-1]]).astype(np.int64)
        width = dataset.feature_dim
        flat = torch.empty((int(lengths_np.sum()), width), dtype=torch.float32, device=device)
        for v in range(len(dataset)):
            feats = np.array(dataset.load_features(v), dtype=np.float32)  # own, writable copy
            if feats.shape != (lengths_np[v], width):
                raise DataError(
                    f"video {dataset.video_ids[v]}: features of shape {feats.shape}, expected "
                    f"({lengths_np[v]}, {width})"
                )
            if not np.isfinite(feats).all():
                raise DataError(f"video {dataset.video_ids[v]}: features contain NaN or inf")
            start = int(offsets_np[v])
            flat[start : start + feats.shape[0]].copy_(torch.from_numpy(feats))
        return cls(
            flat,
            torch.from_numpy(offsets_np).to(device),
            torch.from_numpy(lengths_np).to(device),
            torch.from_numpy(np.asarray(dataset.labels, dtype=np.float32)).to(device),
            dataset.num_segments,
        )

    @property
    def device(self) -> torch.device:
        return self.features.device

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def sample_indices(self, videos: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``(B, T)`` official random sampling of ``videos (B,)`` (:func:`random_perturb_batch`)."""
        return random_perturb_batch(self.lengths[videos], self.num_segments, generator)

    def gather(
        self,
        videos: Tensor,
        indices: Tensor,
        *,
        out: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The batch of ``videos (B,)`` at segment ``indices (B, T)``: ``(features (B, T, F),
        labels (B, C))``, exactly the host loader's batch for the same indices.

        Args:
            videos: ``(B,)`` int64 dataset positions, on the device.
            indices: ``(B, T)`` int64 segment indices within each video, ``< L``.
            out: optional ``(features, labels)`` buffers to write into (a captured training
                step's static inputs), contiguous and of the right shapes.
        """
        b, t = indices.shape
        rows = (self.offsets[videos][:, None] + indices).reshape(-1)
        if out is None:
            feats = self.features.index_select(0, rows).view(b, t, -1)
            return feats, self.labels.index_select(0, videos)
        feats, labels = out
        torch.index_select(self.features, 0, rows, out=feats.view(b * t, -1))
        torch.index_select(self.labels, 0, videos, out=labels)
        return feats, labels

    def batch(
        self,
        videos: Tensor,
        generator: torch.Generator | None = None,
        *,
        out: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """A training batch of ``videos (B,)``: sampled (:meth:`sample_indices`) and gathered."""
        return self.gather(videos, self.sample_indices(videos, generator), out=out)

    def videos_tensor(self, videos: Sequence[int]) -> Tensor:
        """``videos`` as an int64 tensor on the device, copied without waiting for the device
        (from pinned memory on CUDA)."""
        host = torch.tensor(list(videos), dtype=torch.long)
        if self.device.type == "cuda":
            return host.pin_memory().to(self.device, non_blocking=True)
        return host.to(self.device)


class CachedSamples(FeatureDataset):
    """``dataset`` with each sample kept after its first read (test sampling is deterministic,
    so every later evaluation gets the very same samples without touching the files).

    Args:
        dataset: a dataset with ``uniform`` or ``stretch`` sampling.

    Raises:
        ValueError: random sampling (each epoch draws other samples).
    """

    def __init__(self, dataset: FeatureDataset) -> None:
        if dataset.sampling == "random":
            raise ValueError("random sampling draws new samples every epoch: nothing to cache")
        super().__init__(dataset.num_segments, dataset.sampling, dataset.seed)
        self.dataset = dataset
        self.video_ids = dataset.video_ids
        self.labels = dataset.labels
        self.lengths = dataset.lengths
        self.durations = dataset.durations
        self.class_names = dataset.class_names
        self.time_from_duration = dataset.time_from_duration
        self._samples: dict[int, VideoSample] = {}

    @staticmethod
    def nbytes(dataset: FeatureDataset) -> int:
        """Host memory the samples of ``dataset`` take once all are cached."""
        lengths = np.asarray(dataset.lengths, dtype=np.int64)
        t = dataset.num_segments
        kept = np.full_like(lengths, t) if dataset.sampling == "stretch" else np.minimum(lengths, t)
        return 4 * int(kept.sum()) * dataset.feature_dim

    @property
    def feature_dim(self) -> int:
        return self.dataset.feature_dim

    def load_features(self, index: int) -> np.ndarray:
        return self.dataset.load_features(index)

    def ground_truth(self) -> dict[str, Any]:
        return self.dataset.ground_truth()

    def get(self, index: int, epoch: int) -> VideoSample:
        sample = self._samples.get(index)
        if sample is None:
            sample = self._samples[index] = self.dataset.get(index, epoch)
        return sample

    def read_sampled(
        self, index: int, epoch: int | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        feats = self.get(index, self.epoch if epoch is None else epoch).features.numpy()
        if out is None:
            return feats
        out[...] = feats
        return out

    def __repr__(self) -> str:
        return f"CachedSamples({self.dataset!r}, cached={len(self._samples)})"

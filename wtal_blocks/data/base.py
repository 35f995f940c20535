"""Common machinery of the feature datasets: sampling, labels, errors, padded batches."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .sampling import random_perturb, uniform_sampling

__all__ = [
    "BatchReader",
    "DataError",
    "FeatureDataset",
    "FileFeatureDataset",
    "PaddedBatch",
    "Sampling",
    "VideoSample",
    "load_npy",
    "pad_collate",
]

Sampling = Literal["random", "uniform", "stretch"]
"""Segment sampling: ``random`` perturbation (training), ``uniform`` (test; all ``L`` segments
when ``L <= T``) or ``stretch`` (test; always ``T`` segments, as BaS-Net)."""


class DataError(ValueError):
    """A dataset file is missing, corrupt or inconsistent; the message names the path."""


@dataclass(frozen=True)
class VideoSample:
    """One sampled video.

    Attributes:
        features: ``(T, F)`` float32 sampled features (``T = min(L, num_segments)`` for uniform
            sampling, ``num_segments`` for random sampling).
        label: ``(C,)`` float32 multi-hot video-level label.
        video_id: the video name.
        length: ``L``, the video's original number of feature segments.
        duration: the video's duration in seconds (``L * frames_per_segment / fps`` when the
            annotations give none).
        index: position in the dataset.
    """

    features: Tensor
    label: Tensor
    video_id: str
    length: int
    duration: float
    index: int


@dataclass(frozen=True)
class PaddedBatch:
    """A batch of videos padded to a common length.

    Attributes:
        features: ``(B, T_max, F)``, zero-padded.
        mask: ``(B, T_max)`` bool, True for real segments.
        labels: ``(B, C)``.
        video_ids: ``B`` names.
        lengths: ``(B,)`` int64 original lengths ``L``.
        durations: ``(B,)`` float64 seconds.
        indices: ``(B,)`` int64 dataset positions.
    """

    features: Tensor
    mask: Tensor
    labels: Tensor
    video_ids: list[str]
    lengths: Tensor
    durations: Tensor
    indices: Tensor

    def to(self, device: torch.device | str) -> PaddedBatch:
        """The tensors moved to ``device`` (names stay on the host)."""
        return PaddedBatch(
            self.features.to(device, non_blocking=True),
            self.mask.to(device, non_blocking=True),
            self.labels.to(device, non_blocking=True),
            self.video_ids,
            self.lengths,
            self.durations,
            self.indices,
        )

    @property
    def uniform_length(self) -> bool:
        """True when no video is padded (the mask can be dropped)."""
        return bool(self.mask.all())


def pad_collate(samples: Sequence[VideoSample]) -> PaddedBatch:
    """Collate :class:`VideoSample` s of different lengths into a :class:`PaddedBatch`."""
    if not samples:
        raise ValueError("pad_collate got an empty batch")
    t_max = max(s.features.shape[0] for s in samples)
    f_dim = samples[0].features.shape[1]
    feats = torch.zeros(len(samples), t_max, f_dim, dtype=samples[0].features.dtype)
    mask = torch.zeros(len(samples), t_max, dtype=torch.bool)
    for n, s in enumerate(samples):  # one copy per video, not per segment
        feats[n, : s.features.shape[0]] = s.features
        mask[n, : s.features.shape[0]] = True
    return PaddedBatch(
        features=feats,
        mask=mask,
        labels=torch.stack([s.label for s in samples]),
        video_ids=[s.video_id for s in samples],
        lengths=torch.tensor([s.length for s in samples], dtype=torch.long),
        durations=torch.tensor([s.duration for s in samples], dtype=torch.float64),
        indices=torch.tensor([s.index for s in samples], dtype=torch.long),
    )


def read_annotations(path: Path) -> dict[str, Any]:
    """An ActivityNet-style annotation file (``{"database": {...}}``, ``.gz`` too).

    Raises:
        DataError: missing, unreadable, malformed (including JSON nested too deeply or numbers
            too long to convert), or without a ``database`` object; the message names the path.
    """
    from ..evaluation.errors import EvaluationInputError
    from ..evaluation.io import read_json

    try:
        data = read_json(path, "annotation")
    except EvaluationInputError as exc:
        raise DataError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise DataError(f"{path}: missing the 'database' object")
    return data


def load_npy(path: Path, *, mmap: bool = True) -> np.ndarray:
    """Open a ``(L, F)`` feature file, memory-mapped; errors name the path and the problem."""
    if not path.is_file():
        raise DataError(f"{path}: feature file not found")
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as exc:  # corrupt header, truncated file, pickled object ...
        raise DataError(f"{path}: not a readable .npy feature file ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise DataError(
            f"{path}: expected a (L, feature_dim) array of L feature segments, got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{path}: expected floating-point features, got dtype {arr.dtype}")
    return arr


def npy_shape(path: Path) -> tuple[int, int]:
    """``(L, F)`` of a feature file from its header alone, with the checks of :func:`load_npy`.

    Reads a few hundred bytes instead of mapping the file (the test set's index opens every
    file once). A truncated file is refused here too: its size must hold the array.
    """
    if not path.is_file():
        raise DataError(f"{path}: feature file not found")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # other versions: let numpy read it
                return load_npy(path).shape
            data_start = f.tell()
            size = os.fstat(f.fileno()).st_size
    except Exception as exc:  # not an .npy file, a corrupt header ...
        raise DataError(f"{path}: not a readable .npy feature file ({exc})") from None
    if len(shape) != 2 or shape[0] < 1:
        raise DataError(
            f"{path}: expected a (L, feature_dim) array of L feature segments, got shape {shape}"
        )
    if not np.issubdtype(dtype, np.floating):
        raise DataError(f"{path}: expected floating-point features, got dtype {dtype}")
    if size - data_start < shape[0] * shape[1] * dtype.itemsize:
        raise DataError(
            f"{path}: truncated .npy feature file ({size - data_start} bytes of data for an "
            f"array of shape {shape})"
        )
    return int(shape[0]), int(shape[1])


class FeatureDataset(Dataset[VideoSample]):
    """Base of the feature datasets: per-video labels, official sampling, seeded randomness.

    Subclasses fill ``video_ids``, ``labels (V, C)``, ``lengths (V,)``, ``durations (V,)``,
    ``class_names`` and implement :meth:`load_features`.

    Random sampling is seeded per item from ``(seed, epoch, index)``, so results do not depend
    on the number of data-loader workers: ``get(index, epoch)`` draws a given epoch's sample
    (the recipe's loader passes the epoch with each index); ``dataset[index]`` uses the epoch
    set with :meth:`set_epoch`.
    """

    video_ids: list[str]
    time_from_duration: bool = False
    """True: detection times come from ``duration`` (ActivityNet); False: from ``L`` and the
    feature rate, as the official THUMOS'14 code computes them."""
    labels: np.ndarray
    lengths: np.ndarray
    durations: np.ndarray
    class_names: list[str]

    def __init__(self, num_segments: int, sampling: Sampling, seed: int) -> None:
        if num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {num_segments}")
        if sampling not in ("random", "uniform", "stretch"):
            raise ValueError(f"sampling must be 'random', 'uniform' or 'stretch', got {sampling!r}")
        self.num_segments = num_segments
        self.sampling: Sampling = sampling
        self.seed = seed
        self.epoch = 0

    # -- to implement -------------------------------------------------------------
    def load_features(self, index: int) -> np.ndarray:
        """The full ``(L, F)`` features of video ``index`` (may be memory-mapped)."""
        raise NotImplementedError

    def load_sampled(
        self, index: int, segments: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows ``segments`` of video ``index``'s features, ``(len(segments), F)``.

        With ``out`` (float32, that shape) the rows are written there and ``out`` is returned.
        The default indexes :meth:`load_features`; file-backed datasets read only these rows.
        """
        rows = np.asarray(self.load_features(index)[segments])
        if out is None:
            return rows
        out[...] = rows
        return out

    def source(self, index: int) -> str:
        """Where video ``index``'s features come from, for error messages."""
        return f"{type(self).__name__} video {index}"

    def ground_truth(self) -> dict[str, Any]:
        """The dataset's annotations as an ActivityNet-style ``{"database": ...}`` dict."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def feature_dim(self) -> int:
        return int(self.load_features(0).shape[1])

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose random sampling ``dataset[i]`` returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.video_ids)

    def sample_indices(self, index: int, epoch: int | None = None) -> np.ndarray:
        length = int(self.lengths[index])
        if self.sampling != "random":
            return uniform_sampling(length, self.num_segments, stretch=self.sampling == "stretch")
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, index])
        return random_perturb(length, self.num_segments, rng)

    def __getitem__(self, index: int) -> VideoSample:
        return self.get(index, self.epoch)

    def get(self, index: int, epoch: int) -> VideoSample:
        """Video ``index`` sampled as in ``epoch`` (random sampling depends on it)."""
        sampled = self.read_sampled(index, epoch)
        return VideoSample(
            features=torch.from_numpy(sampled),
            label=torch.from_numpy(self.labels[index].astype(np.float32)),
            video_id=self.video_ids[index],
            length=int(self.lengths[index]),
            duration=float(self.durations[index]),
            index=index,
        )

    def read_sampled(
        self, index: int, epoch: int | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Video ``index``'s sampled features as float32 ``(T_v, F)``, checked to be finite.

        ``out`` (optional): a float32 ``(T_v, F)`` array to write them into (see
        :class:`BatchReader`); ``T_v`` is ``len(sample_indices(index, epoch))``.

        Raises:
            DataError: a NaN or inf value, naming the file, the video, the segment and channel.
        """
        idx = self.sample_indices(index, epoch)
        if out is None:
            sampled = np.ascontiguousarray(self.load_sampled(index, idx), dtype=np.float32)
        else:
            sampled = self.load_sampled(index, idx, out=out)
        # a finite sum proves every value finite (NaN and inf propagate); only a sum that is not
        # finite, or that overflowed, takes the element-wise look
        with np.errstate(over="ignore", invalid="ignore"):
            total = sampled.sum()
        if not np.isfinite(total) and not np.isfinite(sampled).all():
            row, col = np.argwhere(~np.isfinite(sampled))[0]
            raise DataError(
                f"{self.source(index)}: the features of video {self.video_ids[index]!r} contain "
                f"NaN or inf (segment {int(idx[row])}, channel {int(col)})"
            )
        return sampled


class BatchReader:
    """Padded batches of a dataset's videos, read into one reused buffer.

    :func:`pad_collate` allocates a new ``(B, T_max, F)`` tensor per batch, and a fresh
    allocation of tens of megabytes is page-faulted in (zeroed by the kernel) every time; at
    test time that costs more than reading the features. The reader writes each video's
    sampled rows straight into a buffer that grows to the largest batch and is reused, so a
    batch costs the copy of its rows and the zeroing of its padding.

    The features of a returned batch are valid until the next call (copy them, or move them to
    another device, to keep them).

    Args:
        dataset: any :class:`FeatureDataset`.
    """

    def __init__(self, dataset: FeatureDataset) -> None:
        self.dataset = dataset
        self._buffer = torch.empty(0)
        self._feature_dim: int | None = None

    def __call__(self, indices: Sequence[int], epoch: int | None = None) -> PaddedBatch:
        """The videos ``indices`` (sampled as in ``epoch``) as a :class:`PaddedBatch`."""
        ds = self.dataset
        if not indices:
            raise ValueError("BatchReader got an empty batch")
        counts = [len(ds.sample_indices(i, epoch)) for i in indices]
        if self._feature_dim is None:
            self._feature_dim = ds.feature_dim
        t_max, f_dim = max(counts), self._feature_dim
        size = len(indices) * t_max * f_dim
        if self._buffer.numel() < size:
            self._buffer = torch.empty(size, dtype=torch.float32)
        feats = self._buffer[:size].view(len(indices), t_max, f_dim)
        view = feats.numpy()
        mask = torch.zeros(len(indices), t_max, dtype=torch.bool)
        for n, (i, count) in enumerate(zip(indices, counts, strict=True)):  # one copy per video
            ds.read_sampled(i, epoch, out=view[n, :count])
            view[n, count:] = 0.0
            mask[n, :count] = True
        return PaddedBatch(
            features=feats,
            mask=mask,
            labels=torch.from_numpy(ds.labels[list(indices)].astype(np.float32)),
            video_ids=[ds.video_ids[i] for i in indices],
            lengths=torch.tensor([int(ds.lengths[i]) for i in indices], dtype=torch.long),
            durations=torch.tensor([float(ds.durations[i]) for i in indices], dtype=torch.float64),
            indices=torch.tensor(list(indices), dtype=torch.long),
        )


class FileFeatureDataset(FeatureDataset):
    """A :class:`FeatureDataset` whose features are ``.npy`` files, one per stream and video.

    Subclasses set ``_paths`` (per video, the files of its streams, concatenated along
    channels in that order) and ``annotations`` (the ActivityNet-style dict), and call
    :meth:`_scan` to check the files and read the lengths.
    """

    _paths: list[list[Path]]
    annotations: dict[str, Any]

    def _scan(self) -> np.ndarray:
        """Lengths ``L`` of every video; a missing/corrupt file or a stream length mismatch raises."""
        lengths = []
        widths: list[int] | None = None
        seen: set[str] = set()
        for vid, paths in zip(self.video_ids, self._paths, strict=True):
            if vid in seen:
                raise DataError(f"video {vid} is listed twice")
            seen.add(vid)
            shapes = [npy_shape(p) for p in paths]
            if len({s[0] for s in shapes}) != 1:
                detail = ", ".join(
                    f"{p}: {s[0]} segments" for p, s in zip(paths, shapes, strict=True)
                )
                raise DataError(f"video {vid}: stream lengths differ ({detail})")
            if widths is None:
                widths = [s[1] for s in shapes]
            elif [s[1] for s in shapes] != widths:
                bad = next(p for p, s, w in zip(paths, shapes, widths, strict=True) if s[1] != w)
                raise DataError(
                    f"{bad}: feature size {npy_shape(bad)[1]} differs from the other videos' {widths}"
                )
            lengths.append(shapes[0][0])
        return np.asarray(lengths, dtype=np.int64)

    def source(self, index: int) -> str:
        return " + ".join(str(p) for p in self._paths[index])

    def load_features(self, index: int) -> np.ndarray:
        arrays = [load_npy(p) for p in self._paths[index]]
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=1)

    def load_sampled(
        self, index: int, segments: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        # sample each (memory-mapped) stream before joining them: only the sampled rows are read
        arrays = [load_npy(p) for p in self._paths[index]]
        if len(arrays) == 1 and out is None:
            return np.asarray(arrays[0][segments])
        if out is None:
            out = np.empty((len(segments), sum(a.shape[1] for a in arrays)), dtype=np.float32)
        if len(arrays) == 1 and arrays[0].dtype == out.dtype:
            # the indices are in range by construction; "clip" writes straight into ``out``
            return np.take(arrays[0], segments, axis=0, out=out, mode="clip")
        start = 0
        for a in arrays:  # one copy per stream (two: RGB and flow)
            out[:, start : start + a.shape[1]] = a[segments]
            start += a.shape[1]
        return out

    def ground_truth(self) -> dict[str, Any]:
        return self.annotations


def labels_from_annotations(
    source: os.PathLike[str] | str,
    video_ids: Sequence[str],
    database: dict[str, Any],
    class_names: Sequence[str],
) -> np.ndarray:
    """Multi-hot ``(V, C)`` labels from ActivityNet-style annotations, with clear errors."""
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.zeros((len(video_ids), len(class_names)), dtype=np.float32)
    for v, vid in enumerate(video_ids):
        entry = database.get(vid)
        if entry is None:
            raise DataError(f"{source}: video {vid!r} is in the split but not in the annotations")
        for a, ann in enumerate(entry.get("annotations", [])):
            label = ann.get("label") if isinstance(ann, dict) else None
            if label not in index:
                raise DataError(
                    f"{source}: video {vid!r} annotation {a} has label {label!r}, which is not in the "
                    f"class list ({len(class_names)} classes)"
                )
            labels[v, index[label]] = 1.0
    return labels

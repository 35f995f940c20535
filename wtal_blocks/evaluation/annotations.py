"""Plain containers for evaluation input: ground truth and predictions as flat arrays.

Everything is stored column-wise (one array per field, one row per segment) with videos and
labels as integer indices into small vocabularies, so that evaluation never loops over items
in Python. The I/O functions in :mod:`wtal_blocks.evaluation.io` build these containers; the
metric objects accept the same data directly from a training loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["GroundTruth", "Predictions", "Thumos14Annotations"]


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Ground-truth action instances of one subset (ActivityNet JSON ``database``).

    Attributes:
        video_ids: every video of the subset, including videos with no annotation.
        class_names: the class vocabulary; ``labels`` index into it.
        segments: ``(G, 2)`` float64 ``[start, end]`` in seconds, ``start <= end``.
        labels: ``(G,)`` int64 class index of each instance.
        videos: ``(G,)`` int64 index into ``video_ids`` of each instance.
        subset: the subset these videos belong to (``None``: all videos of the file).
    """

    video_ids: tuple[str, ...]
    class_names: tuple[str, ...]
    segments: NDArray[np.float64]
    labels: NDArray[np.int64]
    videos: NDArray[np.int64]
    subset: str | None = None
    durations: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True, eq=False)
class Predictions:
    """Scored, labelled segments (ActivityNet JSON ``results`` or THUMOS text results).

    Attributes:
        video_ids: video vocabulary; ``videos`` index into it.
        label_names: label vocabulary as written in the file (class names, or UCF101 class ids
            as text for the THUMOS'14 format); ``labels`` index into it.
        segments: ``(N, 2)`` float64 ``[start, end]``, ``start <= end``.
        scores: ``(N,)`` float64 confidence; higher is more confident.
        labels: ``(N,)`` int64 index into ``label_names``.
        videos: ``(N,)`` int64 index into ``video_ids``.
    """

    video_ids: tuple[str, ...]
    label_names: tuple[str, ...]
    segments: NDArray[np.float64]
    scores: NDArray[np.float64]
    labels: NDArray[np.int64]
    videos: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True, eq=False)
class Thumos14Annotations:
    """The official THUMOS'14 temporal annotations (per-class files + ``Ambiguous``).

    Attributes:
        class_names: the detection classes in ``detclasslist.txt`` order.
        class_ids: their UCF101 class ids.
        video_ids: video vocabulary (videos of the class files and of ``Ambiguous``).
        segments: ``(G, 2)`` float64 instances, in class order then file order.
        labels: ``(G,)`` int64 index into ``class_names``.
        videos: ``(G,)`` int64 index into ``video_ids``.
        ambiguous_segments: ``(A, 2)`` float64 segments of ``Ambiguous_<subset>.txt``.
        ambiguous_videos: ``(A,)`` int64 index into ``video_ids``.
        subset: ``"test"`` or ``"val"``.
    """

    class_names: tuple[str, ...]
    class_ids: tuple[int, ...]
    video_ids: tuple[str, ...]
    segments: NDArray[np.float64]
    labels: NDArray[np.int64]
    videos: NDArray[np.int64]
    ambiguous_segments: NDArray[np.float64]
    ambiguous_videos: NDArray[np.int64]
    subset: str = "test"

    def __len__(self) -> int:
        return int(self.labels.shape[0])

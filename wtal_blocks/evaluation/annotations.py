"""Plain containers for evaluation input: ground truth and predictions as flat arrays.

Everything is stored column-wise (one array per field, one row per segment) with videos and
labels as integer indices into small vocabularies, so that evaluation never loops over items
in Python. The I/O functions in :mod:`wtal_blocks.evaluation.io` build these containers; the
metric objects accept the same data directly from a training loop.

Every container checks itself when it is built (by the loaders or by hand): vocabularies are
tuples of distinct strings; arrays are numpy arrays of the documented shape (integer arrays
are stored as int64, numeric ones as float64), finite, with ``end >= start`` and indices inside
their vocabulary. A type problem raises ``TypeError``, a value problem
:class:`~wtal_blocks.evaluation.EvaluationInputError`, naming the container, the field and the
first bad row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import EvaluationInputError

__all__ = ["GroundTruth", "Predictions", "Thumos14Annotations"]


def _vocab(owner: object, name: str, value: Any) -> tuple[str, ...]:
    where = f"{type(owner).__name__}.{name}"
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{where} must be a tuple of strings, got {type(value).__name__}")
    out = tuple(value)
    for i, item in enumerate(out):
        if not isinstance(item, str):
            raise TypeError(f"{where}[{i}] must be a string, got {type(item).__name__}")
    if len(set(out)) != len(out):
        seen: set[str] = set()
        dup = next(x for x in out if x in seen or seen.add(x))  # type: ignore[func-returns-value]
        raise EvaluationInputError(f"{where} repeats {dup!r}", field=where)
    return out


def _array(
    owner: object, name: str, value: Any, kind: str, shape: tuple[int | None, ...]
) -> NDArray[Any]:
    """A numpy array of ``kind`` ("f": float64, "i": int64) and ``shape`` (None: any)."""
    where = f"{type(owner).__name__}.{name}"
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{where} must be a numpy array, got {type(value).__name__} (wrap it in np.asarray)"
        )
    allowed = "iu" if kind == "i" else "fiu"
    if value.dtype.kind not in allowed:
        wanted = "integers" if kind == "i" else "numbers"
        raise TypeError(f"{where} must hold {wanted}, got dtype {value.dtype}")
    if value.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(value.shape, shape, strict=True)
    ):
        text = (
            "("
            + ", ".join("N" if w is None else str(w) for w in shape)
            + ("," if len(shape) == 1 else "")
            + ")"
        )
        raise EvaluationInputError(
            f"{where} must have shape {text}, got {value.shape}", field=where
        )
    out = value.astype(np.int64 if kind == "i" else np.float64, copy=False)
    if kind == "f":
        finite = np.isfinite(out)
        if not finite.all():
            row = int(np.argmin(finite.reshape(finite.shape[0], -1).all(axis=1)))
            raise EvaluationInputError(
                f"{where}[{row}] = {out[row].tolist()} is not finite (NaN or inf)",
                field=where,
                index=row,
            )
    return out


def _same_length(owner: object, n: int, **arrays: NDArray[Any]) -> None:
    for name, arr in arrays.items():
        if arr.shape[0] != n:
            raise EvaluationInputError(
                f"{type(owner).__name__}.{name} has {arr.shape[0]} rows, the segments {n}",
                field=f"{type(owner).__name__}.{name}",
            )


def _ordered(owner: object, name: str, seg: NDArray[np.float64]) -> None:
    bad = seg[:, 1] < seg[:, 0]
    if bad.any():
        row = int(np.argmax(bad))
        raise EvaluationInputError(
            f"{type(owner).__name__}.{name}[{row}] = {seg[row].tolist()} ends before it starts",
            field=f"{type(owner).__name__}.{name}",
            index=row,
        )


def _indices(owner: object, name: str, arr: NDArray[np.int64], size: int, vocab: str) -> None:
    if arr.size == 0:
        return
    bad = (arr < 0) | (arr >= size)
    if bad.any():
        row = int(np.argmax(bad))
        raise EvaluationInputError(
            f"{type(owner).__name__}.{name}[{row}] = {int(arr[row])} is not an index into "
            f"{vocab} ({size} entries)",
            field=f"{type(owner).__name__}.{name}",
            index=row,
        )


def _set(owner: object, **values: Any) -> None:
    for name, value in values.items():
        object.__setattr__(owner, name, value)


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

    def __post_init__(self) -> None:
        video_ids = _vocab(self, "video_ids", self.video_ids)
        class_names = _vocab(self, "class_names", self.class_names)
        seg = _array(self, "segments", self.segments, "f", (None, 2))
        labels = _array(self, "labels", self.labels, "i", (None,))
        videos = _array(self, "videos", self.videos, "i", (None,))
        _same_length(self, seg.shape[0], labels=labels, videos=videos)
        _ordered(self, "segments", seg)
        _indices(self, "labels", labels, len(class_names), "class_names")
        _indices(self, "videos", videos, len(video_ids), "video_ids")
        if self.subset is not None and not isinstance(self.subset, str):
            raise TypeError(f"GroundTruth.subset must be a string or None, got {self.subset!r}")
        if not isinstance(self.durations, dict):
            raise TypeError(
                f"GroundTruth.durations must be a dict, got {type(self.durations).__name__}"
            )
        _set(
            self,
            video_ids=video_ids,
            class_names=class_names,
            segments=seg,
            labels=labels,
            videos=videos,
        )

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

    def __post_init__(self) -> None:
        video_ids = _vocab(self, "video_ids", self.video_ids)
        label_names = _vocab(self, "label_names", self.label_names)
        seg = _array(self, "segments", self.segments, "f", (None, 2))
        scores = _array(self, "scores", self.scores, "f", (None,))
        labels = _array(self, "labels", self.labels, "i", (None,))
        videos = _array(self, "videos", self.videos, "i", (None,))
        _same_length(self, seg.shape[0], scores=scores, labels=labels, videos=videos)
        _ordered(self, "segments", seg)
        _indices(self, "labels", labels, len(label_names), "label_names")
        _indices(self, "videos", videos, len(video_ids), "video_ids")
        _set(
            self,
            video_ids=video_ids,
            label_names=label_names,
            segments=seg,
            scores=scores,
            labels=labels,
            videos=videos,
        )

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

    def __post_init__(self) -> None:
        class_names = _vocab(self, "class_names", self.class_names)
        video_ids = _vocab(self, "video_ids", self.video_ids)
        if isinstance(self.class_ids, (str, bytes)) or not isinstance(
            self.class_ids, (tuple, list)
        ):
            raise TypeError(
                f"Thumos14Annotations.class_ids must be a tuple of ints, got "
                f"{type(self.class_ids).__name__}"
            )
        class_ids = tuple(self.class_ids)
        if len(class_ids) != len(class_names) or not all(
            isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in class_ids
        ):
            raise TypeError("Thumos14Annotations.class_ids must hold one int per class name")
        seg = _array(self, "segments", self.segments, "f", (None, 2))
        labels = _array(self, "labels", self.labels, "i", (None,))
        videos = _array(self, "videos", self.videos, "i", (None,))
        _same_length(self, seg.shape[0], labels=labels, videos=videos)
        _ordered(self, "segments", seg)
        _indices(self, "labels", labels, len(class_names), "class_names")
        _indices(self, "videos", videos, len(video_ids), "video_ids")
        amb = _array(self, "ambiguous_segments", self.ambiguous_segments, "f", (None, 2))
        amb_v = _array(self, "ambiguous_videos", self.ambiguous_videos, "i", (None,))
        if amb_v.shape[0] != amb.shape[0]:
            raise EvaluationInputError(
                "Thumos14Annotations.ambiguous_videos must have one entry per ambiguous segment",
                field="Thumos14Annotations.ambiguous_videos",
            )
        _ordered(self, "ambiguous_segments", amb)
        _indices(self, "ambiguous_videos", amb_v, len(video_ids), "video_ids")
        _set(
            self,
            class_names=class_names,
            class_ids=tuple(int(c) for c in class_ids),
            video_ids=video_ids,
            segments=seg,
            labels=labels,
            videos=videos,
            ambiguous_segments=amb,
            ambiguous_videos=amb_v,
        )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

"""The ActivityNet-protocol detection mAP as a metric object (update / compute / reset)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._arrays import as_numpy, check_labels, check_scores, check_segments
from .annotations import GroundTruth
from .detection import (
    ACTIVITYNET_TIOU_THRESHOLDS,
    ThresholdSpec,
    _average_precision,
    _label_lookup,
    _thresholds,
    _unknown_label_error,
)
from .errors import EvaluationInputError
from .result import DetectionResult

__all__ = ["DetectionMAP"]


class DetectionMAP:
    """ActivityNet-protocol detection mAP as a metric object (torchmetrics style).

    Usable in a training loop without files::

        metric = DetectionMAP(class_names, tiou_thresholds="0.1:0.7:0.1")
        metric.add_ground_truth("video_1", [[1.0, 4.5]], ["HighJump"])
        metric.update("video_1", segments, scores, labels)   # per video or per batch
        result = metric.compute()          # DetectionResult
        metric.reset()                     # predictions only; ground truth is kept

    Inputs may be numpy arrays, lists or torch tensors (converted by duck typing; torch is
    never imported). Labels are class names or integer indices into ``class_names``.

    Args:
        class_names: the class vocabulary. Without it, classes are those of the ground truth
            (and integer labels are refused). mAP is always the mean over classes that have
            ground truth; predictions of a listed class without ground truth cannot change it.
        tiou_thresholds: thresholds in ``(0, 1]``, or ``"LO:HI:STEP"`` / ``"0.3,0.5"``.
        ignore_unknown_labels: skip (and count) predictions whose label is not a known class,
            instead of raising :class:`EvaluationInputError`.
        ground_truth: ground truth to start with (see :meth:`from_ground_truth`).
    """

    def __init__(
        self,
        class_names: Sequence[str] | None = None,
        tiou_thresholds: ThresholdSpec = ACTIVITYNET_TIOU_THRESHOLDS,
        *,
        ignore_unknown_labels: bool = False,
        ground_truth: GroundTruth | None = None,
    ) -> None:
        self.class_names: tuple[str, ...] | None = (
            None if class_names is None else tuple(class_names)
        )
        if self.class_names is not None and len(set(self.class_names)) != len(self.class_names):
            raise EvaluationInputError("class_names has duplicates", field="class_names")
        self.tiou_thresholds = _thresholds(tiou_thresholds, allow_zero=False)
        self.ignore_unknown_labels = ignore_unknown_labels
        self._gt: list[
            tuple[list[str], NDArray[np.float64], NDArray[np.int64], tuple[str, ...]]
        ] = []
        self._pred: list[
            tuple[
                list[str],
                NDArray[np.float64],
                NDArray[np.float64],
                NDArray[np.int64],
                tuple[str, ...],
            ]
        ] = []
        if ground_truth is not None:
            self._add_ground_truth_container(ground_truth)

    @classmethod
    def from_ground_truth(
        cls,
        ground_truth: GroundTruth | str | os.PathLike[str],
        tiou_thresholds: ThresholdSpec = ACTIVITYNET_TIOU_THRESHOLDS,
        *,
        subset: str | None = "auto",
        class_names: Sequence[str] | None = None,
        ignore_unknown_labels: bool = False,
    ) -> DetectionMAP:
        """A metric holding the ground truth of a :class:`GroundTruth` or an ActivityNet JSON file."""
        if not isinstance(ground_truth, GroundTruth):
            from .io import load_activitynet_ground_truth

            ground_truth = load_activitynet_ground_truth(ground_truth, subset=subset)
        return cls(
            class_names,
            tiou_thresholds,
            ignore_unknown_labels=ignore_unknown_labels,
            ground_truth=ground_truth,
        )

    def _add_ground_truth_container(self, gt: GroundTruth) -> None:
        vids = [gt.video_ids[i] for i in gt.videos.tolist()]
        self._gt.append((vids, gt.segments, gt.labels, gt.class_names))

    def _labels(self, labels: Any, n: int, name: str) -> tuple[NDArray[np.int64], tuple[str, ...]]:
        """Labels as codes into a local vocabulary (class names)."""
        arr = np.asarray(as_numpy(labels)).reshape(-1)
        if arr.shape[0] != n:
            raise EvaluationInputError(
                f"{name} must have shape ({n},), got ({arr.shape[0]},)", field=name
            )
        if n and np.issubdtype(arr.dtype, np.integer):
            if self.class_names is None:
                raise EvaluationInputError(
                    f"{name} are integers but the metric has no class_names to index into; "
                    "pass class_names=... or use class-name labels",
                    field=name,
                )
            codes = check_labels(name, arr, n, len(self.class_names))
            return codes, self.class_names
        if n and arr.dtype.kind not in "UO":
            raise EvaluationInputError(
                f"{name} must be class names or integer class indices, got dtype {arr.dtype}",
                field=name,
            )
        vocab: dict[str, int] = {}
        codes_list = [vocab.setdefault(str(x), len(vocab)) for x in arr.tolist()]
        return np.asarray(codes_list, dtype=np.int64).reshape(-1), tuple(vocab)

    @staticmethod
    def _videos(video_ids: str | Sequence[str], n: int, name: str) -> list[str]:
        if isinstance(video_ids, str):
            return [video_ids] * n
        vids = [str(v) for v in video_ids]
        if len(vids) != n:
            raise EvaluationInputError(
                f"{name} must be one video id or one per segment ({n}), got {len(vids)}", field=name
            )
        return vids

    def add_ground_truth(self, video_ids: str | Sequence[str], segments: Any, labels: Any) -> None:
        """Add ground-truth instances.

        Args:
            video_ids: one video id for all instances, or one per instance.
            segments: ``(G, 2)`` ``[start, end]`` (``G`` may be 0: a video without instances).
            labels: ``(G,)`` class names, or int indices into ``class_names``.
        """
        seg = check_segments("segments", segments)
        codes, vocab = self._labels(labels, seg.shape[0], "labels")
        self._gt.append((self._videos(video_ids, seg.shape[0], "video_ids"), seg, codes, vocab))

    def update(
        self, video_ids: str | Sequence[str], segments: Any, scores: Any, labels: Any
    ) -> None:
        """Add predictions.

        Args:
            video_ids: one video id for all predictions (per-video update), or one per prediction.
            segments: ``(N, 2)`` ``[start, end]`` with ``start <= end``, finite.
            scores: ``(N,)`` finite confidences.
            labels: ``(N,)`` class names, or int indices into ``class_names``.
        """
        seg = check_segments("segments", segments)
        n = seg.shape[0]
        sc = check_scores("scores", scores, n)
        codes, vocab = self._labels(labels, n, "labels")
        self._pred.append((self._videos(video_ids, n, "video_ids"), seg, sc, codes, vocab))

    def reset(self, *, ground_truth: bool = False) -> None:
        """Forget the predictions (and, with ``ground_truth=True``, the ground truth too)."""
        self._pred.clear()
        if ground_truth:
            self._gt.clear()

    @staticmethod
    def _merge_vocab(
        chunks: Sequence[tuple[NDArray[np.int64], tuple[str, ...]]], base: Sequence[str]
    ) -> tuple[NDArray[np.int64], list[str]]:
        names = list(base)
        index = {n: i for i, n in enumerate(names)}
        parts = []
        for codes, vocab in chunks:
            remap = np.empty(len(vocab), dtype=np.int64)
            for j, n in enumerate(vocab):
                if n not in index:
                    index[n] = len(names)
                    names.append(n)
                remap[j] = index[n]
            parts.append(remap[codes] if codes.size else codes)
        merged = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return merged, names

    def compute(self) -> DetectionResult:
        """Evaluate everything added since the last :meth:`reset`.

        Returns:
            :class:`DetectionResult` (per-threshold mAP, average mAP, per-class AP).

        Raises:
            EvaluationInputError: no ground truth, or an unknown prediction label (unless
                ``ignore_unknown_labels``).
        """
        if not self._gt:
            raise EvaluationInputError(
                "no ground truth: call add_ground_truth(...) before compute()"
            )
        g_codes, g_names = self._merge_vocab(
            [(c, v) for _, _, c, v in self._gt], self.class_names or ()
        )
        if self.class_names is not None and len(g_names) > len(self.class_names):
            extra = g_names[len(self.class_names) :]
            raise EvaluationInputError(
                f"ground-truth label {extra[0]!r} is not in class_names ({len(extra)} unknown)",
                field="labels",
            )
        classes = tuple(g_names)
        class_index = {n: i for i, n in enumerate(classes)}
        g_vids = [v for vids, _, _, _ in self._gt for v in vids]
        g_seg = np.concatenate([s for _, s, _, _ in self._gt]).reshape(-1, 2)
        p_vids = [v for vids, _, _, _, _ in self._pred for v in vids]
        video_index: dict[str, int] = {}
        g_vid = np.asarray(
            [video_index.setdefault(v, len(video_index)) for v in g_vids], dtype=np.int64
        )
        p_vid = np.asarray(
            [video_index.setdefault(v, len(video_index)) for v in p_vids], dtype=np.int64
        )
        if self._pred:
            p_seg = np.concatenate([s for _, s, _, _, _ in self._pred]).reshape(-1, 2)
            p_sc = np.concatenate([s for _, _, s, _, _ in self._pred])
            p_codes_local, p_names = self._merge_vocab([(c, v) for _, _, _, c, v in self._pred], ())
        else:
            p_seg = np.zeros((0, 2))
            p_sc = np.zeros(0)
            p_codes_local, p_names = np.zeros(0, dtype=np.int64), []
        lookup = _label_lookup(p_names, class_index)
        p_lab = lookup[p_codes_local] if p_codes_local.size else p_codes_local
        unknown = p_lab < 0
        num_skipped = int(unknown.sum())
        if num_skipped:
            if not self.ignore_unknown_labels:
                vid_names = list(video_index)
                raise _unknown_label_error(
                    unknown, p_names, p_codes_local, vid_names, p_vid, classes
                )
            keep = ~unknown
            p_seg, p_sc, p_lab, p_vid = p_seg[keep], p_sc[keep], p_lab[keep], p_vid[keep]
        ap = _average_precision(
            g_seg, g_codes, g_vid, p_seg, p_sc, p_lab, p_vid, self.tiou_thresholds, len(classes)
        )
        return DetectionResult.from_class_ap(
            ap,
            classes,
            self.tiou_thresholds,
            num_predictions=int(p_sc.shape[0]),
            num_ground_truth=int(g_codes.shape[0]),
            num_skipped=num_skipped,
            protocol="activitynet",
        )

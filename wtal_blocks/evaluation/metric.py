"""The ActivityNet-protocol detection mAP as a metric object (update / compute / reset)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._arrays import as_numpy, check_labels, check_scores, check_segments
from ._checks import check_video_coverage
from .annotations import GroundTruth, Predictions
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

_Chunk = tuple[NDArray[Any], ...]


class DetectionMAP:
    """ActivityNet-protocol detection mAP as a metric object (torchmetrics style).

    Usable in a training loop without files::

        metric = DetectionMAP(class_names, tiou_thresholds="0.1:0.7:0.1")
        metric.add_ground_truth("video_1", [[1.0, 4.5]], ["HighJump"])
        metric.update("video_1", segments, scores, labels)   # per video or per batch
        metric.update_from_file("results.txt")             # or a results file, piece by piece
        result = metric.compute()          # DetectionResult
        metric.reset()                     # predictions only; ground truth is kept

    Inputs may be numpy arrays, lists or torch tensors (converted by duck typing; torch is
    never imported). Labels are class names or integer indices into ``class_names``.

    Memory: every update is stored as compact arrays (about 40 bytes per prediction, video and
    label names coded once), so a results file far larger than memory as decoded JSON can be
    fed piece by piece (:meth:`update_from_file`); :meth:`compute` is bounded like
    :func:`~wtal_blocks.evaluation.evaluate_detection`.

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
        self._video_index: dict[str, int] = {}
        self._label_index: dict[str, int] = {n: i for i, n in enumerate(self.class_names or ())}
        self._gt_classes: dict[str, None] = {}  # ground-truth classes, in the order first added
        self._gt: list[_Chunk] = []  # (segments, label codes, video codes)
        self._pred: list[_Chunk] = []  # (segments, scores, label codes, video codes)
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

    # ------------------------------------------------------------------ coding names

    @staticmethod
    def _code(index: dict[str, int], names: Sequence[str]) -> NDArray[np.int64]:
        """The code of each distinct name (new names get new codes)."""
        return np.fromiter(
            (index.setdefault(n, len(index)) for n in names), dtype=np.int64, count=len(names)
        )

    def _add_ground_truth_container(self, gt: GroundTruth) -> None:
        v_map = self._code(self._video_index, gt.video_ids)
        l_map = self._code(self._label_index, gt.class_names)
        self._gt_classes.update(dict.fromkeys(gt.class_names))
        self._gt.append((gt.segments, l_map[gt.labels], v_map[gt.videos]))

    def _labels(self, labels: Any, n: int, name: str) -> NDArray[np.int64]:
        """Labels as codes into the metric's label vocabulary."""
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
            return check_labels(name, arr, n, len(self.class_names))
        if n and arr.dtype.kind not in "UO":
            raise EvaluationInputError(
                f"{name} must be class names or integer class indices, got dtype {arr.dtype}",
                field=name,
            )
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return self._code_values(self._label_index, arr.astype(str))

    def _code_values(self, index: dict[str, int], values: NDArray[Any]) -> NDArray[np.int64]:
        """Codes of an array of names; new names are coded in first-seen order."""
        distinct, first, inverse = np.unique(values, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        codes = np.empty(distinct.shape[0], dtype=np.int64)
        codes[order] = self._code(index, distinct[order].tolist())
        return codes[inverse.reshape(-1)]

    def _videos(self, video_ids: str | Sequence[str], n: int, name: str) -> NDArray[np.int64]:
        if isinstance(video_ids, str):
            return np.full(n, self._code(self._video_index, [video_ids])[0], dtype=np.int64)
        vids = np.asarray([str(v) for v in video_ids])
        if vids.shape[0] != n:
            raise EvaluationInputError(
                f"{name} must be one video id or one per segment ({n}), got {vids.shape[0]}",
                field=name,
            )
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return self._code_values(self._video_index, vids)

    # ------------------------------------------------------------------ adding data

    def add_ground_truth(self, video_ids: str | Sequence[str], segments: Any, labels: Any) -> None:
        """Add ground-truth instances.

        Args:
            video_ids: one video id for all instances, or one per instance.
            segments: ``(G, 2)`` ``[start, end]`` (``G`` may be 0: a video without instances).
            labels: ``(G,)`` class names, or int indices into ``class_names``.
        """
        seg = check_segments("segments", segments)
        codes = self._labels(labels, seg.shape[0], "labels")
        names = list(self._label_index)
        first_seen = np.unique(codes, return_index=True)
        in_order = first_seen[0][np.argsort(first_seen[1], kind="stable")].tolist()
        self._gt_classes.update(dict.fromkeys(names[c] for c in in_order))
        self._gt.append((seg, codes, self._videos(video_ids, seg.shape[0], "video_ids")))

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
        codes = self._labels(labels, n, "labels")
        self._pred.append((seg, sc, codes, self._videos(video_ids, n, "video_ids")))

    def update_predictions(self, predictions: Predictions) -> None:
        """Add a :class:`Predictions` (a whole file, or one piece of
        :func:`~wtal_blocks.evaluation.iter_predictions`)."""
        if not isinstance(predictions, Predictions):
            raise TypeError(f"predictions must be Predictions, got {type(predictions).__name__}")
        v_map = self._code(self._video_index, predictions.video_ids)
        l_map = self._code(self._label_index, predictions.label_names)
        self._pred.append(
            (
                predictions.segments,
                predictions.scores,
                l_map[predictions.labels],
                v_map[predictions.videos],
            )
        )

    def update_from_file(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = 1_000_000,
        format: str = "auto",
    ) -> int:
        """Add the predictions of a results file, read ``chunk_size`` predictions at a time.

        Any format of :func:`~wtal_blocks.evaluation.iter_predictions` (ActivityNet JSON,
        JSON Lines, text lines); memory grows by the compact arrays only.

        Returns:
            The number of predictions added.
        """
        from .results_io import iter_predictions

        total = 0
        for piece in iter_predictions(path, chunk_size, format=format):  # type: ignore[arg-type]
            self.update_predictions(piece)
            total += len(piece)
        return total

    def reset(self, *, ground_truth: bool = False) -> None:
        """Forget the predictions (and, with ``ground_truth=True``, the ground truth too)."""
        self._pred.clear()
        if ground_truth:
            self._gt.clear()
            self._gt_classes.clear()

    # ------------------------------------------------------------------ evaluation

    def compute(self) -> DetectionResult:
        """Evaluate everything added since the last :meth:`reset`.

        Returns:
            :class:`DetectionResult` (per-threshold mAP, average mAP, per-class AP).

        Raises:
            EvaluationInputError: no ground truth, or an unknown prediction label (unless
                ``ignore_unknown_labels``).

        Warns:
            UnmatchedVideosWarning: no prediction is on a video of the ground truth.
        """
        if not self._gt:
            raise EvaluationInputError(
                "no ground truth: call add_ground_truth(...) before compute()"
            )
        g_seg = np.concatenate([c[0] for c in self._gt]).reshape(-1, 2)
        g_codes = np.concatenate([c[1] for c in self._gt])
        g_vid = np.concatenate([c[2] for c in self._gt])
        names = list(self._label_index)
        if self.class_names is not None:
            extra = [c for c in self._gt_classes if c not in set(self.class_names)]
            if extra:
                raise EvaluationInputError(
                    f"ground-truth label {extra[0]!r} is not in class_names ({len(extra)} unknown)",
                    field="labels",
                )
            classes = self.class_names
        else:
            classes = tuple(self._gt_classes)
        class_index = {n: i for i, n in enumerate(classes)}
        lookup = _label_lookup(names, class_index)
        g_lab = lookup[g_codes]
        if self._pred:
            p_seg = np.concatenate([c[0] for c in self._pred]).reshape(-1, 2)
            p_sc = np.concatenate([c[1] for c in self._pred])
            p_codes = np.concatenate([c[2] for c in self._pred])
            p_vid = np.concatenate([c[3] for c in self._pred])
        else:
            p_seg, p_sc = np.zeros((0, 2)), np.zeros(0)
            p_codes = p_vid = np.zeros(0, dtype=np.int64)
        video_names = list(self._video_index)
        check_video_coverage(
            [video_names[v] for v in np.unique(p_vid).tolist()],
            {video_names[v] for v in np.unique(g_vid).tolist()},
            subset=None,
            strict=False,
        )
        p_lab = lookup[p_codes] if p_codes.size else p_codes
        unknown = p_lab < 0
        num_skipped = int(unknown.sum())
        if num_skipped:
            if not self.ignore_unknown_labels:
                raise _unknown_label_error(unknown, names, p_codes, video_names, p_vid, classes)
            keep = ~unknown
            p_seg, p_sc, p_lab, p_vid = p_seg[keep], p_sc[keep], p_lab[keep], p_vid[keep]
        ap = _average_precision(
            g_seg, g_lab, g_vid, p_seg, p_sc, p_lab, p_vid, self.tiou_thresholds, len(classes)
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

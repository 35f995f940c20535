"""Video-level classification metrics (numpy only).

* **Classification AP** of a class, over videos: rank the videos by descending score and take
  ``AP = sum_n (R_n - R_{n-1}) * P_n`` over the distinct score values ``n`` (precision ``P_n``
  and recall ``R_n`` of the videos scoring at least that value), i.e. the non-interpolated AP of
  the THUMOS'14 classification kit and of ``sklearn.metrics.average_precision_score``. Videos
  with tied scores enter together, so the result does not depend on the input order.
  Classification mAP is the mean over the classes that have at least one positive video.
* **Video label accuracy** (the "test accuracy" of the official UM, BaS-Net and CoLA codes):
  the fraction of videos whose thresholded prediction ``score >= threshold`` (0.2) equals the multi-hot label on
  *every* class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._arrays import as_numpy
from .errors import EvaluationInputError

__all__ = [
    "ClassificationMetrics",
    "classification_average_precision",
    "classification_map",
    "video_label_accuracy",
]


def _scores_labels(scores: Any, labels: Any) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    try:
        s = np.asarray(as_numpy(scores), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EvaluationInputError(
            f"scores must be numeric (V, C): {exc}", field="scores"
        ) from None
    lab = np.asarray(as_numpy(labels))
    if s.ndim != 2:
        raise EvaluationInputError(f"scores must have shape (V, C), got {s.shape}", field="scores")
    if lab.shape != s.shape:
        raise EvaluationInputError(
            f"labels must have the shape of scores {s.shape}, got {lab.shape}", field="labels"
        )
    if not np.isfinite(s).all():
        v, c = np.argwhere(~np.isfinite(s))[0]
        raise EvaluationInputError(f"scores[{v}, {c}] = {s[v, c]} is not finite", field="scores")
    if lab.dtype != np.bool_:
        try:
            numeric = lab.astype(np.float64)
        except (TypeError, ValueError):
            raise EvaluationInputError(
                f"labels must be multi-hot 0/1, got dtype {lab.dtype}", field="labels"
            ) from None
        if not np.isin(numeric, (0.0, 1.0)).all():
            v, c = np.argwhere(~np.isin(numeric, (0.0, 1.0)))[0]
            raise EvaluationInputError(
                f"labels must be multi-hot 0/1, labels[{v}, {c}] = {lab[v, c]}", field="labels"
            )
        lab = numeric > 0
    return s, lab


def classification_average_precision(scores: Any, labels: Any) -> NDArray[np.float64]:
    """Per-class AP over videos (see the module docstring).

    Args:
        scores: ``(V, C)`` float video-level class scores (arrays, lists or tensors).
        labels: ``(V, C)`` multi-hot ground truth (bool or 0/1).

    Returns:
        ``(C,)`` float64; NaN for a class with no positive video.
    """
    s, lab = _scores_labels(scores, labels)
    num_videos, num_classes = s.shape
    if num_videos == 0:
        return np.full(num_classes, np.nan)
    order = np.argsort(-s, axis=0, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=0)
    pos = np.take_along_axis(lab, order, axis=0)
    tp = np.cumsum(pos, axis=0)
    rank = np.arange(1, num_videos + 1)[:, None]
    # a tie group is scored at its last member: precision with the whole group included
    last_of_group = np.ones_like(pos)
    last_of_group[:-1] = s_sorted[1:] != s_sorted[:-1]
    end_index = np.where(last_of_group, np.arange(num_videos)[:, None], num_videos - 1)
    end_index = np.minimum.accumulate(end_index[::-1], axis=0)[::-1]
    precision_at_end = np.take_along_axis(tp / rank, end_index, axis=0)
    npos = pos.sum(axis=0)
    ap = np.where(pos, precision_at_end, 0.0).sum(axis=0)
    out = np.full(num_classes, np.nan)
    np.divide(ap, npos, out=out, where=npos > 0)
    return out


def classification_map(scores: Any, labels: Any) -> float:
    """Mean classification AP over the classes with at least one positive video."""
    ap = classification_average_precision(scores, labels)
    if np.isnan(ap).all():
        raise EvaluationInputError(
            "no class has a positive video: classification mAP is undefined", field="labels"
        )
    return float(np.nanmean(ap))


def video_label_accuracy(scores: Any, labels: Any, threshold: float = 0.2) -> float:
    """Fraction of videos with every class right after thresholding at ``score >= threshold``.

    The "test accuracy" of the official UM, BaS-Net and CoLA codes: a video counts as correct
    when its thresholded video probabilities equal its multi-hot labels on every class.

    Args:
        scores: ``(V, C)`` video-level probabilities (UM, CoLA: the softmax action
            probabilities; BaS-Net: the suppression branch's, without the background class).
        labels: ``(V, C)`` multi-hot ground truth.
        threshold: the class threshold (0.2 for UM and CoLA, 0.25 for BaS-Net).
    """
    s, lab = _scores_labels(scores, labels)
    if s.shape[0] == 0:
        raise EvaluationInputError("no video: accuracy is undefined", field="scores")
    correct = ((s >= threshold) == lab).all(axis=1)
    return float(correct.mean())


class ClassificationMetrics:
    """Accumulates video-level scores and labels; computes mAP and the UM accuracy.

    ``update(scores (B, C), labels (B, C))`` per batch, ``compute()`` returns
    ``{"mAP": float, "ap": (C,) array, "accuracy": float}``, ``reset()`` clears the state.
    """

    def __init__(self, threshold: float = 0.2) -> None:
        self.threshold = threshold
        self._scores: list[NDArray[np.float64]] = []
        self._labels: list[NDArray[np.bool_]] = []

    def update(self, scores: Any, labels: Any) -> None:
        s, lab = _scores_labels(scores, labels)
        if self._scores and s.shape[1] != self._scores[0].shape[1]:
            raise EvaluationInputError(
                f"scores must have {self._scores[0].shape[1]} classes like earlier updates, got {s.shape[1]}",
                field="scores",
            )
        self._scores.append(s)
        self._labels.append(lab)

    def compute(self) -> dict[str, Any]:
        if not self._scores:
            raise EvaluationInputError("no video: call update(...) before compute()")
        s = np.concatenate(self._scores)
        lab = np.concatenate(self._labels)
        ap = classification_average_precision(s, lab)
        return {
            "mAP": classification_map(s, lab),
            "ap": ap,
            "accuracy": video_label_accuracy(s, lab, self.threshold),
        }

    def reset(self) -> None:
        self._scores.clear()
        self._labels.clear()

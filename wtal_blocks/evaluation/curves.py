"""Precision–recall curves of one class at one tIoU, from the evaluators' own matching.

A curve is the ranked list of the class's predictions with a true-positive flag each, exactly
as the protocol's evaluator ranks and matches them (:func:`~.detection.ranked_matches`,
:func:`~.thumos14.ranked_matches_thumos14`); nothing here re-derives a match. Its
:attr:`PrecisionRecall.ap` is therefore the evaluator's AP for that class and threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .annotations import GroundTruth, Predictions, Thumos14Annotations
from .detection import interpolated_ap_at_hits, prepare_predictions, ranked_matches
from .errors import EvaluationInputError
from .thumos14 import prepare_predictions_thumos14, ranked_matches_thumos14

__all__ = ["PrecisionRecall", "precision_recall", "precision_recall_thumos14"]


@dataclass(frozen=True, eq=False)
class PrecisionRecall:
    """Precision and recall of one class at one tIoU, one point per ranked prediction.

    Attributes:
        class_name: the class.
        tiou: the threshold.
        protocol: ``"activitynet"`` or ``"thumos14"``.
        scores: ``(N,)`` the class's predictions' scores, in ranking order (THUMOS'14: the
            predictions removed as ambiguous are not listed).
        is_tp: ``(N,)`` bool, true positive at ``tiou``.
        precision: ``(N,)`` ``cumsum(is_tp) / (1..N)``.
        recall: ``(N,)`` ``cumsum(is_tp) / num_ground_truth``.
        num_ground_truth: instances of the class.
        ap: the area the protocol defines: all-point interpolated (ActivityNet) or the sum of
            the precision at each true positive over ``num_ground_truth`` (THUMOS'14).
    """

    class_name: str
    tiou: float
    protocol: str
    scores: NDArray[np.float64]
    is_tp: NDArray[np.bool_]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    num_ground_truth: int
    ap: float

    @property
    def interpolated_precision(self) -> NDArray[np.float64]:
        """``(N,)`` precision made monotone non-increasing from the right (ActivityNet AP)."""
        if not self.precision.size:
            return self.precision
        return np.maximum.accumulate(self.precision[::-1])[::-1]


def _curve(
    class_name: str,
    tiou: float,
    protocol: str,
    scores: NDArray[np.float64],
    is_tp: NDArray[np.bool_],
    npos: int,
) -> PrecisionRecall:
    hits = np.cumsum(is_tp).astype(np.float64)
    seen = np.arange(1, is_tp.shape[0] + 1, dtype=np.float64)
    if protocol == "activitynet":
        at = np.flatnonzero(is_tp)
        group = np.zeros(at.shape[0], dtype=np.int64)
        npos_at = np.full(at.shape[0], float(npos))
        ap = float(interpolated_ap_at_hits(group, hits[at], seen[at], npos_at, 1)[0])
    else:  # THUMOS'14: non-interpolated
        ap = float((hits[is_tp] / seen[is_tp]).sum() / npos)
    return PrecisionRecall(
        class_name, float(tiou), protocol, scores, is_tp, hits / seen, hits / npos, npos, ap
    )


def _class_and_threshold(class_names: tuple[str, ...], class_name: str, tiou: float) -> int:
    if class_name not in class_names:
        raise EvaluationInputError(
            f"class {class_name!r} is not a ground-truth class", field="class_name"
        )
    if not 0 < tiou <= 1:
        raise EvaluationInputError(f"tiou must be in (0, 1], got {tiou}", field="tiou")
    return class_names.index(class_name)


def precision_recall(
    ground_truth: GroundTruth, predictions: Predictions, class_name: str, tiou: float
) -> PrecisionRecall:
    """Precision–recall of ``class_name`` at ``tiou`` under the ActivityNet protocol.

    The ranking and the matches are those of :func:`~wtal_blocks.evaluate_detection`.

    Args:
        ground_truth: from :func:`~wtal_blocks.load_activitynet_ground_truth`.
        predictions: from :func:`~wtal_blocks.load_activitynet_results`; labels that are not
            ground-truth classes are ignored.
        class_name: a class of ``ground_truth`` that has instances.
        tiou: threshold in ``(0, 1]``.

    Raises:
        EvaluationInputError: an unknown class, or a threshold outside ``(0, 1]``.
    """
    c = _class_and_threshold(ground_truth.class_names, class_name, tiou)
    seg, scores, p_lab, p_vid, _ = prepare_predictions(ground_truth, predictions, True)
    npos = int(np.count_nonzero(ground_truth.labels == c))
    if npos == 0:
        raise EvaluationInputError(
            f"class {class_name!r} has no ground truth: its precision-recall curve is undefined"
        )
    mine = p_lab == c
    thr = np.asarray([tiou], dtype=np.float64)
    order, _, tp_pos = ranked_matches(
        ground_truth.segments,
        ground_truth.labels,
        ground_truth.videos,
        seg[mine],
        scores[mine],
        p_lab[mine],
        p_vid[mine],
        thr,
    )
    is_tp = np.zeros(order.shape[0], dtype=bool)
    is_tp[tp_pos] = True
    return _curve(class_name, tiou, "activitynet", scores[mine][order], is_tp, npos)


def precision_recall_thumos14(
    annotations: Thumos14Annotations, predictions: Predictions, class_name: str, tiou: float
) -> PrecisionRecall:
    """Precision–recall of ``class_name`` at ``tiou`` under the official THUMOS'14 protocol.

    The ranking, the matches and the ambiguous removals are those of
    :func:`~wtal_blocks.evaluate_thumos14`.

    Args:
        annotations: from :func:`~wtal_blocks.load_thumos14_annotations`.
        predictions: labels are UCF101 class ids or class names; unknown labels are ignored.
        class_name: a class of ``annotations``.
        tiou: threshold in ``(0, 1]`` (a match needs ``>``).

    Raises:
        EvaluationInputError: an unknown class, or a threshold outside ``(0, 1]``.
    """
    c = _class_and_threshold(annotations.class_names, class_name, tiou)
    seg, scores, p_lab, p_vid, rank, _ = prepare_predictions_thumos14(
        annotations, predictions, True
    )
    npos = int(np.count_nonzero(annotations.labels == c))
    mine = p_lab == c
    _, pred, is_tp = ranked_matches_thumos14(
        annotations.segments,
        annotations.labels,
        annotations.videos,
        seg[mine],
        scores[mine],
        p_lab[mine],
        p_vid[mine],
        annotations.ambiguous_segments,
        annotations.ambiguous_videos,
        rank,
        np.asarray([tiou], dtype=np.float64),
        len(annotations.class_names),
    )
    return _curve(class_name, tiou, "thumos14", scores[mine][pred], is_tp, max(npos, 1))

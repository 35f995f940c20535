"""Top-k× recall: the recall of the ``k × G_v`` best predictions of every video.

At threshold ``t``, an instance of video ``v`` is recalled when one of the video's ``k × G_v``
highest-scored predictions (``G_v`` its number of instances) has ``tIoU >= t`` with it. This is
the ``top_k`` recall of OpenTAD's mAP evaluator and ActionFormer's
``compute_topkx_recall_detection``, computed per class and averaged over classes; the
class-agnostic form (for proposals) ignores the labels. Predictions are ranked by descending
score, ties in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import check_scores, check_segments
from .annotations import GroundTruth, Predictions
from .errors import EvaluationInputError
from .proposal_metrics import (
    PROPOSAL_TIOU_THRESHOLDS,
    ThresholdSpec,
    _first_hits,
    _group_ranks,
    _thresholds,
    _video_codes,
    _video_column,
)

__all__ = ["TopKxRecallResult", "evaluate_topkx_recall", "topkx_recall"]


@dataclass(frozen=True, eq=False)
class TopKxRecallResult:
    """Top-k× recall (``Recall@kx``).

    Attributes:
        tiou_thresholds: ``(T,)`` float64.
        top_k: the multipliers ``k``.
        recall: ``(T, K)`` float64; class-agnostic recall, or the mean over classes with ground
            truth of ``class_recall`` when ``per_class``.
        per_class: whether groups were ``(class, video)`` (ActionFormer/OpenTAD) or videos.
        class_names: the classes of ``class_recall`` (empty when not ``per_class``).
        class_recall: ``(C, T, K)`` float64 per-class recall, or None when not ``per_class``.
        num_ground_truth: ground-truth instances.
        num_predictions: predictions taken into account.
    """

    tiou_thresholds: NDArray[np.float64]
    top_k: tuple[int, ...]
    recall: NDArray[np.float64]
    per_class: bool
    class_names: tuple[str, ...]
    class_recall: NDArray[np.float64] | None
    num_ground_truth: int
    num_predictions: int

    def to_dict(self) -> dict[str, Any]:
        """``{"recall@<tiou>@<k>": value}`` keys as OpenTAD logs them, plus the arrays."""
        out: dict[str, Any] = {
            "tiou_thresholds": self.tiou_thresholds.tolist(),
            "top_k": list(self.top_k),
            "recall": self.recall.tolist(),
            "per_class": self.per_class,
        }
        for t, row in zip(self.tiou_thresholds.tolist(), self.recall.tolist(), strict=True):
            for k, v in zip(self.top_k, row, strict=True):
                out[f"recall@{t!r}@{k}"] = v
        return out

    def format_table(self) -> str:
        """One row per threshold, one column per ``k``, in percent."""
        head = "  tIoU  " + "".join(f"{f'R@{k}x':>10}" for k in self.top_k)
        rows = [head]
        for t, row in zip(self.tiou_thresholds.tolist(), self.recall.tolist(), strict=True):
            rows.append(f"  {t:<5g} " + "".join(f"{100 * v:9.2f}%" for v in row))
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.format_table()


def _top_k(value: Any) -> tuple[int, ...]:
    items = [value] if isinstance(value, (int, np.integer)) else list(value)
    if not items or any(
        isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in items
    ):
        raise EvaluationInputError(f"top_k must be integers >= 1, got {value!r}", field="top_k")
    return tuple(int(k) for k in items)


def _topkx_counts(
    g_seg: NDArray[np.float64],
    g_group: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    p_scores: NDArray[np.float64],
    p_group: NDArray[np.int64],
    thr: NDArray[np.float64],
    top_k: tuple[int, ...],
) -> NDArray[np.bool_]:
    """``(T, K, G)``: instance ``g`` is recalled by the top ``k * G_group`` of its group.

    Groups are non-negative ints; a prediction of a group without ground truth never counts.
    """
    n_groups = int(max(g_group.max(initial=-1), p_group.max(initial=-1))) + 1
    size = np.bincount(g_group, minlength=n_groups).astype(np.int64)
    rank = _group_ranks(p_group, p_scores)
    use = rank < max(top_k) * size[p_group]
    first = _first_hits(g_seg, g_group, p_seg[use], p_group[use], rank[use], thr)
    cap = np.asarray(top_k, dtype=np.int64)[:, None] * size[g_group][None, :]  # (K, G)
    return first[:, None, :] < cap[None, :, :]


def _topkx_recall_arrays(
    g_seg: NDArray[np.float64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    p_scores: NDArray[np.float64],
    p_vid: NDArray[np.int64],
    thr: NDArray[np.float64],
    top_k: tuple[int, ...],
    g_lab: NDArray[np.int64] | None,
    p_lab: NDArray[np.int64] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.int64]]:
    """``(recall (T, K), class_recall (C, T, K) | None, classes (C,))`` on validated arrays."""
    n_gt = g_seg.shape[0]
    if n_gt == 0:
        raise EvaluationInputError("the ground truth has no action instance to recall")
    _, vid_code = np.unique(np.concatenate([g_vid, p_vid]), return_inverse=True)
    vid_code = vid_code.reshape(-1).astype(np.int64)
    n_vid = int(vid_code.max()) + 1
    g_code, p_code = vid_code[:n_gt], vid_code[n_gt:]
    if g_lab is None or p_lab is None:
        hits = _topkx_counts(g_seg, g_code, p_seg, p_scores, p_code, thr, top_k)
        recall = np.count_nonzero(hits, axis=2).astype(np.float64) / float(n_gt)
        return recall, None, np.zeros(0, dtype=np.int64)
    classes = np.unique(g_lab)
    known = np.isin(p_lab, classes)  # predictions of classes without ground truth never count
    g_cls = np.searchsorted(classes, g_lab).astype(np.int64)
    p_cls = np.searchsorted(classes, p_lab[known]).astype(np.int64)
    hits = _topkx_counts(
        g_seg,
        g_cls * n_vid + g_code,
        p_seg[known],
        p_scores[known],
        p_cls * n_vid + p_code[known],
        thr,
        top_k,
    )
    n_cls = classes.shape[0]
    # per class: recalled / instances of the class; laid out (T, K, C) like the peers' array
    found = np.zeros((thr.shape[0], len(top_k), n_cls), dtype=np.float64)
    for t in range(thr.shape[0]):
        for k in range(len(top_k)):
            found[t, k] = np.bincount(g_cls[hits[t, k]], minlength=n_cls)
    per_class = found / np.bincount(g_cls, minlength=n_cls).astype(np.float64)
    recall = per_class.mean(axis=2)
    return recall, np.ascontiguousarray(per_class.transpose(2, 0, 1)), classes


def topkx_recall(
    gt_segments: ArrayLike,
    gt_videos: ArrayLike,
    pred_segments: ArrayLike,
    pred_scores: ArrayLike,
    pred_videos: ArrayLike,
    *,
    top_k: int | Sequence[int] = (1, 5),
    tiou_thresholds: ThresholdSpec = PROPOSAL_TIOU_THRESHOLDS,
    gt_labels: ArrayLike | None = None,
    pred_labels: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Top-k× recall (``Recall@kx``) on arrays.

    For each group (a video; or, with labels, a (class, video) pair) with ``G_g`` ground-truth
    instances, the ``k × G_g`` highest-scoring predictions of the group are taken (descending
    score; **tie rule:** input order, where the peers reverse an unstable ``argsort``). An
    instance is recalled at a threshold when one of them has ``tIoU >= threshold`` (no
    one-to-one matching).

    * Without labels (class-agnostic, for proposals): ``recall = recalled / all instances``.
    * With ``gt_labels`` and ``pred_labels``: the per-class form of ActionFormer
      (``libs/utils/metrics.py``, ``compute_topkx_recall_detection``) and OpenTAD
      (``opentad/evaluations/mAP.py``): ``recall_c = recalled_c / instances_c`` for every class
      with ground truth (0 for a class without predictions), and the reported value is the mean
      over those classes, in class-id order (the peers average in their own class order, which
      may change the last bit). Predictions of other classes are ignored.

    tIoU uses the ActivityNet float operations (OpenTAD clips the union at ``1e-8``, which only
    differs for segments shorter than ``1e-8``). Predictions of videos without ground truth
    never count.

    Args:
        gt_segments: ``(G, 2)`` float ``[start, end]``.
        gt_videos: ``(G,)`` int video id.
        pred_segments: ``(N, 2)`` float.
        pred_scores: ``(N,)`` float, finite.
        pred_videos: ``(N,)`` int video id.
        top_k: the multipliers ``k`` (ActionFormer/OpenTAD: ``(1, 5)``).
        tiou_thresholds: thresholds in ``(0, 1]``; default ``0.5:0.95:0.05``.
        gt_labels, pred_labels: ``(G,)`` / ``(N,)`` int class ids; give both or neither.

    Returns:
        ``(T, K)`` float64.
    """
    thr = _thresholds(tiou_thresholds)
    ks = _top_k(top_k)
    g_seg = check_segments("gt_segments", gt_segments)
    p_seg = check_segments("pred_segments", pred_segments)
    n_gt, n_pred = g_seg.shape[0], p_seg.shape[0]
    g_vid = _video_column("gt_videos", gt_videos, n_gt)
    p_vid = _video_column("pred_videos", pred_videos, n_pred)
    scores = check_scores("pred_scores", pred_scores, n_pred)
    if (gt_labels is None) != (pred_labels is None):
        missing = "pred_labels" if pred_labels is None else "gt_labels"
        raise EvaluationInputError(
            f"{missing} is missing: give both gt_labels and pred_labels (per class) or neither",
            field=missing,
        )
    g_lab = p_lab = None
    if gt_labels is not None and pred_labels is not None:
        g_lab = _video_column("gt_labels", gt_labels, n_gt)
        p_lab = _video_column("pred_labels", pred_labels, n_pred)
    recall, _, _ = _topkx_recall_arrays(g_seg, g_vid, p_seg, scores, p_vid, thr, ks, g_lab, p_lab)
    return recall


def evaluate_topkx_recall(
    ground_truth: GroundTruth,
    predictions: Predictions,
    *,
    top_k: int | Sequence[int] = (1, 5),
    tiou_thresholds: ThresholdSpec = PROPOSAL_TIOU_THRESHOLDS,
    per_class: bool = False,
) -> TopKxRecallResult:
    """Top-k× recall of ``predictions`` against ``ground_truth`` (see :func:`topkx_recall`).

    Args:
        ground_truth, predictions: the containers; videos are matched by id.
        top_k: the multipliers ``k``.
        tiou_thresholds: thresholds in ``(0, 1]``.
        per_class: False (default): class-agnostic, labels ignored (proposals). True: the
            ActionFormer/OpenTAD per-class mean; prediction labels are matched to
            ``ground_truth.class_names`` by name and predictions of other labels are ignored.

    Returns:
        :class:`TopKxRecallResult`.
    """
    thr = _thresholds(tiou_thresholds)
    ks = _top_k(top_k)
    p_vid = _video_codes(predictions.video_ids, ground_truth.video_ids)[predictions.videos]
    g_lab = p_lab = None
    p_seg, p_scores = predictions.segments, predictions.scores
    if per_class:
        index = {n: i for i, n in enumerate(ground_truth.class_names)}
        lookup = np.fromiter(
            (index.get(n, -1) for n in predictions.label_names),
            dtype=np.int64,
            count=len(predictions.label_names),
        )
        p_lab = lookup[predictions.labels]
        known = p_lab >= 0
        p_seg, p_scores, p_vid, p_lab = p_seg[known], p_scores[known], p_vid[known], p_lab[known]
        g_lab = ground_truth.labels
    recall, class_recall, classes = _topkx_recall_arrays(
        ground_truth.segments, ground_truth.videos, p_seg, p_scores, p_vid, thr, ks, g_lab, p_lab
    )
    names = tuple(ground_truth.class_names[int(c)] for c in classes.tolist())
    return TopKxRecallResult(
        tiou_thresholds=thr,
        top_k=ks,
        recall=recall,
        per_class=per_class,
        class_names=names,
        class_recall=class_recall,
        num_ground_truth=int(ground_truth.segments.shape[0]),
        num_predictions=int(p_scores.shape[0]),
    )

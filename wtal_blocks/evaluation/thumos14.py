"""The official THUMOS'14 detection protocol (``TH14evalDet.m`` / ``TH14eventdetpr.m``), vectorised.

The field usually evaluates THUMOS'14 with the ActivityNet script; the challenge's own protocol
differs in four ways, all reproduced here, per class and threshold:

1. **Ground-truth-centric matching.** In every video, the class's detections are sorted by
   descending confidence (ties in input order); then each ground truth, in annotation-file
   order, takes the still-free detection with the largest overlap (the first one, i.e. the
   more confident, on ties) and matches it if that overlap is *strictly* above the threshold.
2. **Overlap** ``= intersection / (max(e1, e2) - min(s1, s2))`` when the intersection is
   positive, else 0 (equal to the tIoU whenever the segments intersect).
3. **Ambiguous segments.** A detection that is not a true positive and intersects (with
   positive length) an ``Ambiguous`` segment of its video is removed: neither true nor false
   positive.
4. **Non-interpolated AP.** The kept detections of the class from all videos are sorted by
   descending confidence; AP is the sum of the precision at each true positive divided by the
   number of ground truths of the class (every video). mAP is the mean over the classes.

**Tie rule of the final ranking.** Detections are listed video by video (videos in
sorted-name order, each video's kept detections in its confidence order, true and false
positives interleaved), and that list is sorted stably by descending confidence. This is the
order of the public kit variant that builds per-video lists (``unsortConf``), and it reproduces
TURN + S-CNN's published mAP@0.5 of 25.6. That file has many exactly tied confidences: the
other variant in circulation, which lists all true positives before all false positives, gives
30.2 on it. (Copies of the kit with 11-point interpolated AP also circulate; the protocol's AP
is the non-interpolated one.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import as_numpy, check_labels, check_scores, check_segments
from ._matching import conflict_components, greedy_match, overlapping_pairs
from .annotations import Predictions, Thumos14Annotations
from .detection import ThresholdSpec, _unknown_label_error
from .errors import EvaluationInputError
from .result import DetectionResult
from .tiou import parse_tiou_thresholds

__all__ = ["THUMOS14_OFFICIAL_TIOU_THRESHOLDS", "average_precision_thumos14", "evaluate_thumos14"]

THUMOS14_OFFICIAL_TIOU_THRESHOLDS = "0.1:0.5:0.1"
"""The thresholds of the official THUMOS'14 kit: 0.1, 0.2, 0.3, 0.4, 0.5."""


def _overlap(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise THUMOS overlap of paired segments (intersection over hull when positive)."""
    inter = np.minimum(a[:, 1], b[:, 1]) - np.maximum(a[:, 0], b[:, 0])
    hull = np.maximum(a[:, 1], b[:, 1]) - np.minimum(a[:, 0], b[:, 0])
    out = np.zeros_like(inter)
    np.divide(inter, hull, out=out, where=inter > 0)
    return out


def average_precision_thumos14(
    gt_segments: ArrayLike,
    gt_labels: ArrayLike,
    gt_videos: ArrayLike,
    pred_segments: ArrayLike,
    pred_scores: ArrayLike,
    pred_labels: ArrayLike,
    pred_videos: ArrayLike,
    tiou_thresholds: ThresholdSpec = THUMOS14_OFFICIAL_TIOU_THRESHOLDS,
    num_classes: int | None = None,
    *,
    ambiguous_segments: ArrayLike | None = None,
    ambiguous_videos: ArrayLike | None = None,
    video_rank: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Per-class AP of the official THUMOS'14 protocol (see the module docstring).

    Args:
        gt_segments: ``(G, 2)`` float; their order is the annotation-file order.
        gt_labels: ``(G,)`` int class index.
        gt_videos: ``(G,)`` int video id (non-negative, shared with the detections).
        pred_segments: ``(N, 2)`` float.
        pred_scores: ``(N,)`` float confidences.
        pred_labels: ``(N,)`` int class index.
        pred_videos: ``(N,)`` int video id.
        tiou_thresholds: ``(T,)`` overlap thresholds in ``[0, 1]`` (a match needs ``>``).
        num_classes: ``C`` (default ``max label + 1``).
        ambiguous_segments: ``(A, 2)`` float ``Ambiguous`` segments, with
        ambiguous_videos: ``(A,)`` int their video ids.
        video_rank: ``(V,)`` int, the rank of each video id in sorted-name order (only breaks
            confidence ties between videos); default: the video id itself.

    Returns:
        ``(C, T)`` float64 AP; rows of classes without ground truth are NaN.
    """
    thr = parse_tiou_thresholds(tiou_thresholds)
    g_seg = check_segments("gt_segments", gt_segments)
    d_seg = check_segments("pred_segments", pred_segments)
    n_gt, n_det = g_seg.shape[0], d_seg.shape[0]
    g_lab_raw = np.asarray(as_numpy(gt_labels)).reshape(-1)
    d_lab_raw = np.asarray(as_numpy(pred_labels)).reshape(-1)
    if num_classes is None:
        num_classes = max((int(a.max()) + 1 for a in (g_lab_raw, d_lab_raw) if a.size), default=0)
    big = np.iinfo(np.int64).max
    g_lab = check_labels("gt_labels", g_lab_raw, n_gt, num_classes)
    d_lab = check_labels("pred_labels", d_lab_raw, n_det, num_classes)
    g_vid = check_labels("gt_videos", gt_videos, n_gt, big)
    d_vid = check_labels("pred_videos", pred_videos, n_det, big)
    scores = check_scores("pred_scores", pred_scores, n_det)
    if ambiguous_segments is None:
        a_seg = np.zeros((0, 2))
        a_vid = np.zeros(0, dtype=np.int64)
    else:
        a_seg = check_segments("ambiguous_segments", ambiguous_segments)
        a_vid = check_labels("ambiguous_videos", ambiguous_videos, a_seg.shape[0], big)
    n_vid = int(max([0, *(int(a.max()) + 1 for a in (g_vid, d_vid, a_vid) if a.size)]))
    if video_rank is None:
        rank = np.arange(n_vid, dtype=np.int64)
    else:
        rank = np.asarray(as_numpy(video_rank), dtype=np.int64).reshape(-1)
        if rank.shape[0] < n_vid:
            raise EvaluationInputError(
                f"video_rank must cover {n_vid} video ids, got {rank.shape[0]}", field="video_rank"
            )
    return _average_precision(
        g_seg, g_lab, g_vid, d_seg, scores, d_lab, d_vid, a_seg, a_vid, rank, thr, num_classes
    )


def ranked_matches_thumos14(
    g_seg: NDArray[np.float64],
    g_lab: NDArray[np.int64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    scores: NDArray[np.float64],
    p_lab: NDArray[np.int64],
    p_vid: NDArray[np.int64],
    a_seg: NDArray[np.float64],
    a_vid: NDArray[np.int64],
    video_rank: NDArray[np.int64],
    thr: NDArray[np.float64],
    num_classes: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """The protocol's ranked lists, for validated arrays.

    Returns:
        ``(group, pred, is_tp)``, one row per prediction kept in the ranking of a
        (threshold, class) list: ``group = threshold index * num_classes + class``, the
        prediction's index, and whether it is a true positive. Rows are sorted by group, then
        rank. Predictions removed as ambiguous are absent.
    """
    n_thr = thr.shape[0]
    n_pred = scores.shape[0]
    # confidence order of the predictions (stable): per video it is the official order
    conf_order = np.argsort(-scores, kind="stable")
    pred_rank = np.empty(n_pred, dtype=np.int64)
    pred_rank[conf_order] = np.arange(n_pred, dtype=np.int64)
    is_tp = np.zeros((n_thr, n_pred), dtype=bool)
    if g_lab.shape[0] and n_pred:
        n_vid = int(max(g_vid.max(), p_vid.max())) + 1
        agent, item = overlapping_pairs(g_lab * n_vid + g_vid, g_seg, p_lab * n_vid + p_vid, p_seg)
        value = _overlap(g_seg[agent], p_seg[item])
        keep = value > thr.min()
        agent, item, value = agent[keep], item[keep], value[keep]
        if agent.size:
            agents, component = conflict_components(
                agent, item, g_lab * n_vid + g_vid, g_seg, p_seg
            )
            choice = greedy_match(
                agent, item, value, agents, component, pred_rank, thr, strict=True
            )
            t_idx, col = np.nonzero(choice >= 0)
            is_tp[t_idx, choice[t_idx, col]] = True
    ambiguous = np.zeros(n_pred, dtype=bool)
    if a_seg.shape[0] and n_pred:
        hit, _ = overlapping_pairs(p_vid, p_seg, a_vid, a_seg)
        ambiguous[hit] = True
    t_idx, pred = np.nonzero(is_tp | ~ambiguous[None, :])
    # per (threshold, class): descending confidence; ties by video name order, then the
    # video's own confidence order (true and false positives interleaved)
    order = np.lexsort(
        (pred_rank[pred], video_rank[p_vid[pred]], -scores[pred], p_lab[pred], t_idx)
    )
    t_idx, pred = t_idx[order], pred[order]
    return (
        (t_idx * num_classes + p_lab[pred]).astype(np.int64),
        pred.astype(np.int64),
        is_tp[t_idx, pred],
    )


def _average_precision(
    g_seg: NDArray[np.float64],
    g_lab: NDArray[np.int64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    scores: NDArray[np.float64],
    p_lab: NDArray[np.int64],
    p_vid: NDArray[np.int64],
    a_seg: NDArray[np.float64],
    a_vid: NDArray[np.int64],
    video_rank: NDArray[np.int64],
    thr: NDArray[np.float64],
    num_classes: int,
) -> NDArray[np.float64]:
    n_thr = thr.shape[0]
    npos = np.bincount(g_lab, minlength=num_classes).astype(np.float64)
    group, _, tp = ranked_matches_thumos14(
        g_seg, g_lab, g_vid, p_seg, scores, p_lab, p_vid, a_seg, a_vid, video_rank, thr, num_classes
    )
    position = np.arange(group.shape[0]) - np.searchsorted(group, group, side="left") + 1
    group_tp = group[tp]
    n_tp = np.arange(group_tp.shape[0]) - np.searchsorted(group_tp, group_tp, side="left") + 1
    precision = n_tp / position[tp]
    summed = np.bincount(group_tp, weights=precision, minlength=n_thr * num_classes)
    ap = summed.astype(np.float64).reshape(n_thr, num_classes) / np.maximum(npos, 1.0)[None, :]
    out = np.ascontiguousarray(ap.T)
    out[npos == 0] = np.nan
    return out


def _class_codes(label_names: Sequence[str], annotations: Thumos14Annotations) -> NDArray[np.int64]:
    """Class index of each label (a class name or a UCF101 class id), -1 when unknown."""
    by_name = {n: i for i, n in enumerate(annotations.class_names)}
    by_id = {str(c): i for i, c in enumerate(annotations.class_ids)}
    out = np.full(len(label_names), -1, dtype=np.int64)
    for j, name in enumerate(label_names):
        code = by_name.get(name)
        if code is None:
            text = name.strip()
            code = by_id.get(str(int(text)) if text.lstrip("+-").isdigit() else text, -1)
        out[j] = code
    return out


def evaluate_thumos14(
    annotations: Thumos14Annotations,
    predictions: Predictions,
    tiou_thresholds: ThresholdSpec = THUMOS14_OFFICIAL_TIOU_THRESHOLDS,
    *,
    ignore_unknown_labels: bool = False,
) -> DetectionResult:
    """Official THUMOS'14 detection mAP of ``predictions`` (see the module docstring).

    Prediction labels may be UCF101 class ids (the text format) or class names (ActivityNet
    JSON). A label that is neither raises :class:`EvaluationInputError` unless
    ``ignore_unknown_labels`` (the official kit warns and skips); skipped predictions are
    counted in ``num_skipped``.
    """
    thr = parse_tiou_thresholds(tiou_thresholds)
    seg, scores, p_lab, p_vid, rank, num_skipped = prepare_predictions_thumos14(
        annotations, predictions, ignore_unknown_labels
    )
    num_classes = len(annotations.class_names)
    ap = _average_precision(
        annotations.segments,
        annotations.labels,
        annotations.videos,
        seg,
        scores,
        p_lab,
        p_vid,
        annotations.ambiguous_segments,
        annotations.ambiguous_videos,
        rank,
        thr,
        num_classes,
    )
    return DetectionResult.from_class_ap(
        ap,
        annotations.class_names,
        thr,
        num_predictions=int(scores.shape[0]),
        num_ground_truth=int(annotations.labels.shape[0]),
        num_skipped=num_skipped,
        protocol="thumos14",
    )


def prepare_predictions_thumos14(
    annotations: Thumos14Annotations, predictions: Predictions, ignore_unknown_labels: bool
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    int,
]:
    """Predictions as arrays coded against ``annotations``: segments, scores, class index,
    video index (videos outside the annotations get new indices), each video index's rank in
    sorted-name order, and the number skipped for an unknown label.

    Raises:
        EvaluationInputError: an unknown label, unless ``ignore_unknown_labels``.
    """
    codes = _class_codes(predictions.label_names, annotations)
    p_lab = codes[predictions.labels]
    unknown = p_lab < 0
    num_skipped = int(unknown.sum())
    video_index = {v: i for i, v in enumerate(annotations.video_ids)}
    for v in predictions.video_ids:
        video_index.setdefault(v, len(video_index))
    p_vid_codes = np.fromiter(
        (video_index[v] for v in predictions.video_ids),
        dtype=np.int64,
        count=len(predictions.video_ids),
    )
    p_vid = p_vid_codes[predictions.videos]
    seg, scores = predictions.segments, predictions.scores
    if num_skipped:
        if not ignore_unknown_labels:
            raise _unknown_label_error(
                unknown,
                predictions.label_names,
                predictions.labels,
                predictions.video_ids,
                predictions.videos,
                annotations.class_names,
            )
        keep = ~unknown
        seg, scores, p_lab, p_vid = seg[keep], scores[keep], p_lab[keep], p_vid[keep]
    names = list(video_index)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    return seg, scores, p_lab, p_vid, rank, num_skipped

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
from ._checks import check_video_coverage
from ._matching import (
    ItemIndex,
    extent,
    iter_candidate_pairs,
    match_in_order,
    processing_order,
    slices,
)
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


def _ranking(
    scores: NDArray[np.float64],
    p_lab: NDArray[np.int64],
    p_vid: NDArray[np.int64],
    video_rank: NDArray[np.int64],
    num_classes: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The final ranking: class, descending confidence, video name order, then input order.

    (The kit's confidence order within a video keeps equal confidences in input order.)
    Returns ``(ranking (N,), class_start (C + 1,))``.
    """
    vr = video_rank[p_vid]
    small = np.uint16 if vr.size == 0 or int(vr.max()) <= np.iinfo(np.uint16).max else np.int64
    pre = np.argsort(vr.astype(small), kind="stable").astype(np.int64)
    order, class_start = processing_order(p_lab[pre], scores[pre], num_classes)
    return pre[order], class_start


def _group_rank(group: NDArray[np.int64]) -> NDArray[np.int64]:
    """Rank of each element among the earlier elements of the same group (0 for the first)."""
    order = np.argsort(group, kind="stable")
    sg = group[order]
    first = np.searchsorted(sg, sg, side="left")
    out = np.empty(group.shape[0], dtype=np.int64)
    out[order] = np.arange(group.shape[0], dtype=np.int64) - first
    return out


def _matches(
    g_seg: NDArray[np.float64],
    g_lab: NDArray[np.int64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    scores: NDArray[np.float64],
    p_lab: NDArray[np.int64],
    p_vid: NDArray[np.int64],
    thr: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """True positives ``(threshold index, detection)`` of the ground-truth-centric matching.

    A ground truth with ``k`` earlier ground truths in its (class, video) can lose at most
    ``k`` of its candidates to them (one each per threshold), so only its ``k + 1`` preferred
    candidates can ever be its match. Candidates are formed from the detections' side in
    bounded chunks and only those are kept: memory O(N + sum of k + 1), never N x G.
    """
    empty = np.zeros(0, dtype=np.int64)
    n_gt, n_pred = g_lab.shape[0], scores.shape[0]
    if not (n_gt and n_pred):
        return empty, empty
    n_vid = int(max(g_vid.max(), p_vid.max())) + 1
    g_group = g_lab * n_vid + g_vid
    limit = _group_rank(g_group) + 1
    index = ItemIndex.build(g_group, g_seg, extent(p_seg, g_seg))
    t_min = float(thr.min())
    keep_gt, keep_det, keep_val = empty, empty, np.zeros(0, dtype=np.float64)
    for s0, s1 in slices(n_pred):
        d_seg = p_seg[s0:s1]
        d_group = p_lab[s0:s1] * n_vid + p_vid[s0:s1]
        for det, gt in iter_candidate_pairs(index, d_group, d_seg, fraction=max(t_min, 0.0)):
            value = _overlap(g_seg[gt], d_seg[det])
            ok = value > t_min
            if not ok.any():
                continue
            gt_all = np.concatenate([keep_gt, gt[ok]])
            det_all = np.concatenate([keep_det, det[ok] + s0])
            val_all = np.concatenate([keep_val, value[ok]])
            # preference of a ground truth: overlap, then the more confident detection
            o = np.lexsort((det_all, -scores[det_all], -val_all, gt_all))
            gt_all, det_all, val_all = gt_all[o], det_all[o], val_all[o]
            rank = np.arange(gt_all.shape[0]) - np.searchsorted(gt_all, gt_all, side="left")
            top = rank < limit[gt_all]
            keep_gt, keep_det, keep_val = gt_all[top], det_all[top], val_all[top]
    if not keep_gt.size:
        return empty, empty
    uniq, local = np.unique(keep_det, return_inverse=True)
    taken = np.zeros((thr.shape[0], uniq.shape[0]), dtype=bool)
    t_idx, _, det = match_in_order(
        keep_gt, local.reshape(-1).astype(np.int64), keep_val, thr, taken, strict=True
    )
    return t_idx, uniq[det]


def _ambiguous(
    p_seg: NDArray[np.float64],
    p_vid: NDArray[np.int64],
    a_seg: NDArray[np.float64],
    a_vid: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """``(N,)`` detections that intersect an ambiguous segment of their video."""
    out = np.zeros(p_vid.shape[0], dtype=bool)
    if a_seg.shape[0] and p_vid.shape[0]:
        index = ItemIndex.build(a_vid, a_seg, extent(p_seg, a_seg))
        for s0, s1 in slices(p_vid.shape[0]):
            sl = slice(s0, s1)
            for det, _ in iter_candidate_pairs(index, p_vid[sl], p_seg[sl]):
                out[det + s0] = True
    return out


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
    """The protocol's ranked lists, for validated arrays (for curves: ``T x N`` rows).

    Returns:
        ``(group, pred, is_tp)``, one row per prediction kept in the ranking of a
        (threshold, class) list: ``group = threshold index * num_classes + class``, the
        prediction's index, and whether it is a true positive. Rows are sorted by group, then
        rank. Predictions removed as ambiguous are absent.
    """
    ranking, _ = _ranking(scores, p_lab, p_vid, video_rank, num_classes)
    tp_t, tp_pred = _matches(g_seg, g_lab, g_vid, p_seg, scores, p_lab, p_vid, thr)
    ambiguous = _ambiguous(p_seg, p_vid, a_seg, a_vid)
    groups, preds, flags = [], [], []
    for t in range(thr.shape[0]):
        is_tp = np.zeros(scores.shape[0], dtype=bool)
        is_tp[tp_pred[tp_t == t]] = True
        kept = ranking[(is_tp | ~ambiguous)[ranking]]
        groups.append(t * num_classes + p_lab[kept])
        preds.append(kept)
        flags.append(is_tp[kept])
    return np.concatenate(groups), np.concatenate(preds), np.concatenate(flags)


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
    """``(C, T)`` AP from the true positives alone (memory O(N + G T), no T x N list).

    The rank of a true positive in its (threshold, class) list is one plus the kept
    detections above it: the non-ambiguous ones (threshold-independent, a cumulative count
    along the ranking) and the ambiguous true positives of that threshold.
    """
    n_thr = thr.shape[0]
    npos = np.bincount(g_lab, minlength=num_classes).astype(np.float64)
    ap = np.zeros((n_thr, num_classes), dtype=np.float64)
    tp_t, tp_pred = _matches(g_seg, g_lab, g_vid, p_seg, scores, p_lab, p_vid, thr)
    if tp_pred.size:
        ranking, class_start = _ranking(scores, p_lab, p_vid, video_rank, num_classes)
        ambiguous = _ambiguous(p_seg, p_vid, a_seg, a_vid)
        clear_before = np.zeros(ranking.shape[0] + 1, dtype=np.int64)
        np.cumsum(~ambiguous[ranking], out=clear_before[1:])
        where = np.empty(ranking.shape[0], dtype=np.int64)
        where[ranking] = np.arange(ranking.shape[0], dtype=np.int64)
        r = where[tp_pred]
        o = np.lexsort((r, tp_t))
        t_idx, r, pred = tp_t[o], r[o], tp_pred[o]
        cls = p_lab[pred]
        group = t_idx * num_classes + cls
        first = np.searchsorted(group, group, side="left")
        n_tp = np.arange(group.shape[0]) - first + 1
        amb = ambiguous[pred].astype(np.int64)
        amb_cum = np.cumsum(amb) - amb
        amb_before = amb_cum - amb_cum[first]
        position = clear_before[r] - clear_before[class_start[cls]] + amb_before + 1
        summed = np.bincount(group, weights=n_tp / position, minlength=n_thr * num_classes)
        ap = summed.astype(np.float64).reshape(n_thr, num_classes)
    ap = ap / np.maximum(npos, 1.0)[None, :]
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
    strict: bool = False,
) -> DetectionResult:
    """Official THUMOS'14 detection mAP of ``predictions`` (see the module docstring).

    Prediction labels may be UCF101 class ids (the text format) or class names (ActivityNet
    JSON). A label that is neither raises :class:`EvaluationInputError` unless
    ``ignore_unknown_labels`` (the official kit warns and skips); skipped predictions are
    counted in ``num_skipped``. When no prediction is on an annotated video, an
    :class:`~wtal_blocks.evaluation.UnmatchedVideosWarning` names the first ones (an error
    with ``strict``). Memory is bounded by the input (no ``T x N`` ranking is built).

    Raises:
        TypeError: ``annotations`` or ``predictions`` of the wrong type.
        EvaluationInputError: bad thresholds, an unknown label, or (with ``strict``) no
            prediction on an annotated video.
    """
    if not isinstance(annotations, Thumos14Annotations):
        raise TypeError(
            "annotations must be Thumos14Annotations (load_thumos14_annotations), got "
            f"{type(annotations).__name__}"
        )
    if not isinstance(predictions, Predictions):
        raise TypeError(
            "predictions must be Predictions (load_thumos14_results, load_predictions), got "
            f"{type(predictions).__name__}"
        )
    thr = parse_tiou_thresholds(tiou_thresholds)
    used = np.zeros(len(predictions.video_ids), dtype=bool)
    used[predictions.videos] = True
    annotated = set(annotations.video_ids[v] for v in np.unique(annotations.videos).tolist())
    check_video_coverage(
        [v for v, u in zip(predictions.video_ids, used.tolist(), strict=True) if u],
        annotated,
        subset=annotations.subset,
        strict=strict,
    )
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

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
from .detection import DetectionResult, ThresholdSpec, _unknown_label_error
from .errors import EvaluationInputError
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
    det_segments: ArrayLike,
    det_scores: ArrayLike,
    det_labels: ArrayLike,
    det_videos: ArrayLike,
    tiou_thresholds: ThresholdSpec = THUMOS14_OFFICIAL_TIOU_THRESHOLDS,
    n_classes: int | None = None,
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
        det_segments: ``(N, 2)`` float.
        det_scores: ``(N,)`` float confidences.
        det_labels: ``(N,)`` int class index.
        det_videos: ``(N,)`` int video id.
        tiou_thresholds: ``(T,)`` overlap thresholds in ``[0, 1]`` (a match needs ``>``).
        n_classes: ``C`` (default ``max label + 1``).
        ambiguous_segments: ``(A, 2)`` float ``Ambiguous`` segments, with
        ambiguous_videos: ``(A,)`` int their video ids.
        video_rank: ``(V,)`` int, the rank of each video id in sorted-name order (only breaks
            confidence ties between videos); default: the video id itself.

    Returns:
        ``(C, T)`` float64 AP; rows of classes without ground truth are NaN.
    """
    thr = parse_tiou_thresholds(tiou_thresholds)
    g_seg = check_segments("gt_segments", gt_segments)
    d_seg = check_segments("det_segments", det_segments)
    n_gt, n_det = g_seg.shape[0], d_seg.shape[0]
    g_lab_raw = np.asarray(as_numpy(gt_labels)).reshape(-1)
    d_lab_raw = np.asarray(as_numpy(det_labels)).reshape(-1)
    if n_classes is None:
        n_classes = max((int(a.max()) + 1 for a in (g_lab_raw, d_lab_raw) if a.size), default=0)
    big = np.iinfo(np.int64).max
    g_lab = check_labels("gt_labels", g_lab_raw, n_gt, n_classes)
    d_lab = check_labels("det_labels", d_lab_raw, n_det, n_classes)
    g_vid = check_labels("gt_videos", gt_videos, n_gt, big)
    d_vid = check_labels("det_videos", det_videos, n_det, big)
    scores = check_scores("det_scores", det_scores, n_det)
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
        g_seg, g_lab, g_vid, d_seg, scores, d_lab, d_vid, a_seg, a_vid, rank, thr, n_classes
    )


def _average_precision(
    g_seg: NDArray[np.float64],
    g_lab: NDArray[np.int64],
    g_vid: NDArray[np.int64],
    d_seg: NDArray[np.float64],
    scores: NDArray[np.float64],
    d_lab: NDArray[np.int64],
    d_vid: NDArray[np.int64],
    a_seg: NDArray[np.float64],
    a_vid: NDArray[np.int64],
    video_rank: NDArray[np.int64],
    thr: NDArray[np.float64],
    n_classes: int,
) -> NDArray[np.float64]:
    n_thr = thr.shape[0]
    n_det = scores.shape[0]
    npos = np.bincount(g_lab, minlength=n_classes).astype(np.float64)
    ap = np.zeros((n_thr, n_classes), dtype=np.float64)
    if n_det:
        # confidence order of the detections (stable): per video it is the official order
        conf_order = np.argsort(-scores, kind="stable")
        det_rank = np.empty(n_det, dtype=np.int64)
        det_rank[conf_order] = np.arange(n_det, dtype=np.int64)
        is_tp = np.zeros((n_thr, n_det), dtype=bool)
        if g_lab.shape[0]:
            n_vid = int(max(g_vid.max(), d_vid.max())) + 1
            agent, item = overlapping_pairs(
                g_lab * n_vid + g_vid, g_seg, d_lab * n_vid + d_vid, d_seg
            )
            value = _overlap(g_seg[agent], d_seg[item])
            keep = value > thr.min()
            agent, item, value = agent[keep], item[keep], value[keep]
            if agent.size:
                agents, component = conflict_components(
                    agent, item, g_lab * n_vid + g_vid, g_seg, d_seg
                )
                choice = greedy_match(
                    agent, item, value, agents, component, det_rank, thr, strict=True
                )
                t_idx, col = np.nonzero(choice >= 0)
                is_tp[t_idx, choice[t_idx, col]] = True
        ambiguous = np.zeros(n_det, dtype=bool)
        if a_seg.shape[0]:
            hit, _ = overlapping_pairs(d_vid, d_seg, a_vid, a_seg)
            ambiguous[hit] = True
        kept = is_tp | ~ambiguous[None, :]
        t_idx, det = np.nonzero(kept)
        fp = ~is_tp[t_idx, det]
        # per (threshold, class): descending confidence; ties by video name order, then the
        # video's own confidence order (true and false positives interleaved)
        order = np.lexsort((det_rank[det], video_rank[d_vid[det]], -scores[det], d_lab[det], t_idx))
        seg = (t_idx * n_classes + d_lab[det])[order]
        tp = ~fp[order]
        position = np.arange(seg.shape[0]) - np.searchsorted(seg, seg, side="left") + 1
        seg_tp = seg[tp]
        n_tp = np.arange(seg_tp.shape[0]) - np.searchsorted(seg_tp, seg_tp, side="left") + 1
        precision = n_tp / position[tp]
        summed = np.bincount(seg_tp, weights=precision, minlength=n_thr * n_classes).astype(
            np.float64
        )
        ap = summed.reshape(n_thr, n_classes) / np.maximum(npos, 1.0)[None, :]
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
    counted in ``n_skipped``.
    """
    thr = parse_tiou_thresholds(tiou_thresholds)
    codes = _class_codes(predictions.label_names, annotations)
    d_lab = codes[predictions.labels]
    unknown = d_lab < 0
    n_skipped = int(unknown.sum())
    video_index = {v: i for i, v in enumerate(annotations.video_ids)}
    for v in predictions.video_ids:
        video_index.setdefault(v, len(video_index))
    p_vid_codes = np.fromiter(
        (video_index[v] for v in predictions.video_ids),
        dtype=np.int64,
        count=len(predictions.video_ids),
    )
    d_vid = p_vid_codes[predictions.videos]
    seg, scores = predictions.segments, predictions.scores
    if n_skipped:
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
        seg, scores, d_lab, d_vid = seg[keep], scores[keep], d_lab[keep], d_vid[keep]
    names = list(video_index)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    n_classes = len(annotations.class_names)
    ap = _average_precision(
        annotations.segments,
        annotations.labels,
        annotations.videos,
        seg,
        scores,
        d_lab,
        d_vid,
        annotations.ambiguous_segments,
        annotations.ambiguous_videos,
        rank,
        thr,
        n_classes,
    )
    return DetectionResult.from_class_ap(
        ap,
        annotations.class_names,
        thr,
        n_predictions=int(scores.shape[0]),
        n_ground_truth=int(annotations.labels.shape[0]),
        n_skipped=n_skipped,
        protocol="thumos14",
    )

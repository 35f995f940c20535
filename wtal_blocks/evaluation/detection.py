"""Detection mAP under the ActivityNet protocol, vectorised (numpy only).

The protocol (ActivityNet ``Evaluation/eval_detection.py``, ``compute_average_precision_detection``),
computed per class over the ground truth of the chosen subset:

1. Predictions of the class are sorted by descending score. **Tie rule:** equal scores keep
   their input order (a stable sort; the official script uses NumPy's unstable ``argsort``
   reversed, so its order among ties is unspecified).
2. Each prediction, in that order, looks at the ground truths of its class in its own video,
   in descending tIoU. At each threshold it takes the first one that is not yet matched at that
   threshold; it is a true positive if that tIoU is ``>=`` the threshold, otherwise (or when
   there is no ground truth left, or none in the video) a false positive. **GT tie rule:**
   ground truths with equal tIoU are tried in input order.
3. ``tIoU = max(0, min(e1, e2) - max(s1, s2)) / ((e1 - s1) + (e2 - s2) - intersection)``.
   **Zero-union rule:** two zero-length segments have union 0; their tIoU is defined as 0
   (the official code divides 0 by 0), so they never match.
4. Precision and recall are cumulated in that order; AP is all-point interpolated
   (VOC 2011 style): precision made monotone non-increasing from the right, summed over the
   points where recall changes, with recall steps of ``1 / num_ground_truth``.
5. mAP at a threshold is the mean AP over the classes that have ground truth; a class with
   ground truth and no prediction has AP 0. The average mAP is the mean over thresholds.

Matching is vectorised across predictions, thresholds and classes (see ``_matching``), and AP
needs the precision only at true positives: between two true positives the precision falls,
so the interpolated precision at a recall step is the maximum over later true positives.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import as_numpy, check_labels, check_scores, check_segments
from ._checks import check_source, check_video_coverage
from ._matching import (
    ItemIndex,
    extent,
    iter_candidate_pairs,
    match_in_order,
    prefer_order,
    processing_order,
    segmented_cummax,
    slices,
)
from .annotations import GroundTruth, Predictions
from .errors import EvaluationInputError
from .result import DetectionResult
from .tiou import paired_tiou, parse_tiou_thresholds

__all__ = [
    "ACTIVITYNET_TIOU_THRESHOLDS",
    "THUMOS14_TIOU_THRESHOLDS",
    "average_precision_detection",
    "evaluate_detection",
]

ACTIVITYNET_TIOU_THRESHOLDS = "0.5:0.95:0.05"
"""The ActivityNet default: 0.50, 0.55, ..., 0.95."""
THUMOS14_TIOU_THRESHOLDS = "0.1:0.7:0.1"
"""The thresholds WTAL papers report on THUMOS'14: 0.1, 0.2, ..., 0.7."""

ThresholdSpec = str | float | Iterable[float]


def _thresholds(spec: Any, *, allow_zero: bool) -> NDArray[np.float64]:
    thr = parse_tiou_thresholds(spec)
    if not allow_zero and np.any(thr <= 0):
        raise EvaluationInputError(
            f"tIoU thresholds must be > 0 for the ActivityNet protocol, got {thr.tolist()}",
            field="tiou",
        )
    return thr


def average_precision_detection(
    gt_segments: ArrayLike,
    gt_labels: ArrayLike,
    gt_videos: ArrayLike,
    pred_segments: ArrayLike,
    pred_scores: ArrayLike,
    pred_labels: ArrayLike,
    pred_videos: ArrayLike,
    tiou_thresholds: ThresholdSpec = ACTIVITYNET_TIOU_THRESHOLDS,
    num_classes: int | None = None,
) -> NDArray[np.float64]:
    """Per-class AP of the ActivityNet detection protocol (see the module docstring).

    Args:
        gt_segments: ``(G, 2)`` float ``[start, end]``, ``start <= end``.
        gt_labels: ``(G,)`` int class index in ``[0, num_classes)``.
        gt_videos: ``(G,)`` int video id (any non-negative integers, shared with ``pred_videos``).
        pred_segments: ``(N, 2)`` float.
        pred_scores: ``(N,)`` float, finite.
        pred_labels: ``(N,)`` int class index.
        pred_videos: ``(N,)`` int video id; a video with no ground truth of the class makes the
            prediction a false positive.
        tiou_thresholds: ``(T,)`` thresholds in ``(0, 1]`` or a ``"LO:HI:STEP"`` string.
        num_classes: number of classes ``C`` (default: ``max label + 1``).

    Returns:
        ``(C, T)`` float64 AP; rows of classes with no ground truth are NaN.
    """
    thr = _thresholds(tiou_thresholds, allow_zero=False)
    g_seg = check_segments("gt_segments", gt_segments)
    n_gt = g_seg.shape[0]
    p_seg = check_segments("pred_segments", pred_segments)
    n_pred = p_seg.shape[0]
    g_lab_raw = np.asarray(as_numpy(gt_labels)).reshape(-1)
    p_lab_raw = np.asarray(as_numpy(pred_labels)).reshape(-1)
    if num_classes is None:
        top = [
            int(a.max()) + 1
            for a in (g_lab_raw, p_lab_raw)
            if a.size and np.issubdtype(a.dtype, np.integer)
        ]
        num_classes = max(top, default=0)
    g_lab = check_labels("gt_labels", g_lab_raw, n_gt, num_classes)
    p_lab = check_labels("pred_labels", p_lab_raw, n_pred, num_classes)
    g_vid = check_labels("gt_videos", gt_videos, n_gt, np.iinfo(np.int64).max)
    p_vid = check_labels("pred_videos", pred_videos, n_pred, np.iinfo(np.int64).max)
    scores = check_scores("pred_scores", pred_scores, n_pred)
    return _average_precision(g_seg, g_lab, g_vid, p_seg, scores, p_lab, p_vid, thr, num_classes)


def ranked_matches(
    g_seg: NDArray[np.float64],
    g_lab: NDArray[np.int64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    scores: NDArray[np.float64],
    p_lab: NDArray[np.int64],
    p_vid: NDArray[np.int64],
    thr: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The protocol's matching, for validated arrays, in memory bounded by the input.

    Predictions are served in processing order a slice at a time; each slice's candidate pairs
    are formed in bounded chunks, filtered by the lowest threshold and matched before the next
    chunk (see ``_matching``), so no more than one chunk of pairs ever exists.

    Returns:
        ``(order, tp_threshold, tp_rank)``: ``order (N,)`` the processing order of the
        predictions (by class, then descending score, ties in input order), and the true
        positives as pairs ``(threshold index, position in order)``, sorted by threshold then
        position. Everything else (precision, recall, AP, curves) derives from these.
    """
    empty = np.zeros(0, dtype=np.int64)
    n_pred = scores.shape[0]
    num_classes = int(max(g_lab.max(initial=-1), p_lab.max(initial=-1))) + 1
    order, _ = processing_order(p_lab, scores, num_classes)
    if not (n_pred and g_lab.shape[0]):
        return order, empty, empty
    n_vid = int(max(g_vid.max(), p_vid.max())) + 1
    index = ItemIndex.build(g_lab * n_vid + g_vid, g_seg, extent(p_seg, g_seg))
    t_min = float(thr.min())
    taken = np.zeros((thr.shape[0], g_lab.shape[0]), dtype=bool)
    found_t, found_pos = [], []
    for s0, s1 in slices(n_pred):
        rows = order[s0:s1]
        a_seg = p_seg[rows]
        a_group = p_lab[rows] * n_vid + p_vid[rows]
        for agent, item in iter_candidate_pairs(index, a_group, a_seg, fraction=t_min):
            value = paired_tiou(a_seg[agent], g_seg[item])
            keep = value >= t_min
            if not keep.any():
                continue
            # GT tie rule: equal tIoU goes to the ground truth that comes first in the input
            agent, item, value = prefer_order(agent[keep], item[keep], value[keep], item[keep])
            t_idx, pos, _ = match_in_order(agent + s0, item, value, thr, taken, strict=False)
            found_t.append(t_idx)
            found_pos.append(pos)
    if not found_t:
        return order, empty, empty
    t_idx = np.concatenate(found_t)
    pos = np.concatenate(found_pos)
    by = np.lexsort((pos, t_idx))
    return order, t_idx[by], pos[by]


def interpolated_ap_at_hits(
    hit_group: NDArray[np.int64],
    hits_so_far: NDArray[np.float64],
    seen_so_far: NDArray[np.float64],
    npos: NDArray[np.float64],
    num_groups: int,
) -> NDArray[np.float64]:
    """All-point interpolated AP of several ranked lists, from their true positives alone.

    Between two true positives the precision only falls, so the interpolated precision at a
    recall step is the maximum precision over the later true positives.

    Args:
        hit_group: ``(H,)`` the list (group) of each true positive, non-decreasing.
        hits_so_far: ``(H,)`` true positives up to and including this one, in its list.
        seen_so_far: ``(H,)`` predictions up to and including this one, in its list.
        npos: ``(H,)`` ground truths of the hit's list (recall steps are ``1 / npos``).
        num_groups: number of lists.

    Returns:
        ``(num_groups,)`` AP of each list (0 for a list without true positives).
    """
    precision = hits_so_far / seen_so_far
    envelope = segmented_cummax(precision, hit_group, reverse=True)
    return np.bincount(hit_group, weights=envelope / npos, minlength=num_groups).astype(np.float64)


def _average_precision(
    g_seg: NDArray[np.float64],
    g_lab: NDArray[np.int64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    scores: NDArray[np.float64],
    p_lab: NDArray[np.int64],
    p_vid: NDArray[np.int64],
    thr: NDArray[np.float64],
    num_classes: int,
) -> NDArray[np.float64]:
    """Validated-array core of :func:`average_precision_detection`: ``(C, T)`` AP."""
    n_thr = thr.shape[0]
    npos = np.bincount(g_lab, minlength=num_classes).astype(np.float64)
    order, t_idx, pos = ranked_matches(g_seg, g_lab, g_vid, p_seg, scores, p_lab, p_vid, thr)
    ap = np.zeros((n_thr, num_classes), dtype=np.float64)
    if pos.size:
        class_start = np.zeros(num_classes + 1, dtype=np.int64)
        np.cumsum(np.bincount(p_lab, minlength=num_classes), out=class_start[1:])
        cls = p_lab[order[pos]]
        group = t_idx * num_classes + cls
        hits = (np.arange(group.shape[0]) - np.searchsorted(group, group, side="left") + 1).astype(
            np.float64
        )
        seen = (pos - class_start[cls] + 1).astype(np.float64)
        ap = interpolated_ap_at_hits(group, hits, seen, npos[cls], n_thr * num_classes)
        ap = ap.reshape(n_thr, num_classes)
    out = np.ascontiguousarray(ap.T)
    out[npos == 0] = np.nan
    return out


def _label_lookup(label_names: Sequence[str], class_index: dict[str, int]) -> NDArray[np.int64]:
    """Class index of each label name, -1 for unknown.

    A label that is not a class name but an integer (a UCF101 class id of THUMOS'14 results
    text) names the THUMOS'14 detection class of that id, when that is a class here.
    """
    out = np.fromiter(
        (class_index.get(n, -1) for n in label_names), dtype=np.int64, count=len(label_names)
    )
    unknown = [i for i in np.flatnonzero(out < 0).tolist() if label_names[i].strip().isdigit()]
    if unknown:
        from ._files import thumos14_class_ids

        by_id = thumos14_class_ids()
        for i in unknown:
            name = by_id.get(int(label_names[i]))
            if name is not None:
                out[i] = class_index.get(name, -1)
    return out


def _unknown_label_error(
    unknown_mask: NDArray[np.bool_],
    labels: Sequence[str],
    label_codes: NDArray[np.int64],
    video_ids: Sequence[str],
    videos: NDArray[np.int64],
    known: Sequence[str],
) -> EvaluationInputError:
    first = int(np.flatnonzero(unknown_mask)[0])
    vid = int(videos[first])
    index_in_video = int(np.count_nonzero(videos[:first] == vid))
    names = sorted({labels[int(c)] for c in np.unique(label_codes[unknown_mask])})
    shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
    return EvaluationInputError(
        f"label {labels[int(label_codes[first])]!r} is not a ground-truth class "
        f"({int(unknown_mask.sum())} prediction(s) with unknown label(s) {shown}; "
        f"{len(known)} known classes); skip them with ignore_unknown_labels=True "
        "(--ignore-unknown-labels)",
        video=str(video_ids[vid]),
        index=index_in_video,
        field="label",
    )


def evaluate_detection(
    gt: GroundTruth | str | os.PathLike[str],
    predictions: Predictions | str | os.PathLike[str],
    tiou_thresholds: ThresholdSpec = ACTIVITYNET_TIOU_THRESHOLDS,
    *,
    subset: str | None = "auto",
    ignore_unknown_labels: bool = False,
    strict: bool = False,
) -> DetectionResult:
    """ActivityNet-protocol detection mAP of ``predictions`` against the ground truth ``gt``.

    Predictions are matched to the ground truth by video id and class name (a UCF101 class id
    also names a THUMOS'14 class). A prediction whose label names a class absent from the
    ground truth's classes raises :class:`EvaluationInputError` unless
    ``ignore_unknown_labels`` (then it is skipped and counted in ``num_skipped``). Predictions
    on videos outside the ground truth are false positives; when *no* prediction is on a
    ground-truth video, an :class:`UnmatchedVideosWarning` names the first ones (an error with
    ``strict``).

    Memory is bounded by the input: about 40 bytes per prediction for the arrays, plus a
    bounded chunk of candidate pairs (see ``_matching``), never all overlapping pairs.

    Args:
        gt: a :class:`GroundTruth`, an ActivityNet JSON file, or a built-in name
            (``"thumos14"``, ``"anet12"``; see :func:`load_activitynet_ground_truth`).
        predictions: :class:`Predictions` or a results file in any format of
            :func:`~wtal_blocks.evaluation.load_predictions` (ActivityNet JSON, JSON Lines,
            text lines), read in bounded pieces.
        tiou_thresholds: thresholds in ``(0, 1]`` or ``"LO:HI:STEP"``.
        subset: the subset of a ground-truth file (ignored for a :class:`GroundTruth`).
        ignore_unknown_labels: skip predictions of unknown classes instead of raising.
        strict: raise instead of warning when no prediction is on a ground-truth video.

    Returns:
        :class:`DetectionResult` over the classes that have ground truth.

    Raises:
        TypeError: ``gt`` or ``predictions`` is neither a container nor a path (a decoded JSON
            dict, say).
        EvaluationInputError: bad thresholds, an unknown label, a ground truth without
            instances, or (with ``strict``) no prediction on a ground-truth video.

    Warns:
        UnmatchedVideosWarning: no prediction is on a ground-truth video (every AP is 0).

    Example:
        >>> from wtal_blocks.evaluation import Predictions, evaluate_detection
        >>> import numpy as np
        >>> preds = Predictions(("video_test_0000004",), ("CricketBowling",),
        ...     np.array([[0.0, 1.5]]), np.array([0.9]), np.array([0]), np.array([0]))
        >>> result = evaluate_detection("thumos14", preds, "0.5")
        >>> result.num_ground_truth, result.num_predictions, round(float(result.mAP[0]), 6)
        (3311, 1, 0.000362)
    """
    check_source("gt", gt, GroundTruth, "an ActivityNet JSON ground truth")
    check_source("predictions", predictions, Predictions, "a results file")
    thr = _thresholds(tiou_thresholds, allow_zero=False)
    if not isinstance(gt, GroundTruth):
        from .io import load_activitynet_ground_truth

        gt = load_activitynet_ground_truth(gt, subset=subset)
    if not isinstance(predictions, Predictions):
        from .results_io import load_predictions

        predictions = load_predictions(predictions)
    ground_truth = gt
    if len(ground_truth) == 0:
        raise EvaluationInputError("the ground truth has no action instance to evaluate against")
    used = np.zeros(len(predictions.video_ids), dtype=bool)
    used[predictions.videos] = True
    check_video_coverage(
        [v for v, u in zip(predictions.video_ids, used.tolist(), strict=True) if u],
        ground_truth.video_ids,
        subset=ground_truth.subset,
        strict=strict,
    )
    seg, scores, p_lab, p_vid, num_skipped = prepare_predictions(
        ground_truth, predictions, ignore_unknown_labels
    )
    ap = _average_precision(
        ground_truth.segments,
        ground_truth.labels,
        ground_truth.videos,
        seg,
        scores,
        p_lab,
        p_vid,
        thr,
        len(ground_truth.class_names),
    )
    return DetectionResult.from_class_ap(
        ap,
        ground_truth.class_names,
        thr,
        num_predictions=int(scores.shape[0]),
        num_ground_truth=int(ground_truth.labels.shape[0]),
        num_skipped=num_skipped,
        protocol="activitynet",
    )


def prepare_predictions(
    ground_truth: GroundTruth, predictions: Predictions, ignore_unknown_labels: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], int]:
    """Predictions as arrays coded against ``ground_truth``: segments, scores, class index
    into ``ground_truth.class_names``, video index into ``ground_truth.video_ids`` (videos
    outside the ground truth get new indices), and the number skipped for an unknown label.

    Raises:
        EvaluationInputError: an unknown label, unless ``ignore_unknown_labels``.
    """
    class_index = {n: i for i, n in enumerate(ground_truth.class_names)}
    p_lab = _label_lookup(predictions.label_names, class_index)[predictions.labels]
    unknown = p_lab < 0
    num_skipped = int(unknown.sum())
    p_vid = _video_codes(predictions.video_ids, ground_truth.video_ids)[predictions.videos]
    seg, scores = predictions.segments, predictions.scores
    if num_skipped:
        if not ignore_unknown_labels:
            raise _unknown_label_error(
                unknown,
                predictions.label_names,
                predictions.labels,
                predictions.video_ids,
                predictions.videos,
                ground_truth.class_names,
            )
        keep = ~unknown
        seg, scores, p_lab, p_vid = seg[keep], scores[keep], p_lab[keep], p_vid[keep]
    return seg, scores, p_lab, p_vid, num_skipped


def _video_codes(pred_video_ids: Sequence[str], gt_video_ids: Sequence[str]) -> NDArray[np.int64]:
    """Index of each prediction video in ``gt_video_ids``; unseen videos get new indices."""
    index = {v: i for i, v in enumerate(gt_video_ids)}
    nxt = len(index)
    out = np.empty(len(pred_video_ids), dtype=np.int64)
    for j, v in enumerate(pred_video_ids):
        code = index.get(v)
        if code is None:
            code = index[v] = nxt
            nxt += 1
        out[j] = code
    return out

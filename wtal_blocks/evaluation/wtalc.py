"""W-TALC's detection mAP (``detectionMAP.py``, ``getDetectionMAP``), exact and vectorised.

W-TALC (Paul et al., ECCV 2018) and several later repositories evaluate THUMOS'14 with their own
``getDetectionMAP``. It takes **dense per-snippet class scores**, makes its own proposals and
scores them with its own matching rules, so its numbers are comparable neither with the
ActivityNet protocol (:func:`~wtal_blocks.evaluation.evaluate_detection`) nor with the official
THUMOS'14 kit (:func:`~wtal_blocks.evaluation.evaluate_thumos14`). :func:`evaluate_wtalc`
reproduces it exactly (HEAD of ``sujoyp/wtalc-pytorch``, threshold fraction 0.5), with the
following pipeline. ``f`` is the feature rate: ``25/16`` features per second for I3D (25 fps,
16-frame snippets), ``10/4`` for UntrimmedNet features (``feature_type="UNT"``).

1. **Videos.** The test-subset rows of the annotation files, in file order; the videos without
   any segment are dropped together with their scores (they cannot produce false positives).
   On Thumos14reduced: 212 videos, 3,358 instances.
2. **Classes.** Those that occur in the kept ground truth, sorted by name.
3. **Class gate** (per video, ``L`` snippets, ``k = floor(L / 8)``): ``v_c`` is the mean of the
   ``k`` largest values of column ``c``. A column with ``v_c > 0`` is kept, every other column
   is replaced by zeros (it yields no proposal). With ``L < 8``, ``k = 0``, the mean is NaN and
   every column is zeroed.
4. **Proposals** (per video and class, column ``x``): ``threshold = max(x) - (max(x) - min(x))
   * 0.5`` (the mid-range); every maximal run of positions with ``x > threshold`` (strict) is a
   segment ``[s, e)`` in feature indices, runs touching either end included; only runs with
   ``e - s >= 2`` are kept. No score threshold, no NMS.
5. **Score** ``= max(x[s:e]) + 0.7 * v_c`` (``v_c`` ungated).
6. **Ambiguous intervals.** A proposal is deleted (neither true nor false positive, whatever it
   would have matched) when its index set ``{s, ..., e-1}`` shares an index with
   ``{round(a f), ..., round(b f) - 1}`` for an ``Ambiguous_test.txt`` interval ``[a, b]`` of
   its video.
7. **Ground truth** in feature indices: ``[round(start f), round(end f))`` with round half to
   even on the float64 product. A ground truth whose range is empty counts but never matches.
8. **Matching** (per class and threshold ``t``): proposals in descending score; each takes the
   **first** still-unmatched ground truth of its video, in list order (video order, then file
   order), whose IoU on integer index sets is ``>= t``; otherwise it is a false positive.
9. **AP** is not interpolated: the sum of the precision at the true positives divided by the
   number of ground truths. mAP is the mean over the classes.
10. **The empty-class quirk.** If any evaluated class has no proposal left after step 6, W-TALC
    returns 0 for the whole tIoU (every threshold, since proposals do not depend on it). By
    default (``empty_class="zero_map"``) this is reproduced and a
    :class:`WtalcEmptyClassWarning` names the classes; ``empty_class="zero_ap"`` gives those
    classes AP 0 and averages normally.

**Arithmetic.** W-TALC computes in the dtype of each score array (float32 from its model) with
numpy >= 2 promotion rules: the threshold, ``v_c`` and the score are float32 values, the score
is then stored as float64. :func:`evaluate_wtalc` does the same for float32 and float64 input.
``v_c`` is computed with the very numpy calls W-TALC makes (negate, sort each column, negate,
``mean`` over axis 0 of the first ``k`` rows), because its rounding depends on the memory layout:
for a C-ordered array with at least two columns (what W-TALC's ``test.py`` passes) numpy adds
the sorted rows one after the other, largest first; for one column or a Fortran-ordered array it
sums each column pairwise. The two differ in the last bit of most ``v_c`` values.

**Tie rule.** Proposals with equal scores are ranked stably: earlier video first, then earlier
segment. W-TALC uses numpy's default (unstable) ``argsort`` of the negated scores, whose order
among ties depends on the numpy version and the CPU's SIMD dispatch; the stable order is the
portable convention. It gives W-TALC's result whenever tied proposals of a class neither mix
true and false positives nor compete for the same ground truth.

**Stricter input checks than W-TALC** (which would crash, or silently accept): the score arrays
must be 2-D float32/float64, finite, with at least one snippet and exactly ``C`` columns; a
sequence must hold exactly one array per test video (W-TALC ignores extra elements);
``feature_type`` must be ``"I3D"`` or ``"UNT"`` (W-TALC treats any value other than ``"UNT"``
as I3D); tIoU thresholds must lie in ``(0, 1]``.

The files are read by :mod:`.wtalc_io`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._matching import match_in_order, overlapping_pairs, prefer_order
from .annotations import GroundTruth, Predictions
from .errors import EvaluationInputError
from .result import DetectionResult
from .tiou import parse_tiou_thresholds
from .wtalc_io import (
    _I64,
    _SCORE_DTYPES,
    FeatureType,
    ScoresInput,
    WtalcAnnotations,
    _evaluated_scores,
    _feature_rate,
    load_wtalc_annotations,
    load_wtalc_scores,
)

__all__ = [
    "WTALC_TIOU_THRESHOLDS",
    "WtalcAnnotations",
    "WtalcEmptyClassWarning",
    "WtalcResult",
    "evaluate_wtalc",
    "load_wtalc_annotations",
    "load_wtalc_scores",
    "wtalc_ground_truth",
    "wtalc_proposals",
]

WTALC_TIOU_THRESHOLDS = "0.1:0.5:0.1"
"""W-TALC's fixed thresholds: 0.1, 0.2, 0.3, 0.4, 0.5."""

EmptyClassRule = Literal["zero_map", "zero_ap"]


class WtalcEmptyClassWarning(UserWarning):
    """An evaluated class has no proposal left, so W-TALC's mAP is 0 at every threshold."""


# --------------------------------------------------------------------------------------------
# the proposal step


@dataclass(frozen=True, eq=False)
class _Proposals:
    """W-TALC proposals of the evaluated videos, rows ordered by (class, video, start).

    ``video`` indexes the list of evaluated videos; ``start``/``end`` are feature indices
    (``end`` exclusive); ``score`` is the dtype-exact score stored as float64.
    """

    video: NDArray[np.int64]
    label: NDArray[np.int64]
    start: NDArray[np.int64]
    end: NDArray[np.int64]
    score: NDArray[np.float64]


def _class_gate(cas: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """``v`` (``(C,)``, the array's dtype) and the gate ``v > 0`` of one video.

    Uses W-TALC's own sequence of numpy calls on an array of the input's layout, because the
    rounding of the mean depends on it (see the module docstring).
    """
    length, num_classes = cas.shape
    k = int(length / 8)
    if k == 0:  # mean of an empty slice: NaN, so every column is gated out
        return np.full(num_classes, np.nan, dtype=cas.dtype), np.zeros(num_classes, dtype=bool)
    ranked = -cas
    ranked.sort(axis=0)
    ranked = -ranked
    v = np.mean(ranked[:k, :], axis=0)
    return v, np.asarray(v > 0.0)


def _proposals_one_dtype(
    cas_list: list[NDArray[Any]],
    v: NDArray[Any],
    gate: NDArray[np.bool_],
    columns: NDArray[np.int64],
) -> _Proposals:
    """Runs of ``x > mid-range`` of at least 2 snippets, for videos of one dtype, vectorised.

    Args:
        cas_list: ``n`` arrays ``(L_i, C)`` of one dtype.
        v: ``(n, C)`` video-level scores in that dtype; ``gate``: ``(n, C)`` bool.
        columns: ``(K,)`` the class columns to extract.

    Returns:
        :class:`_Proposals` with ``video`` indexing ``cas_list`` and ``label`` indexing
        ``columns``, ordered by (label, video, start).
    """
    dtype = cas_list[0].dtype
    lengths = np.asarray([a.shape[0] for a in cas_list], dtype=_I64)
    offsets = np.zeros(lengths.shape[0] + 1, dtype=_I64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    starts = offsets[:-1]
    x = np.concatenate([a[:, columns] for a in cas_list], axis=0)  # (N, K), values unchanged
    high = np.maximum.reduceat(x, starts, axis=0)
    low = np.minimum.reduceat(x, starts, axis=0)
    # W-TALC's scalar expression, element-wise in the array's dtype (same IEEE operations)
    threshold = high - (high - low) * dtype.type(0.5)
    row_video = np.repeat(np.arange(lengths.shape[0], dtype=_I64), lengths)
    # a gated-out column is all zeros in W-TALC: constant, hence never above its mid-range
    marks = np.ascontiguousarray(((x > threshold[row_video]) & gate[:, columns][row_video]).T)
    first = np.zeros(total, dtype=bool)
    first[starts] = True
    last = np.zeros(total, dtype=bool)
    last[offsets[1:] - 1] = True
    before = np.zeros_like(marks)
    before[:, 1:] = marks[:, :-1]
    after = np.zeros_like(marks)
    after[:, :-1] = marks[:, 1:]
    # W-TALC pads each video's marks with a 0 at both ends: runs stop at video boundaries
    col, row_s = np.nonzero(marks & (~before | first))  # run starts, by (column, row)
    _, row_e = np.nonzero(marks & (~after | last))  # run ends (inclusive), same order
    keep = row_e - row_s + 1 >= 2
    col, row_s, row_e = col[keep], row_s[keep], row_e[keep]
    n_runs = col.shape[0]
    # one extra element so that the exclusive end of the very last run is a valid index
    values = np.append(np.ascontiguousarray(x.T).reshape(-1), dtype.type(0))
    bounds = np.empty(2 * n_runs, dtype=_I64)
    bounds[0::2] = col * total + row_s
    bounds[1::2] = col * total + row_e + 1
    run_max = np.maximum.reduceat(values, bounds)[0::2] if n_runs else values[:0]
    video = row_video[row_s]
    score = run_max + v[video, columns[col]] * dtype.type(0.7)
    return _Proposals(
        video=video.astype(_I64),
        label=col.astype(_I64),
        start=(row_s - offsets[video]).astype(_I64),
        end=(row_e + 1 - offsets[video]).astype(_I64),
        score=score.astype(np.float64),
    )


def _proposals(cas_list: list[NDArray[Any]], columns: NDArray[np.int64]) -> _Proposals:
    """W-TALC's proposals (steps 3-5 of the module docstring) for the class columns ``columns``.

    ``video`` indexes ``cas_list``, ``label`` indexes ``columns``; rows by (label, video, start).
    """
    parts: list[_Proposals] = []
    # huge scores overflow to +-inf exactly as in W-TALC (a mid-range of -inf marks the whole
    # column, a top-k sum of inf gives a score of inf): that is the arithmetic reproduced, so
    # numpy's overflow warnings are silenced
    with np.errstate(over="ignore", invalid="ignore"):
        gates = [_class_gate(a) for a in cas_list]
        for dtype in _SCORE_DTYPES:  # each video is computed in its own dtype, as in W-TALC
            members = [i for i, a in enumerate(cas_list) if a.dtype == dtype]
            if not members:
                continue
            part = _proposals_one_dtype(
                [cas_list[i] for i in members],
                np.stack([gates[i][0] for i in members]),
                np.stack([gates[i][1] for i in members]),
                columns,
            )
            video = np.asarray(members, dtype=_I64)[part.video]
            parts.append(dataclasses.replace(part, video=video))
    if len(parts) == 1:
        return parts[0]
    video, label, start, end = (
        np.concatenate([getattr(p, f) for p in parts]).astype(_I64)
        for f in ("video", "label", "start", "end")
    )
    score = np.concatenate([p.score for p in parts]).astype(np.float64)
    order = np.lexsort((start, video, label))
    return _Proposals(video[order], label[order], start[order], end[order], score[order])


def _feature_range(seconds: NDArray[np.float64], rate: float) -> NDArray[np.float64]:
    """``round(t * rate)`` with round half to even on the float64 product (Python's ``round``)."""
    return np.rint(seconds * rate)


def wtalc_proposals(
    annotations: WtalcAnnotations,
    scores: ScoresInput,
    *,
    feature_type: FeatureType = "I3D",
) -> Predictions:
    """The W-TALC proposal step, as :class:`~wtal_blocks.evaluation.Predictions` in seconds.

    This is steps 3-5 of the module docstring (class gate ``v_c > 0`` with ``v_c`` the top
    ``floor(L/8)`` mean, mid-range threshold per video and class, runs of at least 2 snippets,
    score ``max + 0.7 v_c`` computed in the scores' dtype and stored as float64) applied to every
    class of ``classlist`` on the test videos that W-TALC evaluates (those with segments). The
    run ``[s, e)`` in feature indices becomes ``[s / f, e / f]`` seconds (``f = 25/16``, or
    ``10/4`` for ``"UNT"``: ``s * 16 / 25`` correctly rounded). Ambiguous intervals are not
    applied: that deletion is part of W-TALC's evaluator, not of its proposals.

    With :func:`wtalc_ground_truth`, this runs the ActivityNet algorithm on the same input::

        evaluate_detection(wtalc_ground_truth(ann), wtalc_proposals(ann, scores), "0.1:0.5:0.1")

    Args:
        annotations: from :func:`load_wtalc_annotations`.
        scores: ``{video name: (L, C) array}`` (extra test videos are ignored) or a sequence of
            ``(L, C)`` arrays, one per test video in annotation order; raw per-snippet class
            scores (W-TALC feeds logits), float32 or float64, columns in ``class_names`` order.
        feature_type: ``"I3D"`` or ``"UNT"``.

    Returns:
        :class:`~wtal_blocks.evaluation.Predictions` with ``video_ids`` the evaluated videos,
        ``label_names`` the class names; rows by (class, video, start).
    """
    rate = _feature_rate(feature_type)
    rows = annotations.evaluated_rows()
    cas = _evaluated_scores(annotations, scores, rows)
    props = _proposals(cas, np.arange(annotations.num_classes, dtype=_I64))
    segments = np.stack([props.start, props.end], axis=1).astype(np.float64) / rate
    return Predictions(
        video_ids=tuple(annotations.video_names[r] for r in rows.tolist()),
        label_names=annotations.class_names,
        segments=segments.reshape(-1, 2),
        scores=props.score,
        labels=props.label,
        videos=props.video,
    )


def wtalc_ground_truth(annotations: WtalcAnnotations, subset: str = "test") -> GroundTruth:
    """The instances of one subset as a :class:`~wtal_blocks.evaluation.GroundTruth` (seconds).

    ``video_ids`` are every video of the subset in file order (videos without segments
    included), ``class_names`` is ``classlist``.
    """
    rows = [i for i, s in enumerate(annotations.subsets) if s == subset]
    if not rows:
        raise EvaluationInputError(f"no video in subset {subset!r}", field="subset")
    code = np.full(len(annotations.video_names), -1, dtype=_I64)
    code[rows] = np.arange(len(rows), dtype=_I64)
    keep = code[annotations.videos] >= 0
    names = tuple(annotations.video_names[i] for i in rows)
    return GroundTruth(
        video_ids=names,
        class_names=annotations.class_names,
        segments=annotations.segments[keep],
        labels=annotations.labels[keep],
        videos=code[annotations.videos[keep]],
        subset=subset,
        durations={n: float(annotations.durations[i]) for n, i in zip(names, rows, strict=True)},
    )


# --------------------------------------------------------------------------------------------
# the evaluator


@dataclass(frozen=True, eq=False)
class WtalcResult(DetectionResult):
    """:class:`~wtal_blocks.evaluation.DetectionResult` of :func:`evaluate_wtalc` (fractions).

    ``protocol`` is ``"wtalc"``; ``ap`` rows are the evaluated classes sorted by name. When the
    empty-class quirk fires (``empty_class="zero_map"`` and ``empty_classes`` not empty), ``mAP``
    is 0 at every threshold while ``ap`` still holds the per-class values (0 for the empty
    classes), so ``mAP`` is then not the mean of ``ap``.

    Attributes:
        empty_classes: evaluated classes with no proposal left after the ambiguous deletion.
        num_ambiguous_removed: proposals of evaluated classes deleted by the ambiguous intervals.
        empty_class: the rule that was applied (``"zero_map"`` or ``"zero_ap"``).
    """

    empty_classes: tuple[str, ...] = ()
    num_ambiguous_removed: int = 0
    empty_class: str = "zero_map"


def _ambiguous_hits(
    annotations: WtalcAnnotations,
    rows: NDArray[np.int64],
    props: _Proposals,
    rate: float,
) -> NDArray[np.bool_]:
    """Proposals sharing an index with a rounded ambiguous interval of their video."""
    hit = np.zeros(props.video.shape[0], dtype=bool)
    position = {annotations.video_names[r]: i for i, r in enumerate(rows.tolist())}
    amb_video = np.asarray(
        [position.get(n, -1) for n in annotations.ambiguous_names], dtype=_I64
    ).reshape(-1)
    mine = amb_video >= 0
    if not mine.any() or hit.shape[0] == 0:
        return hit
    amb = _feature_range(annotations.ambiguous_segments[mine], rate)
    pred = np.stack([props.start, props.end], axis=1).astype(np.float64)
    # integer-valued floats: a positive-length overlap is a shared index
    index, _ = overlapping_pairs(props.video, pred, amb_video[mine], amb)
    hit[index] = True
    return hit


def _integer_iou(pred: NDArray[np.float64], gt: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU of paired integer index sets ``[s, e)`` (rows), ``|A & B| / |A | B|``."""
    inter = np.maximum(np.minimum(pred[:, 1], gt[:, 1]) - np.maximum(pred[:, 0], gt[:, 0]), 0.0)
    union = (pred[:, 1] - pred[:, 0]) + np.maximum(gt[:, 1] - gt[:, 0], 0.0) - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def _true_positives(
    p_group: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    g_group: NDArray[np.int64],
    g_seg: NDArray[np.float64],
    thr: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """W-TALC's first-fit matching for every threshold: ``(T, N)`` bool.

    Proposals (rows, already in rank order) take, in turn, the first free ground truth of
    their group in ground-truth index order with ``IoU >= t``: the serial matching of
    :func:`~._matching.match_in_order` when every admissible pair has the same value and index
    order is the preference, so each threshold is one call on its admissible pairs.
    """
    n = p_group.shape[0]
    tp = np.zeros((thr.shape[0], n), dtype=bool)
    if n == 0 or g_group.shape[0] == 0:
        return tp
    agent, item = overlapping_pairs(p_group, p_seg, g_group, g_seg)
    iou = _integer_iou(p_seg[agent], g_seg[item])
    one = np.ones(1, dtype=np.float64)
    for t, threshold in enumerate(thr.tolist()):
        admissible = iou >= threshold
        a, i = agent[admissible], item[admissible]
        if a.size == 0:
            continue
        a, i, v = prefer_order(a, i, np.ones(a.shape[0]), i)  # first fit: list order
        taken = np.zeros((1, g_group.shape[0]), dtype=bool)
        _, matched, _ = match_in_order(a, i, v, one, taken, strict=False)
        tp[t, matched] = True
    return tp


def evaluate_wtalc(
    annotations: WtalcAnnotations,
    scores: ScoresInput,
    *,
    feature_type: FeatureType = "I3D",
    tiou_thresholds: str | float | Iterable[float] = WTALC_TIOU_THRESHOLDS,
    empty_class: EmptyClassRule = "zero_map",
) -> WtalcResult:
    """W-TALC's ``getDetectionMAP``, exact (see the module docstring), as fractions.

    Args:
        annotations: from :func:`load_wtalc_annotations`.
        scores: raw per-snippet class scores (W-TALC feeds its model's logits): a mapping
            ``{video name: (L, C) array}`` that covers every test video with segments (other
            test videos are ignored, non-test names are refused), or a sequence with one
            ``(L, C)`` array per test video in annotation order. float32 or float64 (computed
            in that dtype), finite, columns in ``class_names`` order; ``L`` is never compared
            with the duration. Torch tensors are accepted (duck-typed).
        feature_type: ``"I3D"`` (``25/16`` features per second) or ``"UNT"`` (``10/4``).
        tiou_thresholds: in ``(0, 1]``; W-TALC's fixed list by default.
        empty_class: ``"zero_map"`` reproduces W-TALC: a class with no proposal left makes the
            mAP 0 at every threshold (with a :class:`WtalcEmptyClassWarning` naming the
            classes); ``"zero_ap"`` gives such a class AP 0 and averages as usual.

    Returns:
        :class:`WtalcResult`: ``mAP (T,)``, ``average_mAP``, ``ap (C_eval, T)`` for the
        evaluated classes sorted by name, and the counts.

    Raises:
        EvaluationInputError: invalid scores, thresholds, ``feature_type`` or ``empty_class``,
            or no ground truth in the test subset.
    """
    rate = _feature_rate(feature_type)
    if empty_class not in ("zero_map", "zero_ap"):
        raise EvaluationInputError(
            f"empty_class must be 'zero_map' or 'zero_ap', got {empty_class!r}",
            field="empty_class",
        )
    thr = parse_tiou_thresholds(tiou_thresholds)
    if np.any(thr <= 0):
        raise EvaluationInputError(
            f"tIoU thresholds must be > 0 for the W-TALC protocol, got {thr.tolist()}",
            field="tiou",
        )
    rows = annotations.evaluated_rows()
    if rows.shape[0] == 0:
        raise EvaluationInputError("the test subset has no action instance to evaluate against")
    cas = _evaluated_scores(annotations, scores, rows)

    # ground truth of the evaluated videos, in video then file order (W-TALC's list order)
    position = np.full(len(annotations.video_names), -1, dtype=_I64)
    position[rows] = np.arange(rows.shape[0], dtype=_I64)
    g_keep = position[annotations.videos] >= 0
    g_video = position[annotations.videos[g_keep]]
    g_label = annotations.labels[g_keep]
    present = np.unique(g_label)
    names = sorted(annotations.class_names[c] for c in present.tolist())
    columns = np.asarray([annotations.class_names.index(n) for n in names], dtype=_I64)
    n_eval = columns.shape[0]
    rank_of_column = np.full(annotations.num_classes, -1, dtype=_I64)
    rank_of_column[columns] = np.arange(n_eval, dtype=_I64)
    g_cls = rank_of_column[g_label]
    g_seg = _feature_range(annotations.segments[g_keep], rate)
    g_seg[:, 1] = np.maximum(g_seg[:, 1], g_seg[:, 0])  # empty ranges stay empty

    props = _proposals(cas, columns)
    hit = _ambiguous_hits(annotations, rows, props, rate)
    keep = ~hit
    p_video, p_cls = props.video[keep], props.label[keep]
    p_start, p_end, p_score = props.start[keep], props.end[keep], props.score[keep]
    # rank: class, descending score; ties: earlier video, then earlier segment (stable)
    order = np.lexsort((p_start, p_video, -p_score, p_cls))
    p_video, p_cls, p_score = p_video[order], p_cls[order], p_score[order]
    p_seg = np.stack([p_start[order], p_end[order]], axis=1).astype(np.float64)
    num_videos = rows.shape[0]
    tp = _true_positives(
        p_cls * num_videos + p_video, p_seg, g_cls * num_videos + g_video, g_seg, thr
    )

    # non-interpolated AP: sum of the precision at each true positive / #ground truths
    n_thr = thr.shape[0]
    npos = np.bincount(g_cls, minlength=n_eval).astype(np.float64)
    class_start = np.searchsorted(p_cls, np.arange(n_eval + 1))
    t_idx, j = np.nonzero(tp)  # by threshold, then rank
    seg = t_idx * n_eval + p_cls[j]
    n_tp = np.arange(seg.shape[0]) - np.searchsorted(seg, seg, side="left") + 1
    rank = j - class_start[p_cls[j]] + 1
    summed = np.bincount(seg, weights=n_tp / rank, minlength=n_thr * n_eval)
    ap = np.ascontiguousarray((summed.reshape(n_thr, n_eval) / npos[None, :]).T)

    counts = np.diff(class_start)
    empty = tuple(names[c] for c in np.flatnonzero(counts == 0).tolist())
    if empty and empty_class == "zero_map":
        warnings.warn(
            f"W-TALC protocol: no proposal left for class(es) {', '.join(empty)}; as in "
            "W-TALC's getDetectionMAP the mAP is 0 at every tIoU (pass empty_class='zero_ap' "
            "to give only these classes AP 0)",
            WtalcEmptyClassWarning,
            stacklevel=2,
        )
        m_ap = np.zeros(n_thr, dtype=np.float64)
    else:
        m_ap = ap.mean(axis=0)
    return WtalcResult(
        tiou_thresholds=thr,
        mAP=m_ap,
        average_mAP=float(m_ap.mean()),
        ap=ap,
        class_names=tuple(names),
        num_predictions=int(p_score.shape[0]),
        num_ground_truth=int(g_cls.shape[0]),
        protocol="wtalc",
        empty_classes=empty,
        num_ambiguous_removed=int(hit.sum()),
        empty_class=empty_class,
    )

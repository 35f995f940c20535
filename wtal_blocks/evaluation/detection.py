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
   points where recall changes, with recall steps of ``1 / n_ground_truth``.
5. mAP at a threshold is the mean AP over the classes that have ground truth; a class with
   ground truth and no prediction has AP 0. The average mAP is the mean over thresholds.

Matching is vectorised across predictions, thresholds and classes (see ``_matching``), and AP
needs the precision only at true positives: between two true positives the precision falls,
so the interpolated precision at a recall step is the maximum over later true positives.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import as_numpy, check_labels, check_scores, check_segments
from ._matching import conflict_components, greedy_match, overlapping_pairs, segmented_cummax
from .annotations import GroundTruth, Predictions
from .errors import EvaluationInputError
from .tiou import parse_tiou_thresholds

__all__ = [
    "ACTIVITYNET_TIOU_THRESHOLDS",
    "THUMOS14_TIOU_THRESHOLDS",
    "DetectionMAP",
    "DetectionResult",
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


def _pairwise_tiou(p_seg: NDArray[np.float64], g_seg: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row-wise tIoU of paired segments, same float operations as the official formula."""
    inter = np.minimum(p_seg[:, 1], g_seg[:, 1]) - np.maximum(p_seg[:, 0], g_seg[:, 0])
    np.maximum(inter, 0.0, out=inter)
    union = (g_seg[:, 1] - g_seg[:, 0]) + (p_seg[:, 1] - p_seg[:, 0]) - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def average_precision_detection(
    gt_segments: ArrayLike,
    gt_labels: ArrayLike,
    gt_videos: ArrayLike,
    pred_segments: ArrayLike,
    pred_scores: ArrayLike,
    pred_labels: ArrayLike,
    pred_videos: ArrayLike,
    tiou_thresholds: ThresholdSpec = ACTIVITYNET_TIOU_THRESHOLDS,
    n_classes: int | None = None,
) -> NDArray[np.float64]:
    """Per-class AP of the ActivityNet detection protocol (see the module docstring).

    Args:
        gt_segments: ``(G, 2)`` float ``[start, end]``, ``start <= end``.
        gt_labels: ``(G,)`` int class index in ``[0, n_classes)``.
        gt_videos: ``(G,)`` int video id (any non-negative integers, shared with ``pred_videos``).
        pred_segments: ``(N, 2)`` float.
        pred_scores: ``(N,)`` float, finite.
        pred_labels: ``(N,)`` int class index.
        pred_videos: ``(N,)`` int video id; a video with no ground truth of the class makes the
            prediction a false positive.
        tiou_thresholds: ``(T,)`` thresholds in ``(0, 1]`` or a ``"LO:HI:STEP"`` string.
        n_classes: number of classes ``C`` (default: ``max label + 1``).

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
    if n_classes is None:
        top = [
            int(a.max()) + 1
            for a in (g_lab_raw, p_lab_raw)
            if a.size and np.issubdtype(a.dtype, np.integer)
        ]
        n_classes = max(top, default=0)
    g_lab = check_labels("gt_labels", g_lab_raw, n_gt, n_classes)
    p_lab = check_labels("pred_labels", p_lab_raw, n_pred, n_classes)
    g_vid = check_labels("gt_videos", gt_videos, n_gt, np.iinfo(np.int64).max)
    p_vid = check_labels("pred_videos", pred_videos, n_pred, np.iinfo(np.int64).max)
    scores = check_scores("pred_scores", pred_scores, n_pred)
    return _average_precision(g_seg, g_lab, g_vid, p_seg, scores, p_lab, p_vid, thr, n_classes)


def _average_precision(
    g_seg: NDArray[np.float64],
    g_lab: NDArray[np.int64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    scores: NDArray[np.float64],
    p_lab: NDArray[np.int64],
    p_vid: NDArray[np.int64],
    thr: NDArray[np.float64],
    n_classes: int,
) -> NDArray[np.float64]:
    """Validated-array core of :func:`average_precision_detection`."""
    n_thr = thr.shape[0]
    npos = np.bincount(g_lab, minlength=n_classes).astype(np.float64)
    ap = np.zeros((n_thr, n_classes), dtype=np.float64)
    n_pred = scores.shape[0]
    if n_pred and g_lab.shape[0]:
        # processing order: class, then descending score, ties in input order (stable)
        order = np.lexsort((-scores, p_lab))
        s_seg = p_seg[order]
        s_lab = p_lab[order]
        n_vid = int(max(g_vid.max(), p_vid.max())) + 1
        s_group = s_lab * n_vid + p_vid[order]
        g_group = g_lab * n_vid + g_vid
        agent, item = overlapping_pairs(s_group, s_seg, g_group, g_seg)
        value = _pairwise_tiou(s_seg[agent], g_seg[item])
        keep = value >= thr.min()
        agent, item, value = agent[keep], item[keep], value[keep]
        if agent.size:
            agents, component = conflict_components(agent, item, s_group, s_seg, g_seg)
            tiebreak = np.arange(g_lab.shape[0], dtype=np.int64)  # GT tie rule: input order
            choice = greedy_match(
                agent, item, value, agents, component, tiebreak, thr, strict=False
            )
            t_idx, col = np.nonzero(choice >= 0)  # row-major: by threshold, then position
            pos = agents[col]
            class_start = np.searchsorted(s_lab, np.arange(n_classes + 1))
            cls = s_lab[pos]
            seg = t_idx * n_classes + cls
            seg_first = np.searchsorted(seg, seg, side="left")
            m = (np.arange(seg.shape[0]) - seg_first + 1).astype(np.float64)  # TPs so far
            k = (pos - class_start[cls] + 1).astype(np.float64)  # predictions so far
            precision = m / k
            recall_step = m / npos[cls] - (m - 1.0) / npos[cls]
            envelope = segmented_cummax(precision, seg, reverse=True)
            summed = np.bincount(seg, weights=recall_step * envelope, minlength=n_thr * n_classes)
            ap = summed.astype(np.float64).reshape(n_thr, n_classes)
    out = np.ascontiguousarray(ap.T)
    out[npos == 0] = np.nan
    return out


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """What a detection evaluation returns.

    Attributes:
        tiou_thresholds: ``(T,)`` float64.
        mAP: ``(T,)`` float64, mean AP over ``class_names`` at each threshold.
        average_mAP: mean of ``mAP`` over the thresholds.
        ap: ``(C, T)`` float64 per-class AP, rows in ``class_names`` order.
        class_names: the evaluated classes (those with ground truth).
        n_predictions: predictions evaluated.
        n_ground_truth: ground-truth instances of the evaluated classes.
        n_skipped: predictions skipped because their label is unknown
            (only with ``ignore_unknown_labels``).
        protocol: ``"activitynet"`` or ``"thumos14"``.
    """

    tiou_thresholds: NDArray[np.float64]
    mAP: NDArray[np.float64]
    average_mAP: float
    ap: NDArray[np.float64]
    class_names: tuple[str, ...]
    n_predictions: int = 0
    n_ground_truth: int = 0
    n_skipped: int = 0
    protocol: str = "activitynet"

    @classmethod
    def from_class_ap(
        cls,
        ap: NDArray[np.float64],
        class_names: Sequence[str],
        tiou_thresholds: NDArray[np.float64],
        **counts: Any,
    ) -> DetectionResult:
        """Build the result from ``(C, T)`` AP with NaN rows for classes without ground truth."""
        evaluated = np.asarray(~np.isnan(ap).any(axis=1), dtype=bool)
        if not evaluated.any():
            raise EvaluationInputError(
                "the ground truth has no action instance to evaluate against"
            )
        kept = np.ascontiguousarray(ap[evaluated])
        m_ap = kept.mean(axis=0)
        flags: list[bool] = evaluated.tolist()
        names = tuple(n for n, e in zip(class_names, flags, strict=True) if e)
        return cls(
            tiou_thresholds=np.asarray(tiou_thresholds, dtype=np.float64),
            mAP=m_ap,
            average_mAP=float(m_ap.mean()),
            ap=kept,
            class_names=names,
            **counts,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` schema: ``tiou_thresholds``, ``mAP``, ``average_mAP``, ``ap``."""
        return {
            "tiou_thresholds": [float(t) for t in self.tiou_thresholds],
            "mAP": [float(v) for v in self.mAP],
            "average_mAP": float(self.average_mAP),
            "ap": {
                name: [float(v) for v in row]
                for name, row in zip(self.class_names, self.ap, strict=True)
            },
        }

    def format_table(self, n_extreme: int = 3) -> str:
        """A readable table: mAP per threshold (fraction and %), the average, worst and best classes."""
        lines = [f"  {'tIoU':<5}  {'mAP':>9}  {'%':>6}"]
        for t, v in zip(self.tiou_thresholds.tolist(), self.mAP.tolist(), strict=True):
            lines.append(f"  {t:<5g}  {v:9.6f}  {100 * v:6.2f}")
        lines.append(f"  avg    {self.average_mAP:9.6f}  {100 * self.average_mAP:6.2f}")
        if self.class_names:
            mean_ap = self.ap.mean(axis=1)
            order = np.argsort(mean_ap, kind="stable")
            k = min(n_extreme, len(order))
            width = max(len(self.class_names[i]) for i in order)

            def row(i: int) -> str:
                return f"    {self.class_names[i]:<{width}}  {100 * mean_ap[i]:6.2f}"

            lines.append(f"  worst classes (AP % averaged over tIoU, of {len(order)}):")
            lines += [row(int(i)) for i in order[:k]]
            lines.append("  best classes:")
            lines += [row(int(i)) for i in order[::-1][:k]]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()


def _label_lookup(label_names: Sequence[str], class_index: dict[str, int]) -> NDArray[np.int64]:
    """Class index of each label name, -1 for unknown."""
    return np.fromiter(
        (class_index.get(n, -1) for n in label_names), dtype=np.int64, count=len(label_names)
    )


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
    ground_truth: GroundTruth,
    predictions: Predictions,
    tiou_thresholds: ThresholdSpec = ACTIVITYNET_TIOU_THRESHOLDS,
    *,
    ignore_unknown_labels: bool = False,
) -> DetectionResult:
    """ActivityNet-protocol detection mAP of ``predictions`` against ``ground_truth``.

    Predictions are matched to the ground truth by video id and class name. A prediction whose
    label names a class absent from ``ground_truth.class_names`` raises
    :class:`EvaluationInputError` unless ``ignore_unknown_labels`` (then it is skipped and
    counted in ``n_skipped``). Predictions on videos outside the ground truth are false positives.

    Returns:
        :class:`DetectionResult` over the classes that have ground truth.
    """
    thr = _thresholds(tiou_thresholds, allow_zero=False)
    class_index = {n: i for i, n in enumerate(ground_truth.class_names)}
    codes = _label_lookup(predictions.label_names, class_index)
    p_lab = codes[predictions.labels]
    unknown = p_lab < 0
    n_skipped = int(unknown.sum())
    p_vid_codes = _video_codes(predictions.video_ids, ground_truth.video_ids)
    p_vid = p_vid_codes[predictions.videos]
    seg, scores = predictions.segments, predictions.scores
    if n_skipped:
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
    n_classes = len(ground_truth.class_names)
    ap = _average_precision(
        ground_truth.segments,
        ground_truth.labels,
        ground_truth.videos,
        seg,
        scores,
        p_lab,
        p_vid,
        thr,
        n_classes,
    )
    return DetectionResult.from_class_ap(
        ap,
        ground_truth.class_names,
        thr,
        n_predictions=int(scores.shape[0]),
        n_ground_truth=int(ground_truth.labels.shape[0]),
        n_skipped=n_skipped,
        protocol="activitynet",
    )


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
        n_skipped = int(unknown.sum())
        if n_skipped:
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
            n_predictions=int(p_sc.shape[0]),
            n_ground_truth=int(g_codes.shape[0]),
            n_skipped=n_skipped,
            protocol="activitynet",
        )

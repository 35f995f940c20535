"""Intersection over a segment's own length, and ground-truth deduplication.

* :func:`segment_iop`: intersection over the candidate's own length (mmaction2's
  ``temporal_iop``, BSN/BMN's ``ioa_with_anchors``, mmaction2's ``overlap_self``).
* :func:`deduplicate_ground_truth` / :func:`find_duplicate_instances`: drop zero-length (or very
  short) and repeated ground-truth instances, as ActionFormer and OpenTAD do when they load
  annotations. Nothing in the library applies it implicitly: the official ActivityNet and
  THUMOS'14 numbers count every annotated instance.

Segments are ``[start, end]`` rows in any unit (seconds, feature positions).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import as_numpy
from .annotations import GroundTruth
from .errors import EvaluationInputError
from .tiou import _intersection, _strict_segments

__all__ = [
    "DeduplicationReport",
    "deduplicate_ground_truth",
    "find_duplicate_instances",
    "segment_iop",
]

DedupConvention = Literal["opentad", "actionformer"]


def segment_iop(candidates: ArrayLike, targets: ArrayLike) -> NDArray[np.float64]:
    """Pairwise intersection over the candidate's length (IoP, also called IoA / overlap_self).

    ``IoP[i, j] = max(0, min(e_i, e_j) - max(s_i, s_j)) / (e_i - s_i)`` for candidate ``i``
    (a proposal or anchor) and target ``j`` (a ground-truth instance): the fraction of the
    candidate that lies inside the target. It is not symmetric. This is mmaction2's
    ``temporal_iop`` (``mmaction/localization/proposal_utils.py``, used for BSN's
    proposal-evaluation features), BSN/BMN's ``ioa_with_anchors`` (``TEM_load_data.py`` of
    BSN; the start/end/action training targets), and the ``overlap_self`` of mmaction2's
    ``pairwise_temporal_iou(..., calculate_overlap_self=True)``; the operations are the same
    (intersection first, then one division), so values are bit-identical where those are
    defined.

    **Zero-length candidates** (``e_i == s_i``) have IoP 0 with every target. The peers divide
    0 by 0 there: mmaction2's ``temporal_iop`` and ``overlap_self`` and BSN/BMN's
    ``ioa_with_anchors`` all return NaN (with a NumPy ``RuntimeWarning``), and a NaN then
    propagates through the ``np.max`` that builds BSN's training targets. Defining it as 0 (a
    point covers no duration, the same choice as the tIoU zero-union rule) keeps every value
    finite. Zero-length targets give intersection 0, hence IoP 0, in every implementation.

    Args:
        candidates: ``(N, 2)`` ``[start, end]`` rows, ``N >= 1``, finite, ``start <= end``.
        targets: ``(M, 2)``, same contract.

    Returns:
        ``(N, M)`` float64, values in ``[0, 1]``.

    Raises:
        EvaluationInputError: as :func:`segment_tiou`, naming ``candidates`` or ``targets``.
    """
    c = _strict_segments("candidates", candidates)
    t = _strict_segments("targets", targets)
    inter = _intersection(c, t)
    length = np.broadcast_to(c[:, 1:2] - c[:, 0:1], inter.shape)
    out = np.zeros_like(inter)
    np.divide(inter, length, out=out, where=length > 0)
    return out


# ----------------------------------------------------------------------------- deduplication


@dataclass(frozen=True, eq=False)
class DeduplicationReport:
    """What :func:`deduplicate_ground_truth` dropped.

    Attributes:
        num_input: instances before.
        num_zero_length: instances dropped as zero-length (``end - start <= 0``, OpenTAD) or as
            very short (``end - start < tol``, ActionFormer).
        num_duplicates: instances dropped as repeats of an earlier kept instance.
        kept: ``(G,)`` bool, True for the instances that were kept (input order).
        convention: ``"opentad"`` or ``"actionformer"``.
        tol: the tolerance used.
    """

    num_input: int
    num_zero_length: int
    num_duplicates: int
    kept: NDArray[np.bool_]
    convention: str
    tol: float

    @property
    def num_kept(self) -> int:
        """Instances kept."""
        return self.num_input - self.num_zero_length - self.num_duplicates

    def __str__(self) -> str:
        return (
            f"{self.num_input} instances: dropped {self.num_zero_length} zero-length and "
            f"{self.num_duplicates} duplicate(s), kept {self.num_kept} "
            f"({self.convention}, tol={self.tol:g})"
        )


def _duplicate_edges(
    seg: NDArray[np.float64], group: NDArray[np.int64], candidate: NDArray[np.bool_], tol: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pairs ``(i, j)``, ``i < j``, of candidates in the same group within ``tol`` at both ends.

    Sorted by (group, start), the starts within ``tol`` of each other are contiguous, so the
    pairs are found by comparing each row with the row ``d`` places further for
    ``d = 1, 2, ...`` until no row has a partner that far (the loop runs over the size of the
    largest near-identical cluster, not over instances). ``fl(b - a)`` is monotone in ``b``, so
    once a row's partner at distance ``d`` fails the start test, every farther one fails too.
    """
    idx = np.flatnonzero(candidate).astype(np.int64)
    order = idx[np.lexsort((seg[idx, 0], group[idx]))]
    s, e, g = seg[order, 0], seg[order, 1], group[order]
    n = order.shape[0]
    firsts: list[NDArray[np.int64]] = []
    seconds: list[NDArray[np.int64]] = []
    alive = np.arange(n, dtype=np.int64)  # rows whose window may still reach further
    d = 1
    while alive.size:
        alive = alive[alive + d < n]
        other = alive + d
        # abs(x - y) is symmetric in floats, and starts are sorted: the start test is s' - s
        near = (g[other] == g[alive]) & (s[other] - s[alive] <= tol)
        alive = alive[near]
        other = other[near]
        same_end = np.abs(e[other] - e[alive]) <= tol
        p, q = order[alive[same_end]], order[other[same_end]]
        firsts.append(np.minimum(p, q))
        seconds.append(np.maximum(p, q))
        d += 1
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _greedy_keep(n: int, first: NDArray[np.int64], second: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Resolve "drop ``j`` if an earlier *kept* instance is its duplicate" on the pair graph.

    An instance is kept when every earlier partner is dropped, and dropped as soon as one
    earlier partner is kept. Each round settles every instance whose earlier partners are all
    settled; the rounds needed are the length of the longest chain of near-duplicates.
    """
    UNDECIDED, KEPT, DROPPED = 0, 1, 2
    state = np.full(n, KEPT, dtype=np.int8)
    state[second] = UNDECIDED
    while (state[second] == UNDECIDED).any():
        src = state[first]
        has_kept = np.bincount(second[src == KEPT], minlength=n) > 0
        pending = np.bincount(second[src == UNDECIDED], minlength=n) > 0
        undecided = state == UNDECIDED
        state[undecided & has_kept] = DROPPED
        state[undecided & ~has_kept & ~pending] = KEPT
    return state == KEPT


def find_duplicate_instances(
    gt_segments: ArrayLike,
    gt_labels: ArrayLike,
    gt_videos: ArrayLike,
    *,
    drop_zero_length: bool = True,
    drop_duplicates: bool = True,
    tol: float = 1e-3,
    convention: DedupConvention = "opentad",
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Array twin of :func:`deduplicate_ground_truth`: which instances it would drop.

    Args:
        gt_segments: ``(G, 2)`` float ``[start, end]``, finite.
        gt_labels: ``(G,)`` int class index.
        gt_videos: ``(G,)`` int video index. Within a video, input order is annotation order.
        drop_zero_length, drop_duplicates, tol, convention: see :func:`deduplicate_ground_truth`.

    Returns:
        ``(zero_length, duplicate)``: two ``(G,)`` bool masks of the dropped instances; they
        never overlap (a dropped short instance takes no part in the duplicate test).
    """
    if convention not in ("opentad", "actionformer"):
        raise EvaluationInputError(
            f"convention must be 'opentad' or 'actionformer', got {convention!r}",
            field="convention",
        )
    tol = _tolerance(tol)
    try:
        seg = np.asarray(as_numpy(gt_segments), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EvaluationInputError(
            f"gt_segments must be numeric (G, 2): {exc}", field="gt_segments"
        ) from None
    if seg.size == 0:
        seg = seg.reshape(0, 2)
    if seg.ndim != 2 or seg.shape[1] != 2:
        raise EvaluationInputError(
            f"gt_segments must have shape (G, 2), got {seg.shape}", field="gt_segments"
        )
    n = seg.shape[0]
    if not np.isfinite(seg).all():
        i = int(np.flatnonzero(~np.isfinite(seg).all(axis=1))[0])
        raise EvaluationInputError(
            f"gt_segments[{i}] = {seg[i].tolist()} is not finite", field="gt_segments", index=i
        )
    labels = _int_column("gt_labels", gt_labels, n)
    videos = _int_column("gt_videos", gt_videos, n)
    length = seg[:, 1] - seg[:, 0]
    if not drop_zero_length:
        zero = np.zeros(n, dtype=bool)
    elif convention == "opentad":
        zero = length <= 0
    else:  # ActionFormer keeps an instance when (end - start) >= tol
        zero = ~(length >= tol)
    dup = np.zeros(n, dtype=bool)
    if drop_duplicates and n:
        # one group per (video, label); ranks keep the key exact for any integer ids
        _, vid_rank = np.unique(videos, return_inverse=True)
        _, lab_rank = np.unique(labels, return_inverse=True)
        group = vid_rank.astype(np.int64).reshape(-1) * (
            int(lab_rank.max()) + 1
        ) + lab_rank.reshape(-1)
        first, second = _duplicate_edges(seg, group, ~zero, tol)
        if first.size:
            dup = ~_greedy_keep(n, first, second) & ~zero
    return zero, dup


def _tolerance(tol: Any) -> float:
    try:
        value = float(tol)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(tol, bool) or not np.isfinite(value) or value < 0:
        raise EvaluationInputError(f"tol must be a finite number >= 0, got {tol!r}", field="tol")
    return value


def _int_column(name: str, x: Any, n: int) -> NDArray[np.int64]:
    arr = np.asarray(as_numpy(x)).reshape(-1)
    if arr.shape[0] != n:
        raise EvaluationInputError(
            f"{name} must have shape ({n},) like gt_segments, got ({arr.shape[0]},)", field=name
        )
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise EvaluationInputError(f"{name} must hold integers, got dtype {arr.dtype}", field=name)
    return arr.astype(np.int64)


def deduplicate_ground_truth(
    gt: GroundTruth,
    *,
    drop_zero_length: bool = True,
    drop_duplicates: bool = True,
    tol: float = 1e-3,
    convention: DedupConvention = "opentad",
) -> tuple[GroundTruth, DeduplicationReport]:
    """Drop zero-length and repeated ground-truth instances, as ActionFormer / OpenTAD do.

    Never applied implicitly: the official ActivityNet and THUMOS'14 evaluations count every
    annotated instance (ActivityNet v1.2 validation has 7 exact repeats among its 3,457
    instances). Use it to reproduce numbers of toolboxes that clean their annotations.

    Both peers walk a video's annotations in file order and keep an instance unless

    1. it is too short: OpenTAD (``opentad/evaluations/builder.py``,
       ``remove_duplicate_annotations``, applied when its mAP and Recall evaluators load the
       ground truth) skips ``end - start <= 0``; ActionFormer (``libs/utils/metrics.py``,
       ``remove_duplicate_annotations``, applied by its evaluator's ground-truth loader and by
       the ActivityNet dataset, ``libs/datasets/anet.py``, not by the THUMOS'14 one) skips
       ``end - start < tol`` ("very short");
    2. or an earlier **kept** instance of the same video has the same label and both
       ``|start - start'| <= tol`` and ``|end - end'| <= tol`` (``tol = 1e-3`` in both; no
       rounding, a tolerance test in float64 on the values as loaded). The test is against kept
       instances only, so in a chain ``A ~ B ~ C`` with ``A`` not close to ``C``, ``B`` is
       dropped and ``C`` kept. A dropped short instance suppresses nothing.

    Here "earlier" is the order of the instances of a video in ``gt`` (the file order for the
    library's readers). ``video_ids``, ``class_names``, ``subset`` and ``durations`` are kept
    as they are, even for a class or a video that loses all its instances (metrics treat them as
    having no ground truth; OpenTAD, which builds its class index after cleaning, drops such a
    class the same way).

    Args:
        gt: the ground truth.
        drop_zero_length: apply rule 1.
        drop_duplicates: apply rule 2.
        tol: the tolerance of both rules, in the unit of the segments (seconds); ``1e-3`` in
            both peers.
        convention: ``"opentad"`` (rule 1 is ``end - start <= 0``) or ``"actionformer"``
            (rule 1 is ``end - start < tol``). Rule 2 is the same in both.

    Returns:
        ``(cleaned, report)``: a new :class:`GroundTruth` holding the kept instances in input
        order, and a :class:`DeduplicationReport`.
    """
    zero, dup = find_duplicate_instances(
        gt.segments,
        gt.labels,
        gt.videos,
        drop_zero_length=drop_zero_length,
        drop_duplicates=drop_duplicates,
        tol=tol,
        convention=convention,
    )
    kept = ~(zero | dup)
    cleaned = replace(
        gt,
        segments=np.ascontiguousarray(gt.segments[kept]),
        labels=np.ascontiguousarray(gt.labels[kept]),
        videos=np.ascontiguousarray(gt.videos[kept]),
    )
    report = DeduplicationReport(
        num_input=int(kept.shape[0]),
        num_zero_length=int(zero.sum()),
        num_duplicates=int(dup.sum()),
        kept=kept,
        convention=convention,
        tol=float(tol),
    )
    return cleaned, report

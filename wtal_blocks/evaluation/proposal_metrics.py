"""Class-agnostic proposal metrics, vectorised (numpy only): AR@AN with its AUC, top-k× recall.

**AR@AN** (:func:`evaluate_proposals`, :func:`average_recall_vs_avg_nr_proposals`) is
ActivityNet's ``Evaluation/eval_proposal.py`` (``average_recall_vs_avg_nr_proposals`` and
``ANETproposal.evaluate``), the metric BSN, BMN, mmaction2 and OpenTAD report on ActivityNet.
Every step, with ``V`` the videos that have at least one ground-truth instance, ``N`` all
proposals given (including those of videos without ground truth) and ``J`` the number of curve
points (100):

1. ``max_avg_nr_proposals`` defaults to ``N / V``; the cut ratio is
   ``ratio = max_avg_nr_proposals * V / N`` (in that float order: with the default the ratio
   can be ``0.9999999999999999``, not 1, e.g. ``V = 7, N = 61``, and every video then loses
   its last proposal, as in the official code).
2. Each of the ``V`` videos keeps its ``n_v' = min(int(n_v * ratio), n_v)`` best proposals, by
   descending score. **Tie rule:** equal scores keep their input order (a stable sort; the
   official code reverses NumPy's unstable ``argsort``, so its order among ties is
   unspecified). ``R = sum(n_v')`` proposals are retrieved.
3. ``pcn_j = (j / J) * (max_avg_nr_proposals * V / R)`` for ``j = 1..J``; at point ``j`` a
   video uses its first ``min(int(n_v' * pcn_j), n_v')`` kept proposals.
4. A ground-truth instance is recalled at a tIoU threshold when one of those proposals has
   ``tIoU >= threshold`` (no one-to-one matching: one proposal may recall several instances).
   ``recall[t, j]`` = recalled instances / all instances; ``average_recall = recall.mean(0)``.
5. ``proposals_per_video = pcn * (R / V)``; ``area = trapz(average_recall,
   proposals_per_video)``; ``auc = 100 * area / proposals_per_video[-1]`` (the percentage the
   official script prints and mmaction2 returns; OpenTAD reports ``area / last`` unscaled).

A video with ground truth and no proposal gets a placeholder column of zeros in the official
code, so its instances are never recalled (for thresholds ``> 0``; a threshold of 0 would
"recall" them, which is why thresholds must be ``> 0`` here). Those placeholders do not count
in ``R``. ``N = 0`` or ``R = 0`` divides by zero there and raises
:class:`EvaluationInputError` here. tIoU uses the same float operations as the official
``segment_iou``; a zero union gives 0 (NaN there, equally never a match). Peers that differ:
mmaction2's ``average_recall_at_avg_proposals`` casts segments and tIoU to float32 (values at a
threshold may then round differently); OpenTAD's ``Recall`` evaluator uses ``J =
max_avg_nr_proposals`` points (identical at the default 100) and removes duplicate ground truth
first (:func:`wtal_blocks.evaluation.segment_ops.deduplicate_ground_truth`). The official
class can also drop a server-side list of blocked videos (``check_status=True``); BSN, BMN and
OpenTAD run without it (filter the containers to reproduce it). Counts, ``recall``,
``average_recall``, ``proposals_per_video`` and ``area`` use the official float operations in
the official order, so they are bit-identical to it (ties in score aside).

**Top-k× recall** (:func:`evaluate_topkx_recall`, :func:`topkx_recall`) is the
``Recall@kx`` of ActionFormer (``libs/utils/metrics.py``, ``compute_topkx_recall_detection``)
and of OpenTAD's mAP evaluator (``opentad/evaluations/mAP.py``, ``top_k``): in each video, the
``k × G_v`` highest-scoring predictions (``G_v`` the video's ground-truth instances) recall an
instance when one of them has ``tIoU >= threshold``. See :func:`topkx_recall` for the
class-agnostic and per-class forms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import check_labels, check_scores, check_segments
from ._matching import overlapping_pairs
from .annotations import GroundTruth, Predictions
from .detection import _video_codes
from .errors import EvaluationInputError
from .tiou import paired_tiou, parse_tiou_thresholds

__all__ = [
    "PROPOSAL_TIOU_THRESHOLDS",
    "AverageRecallCurve",
    "average_recall_vs_avg_nr_proposals",
    "evaluate_proposals",
]

PROPOSAL_TIOU_THRESHOLDS = "0.5:0.95:0.05"
"""ActivityNet's proposal thresholds (``np.linspace(0.5, 0.95, 10)``): 0.50, 0.55, ..., 0.95."""

ThresholdSpec = str | float | Iterable[float]
_NONE = np.iinfo(np.int64).max  # "no proposal reaches the threshold"


# ----------------------------------------------------------------------------- shared helpers


def _thresholds(spec: Any) -> NDArray[np.float64]:
    thr = parse_tiou_thresholds(spec)
    if np.any(thr <= 0):
        raise EvaluationInputError(
            f"tIoU thresholds must be > 0 for proposal recall, got {thr.tolist()} (at 0 every "
            "proposal, and the official placeholder of a video without proposals, would match)",
            field="tiou",
        )
    return thr


def _group_ranks(group: NDArray[np.int64], scores: NDArray[np.float64]) -> NDArray[np.int64]:
    """0-based rank of each row inside its group by descending score, ties in input order."""
    n = group.shape[0]
    rank = np.empty(n, dtype=np.int64)
    if n == 0:
        return rank
    order = np.lexsort((-scores, group))  # lexsort is stable
    sg = group[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(sg[1:], sg[:-1], out=new[1:])
    pos = np.arange(n, dtype=np.int64)
    run_start = np.maximum.accumulate(np.where(new, pos, 0))
    rank[order] = pos - run_start
    return rank


def _first_hits(
    g_seg: NDArray[np.float64],
    g_group: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    p_group: NDArray[np.int64],
    p_rank: NDArray[np.int64],
    thr: NDArray[np.float64],
) -> NDArray[np.int64]:
    """``(T, G)``: the smallest rank of a same-group proposal with ``tIoU >= thr[t]``.

    Only pairs that intersect with positive length can pass a threshold ``> 0``, so only those
    are formed. ``_NONE`` where no proposal passes.
    """
    first = np.full((thr.shape[0], g_seg.shape[0]), _NONE, dtype=np.int64)
    pi, gi = overlapping_pairs(p_group, p_seg, g_group, g_seg)
    if pi.size == 0:
        return first
    value = paired_tiou(p_seg[pi], g_seg[gi])
    rank = p_rank[pi]
    order = np.lexsort((rank, gi))
    gi, rank, value = gi[order], rank[order], value[order]
    for t, th in enumerate(thr.tolist()):
        hit = value >= th
        g_hit, r_hit = gi[hit], rank[hit]
        if g_hit.size == 0:
            continue
        lead = np.empty(g_hit.shape[0], dtype=bool)  # first (lowest-rank) hit of each instance
        lead[0] = True
        np.not_equal(g_hit[1:], g_hit[:-1], out=lead[1:])
        first[t, g_hit[lead]] = r_hit[lead]
    return first


def _trapezoid(y: NDArray[np.float64], x: NDArray[np.float64]) -> float:
    """``np.trapz(y, x)`` (``np.trapezoid`` in NumPy 2), the same expression and summation."""
    return float((np.diff(x) * (y[1:] + y[:-1]) / 2.0).sum())


def _video_column(name: str, x: Any, n: int) -> NDArray[np.int64]:
    return check_labels(name, x, n, int(np.iinfo(np.int64).max))


# ----------------------------------------------------------------------------- AR@AN


@dataclass(frozen=True, eq=False)
class AverageRecallCurve:
    """The ActivityNet average-recall vs average-number-of-proposals curve.

    Attributes:
        tiou_thresholds: ``(T,)`` float64.
        recall: ``(T, J)`` float64, recall at each threshold and curve point.
        average_recall: ``(J,)`` float64, ``recall.mean(axis=0)``.
        proposals_per_video: ``(J,)`` float64, the average number of proposals per video at
            each point (the x axis).
        area: ``trapz(average_recall, proposals_per_video)``.
        auc: ``100 * area / proposals_per_video[-1]``, the percentage the official script prints.
        max_avg_nr_proposals: the cap used (the default ``N / V`` when none was given).
        num_videos: ``V``, videos with at least one ground-truth instance.
        num_ground_truth: ground-truth instances (the recall denominator).
        num_proposals: ``N``, every proposal given (the ratio's denominator).
        num_retrieved: ``R``, proposals kept by the ratio cut in the ``V`` videos.
    """

    tiou_thresholds: NDArray[np.float64]
    recall: NDArray[np.float64]
    average_recall: NDArray[np.float64]
    proposals_per_video: NDArray[np.float64]
    area: float
    auc: float
    max_avg_nr_proposals: float
    num_videos: int
    num_ground_truth: int
    num_proposals: int
    num_retrieved: int

    def _point(self, num_proposals: float) -> int:
        n_points = self.average_recall.shape[0]
        pos = float(num_proposals) * n_points / self.max_avg_nr_proposals
        j = round(pos) - 1
        if not (abs(pos - round(pos)) <= 1e-9 * max(1.0, abs(pos)) and 0 <= j < n_points):
            step = self.max_avg_nr_proposals / n_points
            raise EvaluationInputError(
                f"num_proposals={num_proposals!r} is not a point of the curve: the points are "
                f"{step:g}, {2 * step:g}, ..., {self.max_avg_nr_proposals:g} proposals per video",
                field="num_proposals",
            )
        return j

    def recall_at(self, num_proposals: float) -> NDArray[np.float64]:
        """``(T,)`` recall per threshold at the point of ``num_proposals`` proposals per video.

        The point is ``j`` with ``(j + 1) / J * max_avg_nr_proposals == num_proposals`` (its
        nominal value; ``proposals_per_video[j]`` may differ in the last bits).
        """
        return self.recall[:, self._point(num_proposals)].copy()

    def ar_at(self, num_proposals: float) -> float:
        """AR@AN as BMN and OpenTAD report it: ``np.mean(recall[:, j])`` at the point of AN.

        With ``max_avg_nr_proposals=100`` and 100 points, ``ar_at(1)``, ``ar_at(5)``,
        ``ar_at(10)``, ``ar_at(100)`` are BMN's ``AR@1``, ``AR@5``, ``AR@10``, ``AR@100``
        (columns 0, 4, 9, -1). ``np.mean`` of a column sums pairwise, so this may differ from
        ``average_recall[j]`` (a row-by-row sum) in the last bit, exactly as in those peers.
        """
        return float(np.mean(self.recall[:, self._point(num_proposals)]))

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python view: thresholds, curves, ``area``, ``auc`` and the counts."""
        return {
            "tiou_thresholds": self.tiou_thresholds.tolist(),
            "proposals_per_video": self.proposals_per_video.tolist(),
            "average_recall": self.average_recall.tolist(),
            "recall": self.recall.tolist(),
            "area": self.area,
            "auc": self.auc,
            "max_avg_nr_proposals": self.max_avg_nr_proposals,
            "num_videos": self.num_videos,
            "num_ground_truth": self.num_ground_truth,
            "num_proposals": self.num_proposals,
            "num_retrieved": self.num_retrieved,
        }

    def format_table(self) -> str:
        """AUC and AR at 1, 5, 10, 100 proposals per video (those on the curve's grid)."""
        cap = f"{self.max_avg_nr_proposals:g}"
        lines = [f"  AUC (AR vs AN, up to {cap} proposals/video): {self.auc:.2f} %"]
        for k in (1, 5, 10, 100):
            try:
                lines.append(f"  AR@{k:<4d} {100 * self.ar_at(k):6.2f} %")
            except EvaluationInputError:
                continue
        lines.append(
            f"  {self.num_ground_truth} instances in {self.num_videos} videos, "
            f"{self.num_retrieved} of {self.num_proposals} proposals retrieved"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()


def _max_avg(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if isinstance(value, bool) or not np.isfinite(out) or out <= 0:
        raise EvaluationInputError(
            f"max_avg_nr_proposals must be a finite number > 0 (or None for the official default "
            f"N / V), got {value!r}",
            field="max_avg_nr_proposals",
        )
    return out


def _num_points(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise EvaluationInputError(
            f"num_points must be an integer >= 1, got {value!r}", field="num_points"
        )
    return int(value)


def _average_recall_curve(
    g_seg: NDArray[np.float64],
    g_vid: NDArray[np.int64],
    p_seg: NDArray[np.float64],
    p_scores: NDArray[np.float64],
    p_vid: NDArray[np.int64],
    thr: NDArray[np.float64],
    max_avg: float | None,
    num_points: int,
) -> AverageRecallCurve:
    """Validated-array core of the AR@AN curve (see the module docstring, steps 1-5)."""
    n_gt = g_seg.shape[0]
    n_prop = p_seg.shape[0]
    if n_gt == 0:
        raise EvaluationInputError("the ground truth has no action instance to recall")
    if n_prop == 0:
        raise EvaluationInputError(
            "no proposals: the average number of proposals per video is 0 (the official code "
            "divides by zero here)"
        )
    gt_videos, g_code = np.unique(g_vid, return_inverse=True)
    g_code = g_code.reshape(-1).astype(np.int64)
    num_videos = int(gt_videos.shape[0])
    if max_avg is None:
        max_avg = float(n_prop) / num_videos
    ratio = max_avg * float(num_videos) / n_prop
    p_code = np.searchsorted(gt_videos, p_vid).astype(np.int64)
    on = p_code < num_videos
    on[on] = gt_videos[p_code[on]] == p_vid[on]
    p_code = np.where(on, p_code, num_videos)  # proposals of videos without ground truth
    n_v = np.bincount(p_code[on], minlength=num_videos).astype(np.int64)
    # min(int(n * ratio), n); clamping before the cast keeps a huge ratio from overflowing
    kept_v = np.minimum(n_v * ratio, n_v).astype(np.int64)
    num_retrieved = int(kept_v.sum())
    if num_retrieved == 0:
        raise EvaluationInputError(
            f"no proposal is retrieved: max_avg_nr_proposals={max_avg:g} keeps int(n * "
            f"{ratio:g}) = 0 proposals in every video with ground truth (the official code "
            "divides by zero here)",
            field="max_avg_nr_proposals",
        )
    rank = _group_ranks(p_code, p_scores)
    use = on & (rank < np.append(kept_v, 0)[p_code])
    pcn = (
        np.arange(1, num_points + 1, dtype=np.int64)
        / float(num_points)
        * (max_avg * float(num_videos) / num_retrieved)
    )
    first = _first_hits(g_seg, g_code, p_seg[use], p_code[use], rank[use], thr)
    # proposals each video uses at each point: min(int(n' * pcn_j), n')
    kept_f = kept_v.astype(np.float64)[:, None]
    used = np.minimum(kept_f * pcn[None, :], kept_f).astype(np.int64)  # (V, J)
    used_by_gt = used[g_code]  # (G, J)
    recall = np.empty((thr.shape[0], num_points), dtype=np.float64)
    for t in range(thr.shape[0]):
        counts = np.count_nonzero(first[t][:, None] < used_by_gt, axis=0)
        recall[t] = counts.astype(np.float64) / float(n_gt)
    average_recall = recall.mean(axis=0)
    proposals_per_video = pcn * (float(num_retrieved) / num_videos)
    area = _trapezoid(average_recall, proposals_per_video)
    return AverageRecallCurve(
        tiou_thresholds=thr,
        recall=recall,
        average_recall=average_recall,
        proposals_per_video=proposals_per_video,
        area=area,
        auc=float(100.0 * area / proposals_per_video[-1]),
        max_avg_nr_proposals=float(max_avg),
        num_videos=num_videos,
        num_ground_truth=n_gt,
        num_proposals=n_prop,
        num_retrieved=num_retrieved,
    )


def average_recall_vs_avg_nr_proposals(
    gt_segments: ArrayLike,
    gt_videos: ArrayLike,
    pred_segments: ArrayLike,
    pred_scores: ArrayLike,
    pred_videos: ArrayLike,
    *,
    max_avg_nr_proposals: float | None = None,
    tiou_thresholds: ThresholdSpec = PROPOSAL_TIOU_THRESHOLDS,
    num_points: int = 100,
) -> AverageRecallCurve:
    """ActivityNet AR@AN on arrays (the official function's name; rules in the module docstring).

    Args:
        gt_segments: ``(G, 2)`` float ``[start, end]``, ``start <= end``, finite.
        gt_videos: ``(G,)`` int video id (non-negative; shared with ``pred_videos``).
        pred_segments: ``(N, 2)`` float proposals (class labels play no part).
        pred_scores: ``(N,)`` float, finite; higher ranks first.
        pred_videos: ``(N,)`` int video id. Proposals of videos without ground truth are
            counted in ``N`` (as the official code counts every proposal of the file) but
            never retrieved.
        max_avg_nr_proposals: the cap ``AN_max`` (BSN/BMN/OpenTAD on ActivityNet: 100);
            ``None`` (official default) means ``N / V``.
        tiou_thresholds: thresholds in ``(0, 1]``; default ``0.5:0.95:0.05``.
        num_points: ``J``, points of the curve (official: 100; OpenTAD: ``max_avg_nr_proposals``).

    Returns:
        :class:`AverageRecallCurve`.

    Raises:
        EvaluationInputError: invalid arrays (named by argument and index), thresholds not in
            ``(0, 1]``, ``max_avg_nr_proposals <= 0``, no ground truth, no proposal, or no
            proposal retrieved in any video with ground truth.
    """
    thr = _thresholds(tiou_thresholds)
    max_avg = _max_avg(max_avg_nr_proposals)
    points = _num_points(num_points)
    g_seg = check_segments("gt_segments", gt_segments)
    p_seg = check_segments("pred_segments", pred_segments)
    g_vid = _video_column("gt_videos", gt_videos, g_seg.shape[0])
    p_vid = _video_column("pred_videos", pred_videos, p_seg.shape[0])
    scores = check_scores("pred_scores", pred_scores, p_seg.shape[0])
    return _average_recall_curve(g_seg, g_vid, p_seg, scores, p_vid, thr, max_avg, points)


def evaluate_proposals(
    ground_truth: GroundTruth,
    proposals: Predictions,
    *,
    max_avg_nr_proposals: float | None = None,
    tiou_thresholds: ThresholdSpec = PROPOSAL_TIOU_THRESHOLDS,
    num_points: int = 100,
) -> AverageRecallCurve:
    """ActivityNet proposal evaluation (AR@AN and its AUC) of class-agnostic ``proposals``.

    Labels on either side are ignored. Proposals are matched to the ground truth by video id;
    every row of ``proposals`` counts in ``N``, including rows of videos outside the ground
    truth or without instances, as in the official code. Ground-truth instances are used as
    given (duplicates included); clean them first with
    :func:`wtal_blocks.evaluation.segment_ops.deduplicate_ground_truth` to reproduce OpenTAD.

    Typical use (BSN/BMN on ActivityNet v1.3)::

        curve = evaluate_proposals(gt, proposals, max_avg_nr_proposals=100)
        curve.auc, curve.ar_at(1), curve.ar_at(100)

    Args:
        ground_truth, proposals: the containers (``load_activitynet_ground_truth`` /
            ``load_activitynet_results``).
        max_avg_nr_proposals, tiou_thresholds, num_points: see
            :func:`average_recall_vs_avg_nr_proposals`.

    Returns:
        :class:`AverageRecallCurve`.
    """
    thr = _thresholds(tiou_thresholds)
    max_avg = _max_avg(max_avg_nr_proposals)
    points = _num_points(num_points)
    p_vid = _video_codes(proposals.video_ids, ground_truth.video_ids)[proposals.videos]
    return _average_recall_curve(
        ground_truth.segments,
        ground_truth.videos,
        proposals.segments,
        proposals.scores,
        p_vid,
        thr,
        max_avg,
        points,
    )

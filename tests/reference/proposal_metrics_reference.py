"""Plain-loop reference of the proposal metrics and segment utilities, written from the spec.

Deliberately simple (one video, one threshold, one curve point at a time) and independent of
``wtal_blocks.evaluation``. Rules, as the library documents them:

* tIoU = intersection / ((e_b - s_b) + (e_a - s_a) - intersection), 0 when that union is 0;
  IoP = intersection / (e_c - s_c) of the candidate c, 0 when the candidate has length 0;
* AR@AN (ActivityNet ``eval_proposal.py``): V = videos with ground truth, N = all proposals,
  cap = N / V by default, ratio = cap * V / N; each ground-truth video keeps its
  min(int(n * ratio), n) best proposals (descending score, ties in input order), R kept in all;
  point j uses min(int(n' * pcn_j), n') proposals with pcn_j = (j / J) * (cap * V / R); an
  instance is recalled when one of them has tIoU >= threshold; x axis pcn * (R / V);
* top-k× recall: the k * G best predictions of a group with G instances;
* deduplication: walk a video's instances in order; drop too-short ones, then drop one that is
  within tol at both ends of an earlier kept instance of the same label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (b[1] - b[0]) + (a[1] - a[0]) - inter
    if union <= 0:
        return 0.0
    return inter / union


def iop(candidate: tuple[float, float], target: tuple[float, float]) -> float:
    inter = max(0.0, min(candidate[1], target[1]) - max(candidate[0], target[0]))
    length = candidate[1] - candidate[0]
    if length <= 0:
        return 0.0
    return inter / length


def pairwise(
    fn: Any, rows_a: list[tuple[float, float]], rows_b: list[tuple[float, float]]
) -> list[list[float]]:
    return [[fn(a, b) for b in rows_b] for a in rows_a]


def _by_score(preds: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    return sorted(preds, key=lambda p: -p[2])  # sorted() is stable: ties keep input order


def average_recall_curve(
    gts: Sequence[tuple[Any, ...]],
    proposals: Sequence[tuple[Any, ...]],
    thresholds: list[float],
    max_avg: float | None = None,
    num_points: int = 100,
) -> dict[str, Any]:
    """``gts``: (video, start, end); ``proposals``: (video, start, end, score).

    Raises ZeroDivisionError where the official code divides by zero.
    """
    videos: list[Any] = []
    for v, _, _ in gts:
        if v not in videos:
            videos.append(v)
    num_videos = len(videos)
    if max_avg is None:
        max_avg = float(len(proposals)) / num_videos
    ratio = max_avg * float(num_videos) / len(proposals)
    tables = []  # per video: tIoU of every (instance, kept proposal), and the kept count
    total = 0
    for v in videos:
        g = [(s, e) for vv, s, e in gts if vv == v]
        p = _by_score([(s, e, sc) for vv, s, e, sc in proposals if vv == v])
        kept = min(int(len(p) * ratio), len(p))
        total += kept
        tables.append(([[tiou(q[:2], x) for q in p[:kept]] for x in g], kept))
    factor = max_avg * float(num_videos) / total
    pcn = [(j + 1) / num_points * factor for j in range(num_points)]
    n_gt = len(gts)
    recall = []
    for th in thresholds:
        row = []
        for j in range(num_points):
            matched = 0
            for table, kept in tables:
                use = min(int(kept * pcn[j]), kept)
                for values in table:
                    if any(values[i] >= th for i in range(use)):
                        matched += 1
            row.append(matched / n_gt)
        recall.append(row)
    average = []
    for j in range(num_points):
        acc = 0.0
        for row in recall:
            acc += row[j]
        average.append(acc / len(thresholds))
    per_video = [x * (float(total) / num_videos) for x in pcn]
    area = 0.0
    for j in range(1, num_points):
        area += (per_video[j] - per_video[j - 1]) * (average[j] + average[j - 1]) / 2.0
    return {
        "recall": recall,
        "average_recall": average,
        "proposals_per_video": per_video,
        "area": area,
        "auc": 100.0 * area / per_video[-1],
        "num_retrieved": total,
        "max_avg": max_avg,
    }


def topkx_recall(
    gts: Sequence[tuple[Any, ...]],
    preds: Sequence[tuple[Any, ...]],
    thresholds: list[float],
    top_k: list[int],
    per_class: bool,
) -> list[list[float]]:
    """``gts``: (video, label, start, end); ``preds``: (video, label, start, end, score).

    Per class: mean over the classes with ground truth of recalled / instances.
    """
    if not per_class:
        gts = [(v, 0, s, e) for v, _, s, e in gts]
        preds = [(v, 0, s, e, sc) for v, _, s, e, sc in preds]
    classes = sorted({c for _, c, _, _ in gts})
    per = []
    for c in classes:
        found = [[0] * len(top_k) for _ in thresholds]
        videos = []
        for v, cc, _, _ in gts:
            if cc == c and v not in videos:
                videos.append(v)
        n_c = 0
        for v in videos:
            g = [(s, e) for vv, cc, s, e in gts if vv == v and cc == c]
            n_c += len(g)
            p = _by_score([(s, e, sc) for vv, cc, s, e, sc in preds if vv == v and cc == c])
            for t, th in enumerate(thresholds):
                for ki, k in enumerate(top_k):
                    top = p[: k * len(g)]
                    for x in g:
                        if any(tiou(q[:2], x) >= th for q in top):
                            found[t][ki] += 1
        per.append(
            [[found[t][ki] / n_c for ki in range(len(top_k))] for t in range(len(thresholds))]
        )
    out = []
    for t in range(len(thresholds)):
        row = []
        for ki in range(len(top_k)):
            acc = 0.0
            for r in per:
                acc += r[t][ki]
            row.append(acc / len(per))
        out.append(row)
    return out


def deduplicate(
    anns: Sequence[tuple[Any, ...]],
    *,
    drop_zero_length: bool = True,
    drop_duplicates: bool = True,
    tol: float = 1e-3,
    convention: str = "opentad",
) -> list[str]:
    """``anns``: (video, label, start, end) in file order. Returns "kept", "zero" or "dup" each."""
    kept_of_video: dict[Any, list[tuple[float, float, Any]]] = {}
    status = []
    for v, label, s, e in anns:
        kept = kept_of_video.setdefault(v, [])
        if drop_zero_length:
            too_short = (e - s <= 0) if convention == "opentad" else not (e - s >= tol)
            if too_short:
                status.append("zero")
                continue
        if drop_duplicates and any(
            abs(s - ps) <= tol and abs(e - pe) <= tol and label == pl for ps, pe, pl in kept
        ):
            status.append("dup")
            continue
        kept.append((s, e, label))
        status.append("kept")
    return status

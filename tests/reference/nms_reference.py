"""Textbook NMS loops on plain Python floats (IEEE float64), written from the spec.

Spec (docs/official-code.md, the shared test pipeline, step 6):

* ``len = end - start + offset``; ``inter = max(0, min(end) - max(start) + offset)``;
  ``IoU = inter / (len_i + len_j - inter)``, evaluated in exactly this order so that every
  value is bit-identical to the official numpy code.
* greedy NMS: by descending score, keep the best remaining segment and drop every remaining
  one with ``IoU >= threshold`` (the official code keeps ``iou < thresh``).
* library decisions the loops also encode: equal scores are visited in input order; a zero
  union (two zero-length segments with offset 0) has IoU 1 for the same point, else 0.

Soft-NMS (Bodla et al. 2017, as in ActionFormer/OpenTAD): repeatedly pick the remaining
segment with the highest current score (ties: lower index), then multiply every remaining
score by ``1 - IoU`` when ``IoU >= iou_threshold`` (linear) or by ``exp(-IoU**2 / sigma)``
(Gaussian), dropping a segment as soon as its score is below ``min_score``; stop after
``max_detections`` picks.

Peer options: ``strict`` compares with ``>`` instead of ``>=`` (torchvision's NMS, the
original soft-NMS code's linear mode); ``width_gate=(low, high)`` is BSN/BMN's gate on the
Gaussian decay (decay only when ``IoU > low + (high - low) * width / width_scale``, width of
the picked segment without offset); segment voting is ActionFormer's ``seg_voting``: the
score-weighted mean of the segments that overlap a kept one at ``IoU >= threshold``, with
the weights normalised before the sum as ActionFormer does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Segment = Sequence[float]


def iou(a: Segment, b: Segment, offset: float) -> float:
    (sa, ea), (sb, eb) = (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))
    len_a = ea - sa + offset
    len_b = eb - sb + offset
    inter = max(0.0, min(ea, eb) - max(sa, sb) + offset)
    union = len_a + len_b - inter
    if union == 0.0:
        return 1.0 if (sa, ea) == (sb, eb) else 0.0
    return inter / union


def score_order(scores: Sequence[float]) -> list[int]:
    # sorted() is stable: equal scores stay in input order
    return sorted(range(len(scores)), key=lambda i: -float(scores[i]))


def overlaps(overlap: float, threshold: float, strict: bool) -> bool:
    """The suppression (or linear decay) condition: ``>=``, or ``>`` when ``strict``."""
    return overlap > threshold if strict else overlap >= threshold


def greedy_nms(
    segments: Sequence[Segment],
    scores: Sequence[float],
    threshold: float,
    offset: float = 0.0,
    strict: bool = False,
) -> list[int]:
    remaining = score_order(scores)
    keep: list[int] = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [
            j
            for j in remaining
            if not overlaps(iou(segments[best], segments[j], offset), threshold, strict)
        ]
    return keep


def batched_greedy_nms(
    segments: Sequence[Segment],
    scores: Sequence[float],
    groups: Sequence[int],
    threshold: float,
    offset: float = 0.0,
    strict: bool = False,
) -> list[int]:
    keep: list[int] = []
    for g in sorted(set(groups)):
        members = [i for i in range(len(scores)) if groups[i] == g]
        kept = greedy_nms(
            [segments[i] for i in members],
            [scores[i] for i in members],
            threshold,
            offset,
            strict,
        )
        keep.extend(members[k] for k in kept)
    # all groups merged by descending score, equal scores in input order
    return sorted(keep, key=lambda i: (-float(scores[i]), i))


def soft_nms(
    segments: Sequence[Segment],
    scores: Sequence[float],
    *,
    method: str = "gaussian",
    sigma: float = 0.5,
    iou_threshold: float = 0.1,
    min_score: float = 0.001,
    max_detections: int | None = None,
    offset: float = 0.0,
    strict: bool = False,
    width_gate: tuple[float, float] | None = None,
    width_scale: float = 1.0,
) -> tuple[list[int], list[float]]:
    current = {i: float(s) for i, s in enumerate(scores) if float(s) >= min_score}
    picked: list[int] = []
    picked_scores: list[float] = []
    while current and (max_detections is None or len(picked) < max_detections):
        best = min(current, key=lambda i: (-current[i], i))
        picked.append(best)
        picked_scores.append(current.pop(best))
        start, end = float(segments[best][0]), float(segments[best][1])
        for j in list(current):
            overlap = iou(segments[best], segments[j], offset)
            if method == "linear":
                decays = overlaps(overlap, iou_threshold, strict)
                weight = 1.0 - overlap if decays else 1.0
            else:
                weight = math.exp(-(overlap * overlap) / sigma)
                if width_gate is not None:
                    low, high = width_gate
                    # BSN/BMN: decay only above a threshold growing with the picked width
                    if not overlap > low + (high - low) * ((end - start) / width_scale):
                        weight = 1.0
            current[j] *= weight
            if current[j] < min_score:
                del current[j]
    return picked, picked_scores


def official_style_nms(
    segments: np.ndarray, scores: np.ndarray, thresh: float, offset: float = 1.0
) -> list[int]:
    """The official code's numpy formulation (one vectorised step per kept segment), with a
    stable sort in place of its ``argsort()[::-1]`` so that score ties follow our rule.
    Fast enough for thousands of segments; with offset 0 a zero union gives ``nan``, which
    ``iou < thresh`` suppresses, as in the official code."""
    x1, x2 = segments[:, 0].astype(np.float64), segments[:, 1].astype(np.float64)
    areas = x2 - x1 + offset
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + offset)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.flatnonzero(iou < thresh) + 1]
    return keep


def segment_voting(
    segments: Sequence[Segment],
    scores: Sequence[float],
    kept: Sequence[int],
    threshold: float,
    groups: Sequence[int] | None = None,
    offset: float = 0.0,
) -> list[tuple[float, float]]:
    voted = []
    for k in kept:
        weights = [
            float(scores[j])
            if (groups is None or groups[j] == groups[k])
            and iou(segments[k], segments[j], offset) >= threshold
            else 0.0
            for j in range(len(scores))
        ]
        total = sum(weights)
        if total == 0.0:  # the library keeps the boundaries (ActionFormer would give NaN)
            voted.append((float(segments[k][0]), float(segments[k][1])))
            continue
        normalised = [w / total for w in weights]
        voted.append(
            (
                sum(w * float(s[0]) for w, s in zip(normalised, segments, strict=True)),
                sum(w * float(s[1]) for w, s in zip(normalised, segments, strict=True)),
            )
        )
    return voted


def bmn_style_soft_nms(
    segments: Sequence[Segment],
    scores: Sequence[float],
    alpha: float,
    low: float,
    high: float,
    top_k: int,
) -> tuple[list[int], list[float]]:
    """BSN/BMN's loop as their code runs it, on lists in descending score order: pick the
    first maximum of the current scores, decay every other proposal whose IoU with it
    exceeds ``low + (high - low) * width`` by ``exp(-IoU**2 / alpha)``, pop it; ``top_k``
    picks at most, no score floor."""
    order = score_order(scores)
    index = list(order)
    start = [float(segments[i][0]) for i in order]
    end = [float(segments[i][1]) for i in order]
    score = [float(scores[i]) for i in order]
    picked, picked_scores = [], []
    while score and len(picked) < top_k:
        best = score.index(max(score))
        width = end[best] - start[best]
        for j in range(len(score)):
            if j != best:
                overlap = iou((start[best], end[best]), (start[j], end[j]), 0.0)
                if overlap > low + (high - low) * width:
                    score[j] = score[j] * math.exp(-(overlap * overlap) / alpha)
        picked.append(index.pop(best))
        picked_scores.append(score.pop(best))
        start.pop(best)
        end.pop(best)
    return picked, picked_scores

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


def greedy_nms(
    segments: Sequence[Segment], scores: Sequence[float], threshold: float, offset: float = 0.0
) -> list[int]:
    remaining = score_order(scores)
    keep: list[int] = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [
            j for j in remaining if not iou(segments[best], segments[j], offset) >= threshold
        ]
    return keep


def batched_greedy_nms(
    segments: Sequence[Segment],
    scores: Sequence[float],
    groups: Sequence[int],
    threshold: float,
    offset: float = 0.0,
) -> list[int]:
    keep: list[int] = []
    for g in sorted(set(groups)):
        members = [i for i in range(len(scores)) if groups[i] == g]
        kept = greedy_nms(
            [segments[i] for i in members], [scores[i] for i in members], threshold, offset
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
) -> tuple[list[int], list[float]]:
    current = {i: float(s) for i, s in enumerate(scores) if float(s) >= min_score}
    picked: list[int] = []
    picked_scores: list[float] = []
    while current and (max_detections is None or len(picked) < max_detections):
        best = min(current, key=lambda i: (-current[i], i))
        picked.append(best)
        picked_scores.append(current.pop(best))
        for j in list(current):
            overlap = iou(segments[best], segments[j], offset)
            if method == "linear":
                weight = 1.0 - overlap if overlap >= iou_threshold else 1.0
            else:
                weight = math.exp(-(overlap * overlap) / sigma)
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

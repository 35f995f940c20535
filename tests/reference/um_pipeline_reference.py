"""Plain-loop reference of UM's whole test-time pipeline for ONE video (Inference 1-10).

Composes the other references: min-max magnitude normalisation, fused score and per-class
min-max, class selection, the proposal loops and textbook greedy NMS (+1 convention).
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.reference import nms_reference, proposals_reference
from tests.reference.um_reference import minmax_probability

Detection = tuple[int, float, float, float]  # (class, score, start, end)


def minmax_over_time(column: Sequence[float]) -> list[float]:
    hi, lo = max(0.0, max(column)), max(0.0, min(column))
    delta = hi - lo if hi - lo > 0 else 1.0
    return [min(1.0, max(0.0, (v - lo) / delta)) for v in column]


def detect_video(
    segment_probs: Sequence[Sequence[float]],
    magnitudes: Sequence[float],
    action_index: Sequence[int],
    background_index: Sequence[int],
    video_probs: Sequence[float],
    length: int,
    cas_thresholds: Sequence[float],
    magnitude_thresholds: Sequence[float],
    class_threshold: float = 0.2,
    nms_threshold: float = 0.6,
) -> list[Detection]:
    t, c = len(segment_probs), len(segment_probs[0])
    mag_act = sum(magnitudes[i] for i in action_index) / len(action_index)
    mag_bkg = sum(magnitudes[i] for i in background_index) / len(background_index)
    u = [minmax_probability(m, mag_act, mag_bkg) for m in magnitudes]
    fused_cols = [
        minmax_over_time([segment_probs[i][k] * u[i] for i in range(t)]) for k in range(c)
    ]
    fused = [[fused_cols[k][i] for k in range(c)] for i in range(t)]
    classes = [k for k in range(c) if video_probs[k] >= class_threshold]
    if not classes:
        classes = [max(range(c), key=lambda k: video_probs[k])]
    props = proposals_reference.video_proposals(
        fused, video_probs, classes, length, cas_thresholds, u, magnitude_thresholds
    )
    out: list[Detection] = []
    for k in classes:
        mine = [p for p in props if p[0] == k]
        keep = nms_reference.greedy_nms(
            [(p[2], p[3]) for p in mine], [p[1] for p in mine], nms_threshold, offset=1.0
        )
        out += [mine[i] for i in keep]
    return out

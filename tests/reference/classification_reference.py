"""Plain-loop references of the video-level classification metrics, written from their definitions."""

from __future__ import annotations


def class_ap(scores: list[float], positive: list[bool]) -> float | None:
    """AP = sum over distinct score values t (descending) of (R(t) - R(prev)) * P(t)."""
    npos = sum(positive)
    if npos == 0:
        return None
    ap, prev_recall = 0.0, 0.0
    for t in sorted(set(scores), reverse=True):
        chosen = [p for s, p in zip(scores, positive, strict=True) if s >= t]
        tp = sum(chosen)
        precision = tp / len(chosen)
        recall = tp / npos
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return ap


def um_accuracy(
    scores: list[list[float]], labels: list[list[int]], threshold: float = 0.2
) -> float:
    correct = 0
    for row, lab in zip(scores, labels, strict=True):
        if all((s >= threshold) == bool(y) for s, y in zip(row, lab, strict=True)):
            correct += 1
    return correct / len(scores)

"""Adversarial NMS inputs shared by the torch-path and Triton-kernel tests.

Every case is small (the Triton interpreter runs them too) and plain Python data, so the
reference loops and the library see exactly the same float64 values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from tests.reference import nms_reference as ref


@dataclass(frozen=True)
class Case:
    name: str
    segments: list[tuple[float, float]]
    scores: list[float]
    groups: list[int]


def _grid(rng: random.Random, n: int, span: int, max_len: int, unit: float = 1.0) -> list:
    out = []
    for _ in range(n):
        a = rng.randint(0, span)
        out.append((a * unit, (a + rng.randint(0, max_len)) * unit))
    return out


def _groups(rng: random.Random, n: int) -> list[int]:
    # sparse, negative and large ids; group sizes differ a lot
    ids = [-3, 0, 7, 1000, 2**40]
    weights = [1, 6, 3, 1, 2]
    return rng.choices(ids, weights, k=n)


def adversarial_cases() -> list[Case]:
    rng = random.Random(1234)
    cases: list[tuple[str, list, list]] = []
    cases.append(("single", [(1.0, 3.0)], [0.5]))
    cases.append(("two_identical_equal_scores", [(0.0, 4.0), (0.0, 4.0)], [0.5, 0.5]))
    cases.append(("all_identical_equal_scores", [(2.0, 7.0)] * 40, [0.3] * 40))
    cases.append(("all_identical", [(2.0, 7.0)] * 40, [rng.random() for _ in range(40)]))
    segs = _grid(rng, 60, 30, 10)
    cases.append(("score_ties", segs, [rng.choice([0.1, 0.2, 0.3]) for _ in segs]))
    base = _grid(rng, 25, 30, 8)
    dup = [s for s in base for _ in range(2)]
    cases.append(("duplicates", dup, [rng.choice([0.4, 0.5, rng.random()]) for _ in dup]))
    # integer boundaries: IoUs such as 3/5, 6/10 are exactly the double nearest 0.6
    segs = _grid(rng, 80, 20, 10)
    cases.append(("grid_ties", segs, [rng.random() for _ in segs]))
    segs = _grid(rng, 60, 12, 6, unit=0.5)
    cases.append(("half_grid_ties_with_score_ties", segs, [rng.choice([0.2, 0.7]) for _ in segs]))
    points = [(3.0, 3.0), (3.0, 3.0), (4.0, 4.0), (2.0, 5.0), (3.0, 3.5), (3.5, 3.5), (3.0, 3.0)]
    cases.append(("zero_length", points, [0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.9]))
    # each overlaps the next at IoU 2/3: decisions alternate down the chain
    chain = [(i * 1.0, i * 1.0 + 5.0) for i in range(50)]
    cases.append(("chain", chain, [1.0 - i / 100 for i in range(50)]))
    nested = [(float(i), float(40 - i)) for i in range(20)] * 2
    cases.append(("nested", nested, [rng.random() for _ in nested]))
    segs = [(a - 100.0, b - 100.0) for a, b in _grid(rng, 40, 20, 8)]
    cases.append(("negative_coords", segs, [rng.random() for _ in segs]))
    segs = [(a + 1e6, b + 1e6) for a, b in _grid(rng, 40, 20, 8, unit=0.25)]
    cases.append(("large_magnitude", segs, [rng.random() for _ in segs]))
    segs = _grid(rng, 150, 200, 25)
    cases.append(("several_chunks", segs, [rng.random() for _ in segs]))
    return [Case(name, list(s), list(sc), _groups(rng, len(s))) for name, s, sc in cases]


def nested_grid_proposals(
    seed: int, positions: int = 400, levels: int = 19, unit: float = 16 / 600
) -> tuple[list[tuple[float, float]], list[float]]:
    """UM-like proposals: runs of a smooth random curve above ``levels`` thresholds, with
    boundaries on a grid of ``unit`` seconds (``start = a * unit``, ``end = (b + 1) * unit``)
    and distinct scores."""
    rng = np.random.default_rng(seed)
    curve = np.convolve(rng.standard_normal(positions + 20), np.ones(21) / 21, mode="valid")
    curve = (curve - curve.min()) / (curve.max() - curve.min())
    segments: list[tuple[float, float]] = []
    for level in np.linspace(0.05, 0.95, levels):
        above = np.concatenate([[0], (curve > level).astype(np.int8), [0]])
        edges = np.diff(above)
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True):
            segments.append((float(a * unit), float((b + 1) * unit)))
    scores = rng.permutation(len(segments)) / len(segments) + 0.01
    return segments, [float(s) for s in scores]


def count_exact_ties(segments: list[tuple[float, float]], threshold: float, offset: float) -> int:
    """Number of pairs whose float64 IoU is exactly ``threshold``."""
    n = len(segments)
    return sum(
        ref.iou(segments[i], segments[j], offset) == threshold
        for i in range(n)
        for j in range(i + 1, n)
    )

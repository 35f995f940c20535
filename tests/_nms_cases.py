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


def _runs(curve: np.ndarray, levels: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` positions of every run of >= 2 positions above each level."""
    out = []
    for level in levels:
        above = np.concatenate([[0], (curve > level).astype(np.int8), [0]])
        edges = np.diff(above)
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True):
            if b > a:
                out.append((int(a), int(b)))
    return out


def dense_proposals(
    seed: int, n: int, positions: int = 2400, unit: float = 200 / 18000, smooth: float = 40.0
) -> tuple[list[tuple[float, float]], list[float]]:
    """The dense regime of UM's inference: ``n`` proposals of one class in one short video.

    Smooth random curves (several firings, as the CAS and the feature magnitudes both cut
    proposals) over ``positions`` grid steps of ``unit`` are cut at UM's 19 thresholds;
    segments are ``(a * unit, (b + 1) * unit)`` and a random subset of ``n`` is kept. With
    ``unit = 1`` the boundaries are frame indices and IoUs such as 3/5 land exactly on 0.6.
    """
    rng = np.random.default_rng(seed)
    pad = int(4 * smooth)
    kernel = np.exp(-0.5 * (np.arange(-pad, pad + 1) / smooth) ** 2)
    runs: list[tuple[int, int]] = []
    while len(runs) < n:
        raw = np.convolve(rng.standard_normal(positions + 2 * pad), kernel, mode="valid")
        curve = (raw - raw.min()) / (raw.max() - raw.min())
        runs += _runs(curve, np.linspace(0.05, 0.65, 19))
    pick = rng.permutation(len(runs))[:n]
    segments = [(runs[i][0] * unit, (runs[i][1] + 1) * unit) for i in pick]
    scores = [float(s) for s in rng.random(n)]
    return segments, scores


def dense_cases() -> list[Case]:
    """Adversarial inputs of the dense regime (most segments overlap many others)."""
    rng = random.Random(99)
    cases: list[tuple[str, list, list]] = []
    segs, scores = dense_proposals(0, 150)
    cases.append(("dense_seconds", segs, scores))
    segs, scores = dense_proposals(1, 150, positions=600, unit=1.0, smooth=10.0)
    cases.append(("dense_frames_ties", segs, [rng.choice([0.3, 0.5, 0.7]) for _ in segs]))
    # a few segments copied many times: each kept copy suppresses a large share of the rest
    base = _grid(rng, 8, 40, 12)
    dup = [s for s in base for _ in range(15)]
    cases.append(("near_duplicate_clusters", dup, [rng.choice([0.2, 0.4, 0.6]) for _ in dup]))
    # nested segments, each suppressing the next at IoU 2/3 (a dependency chain inside a
    # dense block), under a blanket of overlapping noise
    chain = [(30.0 - 1.5**i, 30.0 + 1.5**i) for i in range(12)]
    noise = _grid(rng, 80, 60, 20)
    chained = chain + noise
    chain_scores = [1.0 - i / 100 for i in range(12)] + [rng.random() * 0.9 for _ in noise]
    cases.append(("dense_nested_chain", chained, chain_scores))
    points = [(float(rng.randint(0, 5)),) * 2 for _ in range(40)] + _grid(rng, 60, 6, 3)
    cases.append(("dense_points", points, [rng.choice([0.1, 0.5, 0.9]) for _ in points]))
    return [Case(name, list(s), list(sc), _groups(rng, len(s))) for name, s, sc in cases]

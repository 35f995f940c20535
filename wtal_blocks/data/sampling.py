"""Segment sampling of the official code (official-behaviour.md, "Data").

* ``random_perturb`` (training): one random segment from each of ``T`` equal slices of the
  video, so that every epoch sees a different but evenly spread subset (STPN's sampling).
* ``uniform_sampling`` (test): ``floor(arange(T) * L / T)``, or every segment when ``L <= T``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["random_perturb", "uniform_sampling"]


def random_perturb(length: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """Official training sampling: ``(num_segments,)`` int64 indices into ``[0, length)``.

    ``s = arange(T) * L / T``; for ``i < T-1`` pick uniformly in ``[int(s_i), int(s_{i+1})]``
    (both ends inclusive) when they differ, else ``int(s_i)``; the last index is drawn from
    ``[int(s_{T-1}), L-1]``. When ``L == T`` every segment is taken; short videos (``L < T``)
    are stretched by repetition.
    """
    if length < 1 or num_segments < 1:
        raise ValueError(f"length and num_segments must be >= 1, got {length}, {num_segments}")
    if length == num_segments:
        return np.arange(num_segments, dtype=np.int64)
    base = (np.arange(num_segments) * length / num_segments).astype(np.int64)
    upper = np.empty_like(base)
    upper[:-1] = base[1:]
    upper[-1] = max(base[-1], length - 1)
    draw = rng.integers(base, upper, endpoint=True)
    # the official code only draws where the slice is non-empty; elsewhere it keeps int(s_i)
    return np.where(upper > base, draw, base)


def uniform_sampling(length: int, num_segments: int) -> np.ndarray:
    """Official test sampling: all ``L`` segments if ``L <= T``, else ``floor(arange(T) * L / T)``."""
    if length < 1 or num_segments < 1:
        raise ValueError(f"length and num_segments must be >= 1, got {length}, {num_segments}")
    if length <= num_segments:
        return np.arange(length, dtype=np.int64)
    return np.floor(np.arange(num_segments) * length / num_segments).astype(np.int64)

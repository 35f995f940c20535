"""Segment sampling of the official codes (docs/official-code.md, "Data").

* ``random_perturb`` (training): one random segment from each of ``T`` equal slices of the
  video, so that every epoch sees a different but evenly spread subset (STPN's sampling).
* ``uniform_sampling`` (test): ``floor(arange(T) * L / T)``, or every segment when ``L <= T``
  (UM, CoLA); with ``stretch=True`` always ``T`` segments, short videos stretched by
  repetition (BaS-Net).
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


def uniform_sampling(length: int, num_segments: int, *, stretch: bool = False) -> np.ndarray:
    """Official test sampling: ``floor(arange(T) * L / T)``, or all ``L`` segments if ``L <= T``.

    Args:
        length: ``L``, the video's number of feature segments.
        num_segments: ``T``.
        stretch: always ``T`` indices, also for ``L < T`` (index ``i`` maps to
            ``floor(i * L / T)``, repeating segments), as BaS-Net's test does.

    Returns:
        ``(min(L, T),)`` int64 indices (``(T,)`` with ``stretch``), non-decreasing.
    """
    if length < 1 or num_segments < 1:
        raise ValueError(f"length and num_segments must be >= 1, got {length}, {num_segments}")
    if length == num_segments or (length < num_segments and not stretch):
        return np.arange(length, dtype=np.int64)
    return np.floor(np.arange(num_segments) * length / num_segments).astype(np.int64)

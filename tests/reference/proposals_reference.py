"""Plain-loop reference of UM's proposal generation (docs/official-code.md, steps 2-5).

One video, one class, one threshold, one run at a time, in Python floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Proposal = tuple[int, float, float, float]  # (class, score, start, end)


def upsample(values: Sequence[float], scale: int) -> list[float]:
    """Linear interpolation at j/scale, extrapolating from the last two points."""
    t = len(values)
    out = []
    for j in range(scale * t):
        x = j * (1.0 / scale)
        if t == 1:
            out.append(float(values[0]))
            continue
        hi = min(max(math.ceil(x), 1), t - 1)
        lo = hi - 1
        out.append((values[hi] - values[lo]) * (x - lo) + values[lo])
    return out


def group_runs(positions: Sequence[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for p in positions:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def oic(
    seq: Sequence[float],
    positions: Sequence[int],
    cls: int,
    video_score: float,
    t_factor: float,
    lam: float = 0.25,
    gamma: float = 0.2,
    min_length: int = 2,
) -> list[Proposal]:
    out = []
    for run in group_runs(positions):
        if len(run) < min_length:
            continue
        n = len(run)
        inner = sum(seq[i] for i in run) / n
        outer_s = max(0, int(run[0] - lam * n))
        outer_e = min(len(seq) - 1, int(run[-1] + lam * n))
        outer_idx = list(range(outer_s, run[0])) + list(range(run[-1] + 1, outer_e + 1))
        outer = sum(seq[i] for i in outer_idx) / len(outer_idx) if outer_idx else 0.0
        out.append(
            (cls, inner - outer + gamma * video_score, run[0] * t_factor, (run[-1] + 1) * t_factor)
        )
    return out


def video_proposals(
    cas: Sequence[Sequence[float]],
    video_probs: Sequence[float],
    classes: Sequence[int],
    length: int,
    cas_thresholds: Sequence[float],
    aux: Sequence[float] | None = None,
    aux_thresholds: Sequence[float] = (),
    scale: int = 24,
    fps: float = 25.0,
    frames: int = 16,
    min_length: int = 2,
) -> list[Proposal]:
    """All proposals of one video (before NMS). ``cas`` is T×C, ``aux`` has length T."""
    t = len(cas)
    t_factor = (frames * length) / (scale * t * fps)
    props: list[Proposal] = []
    for c in classes:
        up = upsample([row[c] for row in cas], scale)
        for thr in cas_thresholds:
            tmp = [v if v >= thr else 0.0 for v in up]
            pos = [i for i, v in enumerate(tmp) if v > 0]
            if any(pos):  # the official ``positions.any()``
                props += oic(tmp, pos, c, video_probs[c], t_factor, min_length=min_length)
        if aux is not None:
            up_aux = upsample(aux, scale)
            for thr in aux_thresholds:
                pos = [i for i, v in enumerate(up_aux) if v >= thr and v > 0]
                if any(pos):
                    props += oic(up, pos, c, video_probs[c], t_factor, min_length=min_length)
    return props

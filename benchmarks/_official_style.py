"""Official-style baselines (not part of the package): the per-video, per-class,
per-threshold structure of the authors' test code, written by us from
docs/official-code.md with numpy, so benchmarks can time it in the same run.
"""

from __future__ import annotations

import math

import numpy as np
import torch

CAS_THRESHOLDS = np.arange(0.0, 0.25, 0.025)
MAGNITUDE_THRESHOLDS = np.arange(0.4, 0.625, 0.025)


def upsample(arr: np.ndarray, scale: int = 24) -> np.ndarray:
    """Linear interpolation at ``arange(0, T, 1/scale)`` with linear extrapolation, ``(T, ...)``."""
    t = arr.shape[0]
    x = np.arange(0, t, 1 / scale)
    if t == 1:
        return np.repeat(arr.astype(np.float64), len(x), axis=0)
    hi = np.clip(np.ceil(x).astype(np.int64), 1, t - 1)
    lo = hi - 1
    frac = (x - lo).reshape((-1,) + (1,) * (arr.ndim - 1))
    return (arr[hi] - arr[lo]).astype(np.float64) * frac + arr[lo].astype(np.float64)


def oic(
    seq: np.ndarray, positions: np.ndarray, cls: int, video_score: float, t_factor: float
) -> list[list[float]]:
    """Outer-inner-contrast proposals of one class and one threshold (loop over runs)."""
    out = []
    if not positions.any():
        return out
    for run in np.split(positions, np.where(np.diff(positions) != 1)[0] + 1):
        if len(run) < 2:
            continue
        n = len(run)
        inner = np.mean(seq[run])
        outer_s = max(0, int(run[0] - 0.25 * n))
        outer_e = min(len(seq) - 1, int(run[-1] + 0.25 * n))
        outer_idx = list(range(outer_s, int(run[0]))) + list(range(int(run[-1]) + 1, outer_e + 1))
        outer = np.mean(seq[outer_idx]) if outer_idx else 0.0
        out.append(
            [cls, inner - outer + 0.2 * video_score, run[0] * t_factor, (run[-1] + 1) * t_factor]
        )
    return out


def numpy_loop_nms(
    segments: np.ndarray, scores: np.ndarray, thresh: float, offset: float
) -> list[int]:
    """The official formulation: ``areas = x2 - x1 + 1``, keep ``iou < thresh`` (stable sort)."""
    x1, x2 = segments[:, 0], segments[:, 1]
    areas = x2 - x1 + offset
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + offset)
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.flatnonzero(iou < thresh) + 1]
    return keep


def nms(proposals: list[list[float]], thresh: float = 0.6) -> list[list[float]]:
    """Greedy NMS with the "+1" convention; ``proposals`` rows are (class, score, start, end)."""
    p = np.asarray(proposals, dtype=np.float64)
    return [proposals[i] for i in numpy_loop_nms(p[:, 2:4], p[:, 1], thresh, 1.0)]


def minmax(x: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> np.ndarray:
    if lo is None or hi is None:
        hi = np.maximum(x.max(axis=0), 0)
        lo = np.maximum(x.min(axis=0), 0)
    delta = hi - lo
    delta = np.where(delta <= 0, np.ones_like(delta), delta)
    return np.clip((x - lo) / delta, 0.0, 1.0)


def postprocess_video(
    segment_probs: np.ndarray,
    magnitudes: np.ndarray,
    action_index: np.ndarray,
    background_index: np.ndarray,
    video_probs: np.ndarray,
    length: int,
    fused: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[list[float]]:
    """Detections of one video, official structure: loops over thresholds and classes.

    ``fused`` optionally gives the fused CAS ``(T, C)`` and ``u (T,)`` directly.
    """
    if fused is None:
        # float32 like the official torch tensors; float64 only from the upsampling on
        f32 = np.float32
        mag_act, mag_bkg = (
            magnitudes[action_index].mean(dtype=f32),
            magnitudes[background_index].mean(dtype=f32),
        )
        u = minmax(
            magnitudes.astype(f32), np.asarray(mag_bkg, f32), np.asarray(mag_act, f32)
        ).astype(f32)
        cas = minmax((segment_probs.astype(f32) * u[:, None]).astype(f32)).astype(f32)
    else:
        cas, u = fused
    t = cas.shape[0]
    pred = np.where(video_probs >= 0.2)[0]
    if len(pred) == 0:
        pred = np.array([np.argmax(video_probs)])
    cas_up = upsample(cas[:, pred])
    u_up = upsample(u)
    t_factor = (16 * length) / (24 * t * 25)
    by_class: dict[int, list[list[float]]] = {}
    for thr in CAS_THRESHOLDS:
        tmp = cas_up.copy()
        tmp[tmp < thr] = 0
        for j, c in enumerate(pred):
            pos = np.where(tmp[:, j] > 0)[0]
            by_class.setdefault(int(c), []).extend(
                oic(tmp[:, j], pos, int(c), float(video_probs[c]), t_factor)
            )
    for thr in MAGNITUDE_THRESHOLDS:
        u_tmp = u_up.copy()
        u_tmp[u_tmp < thr] = 0
        pos = np.where(u_tmp > 0)[0]
        for j, c in enumerate(pred):
            by_class.setdefault(int(c), []).extend(
                oic(cas_up[:, j], pos, int(c), float(video_probs[c]), t_factor)
            )
    return [d for props in by_class.values() if props for d in nms(props)]


def forward_one_by_one(model: torch.nn.Module, videos: list[torch.Tensor]) -> list[object]:
    """Batch-size-1 forward passes, as the official test loop does."""
    with torch.no_grad():
        return [model(v[None]) for v in videos]


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)

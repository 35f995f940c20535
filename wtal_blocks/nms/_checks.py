"""Argument checks of the NMS functions: one-line errors that name the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from .._validation import check_finite, check_rank, check_tensor, shape_str, validation_enabled

# Largest span (max(end) - min(start) + offset) accepted: sums of two lengths and a union
# (at most 4 spans) stay finite in float64, so no IoU is computed from an overflow.
SPAN_LIMIT = 1e307


def _check_segments_scores(segments: Tensor, scores: Tensor, offset: float) -> None:
    """Shapes, dtypes, devices, then the values (:func:`_check_values_torch`)."""
    _check_structure(segments, scores)
    _check_values_torch(segments, scores, offset)


def _check_structure(segments: Tensor, scores: Tensor) -> None:
    """The checks that read no values: types, shapes, dtypes and devices."""
    check_tensor("segments", segments)
    check_tensor("scores", scores)
    if segments.dim() != 2 or segments.shape[1] != 2:
        raise ValueError(
            f"segments must have shape (N, 2) holding (start, end), got shape {shape_str(segments)}"
        )
    if not segments.is_floating_point():
        raise ValueError(f"segments must be a floating-point tensor, got dtype {segments.dtype}")
    check_rank("scores", scores, 1, "(N,)")
    if scores.shape[0] != segments.shape[0]:
        raise ValueError(
            f"scores must have shape (N,) = ({segments.shape[0]},) to match segments "
            f"{shape_str(segments)}, got shape {shape_str(scores)}"
        )
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
    if scores.device != segments.device:
        raise ValueError(
            f"scores must be on the same device as segments ({segments.device}), "
            f"got {scores.device}"
        )


def _check_values_torch(segments: Tensor, scores: Tensor, offset: float) -> None:
    """Finite values, ``end >= start`` and a finite span (see :data:`SPAN_LIMIT`)."""
    if not validation_enabled() or segments.numel() == 0:
        return
    segments, scores = segments.detach(), scores.detach()
    check_finite("segments", segments)
    check_finite("scores", scores)
    start, end = segments[:, 0].double(), segments[:, 1].double()
    bad = end < start
    if bool(bad.any()):
        first = int(torch.nonzero(bad)[0, 0])
        raise ValueError(_end_before_start(int(bad.sum()), first, *segments[first].tolist()))
    lo, hi = int(start.argmin()), int(end.argmax())
    _check_span(float(start[lo]), lo, float(end[hi]), hi, offset)


def _check_values_numpy(
    start: np.ndarray, end: np.ndarray, scores: np.ndarray, offset: float
) -> None:
    """:func:`_check_values_torch` on the float64 arrays of the CPU path (same messages)."""
    if not validation_enabled() or start.size == 0:
        return
    # fast path: NaN propagates through min/max, and an inf start or end makes a bound or the
    # smallest length non-finite; a huge finite sum of scores only takes the slow path
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi, gap = float(start.min()), float(end.max()), float((end - start).min())
        total = float(scores.sum())
    if math.isfinite(lo + hi + gap + total) and gap >= 0.0 and (hi - lo) + offset <= SPAN_LIMIT:
        return
    for name, parts in (("segments", (start, end)), ("scores", (scores,))):
        # one pass: a finite sum means every value is finite
        with np.errstate(over="ignore", invalid="ignore"):
            finite = math.isfinite(sum(float(p.sum()) for p in parts))
        if not finite:
            n_nan = sum(int(np.isnan(p).sum()) for p in parts)
            n_inf = sum(int(np.isinf(p).sum()) for p in parts)
            if n_nan or n_inf:
                shape = f"({start.size}, 2)" if name == "segments" else f"({start.size},)"
                raise ValueError(
                    f"{name} must be finite, got {n_nan} NaN and {n_inf} inf value(s) "
                    f"in a tensor of shape {shape}"
                )
    bad = end < start
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(
            _end_before_start(int(bad.sum()), first, float(start[first]), float(end[first]))
        )
    lo, hi = int(start.argmin()), int(end.argmax())
    _check_span(float(start[lo]), lo, float(end[hi]), hi, offset)


def _end_before_start(count: int, first: int, start: float, end: float) -> str:
    return (
        f"segments must satisfy end >= start, got {count} segment(s) with end < start "
        f"(first at index {first}: start={start}, end={end})"
    )


def _check_span(start: float, lo: int, end: float, hi: int, offset: float) -> None:
    with np.errstate(over="ignore"):
        span = float(np.float64(end) - np.float64(start)) + offset
    if not span <= SPAN_LIMIT:  # inf too
        raise ValueError(
            f"segments must span at most {SPAN_LIMIT:g} in float64 (max(end) - min(start) + "
            f"offset) so that lengths and unions stay finite, got {span:g} "
            f"(start {start:g} at index {lo}, end {end:g} at index {hi})"
        )


def _check_idxs(idxs: Tensor, segments: Tensor) -> None:
    check_tensor("idxs", idxs)
    n = segments.shape[0]
    if idxs.dim() != 1 or idxs.shape[0] != n:
        raise ValueError(
            f"idxs must have shape (N,) = ({n},) to match segments {shape_str(segments)}, "
            f"got shape {shape_str(idxs)}"
        )
    if idxs.is_floating_point() or idxs.is_complex() or idxs.dtype == torch.bool:
        raise ValueError(f"idxs must be an integer tensor of group ids, got dtype {idxs.dtype}")
    if idxs.device != segments.device:
        raise ValueError(
            f"idxs must be on the same device as segments ({segments.device}), got {idxs.device}"
        )


def _check_number(name: str, value: object, expected: str, ok: Callable[[float], bool]) -> float:
    """``float(value)`` if it is a real number (not a bool) that passes ``ok``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if ok(number):  # nan fails every comparison
            return number
    raise ValueError(f"{name} must be {expected}, got {value!r}")


def _check_unit_interval(name: str, value: float) -> float:
    return _check_number(name, value, "a number in [0, 1]", lambda v: 0.0 <= v <= 1.0)


def _check_offset(offset: float) -> float:
    return _check_number(
        "offset",
        offset,
        "a finite number >= 0 (0 for plain IoU, 1 for the official '+1' convention)",
        lambda v: math.isfinite(v) and v >= 0.0,
    )


def _check_flag(name: str, value: object) -> bool:
    """A Python or numpy bool (an int such as 0/1 would hide a misplaced argument)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")

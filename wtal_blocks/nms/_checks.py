"""Argument checks of the NMS functions: one-line errors that name the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from .._validation import check_finite, check_rank, check_tensor, shape_str


def _check_segments_scores(segments: Tensor, scores: Tensor) -> None:
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
    check_finite("segments", segments)
    check_finite("scores", scores)
    if segments.numel() > 0:
        bad = segments[:, 1] < segments[:, 0]
        if bool(bad.any()):
            first = int(torch.nonzero(bad)[0, 0])
            start, end = segments[first].tolist()
            raise ValueError(
                f"segments must satisfy end >= start, got {int(bad.sum())} segment(s) with "
                f"end < start (first at index {first}: start={start}, end={end})"
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

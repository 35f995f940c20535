"""Conversion and validation of array-like evaluator input (numpy only, torch duck-typed)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import EvaluationInputError

__all__ = ["as_numpy", "check_labels", "check_scores", "check_segments"]


def as_numpy(x: Any) -> Any:
    """Return ``x`` as something ``np.asarray`` understands.

    Tensors are recognised by duck typing (``detach``), so this module never imports torch.
    """
    if hasattr(x, "detach"):
        x = x.detach()
        if hasattr(x, "cpu"):
            x = x.cpu()
        return x.numpy()
    return x


def check_segments(name: str, x: Any) -> NDArray[np.float64]:
    """``(N, 2)`` float64 ``[start, end]`` segments, finite, with ``start <= end``."""
    try:
        arr = np.asarray(as_numpy(x), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EvaluationInputError(
            f"{name} must be numeric (N, 2) segments: {exc}", field=name
        ) from None
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise EvaluationInputError(f"{name} must have shape (N, 2), got {arr.shape}", field=name)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise EvaluationInputError(
            f"{name}[{i}] = {arr[i].tolist()} is not finite (NaN or inf)", field=name, index=i
        )
    bad = arr[:, 1] < arr[:, 0]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(
            f"{name}[{i}] = {arr[i].tolist()} ends before it starts (end < start)",
            field=name,
            index=i,
        )
    return np.ascontiguousarray(arr)


def check_scores(name: str, x: Any, n: int) -> NDArray[np.float64]:
    """``(N,)`` finite float64 scores."""
    try:
        arr = np.asarray(as_numpy(x), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise EvaluationInputError(f"{name} must be numeric: {exc}", field=name) from None
    if arr.shape[0] != n:
        raise EvaluationInputError(
            f"{name} must have shape ({n},) like the segments, got ({arr.shape[0]},)", field=name
        )
    finite = np.isfinite(arr)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise EvaluationInputError(f"{name}[{i}] = {arr[i]} is not finite", field=name, index=i)
    return arr


def check_labels(name: str, x: Any, n: int, num_classes: int) -> NDArray[np.int64]:
    """``(N,)`` int64 class indices in ``[0, num_classes)``."""
    arr = np.asarray(as_numpy(x)).reshape(-1)
    if arr.shape[0] != n:
        raise EvaluationInputError(
            f"{name} must have shape ({n},), got ({arr.shape[0]},)", field=name
        )
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise EvaluationInputError(
            f"{name} must hold integer class indices, got dtype {arr.dtype}", field=name
        )
    out = arr.astype(np.int64)
    bad = (out < 0) | (out >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(
            f"{name}[{i}] = {out[i]} is not a class index in [0, {num_classes})",
            field=name,
            index=i,
        )
    return out

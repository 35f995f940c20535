"""Temporal IoU thresholds and the segment tIoU of the ActivityNet protocol.

Thresholds are written ``LO:HI:STEP`` (``0.1:0.7:0.1``) or as a comma list (``0.3,0.5``).
They are parsed with :class:`decimal.Decimal`, so ``0.1:0.7:0.1`` gives exactly the doubles
nearest to 0.1, 0.2, ..., 0.7 (no ``0.30000000000000004`` from accumulated float steps), and
``HI`` is included whenever it lies on the grid.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import as_numpy
from .errors import EvaluationInputError

__all__ = [
    "MAX_TIOU_THRESHOLDS",
    "format_tiou_thresholds",
    "paired_tiou",
    "parse_tiou_thresholds",
    "segment_tiou",
]

MAX_TIOU_THRESHOLDS = 1000
"""The longest threshold list accepted: each threshold costs a pass of matching and a column of
results, so a typo like ``0:1:1e-9`` is refused instead of growing without bound."""


def _decimal(text: str, spec: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise EvaluationInputError(
            f"tIoU thresholds {spec!r}: {text.strip()!r} is not a number", field="tiou"
        ) from None
    if not value.is_finite():
        raise EvaluationInputError(
            f"tIoU thresholds {spec!r}: {text.strip()!r} is not finite", field="tiou"
        )
    return value


def _check_count(count: int, spec: str) -> None:
    if count > MAX_TIOU_THRESHOLDS:
        raise EvaluationInputError(
            f"tIoU thresholds {spec}: more than {MAX_TIOU_THRESHOLDS} values (the limit)",
            field="tiou",
        )


def parse_tiou_thresholds(spec: str | float | Iterable[float]) -> NDArray[np.float64]:
    """Parse tIoU thresholds into a sorted-as-given float64 array ``(T,)``.

    Args:
        spec: ``"LO:HI:STEP"`` (inclusive of ``HI`` when it is on the grid: ``LO + k*STEP``
            computed in exact decimal arithmetic), a comma list ``"0.3,0.5"``, a single number,
            or an iterable of numbers (returned as float64 unchanged).

    Returns:
        ``(T,)`` float64, each value the double nearest to the exact decimal.

    Raises:
        EvaluationInputError: malformed text, ``STEP <= 0``, ``LO > HI``, an empty value
            (``""``, ``"0.3,,0.5"``), more than :data:`MAX_TIOU_THRESHOLDS` values, a repeated
            value, or a value outside ``[0, 1]``.

    Example:
        >>> parse_tiou_thresholds("0.1:0.7:0.1")
        array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    """
    if isinstance(spec, str):
        text = spec.strip()
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise EvaluationInputError(
                    f"tIoU thresholds {spec!r}: expected LO:HI:STEP (e.g. 0.1:0.7:0.1)",
                    field="tiou",
                )
            lo, hi, step = (_decimal(p, spec) for p in parts)
            if step <= 0:
                raise EvaluationInputError(
                    f"tIoU thresholds {spec!r}: STEP must be > 0, got {step}", field="tiou"
                )
            if lo > hi:
                raise EvaluationInputError(
                    f"tIoU thresholds {spec!r}: LO {lo} is above HI {hi}", field="tiou"
                )
            span = (hi - lo) / step  # exact decimal; compared before anything is materialised
            if span >= MAX_TIOU_THRESHOLDS:
                _check_count(MAX_TIOU_THRESHOLDS + 1, repr(spec))
            count = int(span) + 1
            values = [float(lo + k * step) for k in range(count)]
        else:
            pieces = text.split(",")
            if not text or any(not p.strip() for p in pieces):
                raise EvaluationInputError(
                    f"tIoU thresholds {spec!r}: an empty value (expected LO:HI:STEP or a comma "
                    "list such as 0.3,0.5)",
                    field="tiou",
                )
            _check_count(len(pieces), repr(spec))
            values = [float(_decimal(p, spec)) for p in pieces]
    elif isinstance(spec, (int, float)):
        values = [float(spec)]
    else:
        values = [float(v) for v in itertools.islice(spec, MAX_TIOU_THRESHOLDS + 1)]
        _check_count(len(values), "(the given list)")
    out = np.asarray(values, dtype=np.float64)
    if out.size == 0:
        raise EvaluationInputError("tIoU thresholds: no value given", field="tiou")
    if not np.all(np.isfinite(out)) or np.any(out < 0) or np.any(out > 1):
        raise EvaluationInputError(
            f"tIoU thresholds must lie in [0, 1], got {out.tolist()}", field="tiou"
        )
    if np.unique(out).size != out.size:
        raise EvaluationInputError(f"tIoU thresholds repeat a value: {out.tolist()}", field="tiou")
    return out


def format_tiou_thresholds(thresholds: ArrayLike) -> list[str]:
    """Shortest decimal text of each threshold (``0.3`` rather than ``0.30000000000000004``)."""
    return [repr(float(t)) for t in np.asarray(thresholds, dtype=np.float64).ravel()]


def _strict_segments(name: str, x: Any) -> NDArray[np.float64]:
    """``(N, 2)`` float64 with ``N >= 1``, finite, ``start <= end``; anything else raises."""
    try:
        arr = np.asarray(as_numpy(x), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EvaluationInputError(
            f"{name} must be a numeric (N, 2) array of [start, end] rows: {exc}", field=name
        ) from None
    if arr.ndim == 1 and arr.size == 0:
        raise EvaluationInputError(
            f"{name} is empty: shape {arr.shape}, need at least one [start, end] row", field=name
        )
    if arr.ndim != 2:
        hint = (
            " (a flat list is not reshaped; write one segment as [[start, end]])"
            if arr.ndim == 1
            else ""
        )
        raise EvaluationInputError(
            f"{name} must be 2-D (N, 2) [start, end] rows, got shape {arr.shape}{hint}", field=name
        )
    if arr.shape[1] != 2:
        raise EvaluationInputError(
            f"{name} must have 2 columns [start, end], got shape {arr.shape}", field=name
        )
    if arr.shape[0] == 0:
        raise EvaluationInputError(
            f"{name} is empty: shape {arr.shape}, need at least one [start, end] row", field=name
        )
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
    return arr


def _intersection(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(N, M)`` ``max(0, min(e_a, e_b) - max(s_a, s_b))``."""
    inter = np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])
    np.maximum(inter, 0.0, out=inter)
    return inter


def segment_tiou(segments_a: ArrayLike, segments_b: ArrayLike) -> NDArray[np.float64]:
    """Pairwise temporal IoU of the ActivityNet protocol, with a strict input contract.

    ``tIoU = I / ((e_b - s_b) + (e_a - s_a) - I)`` with ``I = max(0, min(e_a, e_b) -
    max(s_a, s_b))``, evaluated with the same float operations as ActivityNet's
    ``Evaluation/utils.py`` ``segment_iou`` (and as
    :func:`wtal_blocks.evaluation.tiou.segment_tiou`), so values are bit-identical.
    **Zero-union rule:** two zero-length segments have union 0; their tIoU is 0 (the official
    code divides 0 by 0 and gets NaN, which never passes a threshold either).

    Only proper segment tables are accepted: a flat ``[0, 1, 2, 3]`` is not read as two
    segments, and an empty table is an error rather than a ``(0, M)`` matrix.

    Args:
        segments_a: ``(N, 2)`` ``[start, end]`` rows, ``N >= 1``, finite, ``start <= end``;
            numpy arrays, nested lists or torch tensors (converted without importing torch).
        segments_b: ``(M, 2)``, same contract.

    Returns:
        ``(N, M)`` float64, values in ``[0, 1]``.

    Raises:
        EvaluationInputError: one line naming the argument and the problem, for input that is
            not 2-D (including a flat list or a single ``[start, end]`` pair), has a second
            dimension other than 2, has zero rows (``[]`` or shape ``(0, 2)``), is not
            numeric, holds NaN/inf, or has a row with ``end < start`` (the index of the first
            bad row is named).

    Example:
        >>> segment_tiou([[0.0, 10.0]], [[5.0, 15.0], [20.0, 30.0]])
        array([[0.33333333, 0.        ]])
    """
    a = _strict_segments("segments_a", segments_a)
    b = _strict_segments("segments_b", segments_b)
    inter = _intersection(a, b)
    union = (b[None, :, 1] - b[None, :, 0]) + (a[:, None, 1] - a[:, None, 0]) - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def paired_tiou(
    segments_a: NDArray[np.float64], segments_b: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Row-wise tIoU of paired segments: ``(P, 2)`` and ``(P, 2)`` -> ``(P,)`` float64.

    The same formula and float operations as :func:`segment_tiou` (the ActivityNet order:
    ``union = (e2 - s2) + (e1 - s1) - intersection``), and the same zero-union rule, for
    inputs the caller has already validated.
    """
    inter = np.minimum(segments_a[:, 1], segments_b[:, 1]) - np.maximum(
        segments_a[:, 0], segments_b[:, 0]
    )
    np.maximum(inter, 0.0, out=inter)
    union = (segments_b[:, 1] - segments_b[:, 0]) + (segments_a[:, 1] - segments_a[:, 0]) - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out

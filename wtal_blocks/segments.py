"""Temporal sequence utilities: upsampling, run finding, numpy-exact threshold grids.

Batched tensor versions of the official test pipeline's steps 2-4 (docs/official-code.md): the
x``scale`` interpolation as dense tensors, and run finding on boolean masks. The proposal
generator itself works on the same interpolation without materialising it
(:mod:`wtal_blocks._piecewise`), and the tests check the two against each other.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._validation import check_finite, check_mask, check_rank, shape_str

__all__ = ["find_runs", "numpy_arange", "upsample_linear", "upsampled_mask"]


def numpy_arange(start: float, stop: float, step: float) -> tuple[float, ...]:
    """The exact float64 values of ``numpy.arange(start, stop, step)``.

    NumPy computes ``n = ceil((stop - start) / step)`` values ``start + i * delta`` with
    ``delta = (start + step) - start``, so ``arange(0.4, 0.625, 0.025)`` holds
    ``0.45000000000000007``, not ``0.45``. The official UM code builds its thresholds this way;
    reproducing the values bit for bit keeps candidate positions identical at exact ties.
    """
    if step == 0:
        raise ValueError("step must be non-zero")
    n = max(0, math.ceil((stop - start) / step))
    delta = (start + step) - start
    return tuple(start + i * delta for i in range(n))


def upsampled_mask(mask: Tensor, scale: int) -> Tensor:
    """``(B, T)`` validity mask -> ``(B, scale*T)``: each valid segment covers ``scale`` positions."""
    return mask.repeat_interleave(scale, dim=1)


def upsample_linear(
    x: Tensor,
    scale: int,
    *,
    mask: Tensor | None = None,
    extrapolate: bool = True,
    dtype: torch.dtype | None = torch.float64,
) -> Tensor:
    """Linear interpolation along time by an integer ``scale`` (Inference step 5).

    The output at position ``j`` samples the input at ``x_j = j / scale`` (``j < scale*T``),
    i.e. ``arange(0, T, 1/scale)``. Between segments the value is interpolated linearly; past
    the last segment it is *extrapolated* linearly from the last two segments, exactly as the
    official ``scipy.interpolate.interp1d(kind="linear", fill_value="extrapolate")``. The
    arithmetic follows SciPy's order (``(y_hi - y_lo)`` in the input dtype, then
    ``slope * (x - x_lo) + y_lo`` in ``dtype``), so float32 inputs reproduce the official
    float64 output bit for bit.

    Args:
        x: ``(B, T)`` or ``(B, T, C)`` sequences.
        scale: integer upsampling factor (24 in UM).
        mask: optional ``(B, T)`` bool validity mask; each video is upsampled over its own
            length ``T_b`` (extrapolating from its own last two segments) and positions
            ``>= scale*T_b`` are 0.
        extrapolate: False holds the last value instead of extrapolating (values then stay
            inside the input's range).
        dtype: output dtype (float64, as the official numpy pipeline); None keeps ``x.dtype``.

    Returns:
        ``(B, scale*T)`` or ``(B, scale*T, C)``.

    A video with a single segment is constant (SciPy would refuse to interpolate it).

    Example:
        >>> import torch
        >>> upsample_linear(torch.tensor([[0.0, 1.0, 3.0]]), 2)
        tensor([[0.0000, 0.5000, 1.0000, 2.0000, 3.0000, 4.0000]], dtype=torch.float64)
    """
    check_rank("x", x, (2, 3), "(B, T) or (B, T, C)")
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    b, t = x.shape[:2]
    if t == 0:
        raise ValueError(f"x has no segments (T = 0), shape {shape_str(x)}")
    check_mask(mask, b, t)
    check_finite("x", x if mask is None else x[mask])
    out_dtype = dtype if dtype is not None else x.dtype
    device = x.device

    lengths = (
        torch.full((b,), t, dtype=torch.long, device=device) if mask is None else mask.sum(dim=1)
    )
    j = torch.arange(scale * t, device=device)
    pos = j.to(torch.float64) * (1.0 / scale)  # NumPy's arange values: i * delta
    # searchsorted(arange(T), pos, side="left") == ceil(pos), clipped to [1, T_b - 1]
    hi = torch.ceil(pos).long()[None, :].expand(b, -1)
    last = (lengths - 1).clamp(min=1)[:, None]
    hi = torch.minimum(hi.clamp(min=1), last)
    lo = hi - 1
    single = (lengths == 1)[:, None]
    hi = torch.where(single, torch.zeros_like(hi), hi)
    lo = torch.where(single, torch.zeros_like(lo), lo)
    frac = pos[None, :] - lo.to(torch.float64)
    if not extrapolate:
        frac = frac.clamp(max=1.0)

    if x.dim() == 3:
        idx_hi = hi[:, :, None].expand(-1, -1, x.shape[2])
        idx_lo = lo[:, :, None].expand(-1, -1, x.shape[2])
        frac = frac[:, :, None]
    else:
        idx_hi, idx_lo = hi, lo
    y_hi = torch.gather(x, 1, idx_hi)
    y_lo = torch.gather(x, 1, idx_lo)
    out = (y_hi - y_lo).to(out_dtype) * frac.to(out_dtype) + y_lo.to(out_dtype)
    if mask is not None:
        valid = j[None, :] < (scale * lengths)[:, None]
        out = out.masked_fill(~(valid[:, :, None] if x.dim() == 3 else valid), 0.0)
    return out


def find_runs(candidates: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Maximal runs of consecutive True values along the last dimension.

    Found with one ``diff`` over the whole tensor, so all rows (thresholds × classes ×
    videos) are handled at once.

    Args:
        candidates: ``(..., L)`` bool.

    Returns:
        ``(row, start, end)``: ``row (R,)`` int64 flat index of the leading dimensions,
        ``start``/``end (R,)`` int64 first and last (inclusive) position of each run, in
        row-major order.
    """
    if candidates.dtype != torch.bool:
        raise ValueError(f"candidates must be a boolean tensor, got dtype {candidates.dtype}")
    if candidates.dim() == 0:
        raise ValueError("candidates must have at least one dimension (time)")
    length = candidates.shape[-1]
    flat = candidates.reshape(-1, length)
    padded = torch.nn.functional.pad(flat.to(torch.int8), (1, 1))
    step = padded[:, 1:] - padded[:, :-1]  # +1 where a run starts, -1 one past its end
    row_s, start = torch.nonzero(step == 1, as_tuple=True)
    _, stop = torch.nonzero(step == -1, as_tuple=True)
    return row_s, start, stop - 1

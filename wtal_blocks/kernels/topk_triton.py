"""Triton kernel for batched top-k mean pooling (paper Eq. 1) that also returns the selection.

For every video ``n`` and class ``c`` the kernel selects the ``k_n`` largest scores along
time, returns their mean and the selected time indices in descending score order. It is the
``backend="triton"`` path of :func:`wtal_blocks.topk_mil_pooling_with_indices`; call that
rather than this module, which is imported only when the Triton backend is chosen (this is
the one module of the package that imports ``triton``).

Design
------
One program handles one video and ``BLOCK_C`` classes. It loads the ``(BLOCK_C, T)`` tile
(time strided by ``C``), keeps the scores in the accumulation dtype (fp32, or fp64 for fp64
input) next to an int32 time index, and runs a *bitonic top-k* network on the (score, index)
pairs:

1. bitonic-sort runs of ``K_pow = next_power_of_2(K)`` pairs, neighbouring runs in opposite
   directions;
2. repeatedly keep the pairwise winners of two neighbouring runs (the top ``K_pow`` of their
   union form a bitonic sequence) and bitonic-merge them, halving the row until one sorted
   run of ``K_pow`` pairs is left.

This costs about ``T·log²(K_pow)/2 + T·(log(K_pow) + 1)`` compare-exchanges (the row halves
at every level of step 2) instead of a full sort's ``T·log²(T)/2``, needs no scratch memory and no atomics, and the whole row stays in
registers. The comparator is an explicit lexicographic order on (score, -index), so the
result is one fully defined permutation; this is also what lets fp64 work exactly (a packed
"value bits | index" int64 key has no room for the index next to 64 value bits). The
compare-exchange uses Triton's hypercube idiom: the row is viewed as ``[2] * log2(T_pow)``
and the partner along one bit is fetched by reducing over that size-2 axis (a pairwise sum
of the bit patterns minus one's own, exact in two's-complement arithmetic; a sum rather than
an xor because Triton's CPU interpreter evaluates only sum/max reductions vectorised).

We chose a sort network over a radix select of the k-th value: a select gives the mean
cheaply but not the *ordered* indices the block needs for the feature gather, and ordering
the k survivors again needs a sort with a payload, plus a compaction through memory and a
barrier. The network is one register-resident pass with a single, easily tested code path.
If ``benchmarks/bench_topk.py`` shows it losing to ``torch.topk`` at ActivityNet scale, the
select (bit-by-bit bisection of the k-th key, ties by a time-ordered cumsum) followed by a
bitonic sort of only the ``K_pow`` survivors is the next step; it can reuse
``_bitonic_topk`` and this comparator unchanged.

Each ``(T_pow, K_pow, BLOCK_C, dtype, mask/no mask)`` combination is compiled once (about
5-20 s for sm_90 at T = 1024-8192); with ``k = T // r`` and a fixed ``T`` that is one
compilation. Compiled ahead of time for sm_90, the kernel uses up to 127 registers and no
local memory for 16/32-bit input up to ``T = 8192``; float64 at ``T = 8192`` spills a
little (correct, slower).

Tie rule
--------
Scores are ordered by value, and equal values by time: **the lower time index wins** (is
selected first and listed first). ``-0.0`` and ``+0.0`` are equal. ``torch.topk`` (the torch
path) promises no order among ties, so the two paths agree exactly on values but may select
different, equal-valued segments.

Supported input
---------------
``(B, T, C)`` float16, bfloat16, float32 (accumulated in float32) or float64 (accumulated in
float64), any strides, ``1 <= T <=`` :data:`MAX_TIME`, ``1 <= k_n <= K <= T``. Scores must be
finite at valid positions (the public op checks this); padded positions may hold anything.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["MAX_TIME", "topk_mean_triton"]

#: Longest video (number of segments ``T``) the kernel handles: a program keeps its whole
#: time row in registers, 16 (score, index) pairs per thread at 16 warps for ``T = 8192``.
MAX_TIME = 8192

_SUPPORTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
# (score, index) pairs per thread the warp count is chosen for: enough work per thread to
# hide latency, few enough to keep the row and the exchange partners in registers.
_PAIRS_PER_THREAD = 16


# The @triton.jit functions below take Triton tensors whose parameters stay unannotated:
# Triton reads parameter annotations itself (tl.constexpr, dtype strings), so mypy's
# no-untyped-def is silenced on each of them instead.


@triton.jit
def _position_bit(LOG_N: tl.constexpr, BIT: tl.constexpr):  # type: ignore[no-untyped-def]
    """0/1 tensor, broadcastable against ``[BLOCK_C] + [2] * LOG_N``: bit ``BIT`` of the
    position along the row (bit ``j`` lives on axis ``LOG_N - j``)."""
    axis: tl.constexpr = LOG_N - BIT
    return tl.reshape(tl.arange(0, 2), [1] * axis + [2] + [1] * (LOG_N - axis))


@triton.jit
def _partner(v, i, AXIS: tl.constexpr):  # type: ignore[no-untyped-def]
    """The other element of each pair along the size-2 ``AXIS``, for scores and indices."""
    # sum of the pair minus oneself: exact for integers (wrap-around is harmless), so the
    # scores travel as their bit patterns
    if v.dtype == tl.float64:
        bits = v.to(tl.int64, bitcast=True)
    else:
        bits = v.to(tl.int32, bitcast=True)
    pv_bits = tl.sum(bits, AXIS, keep_dims=True) - bits
    pi = tl.sum(i, AXIS, keep_dims=True) - i
    return pv_bits.to(v.dtype, bitcast=True), pi


@triton.jit
def _beats(v, i, pv, pi):  # type: ignore[no-untyped-def]
    """The tie rule as a strict total order: larger score first, then lower time index."""
    return (v > pv) | ((v == pv) & (i < pi))


@triton.jit
def _compare_exchange(  # type: ignore[no-untyped-def]
    v, i, LOG_N: tl.constexpr, BIT: tl.constexpr, RUN_BIT: tl.constexpr
):
    """One bitonic compare-exchange between positions differing in bit ``BIT``.

    Runs of ``2**RUN_BIT`` positions are ordered descending when bit ``RUN_BIT`` of the
    position is 0 and ascending when it is 1 (a run covering the whole row: descending).
    """
    pv, pi = _partner(v, i, LOG_N - BIT)
    upper = _position_bit(LOG_N, BIT)
    if RUN_BIT < LOG_N:
        ascending = _position_bit(LOG_N, RUN_BIT)
    else:
        ascending = 0
    # descending run: the lower position keeps the winner, the upper one the loser
    keep = (_beats(v, i, pv, pi).to(tl.int32) ^ upper ^ ascending) != 0
    return tl.where(keep, v, pv), tl.where(keep, i, pi)


@triton.jit
def _bitonic_topk(  # type: ignore[no-untyped-def]
    v, i, BLOCK_C: tl.constexpr, LOG_T: tl.constexpr, LOG_K: tl.constexpr
):
    """Top ``2**LOG_K`` of each row of ``v, i: [BLOCK_C, 2**LOG_T]``, sorted by the tie rule.

    Requires ``1 <= LOG_K <= LOG_T`` and indices unique within a row.
    """
    v = tl.reshape(v, [BLOCK_C] + [2] * LOG_T)
    i = tl.reshape(i, [BLOCK_C] + [2] * LOG_T)
    # 1. sort runs of 2**LOG_K, neighbouring runs in opposite directions
    for run in tl.static_range(1, LOG_K + 1):
        for step in tl.static_range(run):
            v, i = _compare_exchange(v, i, LOG_T, run - 1 - step, run)
    # 2. halve the row: the winners of a descending run against the ascending run next to it
    #    are the top 2**LOG_K of both and form a bitonic sequence; merge it into a run
    # (a constexpr cannot be rebound inside a loop, so the row's log-length LOG_T - level
    # is spelled out; bit LOG_K of the position lives on axis LOG_T - level - LOG_K)
    for level in tl.static_range(LOG_T - LOG_K):
        pv, pi = _partner(v, i, LOG_T - level - LOG_K)
        won = _beats(v, i, pv, pi)
        # both members of a pair now hold the winner; the max over the pair axis drops it
        v = tl.max(tl.where(won, v, pv), LOG_T - level - LOG_K)
        i = tl.max(tl.where(won, i, pi), LOG_T - level - LOG_K)
        for step in tl.static_range(LOG_K):
            v, i = _compare_exchange(v, i, LOG_T - level - 1, LOG_K - 1 - step, LOG_K)
    return tl.reshape(v, [BLOCK_C, 1 << LOG_K]), tl.reshape(i, [BLOCK_C, 1 << LOG_K])


@triton.jit
def _topk_mean_kernel(  # type: ignore[no-untyped-def]
    scores_ptr,
    mask_ptr,
    k_ptr,
    values_ptr,
    indices_ptr,
    T,
    C,
    K,
    stride_sb,
    stride_st,
    stride_sc,
    stride_mb,
    stride_mt,
    stride_k,
    HAS_MASK: tl.constexpr,
    ACC_FP64: tl.constexpr,
    BLOCK_C: tl.constexpr,
    LOG_T: tl.constexpr,
    LOG_K: tl.constexpr,
):
    """Grid ``(cdiv(C, BLOCK_C), B)``: one video, ``BLOCK_C`` classes per program.

    Writes ``values[b, c]`` (contiguous ``(B, C)``) and ``indices[b, j, c]`` (contiguous
    ``(B, K, C)``, int64, 0 where ``j >= k_b``).
    """
    pid_c = tl.program_id(0)
    pid_b = tl.program_id(1).to(tl.int64)  # int64 offsets: B·T·C may exceed 2**31
    c = pid_c * BLOCK_C + tl.arange(0, BLOCK_C)
    t = tl.arange(0, 1 << LOG_T)
    c_ok = c < C
    valid = c_ok[:, None] & (t < T)[None, :]
    if HAS_MASK:
        keep = tl.load(mask_ptr + pid_b * stride_mb + t * stride_mt, mask=t < T, other=0)
        valid = valid & (keep != 0)[None, :]
    offsets = pid_b * stride_sb + t[None, :] * stride_st + c[:, None] * stride_sc
    x = tl.load(scores_ptr + offsets, mask=valid, other=0.0)
    if ACC_FP64:
        x = x.to(tl.float64)
    else:
        x = x.to(tl.float32)
    # padding (mask, T rounded up to a power of two, classes past C) loses to every finite
    # score; the indices past T keep every index unique within the row
    v = tl.where(valid, x, float("-inf"))
    i = tl.broadcast_to(t[None, :], (BLOCK_C, 1 << LOG_T))
    v, i = _bitonic_topk(v, i, BLOCK_C, LOG_T, LOG_K)

    k_b = tl.load(k_ptr + pid_b * stride_k)
    j = tl.arange(0, 1 << LOG_K)
    chosen = j[None, :] < k_b
    total = tl.sum(tl.where(chosen, v, 0.0), axis=1)
    mean = total / k_b.to(total.dtype)
    tl.store(values_ptr + pid_b * C + c, mean.to(values_ptr.dtype.element_ty), mask=c_ok)
    picked = tl.where(chosen, i, 0).to(tl.int64)
    out = indices_ptr + pid_b * K * C + j[None, :] * C + c[:, None]
    tl.store(out, picked, mask=c_ok[:, None] & (j < K)[None, :])


def _log2_ceil(n: int) -> int:
    """``log2(next_power_of_2(max(n, 2)))``: rows and runs have at least two pairs, which
    keeps every hypercube view at rank >= 1."""
    return max(1, (triton.next_power_of_2(n) - 1).bit_length())


def _launch(scores: Tensor, k: Tensor, k_max: int, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    b, t, c = scores.shape
    values = torch.empty((b, c), dtype=scores.dtype, device=scores.device)
    indices = torch.empty((b, k_max, c), dtype=torch.long, device=scores.device)
    if values.numel() == 0:
        return values, indices
    log_t = _log2_ceil(t)
    # short rows: several classes per program amortise the per-program cost and let the
    # loads of neighbouring classes (contiguous in memory) share cache lines; long rows: one
    # class per program keeps the register footprint bounded and the grid large
    block_c = min(triton.next_power_of_2(c), max(1, 1024 >> log_t))
    pairs = block_c << log_t
    num_warps = min(16, max(1, pairs // (32 * _PAIRS_PER_THREAD)))
    if mask is not None:
        mask_u8 = mask.view(torch.uint8)  # same layout; Triton loads bytes, not i1
        stride_mb, stride_mt = mask_u8.stride()
    else:
        mask_u8, stride_mb, stride_mt = scores, 0, 0  # never read (HAS_MASK=False)
    grid = (triton.cdiv(c, block_c), b)
    _topk_mean_kernel[grid](
        scores,
        mask_u8,
        k,
        values,
        indices,
        t,
        c,
        k_max,
        *scores.stride(),
        stride_mb,
        stride_mt,
        k.stride(0),
        HAS_MASK=mask is not None,
        ACC_FP64=scores.dtype == torch.float64,
        BLOCK_C=block_c,
        LOG_T=log_t,
        LOG_K=_log2_ceil(k_max),
        num_warps=num_warps,
    )
    return values, indices


class _TopKMean(torch.autograd.Function):
    """Forward: the kernel. Backward: ``grad_values / k_n`` scattered to the selection."""

    @staticmethod
    def forward(
        ctx: Any, scores: Tensor, k: Tensor, k_max: int, mask: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        values, indices = _launch(scores, k, k_max, mask)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices, k)
        ctx.time = scores.shape[1]
        return values, indices

    @staticmethod
    def backward(
        ctx: Any, grad_values: Tensor, grad_indices: Tensor | None
    ) -> tuple[Tensor, None, None, None]:
        indices, k = ctx.saved_tensors
        b, k_max, c = indices.shape
        share = grad_values / k[:, None].to(grad_values.dtype)  # (B, C)
        chosen = torch.arange(k_max, device=k.device)[None, :, None] < k[:, None, None]
        # the padding entries point at t = 0, which may also be selected: they add zeros
        # (scatter_add, not scatter) so they cannot overwrite a real gradient
        src = torch.where(chosen, share[:, None, :], share.new_zeros(()))  # (B, K, C)
        grad = share.new_zeros((b, ctx.time, c)).scatter_add(1, indices, src)
        return grad, None, None, None


def topk_mean_triton(
    scores: Tensor, k: Tensor, k_max: int, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Mean of the top-``k_n`` scores along time, and their time indices (Triton kernel).

    Args:
        scores: ``(B, T, C)`` float16/bfloat16/float32/float64, any strides, ``T <=``
            :data:`MAX_TIME`. Must be finite where ``mask`` is True.
        k: ``(B,)`` integer tensor on ``scores.device``, ``1 <= k[n] <= k_max`` and at most the
            number of valid segments of video ``n`` (not re-checked here: that would read the
            device).
        k_max: ``K = max(k)`` as a host int, ``1 <= K <= T``.
        mask: optional ``(B, T)`` bool, True for real segments; False positions are never
            selected.

    Returns:
        ``values (B, C)`` in ``scores.dtype`` (accumulated in float32, float64 for float64),
        differentiable, with gradient ``1/k_n`` at each selected position; and ``indices
        (B, K, C)`` int64, the selected time indices in descending score order, equal scores
        by increasing time index, 0 where ``j >= k_n``.

    Raises:
        ValueError: a shape, dtype, device or size outside the above (host checks only; no
            device synchronisation).
    """
    if scores.dim() != 3:
        raise ValueError(f"scores must have shape (B, T, C), got {tuple(scores.shape)}")
    if scores.dtype not in _SUPPORTED_DTYPES:
        raise ValueError(
            f"scores dtype must be one of {[str(d) for d in _SUPPORTED_DTYPES]}, got {scores.dtype}"
        )
    b, t, _ = scores.shape
    if not 1 <= t <= MAX_TIME:
        raise ValueError(
            f"the Triton top-k kernel supports 1 <= T <= {MAX_TIME} segments, got T={t}; "
            "use backend='torch' for longer videos"
        )
    if tuple(k.shape) != (b,) or k.dtype.is_floating_point or k.dtype == torch.bool:
        raise ValueError(
            f"k must be an integer tensor of shape ({b},), got {k.dtype} {tuple(k.shape)}"
        )
    if k.device != scores.device:
        raise ValueError(f"k must be on {scores.device}, got {k.device}")
    if b > 0 and not 1 <= k_max <= t:
        raise ValueError(f"k_max must satisfy 1 <= k_max <= T={t}, got {k_max}")
    if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (b, t)):
        raise ValueError(
            f"mask must be a bool tensor of shape ({b}, {t}), got {mask.dtype} {tuple(mask.shape)}"
        )
    if mask is not None and mask.device != scores.device:
        raise ValueError(f"mask must be on {scores.device}, got {mask.device}")
    values, indices = _TopKMean.apply(scores, k.long(), int(k_max), mask)
    return values, indices

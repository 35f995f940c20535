"""Triton kernel for batched top-k mean pooling (paper Eq. 1) that also returns the selection.

For every video ``n`` and class ``c`` the kernel selects the ``k_n`` largest scores along
time, returns their mean and the selected time indices in descending score order. It is the
``backend="triton"`` path of :func:`wtal_blocks.topk_mil_pooling_with_indices`; call that
rather than this module, which is imported only when the Triton backend is chosen (this is
the one module of the package that imports ``triton``).

Design
------
One program handles one video and ``BLOCK_C`` classes. It loads the ``(BLOCK_C, T)`` tile
(time strided by ``C``) once and keeps it in registers as *order keys*: the float's bit
pattern (fp32; fp64 for fp64 input) with the magnitude bits flipped for negative numbers, so
that signed-integer order equals float order (``-0.0`` is first made ``+0.0``; padding gets
the smallest key). Then, per row:

1. **radix select** of the k-th largest key, bit by bit from the top: the sign bit first
   (are there ``k`` keys ``>= 0``?), then each lower bit is set when at least ``k`` keys are
   ``>=`` the prefix with that bit set. That is 32 (64 for fp64) count-reductions over the
   row, no sort, no scratch memory, no atomics;
2. the **selection**: every key above the threshold, plus the first ``k - #above`` keys equal
   to it in time order (an inclusive cumulative sum over the ties), which is the tie rule;
3. the **mean** of the selected scores (the keys map back to the exact values), and the
   selected time indices written in time order at their rank (a cumulative sum over the
   selection), so each position is written by exactly one lane.

Callers that need the indices in descending score order (the public op's contract) get them
ordered by a stable sort of the ``K`` picked values (:func:`topk_mean_triton`,
``sorted=True``); the pooling op alone skips it, since the backward only scatters the
gradient to the selection and order does not matter there.

The first version of this kernel ran a bitonic top-k network on (score, index) pairs; on an
H200 it was 3.4-6.4x *slower* than ``torch.topk`` + mean (``benchmarks/bench_topk.py``), as a
network moves every pair ``log²`` times through shuffles, while the select only compares
and counts. The select, on the same card: 1.0x of torch at ``(16, 750, 20)`` without a
gradient (1.7x with the backward), 3.0x faster at ``(16, 4096, 200)`` (1.9x with the backward);
see ``docs/benchmarks.md``. Each ``(T_pow, BLOCK_C, dtype, mask/no mask, per-video k,
indices/no indices)`` combination is compiled once.

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

__all__ = ["MAX_TIME", "topk_mean_triton", "topk_mean_values_triton"]

#: Longest video (number of segments ``T``) the kernel handles: a program keeps its whole
#: time row in registers, 16 keys per thread at 16 warps for ``T = 8192``.
MAX_TIME = 8192

_SUPPORTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
# keys per thread the warp count is chosen for: enough work per thread to hide latency, few
# enough to keep the row and the temporaries of the scans in registers
_KEYS_PER_THREAD = 16
# keys per program when rows are short: several classes per program amortise the
# per-program cost, and neighbouring classes (contiguous in memory) share cache lines
_KEYS_PER_PROGRAM = 1024


# The @triton.jit functions below take Triton tensors whose parameters stay unannotated:
# Triton reads parameter annotations itself (tl.constexpr, dtype strings), so mypy's
# no-untyped-def is silenced on each of them instead.


@triton.jit
def _flip(bits, NBITS: tl.constexpr):  # type: ignore[no-untyped-def]
    """Float bits <-> order key: flip the ``NBITS`` magnitude bits of negative numbers.

    Signed-integer order of the keys is the float order (for non-NaN values with ``-0.0``
    made ``+0.0``); the map is its own inverse.
    """
    return bits ^ ((bits >> NBITS) & ((1 << NBITS) - 1))


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
    PER_VIDEO_K: tl.constexpr,
    ACC_FP64: tl.constexpr,
    BLOCK_C: tl.constexpr,
    LOG_T: tl.constexpr,
    NBITS: tl.constexpr,
    WRITE_INDICES: tl.constexpr,
):
    """Grid ``(cdiv(C, BLOCK_C), B)``: one video, ``BLOCK_C`` classes per program.

    Writes ``values[b, c]`` (contiguous ``(B, C)``) and ``indices[b, j, c]`` for ``j < k_b``
    (contiguous ``(B, K, C)``, int64, in time order); ``j >= k_b`` is left untouched. ``k_b``
    is ``k[b]`` with ``PER_VIDEO_K``, else ``K``. ``NBITS``: 63 for float64, else 31 (the
    magnitude bits of the order keys). Without ``WRITE_INDICES`` only the values are written.
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
    if PER_VIDEO_K:
        k_b = tl.load(k_ptr + pid_b * stride_k).to(tl.int32)
    else:
        k_b = K
    # order keys; padding (mask, T rounded up, classes past C) gets the smallest key, which
    # no finite score has, and is never selected (k_b <= number of valid segments)
    if ACC_FP64:
        x = x.to(tl.float64)
        x = tl.where(x == 0.0, 0.0, x)  # -0.0 == +0.0
        key = _flip(x.to(tl.int64, bitcast=True), 63)
        low = tl.full([BLOCK_C], -(1 << 63), tl.int64)
        zero = tl.zeros([BLOCK_C], tl.int64)
    else:
        x = x.to(tl.float32)
        x = tl.where(x == 0.0, 0.0, x)
        key = _flip(x.to(tl.int32, bitcast=True), 31)
        low = tl.full([BLOCK_C], -(1 << 31), tl.int32)
        zero = tl.zeros([BLOCK_C], tl.int32)
    key = tl.where(valid, key, low[:, None])

    # 1. radix select: the sign bit, then the magnitude bits from the top
    nonneg = tl.sum((key >= 0).to(tl.int32), axis=1)
    prefix = tl.where(nonneg >= k_b, zero, low)
    for step in tl.static_range(NBITS):
        candidate = prefix | (1 << (NBITS - 1 - step))
        count = tl.sum((key >= candidate[:, None]).to(tl.int32), axis=1)
        prefix = tl.where(count >= k_b, candidate, prefix)

    # 2. selection: above the threshold, and the earliest ties up to k_b
    above = key > prefix[:, None]
    tie = key == prefix[:, None]
    room = k_b - tl.sum(above.to(tl.int32), axis=1)
    tie_rank = tl.cumsum(tie.to(tl.int32), axis=1)  # 1-based among the ties, in time order
    chosen = above | (tie & (tie_rank <= room[:, None]))
    chosen = chosen & c_ok[:, None]

    # 3. mean of the exact values, and the indices at their rank
    if ACC_FP64:
        value = _flip(key, 63).to(tl.float64, bitcast=True)
    else:
        value = _flip(key, 31).to(tl.float32, bitcast=True)
    total = tl.sum(tl.where(chosen, value, 0.0), axis=1)
    mean = total / k_b  # (k_b may be a constexpr: Triton specialises an int argument of 1)
    tl.store(values_ptr + pid_b * C + c, mean.to(values_ptr.dtype.element_ty), mask=c_ok)
    if WRITE_INDICES:
        rank = tl.cumsum(chosen.to(tl.int32), axis=1) - 1
        out = indices_ptr + pid_b * K * C + rank.to(tl.int64) * C + c[:, None]
        where = tl.broadcast_to(t[None, :], (BLOCK_C, 1 << LOG_T)).to(tl.int64)
        tl.store(out, where, mask=chosen)


def _log2_ceil(n: int) -> int:
    """``log2(next_power_of_2(max(n, 2)))``: a row has at least two lanes."""
    return max(1, (triton.next_power_of_2(n) - 1).bit_length())


def _launch(
    scores: Tensor, k: Tensor | None, k_max: int, mask: Tensor | None, with_indices: bool = True
) -> tuple[Tensor, Tensor | None]:
    b, t, c = scores.shape
    values = torch.empty((b, c), dtype=scores.dtype, device=scores.device)
    indices = None
    if with_indices:
        # per-video k leaves entries j >= k_n unwritten: they must read 0
        alloc = torch.empty if k is None else torch.zeros
        indices = alloc((b, k_max, c), dtype=torch.long, device=scores.device)
    if values.numel() == 0:
        return values, indices
    log_t = _log2_ceil(t)
    block_c = min(triton.next_power_of_2(c), max(1, _KEYS_PER_PROGRAM >> log_t))
    keys = block_c << log_t
    num_warps = min(16, max(1, keys // (32 * _KEYS_PER_THREAD)))
    if mask is not None:
        mask_u8 = mask.view(torch.uint8)  # same layout; Triton loads bytes, not i1
        stride_mb, stride_mt = mask_u8.stride()
    else:
        mask_u8, stride_mb, stride_mt = scores, 0, 0  # never read (HAS_MASK=False)
    k_arg, stride_k = (k, k.stride(0)) if k is not None else (values, 0)  # k unread without
    grid = (triton.cdiv(c, block_c), b)
    _topk_mean_kernel[grid](
        scores,
        mask_u8,
        k_arg,
        values,
        indices if indices is not None else values,  # unwritten without WRITE_INDICES
        t,
        c,
        k_max,
        *scores.stride(),
        stride_mb,
        stride_mt,
        stride_k,
        HAS_MASK=mask is not None,
        PER_VIDEO_K=k is not None,
        ACC_FP64=scores.dtype == torch.float64,
        BLOCK_C=block_c,
        LOG_T=log_t,
        NBITS=63 if scores.dtype == torch.float64 else 31,
        WRITE_INDICES=indices is not None,
        num_warps=num_warps,
    )
    return values, indices


class _TopKMean(torch.autograd.Function):
    """Forward: the kernel. Backward: ``grad_values / k_n`` scattered to the selection."""

    @staticmethod
    def forward(
        ctx: Any, scores: Tensor, k: Tensor | None, k_max: int, mask: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        values, indices = _launch(scores, k, k_max, mask)
        assert indices is not None
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices, k)
        ctx.time = scores.shape[1]
        ctx.k_max = k_max
        return values, indices

    @staticmethod
    def backward(
        ctx: Any, grad_values: Tensor, grad_indices: Tensor | None
    ) -> tuple[Tensor, None, None, None]:
        indices, k = ctx.saved_tensors
        b, k_max, c = indices.shape
        if k is None:  # the same k for every video: every entry is a selection
            share = grad_values / k_max
            src = share[:, None, :].expand(b, k_max, c)
        else:
            share = grad_values / k[:, None].to(grad_values.dtype)  # (B, C)
            chosen = torch.arange(k_max, device=k.device)[None, :, None] < k[:, None, None]
            # the padding entries point at t = 0, which may also be selected: they add zeros
            # (scatter_add, not scatter) so they cannot overwrite a real gradient
            src = torch.where(chosen, share[:, None, :], share.new_zeros(()))  # (B, K, C)
        grad = share.new_zeros((b, ctx.time, c)).scatter_add(1, indices, src)
        return grad, None, None, None


def _by_score(scores: Tensor, indices: Tensor, k: Tensor | None) -> Tensor:
    """Reorder time-ordered selections ``(B, K, C)`` by descending score; ties keep time
    order (a stable sort); padding entries ``j >= k_n`` stay last and 0."""
    picked = scores.detach().gather(1, indices)
    picked = torch.where(picked == 0, 0, picked)  # -0.0 == +0.0 for the sort too
    if k is not None:
        pad = torch.arange(indices.shape[1], device=k.device)[None, :, None] >= k[:, None, None]
        picked = picked.masked_fill(pad, float("-inf"))
    order = torch.sort(picked, dim=1, descending=True, stable=True).indices
    return indices.gather(1, order)


def _check_args(
    scores: Tensor, k: Tensor | int, k_max: int | None, mask: Tensor | None
) -> tuple[Tensor | None, int]:
    """Host-side checks of :func:`topk_mean_triton`'s arguments; ``(k (B,) or None, K)``."""
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
    k_tensor: Tensor | None
    if isinstance(k, Tensor):
        if tuple(k.shape) != (b,) or k.dtype.is_floating_point or k.dtype == torch.bool:
            raise ValueError(
                f"k must be an integer tensor of shape ({b},), got {k.dtype} {tuple(k.shape)}"
            )
        if k.device != scores.device:
            raise ValueError(f"k must be on {scores.device}, got {k.device}")
        if k_max is None:
            raise ValueError("k_max (the largest k, a host int) is required with a tensor k")
        k_tensor = k.long()
    else:
        if k_max is not None and k_max != k:
            raise ValueError(f"with an int k, k_max must be None or k, got k={k}, k_max={k_max}")
        k_tensor, k_max = None, int(k)
    if b > 0 and not 1 <= k_max <= t:
        raise ValueError(f"k_max must satisfy 1 <= k_max <= T={t}, got {k_max}")
    if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (b, t)):
        raise ValueError(
            f"mask must be a bool tensor of shape ({b}, {t}), got {mask.dtype} {tuple(mask.shape)}"
        )
    if mask is not None and mask.device != scores.device:
        raise ValueError(f"mask must be on {scores.device}, got {mask.device}")
    return k_tensor, int(k_max)


def topk_mean_triton(
    scores: Tensor,
    k: Tensor | int,
    k_max: int | None = None,
    mask: Tensor | None = None,
    *,
    sorted: bool = True,
) -> tuple[Tensor, Tensor]:
    """Mean of the top-``k_n`` scores along time, and their time indices (Triton kernel).

    Args:
        scores: ``(B, T, C)`` float16/bfloat16/float32/float64, any strides, ``T <=``
            :data:`MAX_TIME`. Must be finite where ``mask`` is True.
        k: one ``k`` for every video (an int), or a ``(B,)`` integer tensor on
            ``scores.device`` with ``1 <= k[n] <= k_max``, at most the number of valid
            segments of video ``n`` (not re-checked here: that would read the device).
        k_max: ``K = max(k)`` as a host int, ``1 <= K <= T`` (required with a tensor ``k``).
        mask: optional ``(B, T)`` bool, True for real segments; False positions are never
            selected.
        sorted: order the indices by descending score (equal scores by increasing time
            index); ``False`` leaves them in increasing time order, which saves a sort.

    Returns:
        ``values (B, C)`` in ``scores.dtype`` (accumulated in float32, float64 for float64),
        differentiable, with gradient ``1/k_n`` at each selected position; and ``indices
        (B, K, C)`` int64, the selected time indices, 0 where ``j >= k_n``.

    Raises:
        ValueError: a shape, dtype, device or size outside the above (host checks only; no
            device synchronisation).
    """
    k_tensor, k_max = _check_args(scores, k, k_max, mask)
    values, indices = _TopKMean.apply(scores, k_tensor, k_max, mask)
    if sorted and indices.shape[1] > 1:
        indices = _by_score(scores, indices, k_tensor)
    return values, indices


def topk_mean_values_triton(
    scores: Tensor, k: Tensor | int, k_max: int | None = None, mask: Tensor | None = None
) -> Tensor:
    """:func:`topk_mean_triton`'s values alone. With no gradient to track (inference,
    ``torch.no_grad``) the kernel skips the indices and no autograd node is built."""
    if torch.is_grad_enabled() and scores.requires_grad:
        return topk_mean_triton(scores, k, k_max, mask, sorted=False)[0]
    k_tensor, k_max = _check_args(scores, k, k_max, mask)
    return _launch(scores, k_tensor, k_max, mask, with_indices=False)[0]

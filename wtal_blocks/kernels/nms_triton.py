"""Batched greedy temporal NMS in one Triton launch (imported lazily; needs ``triton``).

Layout: segments are sorted by (group, descending score, input index), so each group is a
contiguous run in greedy order. The kernel is *persistent*: a fixed number of programs
loop over the groups (program ``p`` takes groups ``p, p + P, p + 2P, ...``); the number of
groups is read from device memory, so the host never waits for the device before the
launch, and there is no ``N x N/32`` suppression-mask buffer to size.

Per group, one program walks the rows in greedy order, ``ROWS`` (32) at a time:

1. load the chunk's rows and their "already suppressed" flags;
2. compute the chunk's own ``32 x 32`` suppression tile and resolve the greedy order
   inside the chunk by a fixed-point iteration on it (as many steps as the longest chain of
   suppressions inside the chunk, plus one);
3. mark every later row of the group that a kept row of the chunk suppresses, one
   ``32 x COLS`` tile at a time (skipped when the chunk keeps nothing).

The work is the same ``n^2 / 2`` IoU tests per group as a dense mask, spread over groups,
which suits the video x class batches of temporal localisation (many groups of a few
thousand proposals). A single huge group runs on one program.

Exactness: IoU is computed in float64 with the official operation order. Plain float64
division lowers to PTX ``div.rn.f64``, IEEE round-to-nearest (``tl.fdiv(ieee_rounding=True)``
would not: for float64 it emits an f32 intrinsic and fails to compile), and the formula has
no products that could be contracted into FMAs (the launch also disables FP fusion). So
every suppression decision, exact-threshold ties included, equals the torch path's and the
official numpy code's; ``tests/test_nms_triton.py`` checks the generated PTX.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["batched_nms_triton"]

_ROWS = 32  # rows resolved per step
_COLS = 64  # columns per suppression tile


@triton.jit
def _suppresses(s_a, e_a, s_b, e_b, threshold, offset):  # type: ignore[no-untyped-def]
    """IoU(a, b) >= threshold, in float64 and the official operation order."""
    inter = tl.maximum(tl.minimum(e_a, e_b) - tl.maximum(s_a, s_b) + offset, 0.0)
    union = ((e_a - s_a + offset) + (e_b - s_b + offset)) - inter
    positive = union > 0.0
    iou = inter / tl.where(positive, union, 1.0)
    # zero union: two zero-length segments (offset 0); IoU 1 for the same point, else 0
    same = (s_a == s_b) & (e_a == e_b)
    iou = tl.where(positive, iou, tl.where(same, 1.0, 0.0).to(tl.float64))
    return iou >= threshold


@triton.jit
def _nms_groups_kernel(  # type: ignore[no-untyped-def]
    start_ptr,  # float64 (N,), sorted by (group, greedy order)
    end_ptr,  # float64 (N,)
    group_first_ptr,  # int64 (N,): first sorted position of group g (g < num_groups)
    group_size_ptr,  # int64 (N,): size of group g
    num_groups_ptr,  # int64 (1,)
    params_ptr,  # float64 (2,): iou threshold, length offset
    removed_ptr,  # int8 (N,), zeros: set once a kept row suppresses the row
    keep_ptr,  # int8 (N,), output: 1 for kept rows
    ROWS: tl.constexpr,
    COLS: tl.constexpr,
):
    pid = tl.program_id(0)
    num_programs = tl.num_programs(0)
    num_groups = tl.load(num_groups_ptr)
    threshold = tl.load(params_ptr)
    offset = tl.load(params_ptr + 1)
    lane_r = tl.arange(0, ROWS)
    lane_c = tl.arange(0, COLS)
    for g in range(pid, num_groups, num_programs):
        base = tl.load(group_first_ptr + g)
        n = tl.load(group_size_ptr + g)
        for r0 in range(0, n, ROWS):
            rows = r0 + lane_r
            in_group = rows < n
            s_r = tl.load(start_ptr + base + rows, mask=in_group, other=0.0)
            e_r = tl.load(end_ptr + base + rows, mask=in_group, other=0.0)
            live = tl.load(removed_ptr + base + rows, mask=in_group, other=1) == 0

            # Greedy order inside the chunk: the kept set is the unique fixed point of
            # kept_j = live_j and no kept k < j suppresses j; iterating from "all live"
            # reaches it after (longest suppression chain + 1) steps, at most ROWS + 1.
            tile = _suppresses(
                s_r[:, None], e_r[:, None], s_r[None, :], e_r[None, :], threshold, offset
            )
            tile = tile & (lane_r[:, None] < lane_r[None, :])
            kept = live
            changed = True
            while changed:
                hit = tl.max((tile & kept[:, None]).to(tl.int32), axis=0) > 0
                step = live & ~hit
                changed = tl.max((step != kept).to(tl.int32), axis=0) > 0
                kept = step
            tl.store(keep_ptr + base + rows, kept.to(tl.int8), mask=in_group)

            # the chunk's kept rows suppress later rows of the group
            if tl.max(kept.to(tl.int32), axis=0) > 0:
                for c0 in range(r0 + ROWS, n, COLS):
                    cols = c0 + lane_c
                    in_cols = cols < n
                    s_c = tl.load(start_ptr + base + cols, mask=in_cols, other=0.0)
                    e_c = tl.load(end_ptr + base + cols, mask=in_cols, other=0.0)
                    hit = _suppresses(
                        s_r[:, None], e_r[:, None], s_c[None, :], e_c[None, :], threshold, offset
                    )
                    hit = hit & kept[:, None]
                    suppressed = tl.max(hit.to(tl.int32), axis=0) > 0
                    tl.store(
                        removed_ptr + base + cols,
                        tl.full((COLS,), 1, tl.int8),
                        mask=in_cols & suppressed,
                    )
            # the next chunk reads flags that other threads of this program just wrote
            tl.debug_barrier()


def _num_programs(device: torch.device, n: int) -> int:
    if device.type == "cuda":
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        return max(1, min(n, 4 * sms))
    return max(1, min(n, 4))  # interpreter: programs run one after another


def batched_nms_triton(
    segments: Tensor, scores: Tensor, idxs: Tensor | None, threshold: float, offset: float
) -> Tensor:
    """Greedy NMS per group on the Triton kernel; inputs already validated and non-empty.

    Args:
        segments (Tensor[N, 2]): ``(start, end)``, any float dtype (computed in float64).
        scores (Tensor[N]): scores; greedy order is descending score, ties by input index.
        idxs (Tensor[N], optional): integer group ids; ``None`` for one group.
        threshold (float): suppression at ``IoU >= threshold``.
        offset (float): length convention (``len = end - start + offset``).

    Returns:
        Tensor[K] (int64): kept indices, descending score (ties by input index).
    """
    n = segments.shape[0]
    device = segments.device
    order = torch.sort(scores, descending=True, stable=True).indices  # rank -> index
    if idxs is None:
        rank_at = torch.arange(n, device=device)
        group = torch.zeros(n, dtype=torch.int64, device=device)
    else:
        ranked_groups = idxs.index_select(0, order)
        rank_at = torch.sort(ranked_groups, stable=True).indices
        group = ranked_groups.index_select(0, rank_at)
    perm = order.index_select(0, rank_at)
    seg = segments.index_select(0, perm).to(torch.float64)
    start, end = seg[:, 0].contiguous(), seg[:, 1].contiguous()

    head = torch.ones(n, dtype=torch.bool, device=device)
    head[1:] = group[1:] != group[:-1]
    ordinal = torch.cumsum(head, 0) - 1
    position = torch.arange(n, device=device)
    group_first = torch.zeros(n, dtype=torch.int64, device=device)
    group_first.scatter_reduce_(0, ordinal, position, reduce="amin", include_self=False)
    group_size = torch.zeros(n, dtype=torch.int64, device=device)
    group_size.scatter_add_(0, ordinal, torch.ones_like(ordinal))
    num_groups = ordinal[-1:] + 1
    params = torch.tensor([threshold, offset], dtype=torch.float64, device=device)
    removed = torch.zeros(n, dtype=torch.int8, device=device)
    keep = torch.zeros(n, dtype=torch.int8, device=device)

    grid = (_num_programs(device, n),)
    _nms_groups_kernel[grid](
        start,
        end,
        group_first,
        group_size,
        num_groups,
        params,
        removed,
        keep,
        ROWS=_ROWS,
        COLS=_COLS,
        # the IoU has no products to contract into FMAs; say so rather than rely on defaults
        enable_fp_fusion=False,
    )
    kept_by_rank = torch.zeros(n, dtype=torch.bool, device=device)
    kept_by_rank[rank_at] = keep.bool()
    return order[kept_by_rank]  # the op's only host sync: the result's size

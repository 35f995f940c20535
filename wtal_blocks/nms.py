"""Temporal non-maximum suppression: exact greedy NMS, batched NMS and soft-NMS on 1-D segments.

Conventions shared by every function here
-----------------------------------------
* ``segments`` is a floating-point ``Tensor[N, 2]`` of ``(start, end)`` pairs with
  ``end >= start`` (any float dtype; seconds, frames or snippet indices alike).
* ``offset`` is the length convention. ``offset=0.0`` is the plain 1-D IoU; ``offset=1.0`` is
  the "+1" convention of the official UM code (inherited from the 2-D pixel-box NMS it was
  copied from). For segments ``i`` and ``j``::

      len_i = (end_i - start_i) + offset
      inter = max(0, (min(end_i, end_j) - max(start_i, start_j)) + offset)
      IoU   = inter / ((len_i + len_j) - inter)

* **Exactness.** IoU is always evaluated in float64 (float16/float32 inputs are cast, which is
  exact) with exactly the operation order above, which is the order of the official numpy
  code (``areas = x2 - x1 + 1``; ``inter = maximum(0, xx2 - xx1 + 1)``;
  ``inter / (areas[i] + areas[rest] - inter)``). Every operation is correctly rounded IEEE
  arithmetic, so each IoU is bit-identical to numpy's and the suppression decisions, including
  pairs whose IoU lands *exactly* on the threshold, are the official ones. This matters: UM's
  proposal boundaries lie on a grid, so exact ties are common, and a single flipped tie
  cascades through the chain of suppressions.
* **Suppression rule.** ``j`` is suppressed by a kept ``i`` when ``IoU(i, j) >= iou_threshold``
  (the official code keeps ``iou < thresh``).
* **Degenerate union.** The union is zero only for two zero-length segments with
  ``offset=0``. Their IoU is defined as 1 if they are the same point and 0 otherwise (numpy
  would produce ``0/0 = nan``, which the official ``iou < thresh`` test treats as "suppress";
  with UM's ``offset=1`` this case cannot occur).
* **Score ties.** The greedy order is descending score, and equal scores keep their input
  order (a stable sort): among equal scores the lower index wins. Every backend follows this
  rule, so results are deterministic. (The official code uses numpy's unstable ``argsort``
  reversed, whose tie order is unspecified.)

Algorithms
----------
The torch path never builds the dense ``N x N`` IoU matrix and has no Python loop per
proposal. Segments are sorted by (group, start). A positive IoU needs the later-starting
segment to begin by ``end_i + offset``, and ``IoU >= t > 1/2`` needs it to begin within
``(1/t - 1) * len_i`` of ``start_i``, so each segment's candidate partners form one
contiguous window of the sorted order, found by binary search; groups never share a window.
Only candidate pairs get the exact float64 IoU test. The pairs that pass form a sparse
"may suppress" graph directed from the higher to the lower score, and greedy NMS is its
lexicographically-first maximal independent set. It is resolved in decision rounds: every
undecided segment with no undecided higher-scored neighbour is kept, its neighbours are
suppressed, and decided segments leave the graph. The number of rounds is the length of the
longest chain of dependent decisions: 3 on UM-like proposals; in the worst case, a chain of
segments each suppressing the next, about N/2. When segments overlap many others on
average (near-duplicates), the work goes in growing blocks of score order, each tested
against the segments kept so far before its survivors are tested against each other.

The Triton path (:mod:`wtal_blocks.kernels.nms_triton`) runs every group of a batched call in
one launch; see that module.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from ._validation import check_finite, check_rank, check_tensor, shape_str
from .kernels.dispatch import resolve_backend

__all__ = [
    "TemporalNMS",
    "batched_soft_nms",
    "batched_temporal_nms",
    "soft_nms",
    "temporal_nms",
]

SoftNMSMethod = Literal["gaussian", "linear"]

# Candidate pairs examined at once. A pair costs ~100 bytes across the temporaries, so this
# bounds the working memory of one block to a few hundred MB at worst.
_PAIR_BUDGET = 1 << 21
# Real proposals overlap a handful of others; above this mean the work goes block by block.
_SPARSE_PAIRS_PER_SEGMENT = 32
# First block of score order in the blocked path (blocks then double).
_BLOCK = 256


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# shared pieces of the torch path
# --------------------------------------------------------------------------------------------


def _argsort_desc_stable(x: Tensor) -> Tensor:
    """Indices sorting ``x`` descending; equal values keep their input order."""
    if x.device.type == "cpu":
        # numpy's default (SIMD) sort is several times faster than any stable sort here; it
        # is only unstable among equal values, so fall back when there are any.
        xn = x.detach().to(torch.float64).numpy()
        order = np.argsort(-xn)
        xs = xn[order]
        if xs.size > 1 and bool((xs[1:] == xs[:-1]).any()):
            order = np.argsort(-xn, kind="stable")
        return torch.from_numpy(order.astype(np.int64, copy=False))
    return torch.sort(x, descending=True, stable=True).indices


def _argsort(x: Tensor) -> Tensor:
    """Indices sorting ``x`` ascending, in any order among equal values."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.argsort(x.detach().numpy()).astype(np.int64, copy=False))
    return torch.sort(x).indices


def _compact_group_ids(idxs: Tensor) -> Tensor:
    """Group ids as int64 in ``[0, N)`` (any injective relabelling works)."""
    n = idxs.shape[0]
    lo, hi = int(idxs.min()), int(idxs.max())
    if lo >= 0 and hi < n:
        return idxs.to(torch.int64)
    return torch.unique(idxs, return_inverse=True)[1].to(torch.int64)


def _group_stable_order(g: Tensor, bound: int) -> Tensor:
    """Stable ascending argsort of group ids in ``[0, bound)``."""
    if g.device.type == "cpu":
        gn = g.numpy()
        if bound <= 2**15:  # ids fit int16, which numpy sorts stably by radix
            gn = gn.astype(np.int16)
        return torch.from_numpy(np.argsort(gn, kind="stable").astype(np.int64, copy=False))
    return torch.sort(g, stable=True).indices


class _CandidateWindows:
    """For each segment, the contiguous run of later-starting segments that might suppress
    it or be suppressed by it (same group, start within reach of a hit).

    ``pos`` sorts the segments by (group, start); the candidates of the segment at sorted
    position ``p`` are the sorted positions ``p + 1 .. ends[p] - 1``. ``start``/``end`` are
    the coordinates in that order.
    """

    def __init__(
        self, start: Tensor, end: Tensor, gid: Tensor | None, threshold: float, offset: float
    ) -> None:
        n = start.shape[0]
        by_start = _argsort(start)
        sorted_starts = start.index_select(0, by_start)
        if gid is None:
            pos = by_start
        else:
            regroup = _group_stable_order(gid.index_select(0, by_start), n)
            pos = by_start.index_select(0, regroup)
        s = start.index_select(0, pos)
        e = end.index_select(0, pos)
        # A positive IoU needs start_j <= end_i + offset (exactly, in float: both sides of
        # the exact test round monotonically). For t > 1/2 there is a tighter reach: IoU >= t
        # forces start_j - start_i <= union - inter <= (1/t - 1) * inter <= (1/t - 1) * len_i.
        # Its margin covers float rounding in the exact test (a few ulp of the largest
        # coordinate), so no pair that the exact test accepts is left out.
        length = e - s + offset
        hi = e + offset
        if threshold > 0.5:
            reach = (1.0 - threshold) / threshold
            scale = max(abs(float(sorted_starts[0])), abs(float(e.max()))) + offset
            margin = 1e-12 * scale * (1.0 / threshold + reach + 1.0)
            hi = torch.minimum(hi, s + reach * length + margin)
        if gid is None:
            ends = _searchsorted_right(s, hi)
        else:
            # Search (group, start) lexicographically with exact integer keys: a start's key
            # is the number of starts <= it, so no float arithmetic mixes groups.
            stride = n + 1
            g = gid.index_select(0, pos) * stride
            key = g + _count_le_sorted(sorted_starts).index_select(0, regroup)
            ends = _searchsorted_right(key, g + _searchsorted_right(sorted_starts, hi))
        self.pos = pos
        self.start = s
        self.end = e
        self.length = length
        self.offset = offset
        # a zero union needs two zero-length segments, impossible when offset > 0
        self.has_points = offset == 0.0 and bool((length == 0).any())
        self.ends = ends
        self.count = ends - torch.arange(1, n + 1, device=start.device)

    def iou(self, p: Tensor, q: Tensor) -> Tensor:
        """Float64 IoU of the segments at sorted positions ``p`` and ``q`` (pairwise), in the
        official operation order: ``inter = max(0, (min(e) - max(s)) + offset)``,
        ``IoU = inter / ((len_p + len_q) - inter)`` with ``len = (e - s) + offset``."""
        sp, sq = self.start.index_select(0, p), self.start.index_select(0, q)
        ep, eq = self.end.index_select(0, p), self.end.index_select(0, q)
        inter = torch.minimum(ep, eq).sub_(torch.maximum(sp, sq))
        if self.offset != 0.0:
            inter.add_(self.offset)
        inter.clamp_(min=0.0)
        union = self.length.index_select(0, p).add_(self.length.index_select(0, q)).sub_(inter)
        if not self.has_points:
            return inter.div_(union)
        empty = union == 0
        same = (sp == sq) & (ep == eq)
        return torch.where(empty, same.to(inter.dtype), inter.div_(union))


def _count_le_sorted(values: Tensor) -> Tensor:
    """For sorted ``values``, the number of values ``<=`` each one (end of its tie run)."""
    n = values.shape[0]
    index = torch.arange(1, n + 1, device=values.device)
    run_end = torch.ones(n, dtype=torch.bool, device=values.device)
    run_end[:-1] = values[1:] != values[:-1]
    marked = torch.where(run_end, index, n)
    return torch.flip(torch.cummin(torch.flip(marked, (0,)), 0).values, (0,))


def _searchsorted_right(sorted_seq: Tensor, values: Tensor) -> Tensor:
    if sorted_seq.device.type == "cpu":
        out = np.searchsorted(sorted_seq.numpy(), values.numpy(), side="right")
        return torch.from_numpy(out.astype(np.int64, copy=False))
    return torch.searchsorted(sorted_seq, values, right=True)


def _nonzero(mask: Tensor) -> Tensor:
    """Indices of the True entries of a 1-D mask (int64)."""
    if mask.device.type == "cpu":  # numpy's is several times faster for small arrays
        return torch.from_numpy(np.flatnonzero(mask.numpy()).astype(np.int64, copy=False))
    return torch.nonzero(mask).flatten()


def _expand_ranges(first: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
    """Flatten the ranges ``first[k] .. first[k] + count[k] - 1``.

    Returns ``(owner, value)``: for every element of every range, the range index ``k`` and
    the element itself.
    """
    if count.device.type == "cpu":
        owner = torch.from_numpy(np.repeat(np.arange(count.shape[0]), count.numpy()))
    else:
        owner = torch.repeat_interleave(count)
    begin = torch.cumsum(count, 0) - count
    value = torch.arange(owner.shape[0], device=count.device) + (first - begin).index_select(
        0, owner
    )
    return owner, value


def _resolve_greedy(edges: Tensor, undecided: Tensor) -> Tensor:
    """Resolve greedy NMS on a "may suppress" graph whose nodes are score ranks.

    ``edges`` (Tensor[2, E], int64) holds pairs ``(src, dst)`` with ``src < dst``: rank
    ``src`` suppresses rank ``dst`` if it is kept. ``undecided`` (Tensor[N], bool) marks the
    nodes to decide; the edges join only those. Returns the mask of the nodes kept.

    Greedy NMS is the unique assignment where a node is kept iff no kept node suppresses it.
    Each round keeps every undecided node with no undecided in-neighbour (its in-neighbours,
    if any, are all suppressed), suppresses their out-neighbours, and drops the edges of
    decided nodes. Every round decides at least the best undecided node, and most edges go
    in the first round.
    """
    if edges.device.type == "cpu":
        # rounds after the first are a few small ops each, where numpy's per-call overhead is
        # a fraction of torch's (3x faster on long suppression chains)
        return torch.from_numpy(_resolve_greedy_numpy(edges.numpy(), undecided.numpy()))
    return _resolve_greedy_torch(edges, undecided)


def _resolve_greedy_torch(edges: Tensor, undecided: Tensor) -> Tensor:
    """:func:`_resolve_greedy` with torch ops (for CUDA tensors)."""
    undecided = undecided.clone()
    kept = torch.zeros_like(undecided)
    while edges.shape[1] > 0:
        src, dst = edges[0], edges[1]
        free = undecided & ~torch.zeros_like(undecided).index_fill_(0, dst, True)
        kept |= free
        undecided &= ~free
        undecided.index_fill_(0, dst.index_select(0, _nonzero(free.index_select(0, src))), False)
        live = undecided.index_select(0, src) & undecided.index_select(0, dst)
        edges = edges.index_select(1, _nonzero(live))
    return kept | undecided  # nodes left without constraints are kept


def _resolve_greedy_numpy(edges: np.ndarray, undecided: np.ndarray) -> np.ndarray:
    """:func:`_resolve_greedy` on numpy arrays (same rounds)."""
    undecided = undecided.copy()
    kept = np.zeros_like(undecided)
    src, dst = edges[0], edges[1]
    while src.size > 0:
        has_parent = np.zeros_like(undecided)
        has_parent[dst] = True
        free = undecided & ~has_parent
        kept |= free
        undecided &= ~free
        undecided[dst[free[src]]] = False
        live = undecided[src] & undecided[dst]
        src, dst = src[live], dst[live]
    return kept | undecided


def _greedy_nms_torch(
    segments: Tensor, scores: Tensor, gid: Tensor | None, threshold: float, offset: float
) -> Tensor:
    """Exact greedy (batched) NMS; returns kept indices in descending score order."""
    n = segments.shape[0]
    device = segments.device
    order = _argsort_desc_stable(scores)
    if threshold == 0.0:
        # IoU >= 0 holds for every pair: only the best segment of each group survives.
        if gid is None:
            return order[:1]
        g = gid.index_select(0, order)
        first = torch.full((n,), n, dtype=torch.int64, device=device)
        first.scatter_reduce_(0, g, torch.arange(n, device=device), reduce="amin")
        return order.index_select(0, first.index_select(0, _nonzero(first < n)).sort().values)

    seg = segments.to(torch.float64)
    start, end = seg[:, 0].contiguous(), seg[:, 1].contiguous()
    win = _CandidateWindows(start, end, gid, threshold, offset)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=device)
    rank_at = rank.index_select(0, win.pos)  # score rank of the segment at each sorted position

    if int(win.count.sum()) <= _SPARSE_PAIRS_PER_SEGMENT * n + _BLOCK:
        # the usual case: few overlaps per segment, one pass over all candidate pairs
        owner, other = _expand_ranges(torch.arange(1, n + 1, device=device), win.count)
        edges = _suppression_edges(win, rank_at, owner, other, threshold)
        kept = _resolve_greedy(edges, torch.ones(n, dtype=torch.bool, device=device))
    else:
        kept = _greedy_in_blocks(win, rank_at, threshold)
    return order.index_select(0, _nonzero(kept))


def _greedy_in_blocks(win: _CandidateWindows, rank_at: Tensor, threshold: float) -> Tensor:
    """Greedy NMS over growing blocks of score order; returns the kept mask by rank.

    For dense overlaps (many near-duplicates, as when a few proposals cover most others).
    Each block's members are first tested against the segments kept so far, and only the
    survivors against each other, so a segment suppressed early costs one test per kept
    neighbour instead of one per overlapping neighbour. Blocks double in size from
    ``_BLOCK`` (few segments are kept early); a block whose candidate pairs would exceed
    ``_PAIR_BUDGET`` is halved until they fit, which bounds the memory.
    """
    n = rank_at.shape[0]
    device = rank_at.device
    kept_at = torch.zeros(n, dtype=torch.bool, device=device)  # by sorted position
    lo, size = 0, _BLOCK
    while lo < n:
        hi = min(n, lo + size)
        while True:
            block = (rank_at >= lo) & (rank_at < hi)
            against_kept = [_WindowPairs(win, block, kept_at), _WindowPairs(win, kept_at, block)]
            if sum(p.total for p in against_kept) <= _PAIR_BUDGET or hi - lo == 1:
                break
            hi = lo + (hi - lo) // 2
        # (block, kept) pairs, then (kept, block) pairs: IoU is symmetric, order is free
        (block_1, kept_1), (kept_2, block_2) = (p.expand() for p in against_kept)
        in_block = torch.cat([block_1, block_2])
        hit = _suppresses(win, in_block, torch.cat([kept_1, kept_2]), threshold)
        survivors = block.clone().index_fill_(0, in_block.index_select(0, _nonzero(hit)), False)
        while True:
            among = _WindowPairs(win, survivors, survivors)
            if among.total <= _PAIR_BUDGET or hi - lo == 1:
                break
            hi = lo + (hi - lo) // 2
            survivors &= rank_at < hi
        owner, other = among.expand()
        edges = _suppression_edges(win, rank_at, owner, other, threshold)
        undecided = torch.zeros(n, dtype=torch.bool, device=device)
        undecided.index_fill_(0, rank_at.index_select(0, _nonzero(survivors)), True)
        kept_at |= _resolve_greedy(edges, undecided).index_select(0, rank_at)
        lo, size = hi, 2 * size
    kept = torch.zeros(n, dtype=torch.bool, device=device)
    kept[rank_at] = kept_at
    return kept


def _suppresses(win: _CandidateWindows, owner: Tensor, other: Tensor, threshold: float) -> Tensor:
    """``IoU >= threshold`` for pairs of sorted positions (bool, one per pair)."""
    return win.iou(owner, other) >= threshold


def _suppression_edges(
    win: _CandidateWindows,
    rank_at: Tensor,
    owner: Tensor,
    other: Tensor,
    threshold: float,
) -> Tensor:
    """The candidate pairs that suppress, as score ranks (Tensor[2, E]: ``src < dst``)."""
    idx = _nonzero(_suppresses(win, owner, other, threshold))
    ra = rank_at.index_select(0, owner.index_select(0, idx))
    rb = rank_at.index_select(0, other.index_select(0, idx))
    return torch.stack([torch.minimum(ra, rb), torch.maximum(ra, rb)])


class _WindowPairs:
    """Pairs ``(p, q)`` of sorted positions with ``owner[p]``, ``member[q]`` and ``q`` in the
    candidate window of ``p``; counted first (``total``), materialised by ``expand()``."""

    def __init__(self, win: _CandidateWindows, owner: Tensor, member: Tensor) -> None:
        n = member.shape[0]
        before = torch.zeros(n + 1, dtype=torch.int64, device=member.device)
        before[1:] = torch.cumsum(member, 0)  # members at positions < x
        self.owners = _nonzero(owner)
        self.first = before.index_select(0, self.owners + 1)
        self.count = before.index_select(0, win.ends.index_select(0, self.owners)) - self.first
        self.total = int(self.count.sum())
        self.member = member

    def expand(self) -> tuple[Tensor, Tensor]:
        k, j = _expand_ranges(self.first, self.count)
        return self.owners.index_select(0, k), _nonzero(self.member).index_select(0, j)


# --------------------------------------------------------------------------------------------
# hard NMS: public API
# --------------------------------------------------------------------------------------------


def temporal_nms(
    segments: Tensor,
    scores: Tensor,
    iou_threshold: float,
    *,
    offset: float = 0.0,
    backend: str | None = None,
) -> Tensor:
    """Exact greedy non-maximum suppression of 1-D segments.

    Visits segments by descending score, keeps the best remaining one and suppresses every
    remaining segment whose IoU with it is ``>= iou_threshold``; repeats until none remain.
    The result is exactly that of the textbook loop (see the module notes for the float64
    tie-exact IoU, the degenerate case and the score-tie rule).

    Args:
        segments (Tensor[N, 2]): ``(start, end)`` per segment, ``end >= start``; any
            floating-point dtype (computed in float64).
        scores (Tensor[N]): score per segment, floating point.
        iou_threshold (float): in ``[0, 1]``; a segment is suppressed at ``IoU >= iou_threshold``.
        offset (float): length convention, ``len = end - start + offset``. ``0.0`` for plain
            IoU, ``1.0`` for the official UM code's "+1" convention (UM uses 0.6 with 1.0).
        backend (str, optional): ``"torch"``, ``"triton"`` or ``"auto"``; default from
            ``WTAL_BLOCKS_BACKEND``, else ``"auto"`` (Triton for CUDA tensors when available).

    Returns:
        Tensor[K] (int64): indices of the kept segments, in descending score order.
    """
    _check_segments_scores(segments, scores)
    threshold = _check_unit_interval("iou_threshold", iou_threshold)
    offset = _check_offset(offset)
    if segments.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=segments.device)
    if resolve_backend(backend, segments.device) == "triton":
        from .kernels.nms_triton import batched_nms_triton

        return batched_nms_triton(segments, scores, None, threshold, offset)
    return _greedy_nms_torch(segments, scores, None, threshold, offset)


def batched_temporal_nms(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor,
    iou_threshold: float,
    *,
    offset: float = 0.0,
    backend: str | None = None,
) -> Tensor:
    """Greedy NMS run independently within each group (class, or video x class) in one call.

    Segments with different ``idxs`` never suppress each other. Unlike torchvision's
    coordinate-offset trick, groups are kept apart by comparing only same-group pairs, so the
    IoU of every pair is computed from the original coordinates and exact ties are preserved.

    Args:
        segments (Tensor[N, 2]): ``(start, end)`` per segment (any float dtype).
        scores (Tensor[N]): score per segment.
        idxs (Tensor[N]): integer group id per segment (any integer dtype and values).
        iou_threshold (float): in ``[0, 1]``; suppression at ``IoU >= iou_threshold``.
        offset (float): length convention (``0.0`` plain IoU, ``1.0`` official "+1").
        backend (str, optional): as in :func:`temporal_nms`.

    Returns:
        Tensor[K] (int64): indices of the kept segments of all groups, in descending score
        order (equal scores in input order), as torchvision's ``batched_nms``.
    """
    _check_segments_scores(segments, scores)
    _check_idxs(idxs, segments)
    threshold = _check_unit_interval("iou_threshold", iou_threshold)
    offset = _check_offset(offset)
    if segments.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=segments.device)
    if resolve_backend(backend, segments.device) == "triton":
        from .kernels.nms_triton import batched_nms_triton

        return batched_nms_triton(segments, scores, idxs, threshold, offset)
    return _greedy_nms_torch(segments, scores, _compact_group_ids(idxs), threshold, offset)


# --------------------------------------------------------------------------------------------
# soft-NMS
# --------------------------------------------------------------------------------------------


def _check_soft_nms_args(
    method: str, sigma: float, min_score: float, max_detections: int | None
) -> None:
    if method not in ("gaussian", "linear"):
        raise ValueError(f"method must be 'gaussian' or 'linear', got {method!r}")
    _check_number("sigma", sigma, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)
    # decay must move every live score down, which holds only for scores >= 0
    _check_number(
        "min_score", min_score, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0
    )
    if max_detections is not None and (
        isinstance(max_detections, bool)
        or not isinstance(max_detections, int)
        or max_detections < 0
    ):
        raise ValueError(f"max_detections must be None or an int >= 0, got {max_detections!r}")


def _apply_decays(current: Tensor, target: Tensor, weight: Tensor) -> None:
    """``current[t] *= product of the weights aimed at t``, for every target ``t``.

    Several picks of one round may decay the same segment. Their weights are multiplied in a
    fixed tree order (a segmented scan over the entries sorted by target), so the result is
    deterministic on every device, unlike a scatter-multiply whose order follows threads.
    """
    if target.numel() == 0:
        return
    by_target = torch.sort(target, stable=True).indices
    t = target.index_select(0, by_target)
    w = weight.index_select(0, by_target)
    m = t.shape[0]
    step = 1
    while step < m:
        same = t[step:] == t[:-step]  # sorted: entries step apart share a target
        if not bool(same.any()):
            break
        scanned = w.clone()
        scanned[step:] = torch.where(same, w[step:] * w[:-step], w[step:])
        w, step = scanned, 2 * step
    last = torch.ones(m, dtype=torch.bool, device=t.device)
    last[:-1] = t[1:] != t[:-1]
    at = _nonzero(last)
    t, w = t.index_select(0, at), w.index_select(0, at)
    current.index_copy_(0, t, current.index_select(0, t) * w)


def _soft_nms_torch(
    segments: Tensor,
    scores: Tensor,
    gid: Tensor | None,
    method: str,
    sigma: float,
    threshold: float,
    min_score: float,
    max_detections: int | None,
    offset: float,
) -> tuple[Tensor, Tensor]:
    """Soft-NMS per group; returns (indices in output order, their decayed float64 scores).

    Instead of picking one segment at a time, each round picks every live segment that
    beats all its live overlapping neighbours in (score, -index) order: no neighbour can be
    picked before it by the sequential loop, because scores only decay, so its score is
    final. Their neighbours are decayed and the round repeats. The number of rounds is the
    longest chain of picks that wait on one another (about 30 for 1000 UM-like proposals
    with the Gaussian decay), not the number of picks.
    """
    n = segments.shape[0]
    device = segments.device
    seg = segments.to(torch.float64)
    start, end = seg[:, 0].contiguous(), seg[:, 1].contiguous()
    current = scores.to(torch.float64).clone()
    alive = current >= min_score

    # decaying pairs: a weight below 1 needs IoU > 0 (Gaussian) or IoU >= t (linear)
    win = _CandidateWindows(start, end, gid, threshold if method == "linear" else 0.0, offset)
    if int(win.count.sum()) > _PAIR_BUDGET:
        picked = _soft_nms_one_by_one(win, current, alive, gid, method, sigma, threshold, min_score)
    else:
        picked = _soft_nms_rounds(win, current, alive, method, sigma, threshold, min_score)

    # output order = the sequential loop's pick order: descending final score, then index
    idx = _nonzero(picked)
    idx = idx.index_select(0, _argsort_desc_stable(current.index_select(0, idx)))
    if max_detections is not None:
        if gid is None:
            idx = idx[:max_detections]
        else:
            g = gid.index_select(0, idx)
            by_group = _group_stable_order(g, n)  # output order within each group
            gs = g.index_select(0, by_group)
            head = torch.ones_like(gs, dtype=torch.bool)
            head[1:] = gs[1:] != gs[:-1]
            position = torch.arange(gs.shape[0], device=device)
            first = torch.cummax(torch.where(head, position, 0), 0).values
            capped = by_group.index_select(0, _nonzero(position - first < max_detections))
            idx = idx.index_select(0, capped.sort().values)
    return idx, current.index_select(0, idx)


def _decay_weight(iou: Tensor, method: str, sigma: float, threshold: float) -> Tensor:
    if method == "linear":
        return torch.where(iou >= threshold, 1.0 - iou, torch.ones_like(iou))
    return torch.exp(-(iou * iou) / sigma)


def _soft_nms_rounds(
    win: _CandidateWindows,
    current: Tensor,
    alive: Tensor,
    method: str,
    sigma: float,
    threshold: float,
    min_score: float,
) -> Tensor:
    """Soft-NMS by rounds of local maxima on the sparse graph of decaying pairs.

    Updates ``current`` (float64 scores, by input index) and returns the picked mask.
    """
    n = current.shape[0]
    owner, other = _expand_ranges(torch.arange(1, n + 1, device=current.device), win.count)
    weight = _decay_weight(win.iou(owner, other), method, sigma, threshold)
    decaying = _nonzero(weight < 1.0)
    edges = torch.stack(
        [
            win.pos.index_select(0, owner.index_select(0, decaying)),
            win.pos.index_select(0, other.index_select(0, decaying)),
        ]
    )
    weight = weight.index_select(0, decaying)

    picked = torch.zeros_like(alive)
    while True:
        live = _nonzero(alive.index_select(0, edges[0]) & alive.index_select(0, edges[1]))
        edges, weight = edges.index_select(1, live), weight.index_select(0, live)
        a, b = edges[0], edges[1]
        sa, sb = current.index_select(0, a), current.index_select(0, b)
        a_first = (sa > sb) | ((sa == sb) & (a < b))
        beaten = torch.zeros_like(alive).index_fill_(0, torch.where(a_first, b, a), True)
        top = alive & ~beaten
        if not bool(top.any()):
            break
        picked |= top
        alive &= ~top
        top_a, top_b = top.index_select(0, a), top.index_select(0, b)
        hit = _nonzero(top_a | top_b)
        target = torch.where(top_a, b, a).index_select(0, hit)
        _apply_decays(current, target, weight.index_select(0, hit))
        alive &= current >= min_score
    return picked


def _soft_nms_one_by_one(
    win: _CandidateWindows,
    current: Tensor,
    alive: Tensor,
    gid: Tensor | None,
    method: str,
    sigma: float,
    threshold: float,
    min_score: float,
) -> Tensor:
    """The sequential loop, vectorised over the remaining segments at each pick.

    Used when the decaying pairs would not fit in memory (near-duplicates by the
    thousand); such inputs decay below ``min_score`` after few picks. Updates ``current``
    and returns the picked mask.
    """
    device = current.device
    # by sorted position, as the windows hold the coordinates
    score = current.index_select(0, win.pos)
    live = alive.index_select(0, win.pos)
    group = None if gid is None else gid.index_select(0, win.pos)
    picked = torch.zeros_like(live)
    position_of = torch.empty_like(win.pos)
    position_of[win.pos] = torch.arange(win.pos.shape[0], device=device)
    while bool(live.any()):
        best = torch.where(live, score, -math.inf)
        top = best.max()
        # ties: the lowest input index, as the sequential loop
        p = int(win.pos.index_select(0, _nonzero(best == top)).min())
        p = int(position_of[p])
        picked[p] = True
        live[p] = False
        rest = _nonzero(live if group is None else live & (group == group[p]))
        weight = _decay_weight(win.iou(torch.full_like(rest, p), rest), method, sigma, threshold)
        score.index_copy_(0, rest, score.index_select(0, rest) * weight)
        live &= score >= min_score
    current[win.pos] = score
    out = torch.zeros_like(picked)
    out[win.pos] = picked
    return out


def soft_nms(
    segments: Tensor,
    scores: Tensor,
    *,
    method: SoftNMSMethod = "gaussian",
    sigma: float = 0.5,
    iou_threshold: float = 0.1,
    min_score: float = 0.001,
    max_detections: int | None = None,
    offset: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Soft-NMS (Bodla et al., 2017) of 1-D segments, as used by ActionFormer/OpenTAD/DELU.

    The sequential definition: repeatedly pick the remaining segment with the highest
    current score (equal scores: lower index first); multiply the score of every other
    remaining segment ``j`` by

    * ``linear``: ``1 - IoU`` if ``IoU >= iou_threshold``, else 1;
    * ``gaussian``: ``exp(-IoU**2 / sigma)`` (``iou_threshold`` is not used);

    and drop ``j`` as soon as its score is ``< min_score``. Segments scored below
    ``min_score`` from the start are never picked. Stop after ``max_detections`` picks.
    IoU follows the module conventions (float64, ``offset``); scores are decayed in float64.

    The result equals that loop's up to float64 rounding of the products of decay weights
    (a segment's weights may be multiplied in a different order), i.e. ~1e-15 relative;
    segments are processed in parallel rounds rather than one at a time.

    Args:
        segments (Tensor[N, 2]): ``(start, end)`` per segment, any float dtype.
        scores (Tensor[N]): score per segment.
        method (str): ``"gaussian"`` (default) or ``"linear"``.
        sigma (float): Gaussian width, > 0.
        iou_threshold (float): in ``[0, 1]``; the linear method's overlap threshold.
        min_score (float): score floor, >= 0.
        max_detections (int, optional): cap on the number of picks.
        offset (float): length convention (``0.0`` plain IoU, ``1.0`` the "+1" convention).

    Returns:
        tuple ``(kept_segments, new_scores, kept_indices)``: ``Tensor[K, 2]`` (segments'
        dtype), ``Tensor[K]`` (scores' dtype), ``Tensor[K]`` (int64), in pick order, i.e.
        descending new score.
    """
    return _soft_nms_entry(
        segments, scores, None, method, sigma, iou_threshold, min_score, max_detections, offset
    )


def batched_soft_nms(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor,
    *,
    method: SoftNMSMethod = "gaussian",
    sigma: float = 0.5,
    iou_threshold: float = 0.1,
    min_score: float = 0.001,
    max_detections: int | None = None,
    offset: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`soft_nms` independently within each group of ``idxs`` (Tensor[N], integer).

    ``max_detections`` caps each group. The groups' results are merged in descending new
    score (equal scores by index); for an overall cap as well (ActionFormer applies the same
    number per class and overall), slice the result.

    Returns:
        tuple ``(kept_segments, new_scores, kept_indices)`` as in :func:`soft_nms`.
    """
    _check_idxs(idxs, segments)
    return _soft_nms_entry(
        segments, scores, idxs, method, sigma, iou_threshold, min_score, max_detections, offset
    )


def _soft_nms_entry(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor | None,
    method: str,
    sigma: float,
    iou_threshold: float,
    min_score: float,
    max_detections: int | None,
    offset: float,
) -> tuple[Tensor, Tensor, Tensor]:
    _check_segments_scores(segments, scores)
    threshold = _check_unit_interval("iou_threshold", iou_threshold)
    offset = _check_offset(offset)
    _check_soft_nms_args(method, sigma, min_score, max_detections)
    if segments.shape[0] == 0:
        return segments[:0], scores[:0], torch.empty(0, dtype=torch.int64, device=segments.device)
    gid = None if idxs is None else _compact_group_ids(idxs)
    idx, new_scores = _soft_nms_torch(
        segments,
        scores,
        gid,
        method,
        float(sigma),
        threshold,
        float(min_score),
        max_detections,
        offset,
    )
    return segments.index_select(0, idx), new_scores.to(scores.dtype), idx


class TemporalNMS(nn.Module):
    """Module form of :func:`temporal_nms` / :func:`batched_temporal_nms`.

    Holds the configuration (threshold, length convention, backend) so that a model's
    post-processing is visible in its printout; it has no parameters or buffers.
    ``TemporalNMS(0.6, offset=1.0)`` is the official UM setting.
    """

    def __init__(
        self, iou_threshold: float, *, offset: float = 0.0, backend: str | None = None
    ) -> None:
        super().__init__()
        self.iou_threshold = _check_unit_interval("iou_threshold", iou_threshold)
        self.offset = _check_offset(offset)
        self.backend = backend

    def forward(self, segments: Tensor, scores: Tensor, idxs: Tensor | None = None) -> Tensor:
        """Kept indices (Tensor[K], int64, descending score); per group when ``idxs`` is given."""
        if idxs is None:
            return temporal_nms(
                segments, scores, self.iou_threshold, offset=self.offset, backend=self.backend
            )
        return batched_temporal_nms(
            segments, scores, idxs, self.iou_threshold, offset=self.offset, backend=self.backend
        )

    def extra_repr(self) -> str:
        return f"iou_threshold={self.iou_threshold}, offset={self.offset}, backend={self.backend!r}"

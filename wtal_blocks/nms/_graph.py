"""The sparse "may suppress" graph shared by greedy NMS and soft-NMS on the CPU and with torch.

Segments are sorted by (group, start); each segment's candidate partners form one contiguous
window of that order (:class:`_CandidateWindows`), so only candidate pairs are ever tested.
Greedy NMS on the resulting graph is resolved in decision rounds (:func:`_resolve_greedy`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

# Candidate pairs examined at once. A pair costs ~100 bytes across the temporaries, so this
# bounds the working memory of one block to a few hundred MB at worst.
_PAIR_BUDGET = 1 << 21


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

"""Exact greedy (batched) NMS on the CPU, in numpy from end to end.

The same algorithm as the torch path (candidate windows of the (group, start) order, the
"may suppress" graph resolved in decision rounds, growing blocks of score order for
near-duplicates), written on contiguous numpy arrays: on the CPU every torch call costs a few
microseconds of dispatch, several times numpy's, and a dense set of 1,000 proposals is
resolved in a few hundred such calls. Three additions keep it faster than the textbook loop
it reproduces on every input family of ``benchmarks/bench_nms.py``:

* a **loop prefix**: while each kept segment suppresses a large share of the rest (a few
  segments cover the others, as with many copies of a few proposals), one vectorised step
  per kept segment is the cheapest exact method, so the first steps of the textbook loop
  run as they are (on one group, before any sort), every group at once;
* **blocks by rank within the group**, so the blocks of a batched call hold the best
  segments of every group at once;
* **cache-sized work**: a batched call is resolved a few thousand rows (whole groups) at a
  time and candidate pairs are tested a few thousand at a time, so sorts, binary searches
  and temporaries stay in cache.

IoU keeps the official operation order and float64 (see :mod:`wtal_blocks.nms`).
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

# Mean candidate pairs per segment above which the work goes block by block.
_SPARSE_PAIRS_PER_SEGMENT = 32
# First block of rank within the group (blocks then double).
_BLOCK = 256
# Candidate pairs of one block (bounds the memory of the suppression edges).
_PAIR_BUDGET = 1 << 21
# Rows of a batched call resolved at once (whole groups; a larger group goes alone).
_CHUNK_ROWS = 4096
# Candidate pairs tested at once (keeps each temporary array under 128 KB).
_CHUNK = 1 << 13
# The loop prefix goes on while a step removes at least _PREFIX_MIN rows plus
# 1/_PREFIX_SHARE of what remains (a step costs ~10 us plus ~5 ns a row; the graph, a few
# hundred ns a row) ...
_PREFIX_MIN = 16
_PREFIX_SHARE = 64
# ... and stops after this many steps.
_PREFIX_STEPS = 64


def argsort_desc_stable(x: np.ndarray) -> np.ndarray:
    """Indices sorting ``x`` (float64) descending; equal values keep their input order."""
    # numpy's default (SIMD) sort is several times faster than its stable one; it is only
    # unstable among equal values, so fall back when there are any.
    order = np.argsort(-x)
    xs = x[order]
    if xs.size > 1 and bool((xs[1:] == xs[:-1]).any()):
        order = np.argsort(-x, kind="stable")
    return order


def compact_groups(idxs: np.ndarray) -> np.ndarray:
    """Group ids relabelled to int64 in ``[0, N)`` (any injective relabelling works)."""
    n = idxs.size
    if idxs.min() >= 0 and idxs.max() < n:
        return idxs.astype(np.int64, copy=False)
    return np.unique(idxs, return_inverse=True)[1].astype(np.int64, copy=False).reshape(-1)


def _stable_group_order(g: np.ndarray, bound: int) -> np.ndarray:
    """Stable ascending argsort of group ids in ``[0, bound)``."""
    if bound <= 2**15:  # ids fit int16, which numpy sorts stably by radix
        g = g.astype(np.int16)
    return np.argsort(g, kind="stable")


def greedy_nms_numpy(
    start: np.ndarray,
    end: np.ndarray,
    scores: np.ndarray,
    gid: np.ndarray | None,
    threshold: float,
    offset: float,
) -> np.ndarray:
    """Kept indices (int64, descending score, ties by index) of greedy NMS per group.

    ``start``, ``end``, ``scores`` are float64 (N,) with N > 0, ``gid`` compact int64 group
    ids or None; ``threshold`` in ``[0, 1]`` (suppression at ``IoU >= threshold``) or above
    1 (nothing is suppressed).
    """
    n = start.size
    if threshold > 1.0:
        return argsort_desc_stable(scores)
    length = end - start
    if offset != 0.0:
        length += offset
    test = _Test(threshold, offset, offset == 0.0 and bool((length == 0.0).any()))
    if gid is None:
        if threshold == 0.0:  # IoU >= 0 holds for every pair: only the best survives
            return np.argmax(scores).reshape(1)
        # the loop prefix needs no sorted order: argmax is the best remaining segment
        # (the first maximum: the lowest index among equal scores)
        kept_first, rest = _unsorted_loop_prefix(start, end, length, scores, test)
        if rest.size == 0:
            return kept_first
        perm = rest[argsort_desc_stable(scores[rest])]  # greedy order of the rest
        graph = _Graph(start[perm], end[perm], length[perm], None, test)
        kept_rows = np.sort(graph.resolve(np.arange(perm.size)))
        return np.concatenate([kept_first, perm[kept_rows]])

    order = argsort_desc_stable(scores)
    perm = order[_stable_group_order(gid[order], n)]  # (group, greedy order)
    g = gid[perm]
    if threshold == 0.0:
        # IoU >= 0 holds for every pair: only the best segment of each group survives
        head = np.ones(n, dtype=bool)
        head[1:] = g[1:] != g[:-1]
        kept = np.zeros(n, dtype=bool)
        kept[perm[head]] = True
        return order[kept[order]]
    s, e, length = start[perm], end[perm], length[perm]
    kept = np.zeros(n, dtype=bool)
    # Whole groups, _CHUNK_ROWS rows or so at a time: the windows' sorts and binary searches
    # stay in cache, where one search over every row of a large batch would not.
    first = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
    cuts = np.searchsorted(first, np.arange(_CHUNK_ROWS, n, _CHUNK_ROWS), side="right") - 1
    bounds = np.unique(np.concatenate([first[cuts], [0, n]])).tolist()
    for lo, hi in itertools.pairwise(bounds):
        gc = g[lo:hi] - g[lo] if g[lo] != g[hi - 1] else None
        graph = _Graph(s[lo:hi], e[lo:hi], length[lo:hi], gc, test)
        kept_rows, rest = graph.loop_prefix()
        if rest.size > 0:
            kept_rows = np.concatenate([kept_rows, graph.resolve(rest)])
        kept[perm[lo + kept_rows]] = True
    return order[kept[order]]


class _Test(NamedTuple):
    """The exact suppression test."""

    threshold: float
    offset: float
    has_points: bool  # some zero-length segments with offset 0: zero unions may occur

    def __call__(
        self,
        s_a: np.ndarray | float,
        e_a: np.ndarray | float,
        l_a: np.ndarray | float,
        s_b: np.ndarray,
        e_b: np.ndarray,
        l_b: np.ndarray,
        b_starts_later: bool,
    ) -> np.ndarray:
        """``IoU(a, b) >= threshold`` per pair (``b_starts_later``: ``start_b >= start_a``
        for every pair, so ``max(start)`` is ``start_b``).

        The official order, ``inter = (min(e) - max(s)) + offset``,
        ``IoU = inter / ((len_a + len_b) - inter)``, without the clamp of ``inter`` at 0:
        for a threshold > 0 a negative ``inter`` gives a negative IoU, below the threshold
        as the clamped 0 is, and the union stays positive.
        """
        inter = np.minimum(e_a, e_b)
        inter -= s_b if b_starts_later else np.maximum(s_a, s_b)
        if self.offset != 0.0:
            inter += self.offset
        union = l_a + l_b
        union -= inter
        if not self.has_points:
            inter /= union
            return inter >= self.threshold
        # a zero union: two zero-length segments, IoU 1 for the same point (else 0/0)
        with np.errstate(invalid="ignore", divide="ignore"):
            hit = (inter / union) >= self.threshold
        return hit | ((union == 0.0) & (s_a == s_b))


def _prefix_pays(before: int, after: int) -> bool:
    """Whether the loop prefix takes another step after one that left ``after`` of
    ``before`` rows."""
    return after > 0 and before - after >= _PREFIX_MIN + before / _PREFIX_SHARE


def _unsorted_loop_prefix(
    start: np.ndarray, end: np.ndarray, length: np.ndarray, scores: np.ndarray, test: _Test
) -> tuple[np.ndarray, np.ndarray]:
    """The textbook loop on one group while it pays (see :meth:`_Graph.loop_prefix`), on
    segments in input order. Returns ``(kept indices in greedy order, remaining indices)``."""
    rest = np.arange(start.size)
    s, e, length_, sc = start, end, length, scores  # of the remaining segments
    kept = []
    for _ in range(_PREFIX_STEPS):
        best = int(np.argmax(sc))
        kept.append(rest[best])
        hit = test(s[best], e[best], length_[best], s, e, length_, False)
        hit[best] = True
        before = rest.size
        left = ~hit
        rest = rest[left]
        if not _prefix_pays(before, rest.size):
            break
        s, e, length_, sc = s[left], e[left], length_[left], sc[left]
    return np.array(kept, dtype=np.int64), rest


class _Graph:
    """Segments in (group, greedy) order ("rows") and the exact suppression test."""

    def __init__(
        self,
        s: np.ndarray,
        e: np.ndarray,
        length: np.ndarray,
        g: np.ndarray | None,
        test: _Test,
    ) -> None:
        self.s, self.e, self.length, self.g = s, e, length, g
        self.test = test
        self.rank = None  # rank within the group; rows are in (group, greedy) order
        if g is not None:
            size = np.bincount(g)
            self.rank = np.arange(g.size) - (np.cumsum(size) - size)[g]

    def loop_prefix(self) -> tuple[np.ndarray, np.ndarray]:
        """Run the textbook loop, every group at once, while it pays: each step keeps the
        best remaining row of every group and drops the rows it suppresses.

        Returns ``(kept rows, remaining rows)``; the remaining rows rank below every kept
        row of their group and none of them is suppressed by a kept one, so greedy NMS on
        them alone finishes the job.
        """
        rest = np.arange(self.s.size)
        s, e, length = self.s, self.e, self.length  # of the remaining rows
        kept = [rest[:0]]
        for _ in range(_PREFIX_STEPS):
            if self.g is None:
                head = rest[:1]
                hit = self.test(s[0], e[0], length[0], s, e, length, False)
                hit[0] = True
            else:
                gr = self.g[rest]
                is_head = np.ones(rest.size, dtype=bool)
                is_head[1:] = gr[1:] != gr[:-1]
                head = rest[is_head]
                top = np.flatnonzero(is_head)[np.cumsum(is_head) - 1]  # each row's group head
                hit = self.test(s[top], e[top], length[top], s, e, length, False)
                hit |= is_head
            kept.append(head)
            before = rest.size
            left = ~hit
            rest = rest[left]
            if not _prefix_pays(before, rest.size):
                break
            s, e, length = s[left], e[left], length[left]
        return np.concatenate(kept), rest

    def resolve(self, rows: np.ndarray) -> np.ndarray:
        """Greedy NMS on ``rows`` (sorted, none yet decided); returns the kept rows."""
        win = _Windows(self, rows)
        m = rows.size
        rank = rows if self.rank is None else self.rank[rows]
        rank = rank[win.pos]
        if win.total <= _SPARSE_PAIRS_PER_SEGMENT * m + _BLOCK:
            # the usual case: few overlaps per segment, one pass over all candidate pairs
            kept_at = _resolve_block(self, win, np.ones(m, dtype=bool))
        else:
            kept_at = _resolve_in_blocks(self, win, rank)
        return win.rows[kept_at]


class _Windows:
    """Candidate windows of ``rows`` sorted by (group, start) ("positions"): the positions
    ``p + 1 .. ends[p] - 1`` start at or after position ``p`` and are the only ones that
    may overlap it at ``IoU >= threshold``. ``s``, ``e``, ``length`` are by position."""

    def __init__(self, graph: _Graph, rows: np.ndarray) -> None:
        m = rows.size
        threshold, offset = graph.test.threshold, graph.test.offset
        s0 = graph.s.take(rows)
        pos = np.argsort(s0)  # any order among equal starts
        if graph.g is not None:
            pos = pos.take(_stable_group_order(graph.g.take(rows.take(pos)), graph.s.size))
        self.pos = pos
        self.rows = rows.take(pos)
        s = self.s = graph.s.take(self.rows)
        e = self.e = graph.e.take(self.rows)
        length = self.length = graph.length.take(self.rows)
        # A positive IoU needs start_j <= end_i + offset (exact in float: both sides of the
        # exact test round monotonically). For t > 1/2 there is a tighter reach: IoU >= t
        # forces start_j - start_i <= union - inter <= (1/t - 1) * inter <= (1/t - 1) * len_i.
        # Its margin covers float rounding in the exact test (a few ulp of the largest
        # coordinate), so no pair that the exact test accepts is left out.
        hi = e + offset if offset != 0.0 else e.copy()
        if threshold > 0.5:
            reach = (1.0 - threshold) / threshold
            scale = max(float(np.abs(s).max()), float(np.abs(e).max())) + offset
            margin = 1e-12 * scale * (1.0 / threshold + reach + 1.0)
            np.minimum(hi, s + reach * length + margin, out=hi)
        if graph.g is None:
            self.ends = np.searchsorted(s, hi, side="right")
        else:
            # One search for every group: shift each group's coordinates by its own multiple
            # of a power of two W > 2 x span, exact, so groups occupy disjoint ranges in
            # order. Rounding is monotone, so start_q <= hi_p still holds after the shift:
            # a window can only grow (by starts within an ulp of the shifted values), never
            # lose a candidate; the exact test decides.
            g = graph.g.take(self.rows)
            low = float(s.min())
            top = max(float(hi.max()), float(s.max())) - low
            # (hi is inf where end + offset overflows: such a window runs to the group's end)
            width = 2.0 ** (math.ceil(math.log2(top + 1.0)) + 1) if top < 2**1000 else math.inf
            if math.isfinite(float(g[-1] + 1) * width * 2):
                shift = g * width
                self.ends = np.searchsorted((s - low) + shift, (hi - low) + shift, side="right")
            else:  # spans near the float64 limit: exact integer keys instead
                self.ends = _ends_by_integer_keys(s, hi, g)
        self.total = int(self.ends.sum()) - m * (m + 1) // 2  # sum of ends[p] - (p + 1)

    def pairs(self, owner: np.ndarray, member: np.ndarray) -> _Pairs:
        """The pairs ``(p, q)``: ``owner[p]``, ``member[q]``, ``q`` in the window of ``p``."""
        before = np.zeros(member.size + 1, dtype=np.int64)
        np.cumsum(member, out=before[1:])  # members at positions < x
        owners = np.flatnonzero(owner)
        first = before.take(owners + 1)
        count = before.take(self.ends.take(owners)) - first
        members = np.flatnonzero(member)
        return _Pairs(self, owners, first, count, members, members.size == member.size)


def _ends_by_integer_keys(s: np.ndarray, hi: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Window ends of positions sorted by (group ``g``, start ``s``), searched with exact
    integer keys: ``g * (m + 1) +`` the number of starts ``<=`` the value."""
    m = s.size
    starts = np.sort(s)
    key = g * (m + 1) + np.searchsorted(starts, s, side="right")
    return np.searchsorted(key, g * (m + 1) + np.searchsorted(starts, hi, side="right"), "right")


class _Pairs(NamedTuple):
    """Window pairs, counted before they are materialised chunk by chunk: owner
    ``owners[k]`` pairs with ``members[first[k]]`` .. ``members[first[k] + counts[k] - 1]``."""

    win: _Windows
    owners: np.ndarray
    first: np.ndarray
    counts: np.ndarray
    members: np.ndarray
    every: bool = False  # members are all the positions, so ``members[j]`` is ``j``

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def __add__(self, other: object) -> _Pairs:
        assert isinstance(other, _Pairs)
        return _Pairs(
            self.win,
            np.concatenate([self.owners, other.owners]),
            np.concatenate([self.first, other.first + self.members.size]),
            np.concatenate([self.counts, other.counts]),
            np.concatenate([self.members, other.members]),
        )

    def hits(self, graph: _Graph) -> tuple[np.ndarray, np.ndarray]:
        """The pairs that pass the suppression test, as positions ``(p, q)``.

        Pairs are tested ``_CHUNK`` at a time: past ~128 KB, each temporary array would be
        a fresh memory mapping whose page faults cost more than the arithmetic.
        """
        win, count = self.win, self.counts
        total = self.total
        bounds = [0, count.size]
        if total > _CHUNK:
            cuts = np.searchsorted(np.cumsum(count), np.arange(_CHUNK, total, _CHUNK))
            bounds = np.unique(np.concatenate([[0], cuts + 1, [count.size]])).tolist()
            bounds[-1] = min(bounds[-1], count.size)
        found_p, found_q = [], []
        for lo, hi in itertools.pairwise(bounds):
            n_k, own = count[lo:hi], self.owners[lo:hi]
            # owner-side values repeat along each owner's run (cheaper than gathering)
            p = np.repeat(own, n_k)
            begin = np.cumsum(n_k) - n_k
            q = np.arange(p.size) + np.repeat(self.first[lo:hi] - begin, n_k)
            if not self.every:
                q = self.members.take(q)
            hit = graph.test(
                np.repeat(win.s.take(own), n_k),
                np.repeat(win.e.take(own), n_k),
                np.repeat(win.length.take(own), n_k),
                win.s.take(q),
                win.e.take(q),
                win.length.take(q),
                True,
            )
            at = np.flatnonzero(hit)  # then take: faster than boolean indexing
            found_p.append(p.take(at))
            found_q.append(q.take(at))
        if len(found_p) == 1:
            return found_p[0], found_q[0]
        return np.concatenate(found_p), np.concatenate(found_q)


def _resolve_block(
    graph: _Graph, win: _Windows, undecided: np.ndarray, pairs: _Pairs | None = None
) -> np.ndarray:
    """Greedy NMS among the ``undecided`` positions alone (``pairs``: their window pairs,
    if already counted); returns their kept mask."""
    if pairs is None:
        pairs = win.pairs(undecided, undecided)
    p, q = pairs.hits(graph)
    # direction of each suppression: rows are in greedy order within a group
    p_first = win.rows[p] < win.rows[q]
    return _resolve_rounds(np.where(p_first, p, q), np.where(p_first, q, p), undecided)


def _resolve_in_blocks(graph: _Graph, win: _Windows, rank: np.ndarray) -> np.ndarray:
    """Greedy NMS over growing blocks of rank within the group (``rank`` by position);
    returns the kept mask by position.

    Each block's members are first tested against the rows kept so far, and only the
    survivors against each other, so a row suppressed early costs one test per kept
    neighbour instead of one per overlapping neighbour. A block whose candidate pairs would
    exceed ``_PAIR_BUDGET`` is halved until they fit, which bounds the memory.
    """
    m = rank.size
    kept_at = np.zeros(m, dtype=bool)
    lo, size, top = 0, _BLOCK, int(rank.max()) + 1
    while lo < top:
        hi = min(top, lo + size)
        while True:
            block = (rank >= lo) & (rank < hi)
            if lo == 0:
                break
            against = (win.pairs(block, kept_at), win.pairs(kept_at, block))
            if against[0].total + against[1].total <= _PAIR_BUDGET or hi - lo == 1:
                break
            hi = lo + (hi - lo) // 2
        survivors = block
        if lo > 0:
            # the block's members that a kept row suppresses (IoU is symmetric), in one pass
            p, q = (against[0] + against[1]).hits(graph)
            survivors = block.copy()
            # (block owner, kept member) and (kept owner, block member) pairs; the kept
            # ends of the pairs are outside the block anyway
            survivors[p] = False
            survivors[q] = False
        among = win.pairs(survivors, survivors)
        while among.total > _PAIR_BUDGET and hi - lo > 1:
            hi = lo + (hi - lo) // 2
            survivors &= rank < hi
            among = win.pairs(survivors, survivors)
        kept_at |= _resolve_block(graph, win, survivors, among)
        lo, size = hi, 2 * size
    return kept_at


def _resolve_rounds(src: np.ndarray, dst: np.ndarray, undecided: np.ndarray) -> np.ndarray:
    """Resolve greedy NMS on a "may suppress" graph: ``src[k]`` suppresses ``dst[k]`` if
    kept, and ranks before it. Returns the mask of the ``undecided`` nodes kept.

    Greedy NMS is the unique assignment where a node is kept iff no kept node suppresses it.
    Each round keeps every undecided node with no undecided in-neighbour, suppresses their
    out-neighbours and drops the edges of decided nodes. Every round decides at least the
    best undecided node; most edges go in the first round.
    """
    undecided = undecided.copy()
    kept = np.zeros_like(undecided)
    while src.size > 0:
        has_parent = np.zeros_like(undecided)
        has_parent[dst] = True
        free = undecided & ~has_parent
        kept |= free
        undecided &= ~free
        undecided[dst[free[src]]] = False
        live = undecided[src] & undecided[dst]
        src, dst = src[live], dst[live]
    return kept | undecided  # nodes left without constraints are kept

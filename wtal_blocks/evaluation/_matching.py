"""Memory-bounded candidate pairs and greedy matching, shared by the detection protocols.

Every protocol matches *agents* to *items* greedily, one agent at a time in a fixed order: each
agent takes, among the still-free items of its own group whose value passes the threshold, the
one it prefers (largest value, ties to the item of smallest rank):

* ActivityNet: agents are predictions (class, then descending score), items are ground truths,
  ``tIoU >= threshold``; groups are ``(class, video)``.
* THUMOS'14: agents are ground truths (file order), items are detections, ``overlap >
  threshold``.
* W-TALC: agents are proposals, items are ground truths, first fit in list order.

**The matching is a serial dictatorship**, and it is computed as the stable matching it equals:
every item ranks the agents in the same processing order, and with such a common ranking the
stable matching is unique and is the one that serial processing produces. It is found by
agent-proposing deferred acceptance, vectorised: in each round every free agent proposes to its
next admissible item; each item keeps the earliest agent that ever proposed to it and rejects
the others, who move on. Every (threshold, candidate pair) is proposed at most once, so the
work is linear in the candidate pairs, whatever the shape of the input (a thousand predictions
that all want the same ground truth take two rounds, not a thousand steps).

**Memory is bounded by the input, not by the pairs.** Candidate pairs are formed a chunk of
agents at a time (at most :data:`PAIR_BUDGET` pairs, or one agent's own candidates), filtered by
the lowest threshold, and matched before the next chunk is formed: agents are processed in
order, so the items taken by earlier chunks are simply unavailable to later ones. A prediction
spanning a whole video therefore costs time proportional to the ground truths it overlaps but
never more memory than one chunk.

Candidates come from one binary search per agent: items are sorted by ``(group, start)`` and an
agent only looks at the items whose start lies in a window derived from its own segment, the
group's longest item and the least fraction of the agent that an admissible pair must cover.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AGENT_SLICE",
    "PAIR_BUDGET",
    "ItemIndex",
    "extent",
    "iter_candidate_pairs",
    "match_in_order",
    "overlapping_pairs",
    "prefer_order",
    "processing_order",
    "segmented_cummax",
    "slices",
]

_I64 = np.int64
PAIR_BUDGET = 1 << 20
"""Candidate pairs formed at once (before the threshold filter): about 30 MB of temporaries."""
_MATCH_BUDGET = 1 << 20  # threshold x pair cells in one matching step
AGENT_SLICE = 1 << 20
"""Agents whose search windows (and gathered segments) are computed at once."""
_SLACK = 1e-9  # relative margin of the pruning bounds (far above float rounding)


def _run_starts(sorted_keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Start index of each run of equal values in a sorted 1-D array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=_I64)
    change = np.empty(sorted_keys.shape[0], dtype=bool)
    change[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    return np.flatnonzero(change).astype(_I64)


def segmented_cummax(
    values: NDArray[np.float64], segments: NDArray[np.int64], *, reverse: bool = False
) -> NDArray[np.float64]:
    """Running maximum of ``values`` that restarts at every new segment id.

    Exact (it works on the ranks of the values, never adds offsets to them).

    Args:
        values: ``(n,)`` float64.
        segments: ``(n,)`` int segment ids, non-decreasing.
        reverse: run from the right (``out[i] = max(values[j], j >= i, same segment)``).

    Returns:
        ``(n,)`` float64.
    """
    n = values.shape[0]
    if n == 0:
        return values.copy()
    order = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype=_I64)
    rank[order] = np.arange(n, dtype=_I64)
    dense = np.zeros(n, dtype=_I64)
    np.cumsum(segments[1:] != segments[:-1], out=dense[1:])
    if reverse:
        # along the reversed array the dense ids decrease; flip them so offsets increase
        key = ((dense[-1] - dense) * n + rank)[::-1]
        peak = np.maximum.accumulate(key)[::-1]
        offset = (dense[-1] - dense) * n
    else:
        offset = dense * n
        peak = np.maximum.accumulate(offset + rank)
    return values[order[peak - offset]]


def processing_order(
    labels: NDArray[np.int64], scores: NDArray[np.float64], num_classes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Order by class, then descending score, ties in input order; and each class's start.

    Equal to ``np.lexsort((-scores, labels))``, about three times faster on millions of
    predictions: one radix sort by class, then one stable sort of the scores per class.

    Returns:
        ``(order (N,), class_start (num_classes + 1,))`` int64.
    """
    n = labels.shape[0]
    counts = np.bincount(labels, minlength=num_classes)
    class_start = np.zeros(num_classes + 1, dtype=_I64)
    np.cumsum(counts, out=class_start[1:])
    if n == 0:
        return np.zeros(0, dtype=_I64), class_start
    small = np.uint16 if num_classes <= np.iinfo(np.uint16).max else np.int64
    by_class = np.argsort(labels.astype(small), kind="stable").astype(_I64)
    out = np.empty(n, dtype=_I64)
    for c in np.flatnonzero(counts).tolist():
        lo, hi = int(class_start[c]), int(class_start[c + 1])
        members = by_class[lo:hi]
        out[lo:hi] = members[np.argsort(-scores[members], kind="stable")]
    return out, class_start


@dataclass(frozen=True, eq=False)
class ItemIndex:
    """Items sorted by ``(group, start)``, for window queries by many agents.

    Built once by :meth:`build`; ``extent`` must cover the agents' segments too, so that the
    float search key ``run * width + (start - t_min)`` orders every value that is searched.
    """

    order: NDArray[np.int64]  # item index at each sorted position
    groups: NDArray[np.int64]  # distinct groups, increasing
    run_lo: NDArray[np.int64]  # sorted-position range of each group
    run_hi: NDArray[np.int64]
    max_len: NDArray[np.float64]  # longest item of each group
    key: NDArray[np.float64]  # (n_items,) search key of each sorted position
    start: NDArray[np.float64]  # (n_items,) item starts / ends, original order
    end: NDArray[np.float64]
    t_min: float
    width: float
    pad: float
    keyed: bool  # False: coordinates too large for the float key, windows are whole groups

    @classmethod
    def build(
        cls,
        item_group: NDArray[np.int64],
        item_segments: NDArray[np.float64],
        extent: tuple[float, float],
    ) -> ItemIndex:
        """Index ``(n_i,)`` groups and ``(n_i, 2)`` segments; ``extent`` = (min start, max end)."""
        n_i = item_group.shape[0]
        order = np.lexsort((item_segments[:, 0], item_group)).astype(_I64)
        ig = item_group[order]
        i_start = item_segments[order, 0]
        run_lo = _run_starts(ig)
        run_hi = np.append(run_lo[1:], n_i).astype(_I64)
        max_len = (
            np.maximum.reduceat(item_segments[order, 1] - i_start, run_lo)
            if n_i
            else np.zeros(0, dtype=np.float64)
        )
        t_min, t_max = float(extent[0]), float(extent[1])
        longest = float(max_len.max()) if n_i else 0.0
        width = (t_max - t_min) + 1.0 + longest
        run_of_item = np.repeat(np.arange(run_lo.shape[0], dtype=_I64), run_hi - run_lo)
        top = float(max(run_lo.shape[0], 1)) * width * 2.0
        pad = 64.0 * float(np.finfo(np.float64).eps) * max(top, 1.0)
        keyed = bool(pad < 0.25 * width)
        return cls(
            order=order,
            groups=ig[run_lo] if n_i else np.zeros(0, dtype=_I64),
            run_lo=run_lo,
            run_hi=run_hi,
            max_len=max_len.astype(np.float64),
            key=run_of_item * width + (i_start - t_min),
            start=np.ascontiguousarray(item_segments[:, 0]),
            end=np.ascontiguousarray(item_segments[:, 1]),
            t_min=t_min,
            width=width,
            pad=pad,
            keyed=keyed,
        )

    def windows(
        self, agent_group: NDArray[np.int64], agent_segments: NDArray[np.float64], fraction: float
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Sorted-position range ``[lo, hi)`` of each agent's possible partners.

        A superset of the items of the agent's group that intersect it by at least
        ``fraction`` of the agent's length (exact-arithmetic bounds widened by a relative
        ``1e-9``): their start lies in ``[a_start - max_len + f len_a, a_end - f len_a]`` and
        they are at least ``f len_a`` long, so a group whose longest item is shorter yields
        nothing. Zero-length agents never intersect anything with positive length.
        """
        n_a = agent_group.shape[0]
        none = np.zeros(n_a, dtype=_I64)
        if self.groups.shape[0] == 0 or n_a == 0:
            return none, none.copy()
        run = np.searchsorted(self.groups, agent_group).astype(_I64)
        np.minimum(run, self.groups.shape[0] - 1, out=run)
        a_start = agent_segments[:, 0]
        a_end = agent_segments[:, 1]
        a_len = a_end - a_start
        need = fraction * a_len
        longest = self.max_len[run]
        ok = (self.groups[run] == agent_group) & (a_len > 0)
        if fraction > 0:
            ok &= longest >= need * (1.0 - _SLACK) - self.pad
        lo = self.run_lo[run].copy()
        hi = self.run_hi[run].copy()
        if self.keyed:
            margin = self.pad + _SLACK * (a_len + longest)
            base = run * self.width
            upper = base + ((a_end - self.t_min) - need) + margin
            lower = base + ((a_start - self.t_min) - longest + need) - margin
            np.maximum(lo, np.searchsorted(self.key, lower, side="left").astype(_I64), out=lo)
            np.minimum(hi, np.searchsorted(self.key, upper, side="right").astype(_I64), out=hi)
        np.maximum(hi, lo, out=hi)
        hi[~ok] = lo[~ok]
        return lo, hi


def iter_candidate_pairs(
    index: ItemIndex,
    agent_group: NDArray[np.int64],
    agent_segments: NDArray[np.float64],
    *,
    fraction: float = 0.0,
    budget: int | None = None,
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Same-group ``(agent, item)`` pairs that intersect with positive length, chunk by chunk.

    Chunks hold consecutive agents, in increasing agent index, at most ``budget`` pairs each
    (default :data:`PAIR_BUDGET`; a single agent with more candidates is a chunk of its own). Pairs whose intersection is
    below ``fraction`` of the agent's length may be left out (see :meth:`ItemIndex.windows`).

    Yields:
        ``(agent, item)`` int64 arrays, grouped by agent (increasing), items in start order.
    """
    if budget is None:
        budget = PAIR_BUDGET
    for s0, s1 in slices(agent_group.shape[0]):
        lo, hi = index.windows(agent_group[s0:s1], agent_segments[s0:s1], fraction)
        counts = hi - lo
        ends = np.cumsum(counts)
        total = int(ends[-1]) if ends.size else 0
        a = 0
        while a < s1 - s0 and total:
            done = int(ends[a - 1]) if a else 0
            b = int(np.searchsorted(ends, done + budget, side="right"))
            b = max(b, a + 1)
            c = counts[a:b]
            n = int(c.sum())
            if n:
                agent = np.repeat(np.arange(s0 + a, s0 + b, dtype=_I64), c)
                first = np.cumsum(c) - c
                pos = np.repeat(lo[a:b] - first, c) + np.arange(n, dtype=_I64)
                item = index.order[pos]
                local = agent - s0
                a_seg = agent_segments[s0:s1]
                inter = np.minimum(a_seg[local, 1], index.end[item]) - np.maximum(
                    a_seg[local, 0], index.start[item]
                )
                keep = inter > 0
                if keep.any():
                    yield agent[keep], item[keep]
            a = b


def slices(n: int) -> Iterator[tuple[int, int]]:
    """``[s0, s1)`` ranges of at most :data:`AGENT_SLICE` agents covering ``range(n)``."""
    step = AGENT_SLICE
    for s0 in range(0, n, step):
        yield s0, min(s0 + step, n)


def overlapping_pairs(
    agent_group: NDArray[np.int64],
    agent_segments: NDArray[np.float64],
    item_group: NDArray[np.int64],
    item_segments: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All same-group ``(agent, item)`` pairs that intersect with positive length, at once.

    For callers whose pairs are few by construction (proposals against ground truth, detections
    against ambiguous segments); the protocols' matching uses :func:`iter_candidate_pairs`.

    Returns:
        ``(agent_index, item_index)``, int64, ordered by agent index.
    """
    empty = (np.zeros(0, dtype=_I64), np.zeros(0, dtype=_I64))
    if agent_group.shape[0] == 0 or item_group.shape[0] == 0:
        return empty
    index = ItemIndex.build(item_group, item_segments, extent(agent_segments, item_segments))
    parts = list(iter_candidate_pairs(index, agent_group, agent_segments))
    if not parts:
        return empty
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def extent(*segments: NDArray[np.float64]) -> tuple[float, float]:
    """(smallest start, largest end) over non-empty ``(n, 2)`` arrays."""
    present = [s for s in segments if s.shape[0]]
    if not present:
        return 0.0, 0.0
    return float(min(s[:, 0].min() for s in present)), float(max(s[:, 1].max() for s in present))


def match_in_order(
    agent: NDArray[np.int64],
    item: NDArray[np.int64],
    value: NDArray[np.float64],
    thresholds: NDArray[np.float64],
    taken: NDArray[np.bool_],
    *,
    strict: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Serial-dictatorship matching of candidate pairs, for every threshold at once.

    Agents are served in increasing agent index; each takes its most preferred admissible
    item that is still free at that threshold (``value >= t``, or ``> t`` when ``strict``).

    Args:
        agent: ``(P,)`` int64, non-decreasing: pairs grouped by agent.
        item: ``(P,)`` int64 column of ``taken``.
        value: ``(P,)`` float64; inside each agent's run, pairs must be in preference order
            (value descending, then the protocol's tie-break), so admissible pairs are a prefix.
        thresholds: ``(T,)`` float64, any order.
        taken: ``(T, n_items)`` bool, items already taken by earlier agents (earlier chunks);
            updated in place with this call's matches.
        strict: compare with ``>``.

    Returns:
        ``(t_index, agent, item)`` of every match, int64.
    """
    empty = np.zeros(0, dtype=_I64)
    n_pairs = agent.shape[0]
    if n_pairs == 0:
        return empty, empty.copy(), empty.copy()
    step = max(1, _MATCH_BUDGET // max(thresholds.shape[0], 1))
    if n_pairs <= step:
        return _match_chunk(agent, item, value, thresholds, taken, strict)
    starts = _run_starts(agent)
    cuts = np.unique(starts[np.searchsorted(starts, np.arange(0, n_pairs, step), side="right") - 1])
    bounds = [*cuts.tolist(), n_pairs]
    parts = [
        _match_chunk(agent[a:b], item[a:b], value[a:b], thresholds, taken, strict)
        for a, b in itertools.pairwise(bounds)
    ]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


def _match_chunk(
    agent: NDArray[np.int64],
    item: NDArray[np.int64],
    value: NDArray[np.float64],
    thresholds: NDArray[np.float64],
    taken: NDArray[np.bool_],
    strict: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """:func:`match_in_order` on one chunk: deferred acceptance, all thresholds at once.

    A proposer is an (agent, threshold) whose best pair passes the threshold; it points at its
    current pair and, once refused, moves to the next pair of its run while that pair still
    passes (pairs are in preference order, so the admissible ones come first).
    """
    empty = np.zeros(0, dtype=_I64)
    n_pairs = agent.shape[0]
    starts = _run_starts(agent)
    run_end = np.append(starts[1:], n_pairs).astype(_I64)
    head = value[starts][None, :]
    thr = thresholds[:, None]
    t_of, run_of = np.nonzero((head > thr) if strict else (head >= thr))  # by (threshold, agent)
    n_prop = t_of.shape[0]
    if n_prop == 0:
        return empty, empty.copy(), empty.copy()
    ptr = starts[run_of]
    limit = run_end[run_of]
    n_items = taken.shape[1]
    if n_items <= max(4 * n_pairs, 1 << 16):
        local, n_local = item, n_items
    else:  # many items (THUMOS'14 detections): a dense table of only those in the chunk
        uniq, inv = np.unique(item, return_inverse=True)
        local, n_local = inv.astype(_I64).reshape(-1), uniq.shape[0]
    none = _I64(n_prop)
    # earliest proposer of each (threshold, item): proposer ids follow the agent order
    hold = np.full(thresholds.shape[0] * n_local, none, dtype=_I64)
    free = np.arange(n_prop, dtype=_I64)
    while free.size:
        p = ptr[free]
        t = t_of[free]
        refused = taken[t, item[p]]  # taken by an earlier chunk
        moved = []
        if refused.any():
            moved.append(free[refused])
            keep = ~refused
            free, p, t = free[keep], p[keep], t[keep]
        key = t * n_local + local[p]
        before = hold[key]
        np.minimum.at(hold, key, free)
        won = hold[key] == free
        moved.append(free[~won])
        ousted = before[won]
        moved.append(ousted[ousted < none])
        step = np.concatenate(moved) if len(moved) > 1 else moved[0]
        nxt = ptr[step] + 1
        ptr[step] = nxt
        alive = nxt < limit[step]
        step, nxt = step[alive], nxt[alive]
        v = value[nxt]
        th = thresholds[t_of[step]]
        free = step[(v > th) if strict else (v >= th)]
    cells = np.flatnonzero(hold < none)
    winner = hold[cells]
    t_idx = t_of[winner].astype(_I64)
    matched = item[ptr[winner]]
    taken[t_idx, matched] = True
    return t_idx, agent[starts[run_of[winner]]], matched


def prefer_order(
    agent: NDArray[np.int64],
    item: NDArray[np.int64],
    value: NDArray[np.float64],
    tiebreak: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Pairs grouped by agent, re-ordered inside each agent's run by preference.

    Preference: ``value`` descending, then ``tiebreak`` ascending (``(P,)``, the rank of each
    pair's item). Agents with a single candidate, the usual case, are left untouched.
    """
    starts = _run_starts(agent)
    counts = np.diff(np.append(starts, agent.shape[0]))
    multi = np.flatnonzero(np.repeat(counts > 1, counts))
    if multi.size == 0:
        return agent, item, value
    o = multi[np.lexsort((tiebreak[multi], -value[multi], agent[multi]))]
    perm = np.arange(agent.shape[0], dtype=_I64)
    perm[multi] = o
    return agent, item[perm], value[perm]

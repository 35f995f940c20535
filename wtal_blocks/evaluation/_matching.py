"""Vectorised greedy matching shared by the ActivityNet and THUMOS'14 protocols.

Both protocols match *agents* to *items* greedily, one agent at a time in a fixed order, and
each agent takes, among the still-free items of its own group whose overlap passes the
threshold, the one with the largest overlap (value ties go to the item with the smallest
tie-break rank):

* ActivityNet: agents are predictions (descending score), items are ground truths, a pair
  passes when ``tIoU >= threshold``; groups are ``(class, video)``.
* THUMOS'14: agents are ground truths (file order), items are detections, a pair passes when
  ``overlap > threshold``.

Only two agents that can reach the same item can influence each other. Agents are therefore
partitioned into *conflict components* (agents whose candidate items are linked), and the
r-th agent (in processing order) of every component is processed in one vectorised step, for
all thresholds at once. The number of Python-level steps is the size of the largest component,
not the number of predictions. A component is found from the time hull of an agent and its
candidate items: agents whose hulls do not overlap share no item.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["conflict_components", "greedy_match", "overlapping_pairs", "segmented_cummax"]

_I64 = np.int64


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


def overlapping_pairs(
    agent_group: NDArray[np.int64],
    agent_segments: NDArray[np.float64],
    item_group: NDArray[np.int64],
    item_segments: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All (agent, item) pairs of the same group whose segments intersect with positive length.

    Items are sorted by (group, start); each agent looks only at the window of items whose start
    lies in ``(agent_start - longest_item_of_group, agent_end)``, found with one binary search on
    a float key ``group_rank * W + start``. The key may round, so the window is widened by a
    margin larger than the rounding error (a superset); the exact intersection test follows.

    Args:
        agent_group, item_group: ``(n_a,)`` / ``(n_i,)`` int64 group ids.
        agent_segments, item_segments: ``(n_a, 2)`` / ``(n_i, 2)`` float64, ``start <= end``.

    Returns:
        ``(agent_index, item_index)``, int64, ordered by agent index.
    """
    empty = (np.zeros(0, dtype=_I64), np.zeros(0, dtype=_I64))
    n_a = agent_group.shape[0]
    n_i = item_group.shape[0]
    if n_a == 0 or n_i == 0:
        return empty
    i_order = np.lexsort((item_segments[:, 0], item_group)).astype(_I64)
    ig = item_group[i_order]
    i_start = item_segments[i_order, 0]
    i_end = item_segments[i_order, 1]
    run_starts = _run_starts(ig)
    groups = ig[run_starts]
    run_ends = np.append(run_starts[1:], n_i)
    max_len = np.maximum.reduceat(i_end - i_start, run_starts)
    # dense run index of each agent's group (a short binary search over distinct groups)
    run = np.searchsorted(groups, agent_group).astype(_I64)
    np.minimum(run, groups.shape[0] - 1, out=run)
    has = groups[run] == agent_group
    g_lo = run_starts[run]
    g_hi = run_ends[run]

    a_start = agent_segments[:, 0]
    a_end = agent_segments[:, 1]
    t_min = float(min(i_start.min(), a_start.min()))
    t_max = float(max(i_end.max(), a_end.max()))
    width = (t_max - t_min) + 1.0 + float(max_len.max())
    run_of_item = np.repeat(np.arange(groups.shape[0], dtype=_I64), run_ends - run_starts)
    top = float(groups.shape[0]) * width * 2.0
    pad = 64.0 * np.finfo(np.float64).eps * max(top, 1.0)
    if pad < 0.25 * width:
        key = run_of_item * width + (i_start - t_min)
        base = run * width
        hi = np.searchsorted(key, base + (a_end - t_min) + pad, side="right").astype(_I64)
        lo = np.searchsorted(
            key, base + (a_start - max_len[run] - t_min) - pad, side="left"
        ).astype(_I64)
        np.maximum(lo, g_lo, out=lo)
        np.minimum(hi, g_hi, out=hi)
    else:  # coordinates too large for a float key: take the whole group (still exact)
        lo, hi = g_lo, g_hi
    counts = np.maximum(hi - lo, 0)
    counts[~has] = 0
    total = int(counts.sum())
    if total == 0:
        return empty
    agent = np.repeat(np.arange(n_a, dtype=_I64), counts)
    first = np.cumsum(counts) - counts
    pos = np.repeat(lo - first, counts) + np.arange(total, dtype=_I64)
    item = i_order[pos]
    inter = np.minimum(a_end[agent], item_segments[item, 1]) - np.maximum(
        a_start[agent], item_segments[item, 0]
    )
    keep = inter > 0
    return agent[keep], item[keep]


def conflict_components(
    agent: NDArray[np.int64],
    item: NDArray[np.int64],
    agent_group: NDArray[np.int64],
    agent_segments: NDArray[np.float64],
    item_segments: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Partition the agents that have candidate pairs into independent components.

    The hull of an agent is the union span of its own segment and its candidate items.
    Two agents sharing an item have hulls that overlap with positive length, so splitting each
    group wherever a hull starts after every earlier hull ended (in start order) never separates
    two agents that compete for an item.

    Args:
        agent, item: candidate pairs, ``(P,)`` int64, grouped by agent (contiguous, increasing).

    Returns:
        ``(agents, component)``: the distinct agents (increasing) and their component ids.
    """
    starts = _run_starts(agent)
    agents = agent[starts]
    hull_s = np.minimum(
        np.minimum.reduceat(item_segments[item, 0], starts), agent_segments[agents, 0]
    )
    hull_e = np.maximum(
        np.maximum.reduceat(item_segments[item, 1], starts), agent_segments[agents, 1]
    )
    grp = agent_group[agents]
    order = np.lexsort((hull_s, grp))
    g_sorted = grp[order]
    s_sorted = hull_s[order]
    dense = np.zeros(order.shape[0], dtype=_I64)
    np.cumsum(g_sorted[1:] != g_sorted[:-1], out=dense[1:])
    reach = segmented_cummax(hull_e[order], dense)
    new = np.ones(order.shape[0], dtype=bool)
    new[1:] = (g_sorted[1:] != g_sorted[:-1]) | (s_sorted[1:] > reach[:-1])
    component = np.empty(order.shape[0], dtype=_I64)
    component[order] = np.cumsum(new) - 1
    return agents, component


def greedy_match(
    agent: NDArray[np.int64],
    item: NDArray[np.int64],
    value: NDArray[np.float64],
    agents: NDArray[np.int64],
    component: NDArray[np.int64],
    item_tiebreak: NDArray[np.int64],
    thresholds: NDArray[np.float64],
    *,
    strict: bool,
) -> NDArray[np.int64]:
    """Greedy one-to-one matching for every threshold at once.

    Agents are processed in increasing agent index. Each takes, among its free candidate items
    with ``value >= threshold`` (``>`` when ``strict``), the one with the largest value, value
    ties going to the smallest ``item_tiebreak``; the item is then no longer free at that
    threshold.

    Args:
        agent, item, value: candidate pairs ``(P,)``, grouped by agent (contiguous, increasing).
        agents, component: from :func:`conflict_components`.
        item_tiebreak: ``(n_items,)`` int64, a permutation of ``range(n_items)``.
        thresholds: ``(T,)`` float64.
        strict: compare with ``>`` instead of ``>=``.

    Returns:
        ``(T, len(agents))`` int64: the matched item of each agent, or -1.
    """
    n_thr = thresholds.shape[0]
    n_agents = agents.shape[0]
    choice = np.full((n_thr, n_agents), -1, dtype=_I64)
    if n_agents == 0:
        return choice
    n_items = item_tiebreak.shape[0]
    item_of_rank = np.empty(n_items, dtype=_I64)
    item_of_rank[item_tiebreak] = np.arange(n_items, dtype=_I64)

    pair_start = _run_starts(agent)
    pair_count = np.diff(np.append(pair_start, agent.shape[0]))
    # rank of each agent inside its component (agents are already in processing order)
    order = np.lexsort((agents, component))
    comp_sorted = component[order]
    comp_first = np.searchsorted(comp_sorted, comp_sorted, side="left")
    rank = np.empty(n_agents, dtype=_I64)
    rank[order] = np.arange(n_agents, dtype=_I64) - comp_first
    # process round by round: agents sorted by (rank, agent)
    round_order = np.argsort(rank, kind="stable")
    counts = pair_count[round_order]
    first_new = np.cumsum(counts) - counts
    total = int(counts.sum())
    gather = np.repeat(pair_start[round_order] - first_new, counts) + np.arange(total, dtype=_I64)
    r_item = item[gather]
    r_value = value[gather]
    r_tie = item_tiebreak[r_item]
    r_local = np.repeat(np.arange(n_agents, dtype=_I64), counts)  # agent slot of each pair
    sorted_rank = rank[round_order]
    n_rounds = int(sorted_rank[-1]) + 1
    agent_off = np.searchsorted(sorted_rank, np.arange(n_rounds + 1), side="left")
    pair_off = np.append(first_new, total)[agent_off]

    locked = np.zeros((n_thr, n_items), dtype=bool)
    thr = thresholds[:, None]
    none = np.int64(n_items)
    round_choice = np.full((n_thr, n_agents), -1, dtype=_I64)
    for r in range(n_rounds):
        a0, a1 = int(agent_off[r]), int(agent_off[r + 1])
        p0, p1 = int(pair_off[r]), int(pair_off[r + 1])
        v = r_value[p0:p1]
        it = r_item[p0:p1]
        ok = (v > thr) if strict else (v >= thr)
        ok &= ~locked[:, it]
        if p1 - p0 == a1 - a0:  # one candidate per agent: no reduction needed
            best = np.where(ok, r_tie[p0:p1], none)
        else:
            starts = first_new[a0:a1] - p0
            vv = np.where(ok, v, -np.inf)
            peak = np.maximum.reduceat(vv, starts, axis=1)
            local = r_local[p0:p1] - a0
            top = ok & (vv == peak[:, local])
            best = np.minimum.reduceat(np.where(top, r_tie[p0:p1], none), starts, axis=1)
        ti, ai = np.nonzero(best < none)
        if ti.size:
            chosen = item_of_rank[best[ti, ai]]
            locked[ti, chosen] = True
            round_choice[ti, a0 + ai] = chosen
    choice[:, round_order] = round_choice
    return choice

"""Soft-NMS (Bodla et al., 2017) of 1-D segments, single and batched."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from ..kernels.dispatch import Backend, resolve_backend
from . import _graph
from ._checks import (
    _check_idxs,
    _check_number,
    _check_offset,
    _check_segments_scores,
    _check_unit_interval,
)
from ._graph import (
    _argsort_desc_stable,
    _CandidateWindows,
    _compact_group_ids,
    _expand_ranges,
    _group_stable_order,
    _nonzero,
)

__all__ = ["SoftNMSMethod", "batched_soft_nms", "soft_nms"]

SoftNMSMethod = Literal["gaussian", "linear"]


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
    if int(win.count.sum()) > _graph._PAIR_BUDGET:
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
    backend: Backend | None = None,
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
        backend (Backend, optional): ``"auto"`` or ``"torch"`` (soft-NMS has no Triton kernel:
            the torch path runs on any device, and ``"triton"`` raises ``ValueError``).

    Returns:
        tuple ``(kept_segments, new_scores, kept_indices)``: ``Tensor[K, 2]`` (segments'
        dtype), ``Tensor[K]`` (scores' dtype), ``Tensor[K]`` (int64), in pick order, i.e.
        descending new score.
    """
    return _soft_nms_entry(
        segments,
        scores,
        None,
        method,
        sigma,
        iou_threshold,
        min_score,
        max_detections,
        offset,
        backend,
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
    backend: Backend | None = None,
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
        segments,
        scores,
        idxs,
        method,
        sigma,
        iou_threshold,
        min_score,
        max_detections,
        offset,
        backend,
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
    backend: Backend | None,
) -> tuple[Tensor, Tensor, Tensor]:
    _check_segments_scores(segments, scores)
    resolve_backend(backend, segments.device, op="soft-NMS", supported=("torch",))
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

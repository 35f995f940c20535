"""Soft-NMS (Bodla et al., 2017) of 1-D segments, single and batched."""

from __future__ import annotations

import math
import numbers
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .._validation import validation_enabled
from ..kernels.dispatch import Backend, resolve_backend
from . import _graph
from ._checks import (
    _check_flag,
    _check_idxs,
    _check_number,
    _check_offset,
    _check_structure,
    _check_unit_interval,
    _check_values_torch,
)
from ._graph import (
    _argsort_desc_stable,
    _CandidateWindows,
    _compact_group_ids,
    _expand_ranges,
    _group_stable_order,
    _nonzero,
)
from .voting import _check_voting_threshold, _vote

__all__ = ["SoftNMSMethod", "batched_soft_nms", "soft_nms"]

SoftNMSMethod = Literal["gaussian", "linear"]


class _Gate(NamedTuple):
    """BSN/BMN's width-dependent gate: decay ``j`` only at ``IoU > low + (high - low) *
    width_i / scale``, ``width_i = end_i - start_i`` of the picked segment."""

    low: float
    high: float
    scale: float

    def thresholds(self, width: Tensor) -> Tensor:
        # BSN/BMN's own order, t1 + (t2 - t1) * width, in float64 (width / 1.0 is exact)
        return self.low + (self.high - self.low) * (width / self.scale)


def _check_soft_nms_args(
    method: str,
    sigma: float,
    min_score: float,
    max_detections: int | None,
    strict: bool,
    width_gate: tuple[float, float] | None,
    width_scale: float,
) -> _Gate | None:
    if method not in ("gaussian", "linear"):
        raise ValueError(f"method must be 'gaussian' or 'linear', got {method!r}")
    _check_number("sigma", sigma, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)
    # decay must move every live score down, which holds only for scores >= 0
    _check_number(
        "min_score", min_score, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0
    )
    if max_detections is not None and (
        isinstance(max_detections, bool)
        or not isinstance(max_detections, numbers.Integral)
        or max_detections < 0
    ):
        raise ValueError(f"max_detections must be None or an int >= 0, got {max_detections!r}")
    if _check_flag("strict", strict) and method == "gaussian":
        raise ValueError(
            "strict applies to the linear method's iou_threshold; the Gaussian decay has none "
            "(got method='gaussian', strict=True)"
        )
    scale = _check_number(
        "width_scale", width_scale, "a finite number > 0", lambda v: math.isfinite(v) and v > 0
    )
    if width_gate is None:
        return None
    if method != "gaussian":
        raise ValueError("width_gate gates the Gaussian decay (BSN/BMN); got method='linear'")
    if not isinstance(width_gate, tuple | list) or len(width_gate) != 2:
        raise ValueError(
            f"width_gate must be None or a pair (low, high) of finite numbers, got {width_gate!r}"
        )
    low, high = (
        _check_number(f"width_gate[{i}]", v, "a finite number", math.isfinite)
        for i, v in enumerate(width_gate)
    )
    return _Gate(low, high, scale)


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
    gate: _Gate | None,
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

    decay = _Decay(method, sigma, threshold, gate)
    if decay.never:
        picked = alive  # nothing decays: every live segment is picked as it is
    else:
        # decaying pairs: a weight below 1 needs IoU > 0 (Gaussian) or IoU >= t (linear)
        win = _CandidateWindows(start, end, gid, threshold if method == "linear" else 0.0, offset)
        if int(win.count.sum()) > _graph._PAIR_BUDGET:
            picked = _soft_nms_one_by_one(win, current, alive, gid, decay, min_score)
        else:
            picked = _soft_nms_rounds(win, current, alive, decay, min_score)

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


class _Decay(NamedTuple):
    """The weight a picked segment multiplies an overlapping one's score by."""

    method: str
    sigma: float
    threshold: float  # the linear method's, already moved above t for strict ``>``
    gate: _Gate | None

    @property
    def never(self) -> bool:
        """No pair can decay (linear with a threshold above 1: strict ``IoU > 1``)."""
        return self.method == "linear" and self.threshold > 1.0

    def weight(self, iou: Tensor, picked_width: Tensor | None = None) -> Tensor:
        """Weights for pairs of IoU ``iou``; ``picked_width`` (the picked segment's
        ``end - start``, per pair) feeds the gate."""
        if self.method == "linear":
            return torch.where(iou >= self.threshold, 1.0 - iou, torch.ones_like(iou))
        weight = torch.exp(-(iou * iou) / self.sigma)
        if self.gate is None or picked_width is None:
            return weight
        return torch.where(iou > self.gate.thresholds(picked_width), weight, 1.0)


def _soft_nms_rounds(
    win: _CandidateWindows, current: Tensor, alive: Tensor, decay: _Decay, min_score: float
) -> Tensor:
    """Soft-NMS by rounds of local maxima on the sparse graph of decaying pairs.

    Updates ``current`` (float64 scores, by input index) and returns the picked mask.
    An edge joins two segments when either, picked, would decay the other; its two weights
    differ only under the width gate, which depends on the picked segment's width.
    """
    n = current.shape[0]
    owner, other = _expand_ranges(torch.arange(1, n + 1, device=current.device), win.count)
    iou = win.iou(owner, other)
    if decay.gate is None:
        weight = weight_back = decay.weight(iou)
        decaying = _nonzero(weight < 1.0)
    else:
        width = win.end - win.start  # BSN/BMN's width: no offset
        weight = decay.weight(iou, width.index_select(0, owner))  # owner picked
        weight_back = decay.weight(iou, width.index_select(0, other))  # other picked
        decaying = _nonzero((weight < 1.0) | (weight_back < 1.0))
    edges = torch.stack(
        [
            win.pos.index_select(0, owner.index_select(0, decaying)),
            win.pos.index_select(0, other.index_select(0, decaying)),
        ]
    )
    weight = weight.index_select(0, decaying)
    weight_back = weight if decay.gate is None else weight_back.index_select(0, decaying)

    picked = torch.zeros_like(alive)
    while True:
        live = _nonzero(alive.index_select(0, edges[0]) & alive.index_select(0, edges[1]))
        edges, weight = edges.index_select(1, live), weight.index_select(0, live)
        weight_back = weight if decay.gate is None else weight_back.index_select(0, live)
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
        applied = weight if decay.gate is None else torch.where(top_a, weight, weight_back)
        _apply_decays(current, target, applied.index_select(0, hit))
        alive &= current >= min_score
    return picked


def _soft_nms_one_by_one(
    win: _CandidateWindows,
    current: Tensor,
    alive: Tensor,
    gid: Tensor | None,
    decay: _Decay,
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
        width = (win.end[p] - win.start[p]).expand(rest.shape[0])
        weight = decay.weight(win.iou(torch.full_like(rest, p), rest), width)
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
    strict: bool = False,
    width_gate: tuple[float, float] | None = None,
    width_scale: float = 1.0,
    voting_threshold: float | None = None,
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

    Peer conventions, each off by default:

    * ``strict=True``: the linear decay applies at ``IoU > iou_threshold`` (the original
      soft-NMS code's ``ov > Nt``) instead of ActionFormer's/OpenTAD's ``>=``.
    * ``width_gate=(low, high)``: BSN/BMN's gated Gaussian decay (mmaction2's
      ``soft_nms_low_threshold``/``soft_nms_high_threshold``): a picked segment ``i``
      decays ``j`` only when ``IoU(i, j) > low + (high - low) * width_i / width_scale``,
      ``width_i = end_i - start_i`` (no ``offset``); ``sigma`` is their ``alpha``. BSN/BMN
      work on coordinates normalised by the video's length (``width_scale=1``; pass the
      duration for seconds). Their loops run without a score floor (``min_score=0``) and with
      their own caps (mmaction2 picks ``top_k + 1``): set ``max_detections`` to match.
    * ``voting_threshold``: ActionFormer's segment voting
      (:func:`~wtal_blocks.nms.segment_voting`) on the picked segments, weighted by the input
      ``scores``; ``kept_segments`` are then the voted boundaries.

    Args:
        segments (Tensor[N, 2]): ``(start, end)`` per segment, any float dtype, span at most
            ``1e307`` (see :func:`temporal_nms`).
        scores (Tensor[N]): score per segment.
        method (str): ``"gaussian"`` (default) or ``"linear"``.
        sigma (float): Gaussian width, > 0.
        iou_threshold (float): in ``[0, 1]``; the linear method's overlap threshold.
        min_score (float): score floor, >= 0.
        max_detections (int, optional): cap on the number of picks.
        offset (float): length convention (``0.0`` plain IoU, ``1.0`` the "+1" convention).
        strict (bool): linear decay at ``IoU > iou_threshold`` (linear method only).
        width_gate (tuple[float, float], optional): BSN/BMN's ``(low, high)`` thresholds
            (Gaussian method only).
        width_scale (float): the gate's width unit, > 0 (1 for normalised coordinates).
        voting_threshold (float, optional): in ``(0, 1]``; segment voting (scores >= 0).
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
        _SoftOptions(
            method,
            sigma,
            iou_threshold,
            min_score,
            max_detections,
            offset,
            strict,
            width_gate,
            width_scale,
            voting_threshold,
        ),
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
    strict: bool = False,
    width_gate: tuple[float, float] | None = None,
    width_scale: float = 1.0,
    voting_threshold: float | None = None,
    backend: Backend | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`soft_nms` independently within each group of ``idxs`` (Tensor[N], integer).

    ``max_detections`` caps each group; segment voting stays within each group. The
    groups' results are merged in descending new score (equal scores by index); for an
    overall cap as well (ActionFormer applies the same number per class and overall), slice
    the result.

    Returns:
        tuple ``(kept_segments, new_scores, kept_indices)`` as in :func:`soft_nms`.
    """
    return _soft_nms_entry(
        segments,
        scores,
        idxs,
        _SoftOptions(
            method,
            sigma,
            iou_threshold,
            min_score,
            max_detections,
            offset,
            strict,
            width_gate,
            width_scale,
            voting_threshold,
        ),
        backend,
    )


class _SoftOptions(NamedTuple):
    method: str
    sigma: float
    iou_threshold: float
    min_score: float
    max_detections: int | None
    offset: float
    strict: bool
    width_gate: tuple[float, float] | None
    width_scale: float
    voting_threshold: float | None


def _soft_nms_entry(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor | None,
    options: _SoftOptions,
    backend: Backend | None,
) -> tuple[Tensor, Tensor, Tensor]:
    _check_structure(segments, scores)
    if idxs is not None:
        _check_idxs(idxs, segments)
    resolve_backend(backend, segments.device, op="soft-NMS", supported=("torch",))
    threshold = _check_unit_interval("iou_threshold", options.iou_threshold)
    offset = _check_offset(options.offset)
    method = options.method
    gate = _check_soft_nms_args(
        method,
        options.sigma,
        options.min_score,
        options.max_detections,
        options.strict,
        options.width_gate,
        options.width_scale,
    )
    voting = _check_voting_threshold(options.voting_threshold)
    _check_values_torch(segments, scores, offset)
    if voting is not None and validation_enabled() and bool((scores < 0).any()):
        first = int(torch.nonzero(scores < 0)[0, 0])
        raise ValueError(
            f"scores must be >= 0 when voting_threshold is set (they weight the voting), "
            f"got {float(scores[first])} at index {first}"
        )
    if segments.shape[0] == 0:
        return segments[:0], scores[:0], torch.empty(0, dtype=torch.int64, device=segments.device)
    if options.strict:
        # IoU > t is IoU >= the next double above t, exactly
        threshold = math.nextafter(threshold, math.inf)
    segments, scores = segments.detach(), scores.detach()
    gid = None if idxs is None else _compact_group_ids(idxs)
    max_detections = None if options.max_detections is None else int(options.max_detections)
    idx, new_scores = _soft_nms_torch(
        segments,
        scores,
        gid,
        method,
        float(options.sigma),
        threshold,
        float(options.min_score),
        max_detections,
        offset,
        gate,
    )
    kept_segments = segments.index_select(0, idx)
    if voting is not None:
        kept_segments = _vote(segments, scores, idx, idxs, voting, offset)
    return kept_segments, new_scores.to(scores.dtype), idx

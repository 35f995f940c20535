"""Exact greedy temporal NMS (hard suppression), single and batched, and its module form."""

from __future__ import annotations

import math
from typing import overload

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import validation_enabled
from ..kernels.dispatch import Backend, resolve_backend
from . import _graph
from ._checks import (
    _check_flag,
    _check_idxs,
    _check_offset,
    _check_structure,
    _check_unit_interval,
    _check_values_numpy,
    _check_values_torch,
)
from ._graph import (
    _argsort_desc_stable,
    _CandidateWindows,
    _compact_group_ids,
    _expand_ranges,
    _nonzero,
    _resolve_greedy,
    _WindowPairs,
)
from ._greedy_cpu import compact_groups, greedy_nms_numpy
from .voting import _check_voting_threshold, _vote

__all__ = ["TemporalNMS", "batched_temporal_nms", "temporal_nms"]

# CPU tensors take the numpy path (``_greedy_cpu``); tests switch this off to run the torch
# path, which serves CUDA tensors, on the CPU.
_NUMPY_ON_CPU = True

# Real proposals overlap a handful of others; above this mean the work goes block by block.
_SPARSE_PAIRS_PER_SEGMENT = 32
# First block of score order in the blocked path (blocks then double).
_BLOCK = 256


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
            if sum(p.total for p in against_kept) <= _graph._PAIR_BUDGET or hi - lo == 1:
                break
            hi = lo + (hi - lo) // 2
        # (block, kept) pairs, then (kept, block) pairs: IoU is symmetric, order is free
        (block_1, kept_1), (kept_2, block_2) = (p.expand() for p in against_kept)
        in_block = torch.cat([block_1, block_2])
        hit = _suppresses(win, in_block, torch.cat([kept_1, kept_2]), threshold)
        survivors = block.clone().index_fill_(0, in_block.index_select(0, _nonzero(hit)), False)
        while True:
            among = _WindowPairs(win, survivors, survivors)
            if among.total <= _graph._PAIR_BUDGET or hi - lo == 1:
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


def _greedy_nms(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor | None,
    iou_threshold: float,
    offset: float,
    strict: bool,
    backend: Backend | None,
) -> Tensor:
    """Checks, then the backend's greedy NMS; kept indices in descending score order."""
    _check_structure(segments, scores)
    if idxs is not None:
        _check_idxs(idxs, segments)
    threshold = _check_unit_interval("iou_threshold", iou_threshold)
    offset = _check_offset(offset)
    if _check_flag("strict", strict):
        # IoU > t is IoU >= the next double above t, exactly; above 1 nothing is suppressed
        threshold = math.nextafter(threshold, math.inf)
    chosen = resolve_backend(backend, segments.device)
    if chosen == "torch" and segments.device.type == "cpu" and _NUMPY_ON_CPU:
        # float64 copies once, numpy from here on (a view when already float64)
        seg = segments.detach().to(torch.float64).numpy()
        start, end = np.ascontiguousarray(seg[:, 0]), np.ascontiguousarray(seg[:, 1])
        sc = scores.detach().to(torch.float64).numpy()
        _check_values_numpy(start, end, sc, offset)
        if start.size == 0:
            return torch.empty(0, dtype=torch.int64)
        groups = None if idxs is None else compact_groups(idxs.numpy())
        return torch.from_numpy(greedy_nms_numpy(start, end, sc, groups, threshold, offset))
    _check_values_torch(segments, scores, offset)
    if segments.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64, device=segments.device)
    if threshold > 1.0:
        return torch.sort(scores.detach(), descending=True, stable=True).indices
    if chosen == "triton":
        from ..kernels.nms_triton import batched_nms_triton

        return batched_nms_triton(segments.detach(), scores.detach(), idxs, threshold, offset)
    gid = None if idxs is None else _compact_group_ids(idxs)
    return _greedy_nms_torch(segments.detach(), scores.detach(), gid, threshold, offset)


@overload
def temporal_nms(
    segments: Tensor,
    scores: Tensor,
    iou_threshold: float,
    *,
    offset: float = ...,
    strict: bool = ...,
    voting_threshold: None = ...,
    backend: Backend | None = ...,
) -> Tensor: ...


@overload
def temporal_nms(
    segments: Tensor,
    scores: Tensor,
    iou_threshold: float,
    *,
    offset: float = ...,
    strict: bool = ...,
    voting_threshold: float,
    backend: Backend | None = ...,
) -> tuple[Tensor, Tensor]: ...


def temporal_nms(
    segments: Tensor,
    scores: Tensor,
    iou_threshold: float,
    *,
    offset: float = 0.0,
    strict: bool = False,
    voting_threshold: float | None = None,
    backend: Backend | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Exact greedy non-maximum suppression of 1-D segments.

    Visits segments by descending score, keeps the best remaining one and suppresses every
    remaining segment whose IoU with it is ``>= iou_threshold``; repeats until none remain.
    The result is exactly that of the textbook loop (see the module notes for the float64
    tie-exact IoU, the degenerate case and the score-tie rule).

    Args:
        segments (Tensor[N, 2]): ``(start, end)`` per segment, ``end >= start``; any
            floating-point dtype (computed in float64). The span ``max(end) - min(start) +
            offset`` must be at most ``1e307``, so that no length or union overflows.
        scores (Tensor[N]): score per segment, floating point.
        iou_threshold (float): in ``[0, 1]``; a segment is suppressed at ``IoU >= iou_threshold``.
        offset (float): length convention, ``len = end - start + offset``. ``0.0`` for plain
            IoU, ``1.0`` for the official UM code's "+1" convention (UM uses 0.6 with 1.0).
        strict (bool): suppress at ``IoU > iou_threshold`` instead (torchvision's and
            Detectron2's ``nms``, the original soft-NMS code's hard mode). Off by default:
            UM, BaS-Net, CoLA, ActionFormer and OpenTAD suppress at ``>=``.
        voting_threshold (float, optional): in ``(0, 1]``; also refine the kept segments'
            boundaries by :func:`~wtal_blocks.nms.segment_voting` (ActionFormer's
            ``voting_thresh``) and return them. Off by default.
        backend (Backend, optional): ``"torch"``, ``"triton"`` or ``"auto"``; default from
            ``WTAL_BLOCKS_BACKEND``, else ``"auto"`` (Triton for CUDA tensors when available).

    Returns:
        Tensor[K] (int64): indices of the kept segments, in descending score order. With
        ``voting_threshold``, the tuple ``(kept_indices, voted_segments)`` where
        ``voted_segments`` (Tensor[K, 2], segments' dtype) are the refined boundaries.

    Example:
        >>> import torch
        >>> from wtal_blocks import temporal_nms
        >>> segments = torch.tensor([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0]])
        >>> temporal_nms(segments, torch.tensor([0.9, 0.8, 0.7]), 0.6)
        tensor([0, 2])
    """
    voting = _check_voting_threshold(voting_threshold)
    keep = _greedy_nms(segments, scores, None, iou_threshold, offset, strict, backend)
    if voting is None:
        return keep
    return keep, _vote_checked(segments, scores, keep, None, voting, offset)


@overload
def batched_temporal_nms(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor,
    iou_threshold: float,
    *,
    offset: float = ...,
    strict: bool = ...,
    voting_threshold: None = ...,
    backend: Backend | None = ...,
) -> Tensor: ...


@overload
def batched_temporal_nms(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor,
    iou_threshold: float,
    *,
    offset: float = ...,
    strict: bool = ...,
    voting_threshold: float,
    backend: Backend | None = ...,
) -> tuple[Tensor, Tensor]: ...


def batched_temporal_nms(
    segments: Tensor,
    scores: Tensor,
    idxs: Tensor,
    iou_threshold: float,
    *,
    offset: float = 0.0,
    strict: bool = False,
    voting_threshold: float | None = None,
    backend: Backend | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Greedy NMS run independently within each group (class, or video x class) in one call.

    Segments with different ``idxs`` never suppress each other. Unlike torchvision's
    coordinate-offset trick, groups are kept apart by comparing only same-group pairs, so the
    IoU of every pair is computed from the original coordinates and exact ties are preserved.

    Args:
        segments (Tensor[N, 2]): ``(start, end)`` per segment (any float dtype; span at most
            ``1e307`` as in :func:`temporal_nms`).
        scores (Tensor[N]): score per segment.
        idxs (Tensor[N]): integer group id per segment (any integer dtype and values).
        iou_threshold (float): in ``[0, 1]``; suppression at ``IoU >= iou_threshold``.
        offset (float): length convention (``0.0`` plain IoU, ``1.0`` official "+1").
        strict (bool): suppress at ``IoU > iou_threshold`` instead (see :func:`temporal_nms`).
        voting_threshold (float, optional): segment voting within each group (see
            :func:`temporal_nms`).
        backend (Backend, optional): as in :func:`temporal_nms`.

    Returns:
        Tensor[K] (int64): indices of the kept segments of all groups, in descending score
        order (equal scores in input order), as torchvision's ``batched_nms``; with
        ``voting_threshold``, ``(kept_indices, voted_segments)`` as in :func:`temporal_nms`.
    """
    voting = _check_voting_threshold(voting_threshold)
    keep = _greedy_nms(segments, scores, idxs, iou_threshold, offset, strict, backend)
    if voting is None:
        return keep
    return keep, _vote_checked(segments, scores, keep, idxs, voting, offset)


def _vote_checked(
    segments: Tensor,
    scores: Tensor,
    keep: Tensor,
    idxs: Tensor | None,
    threshold: float,
    offset: float,
) -> Tensor:
    """Voting on inputs the NMS call validated; only the weights' sign is left to check."""
    if validation_enabled() and segments.shape[0] > 0 and bool((scores < 0).any()):
        first = int(torch.nonzero(scores < 0)[0, 0])
        raise ValueError(
            f"scores must be >= 0 when voting_threshold is set (they weight the voting), "
            f"got {float(scores[first])} at index {first}"
        )
    return _vote(segments, scores, keep, idxs, threshold, float(offset))


class TemporalNMS(nn.Module):
    """Module form of :func:`temporal_nms` / :func:`batched_temporal_nms`.

    Holds the configuration (threshold, length convention, peer options, backend) so that a
    model's post-processing is visible in its printout; it has no parameters or buffers.
    ``TemporalNMS(0.6, offset=1.0)`` is the official UM setting. With ``voting_threshold``
    set, ``forward`` returns ``(kept_indices, voted_segments)``.
    """

    def __init__(
        self,
        iou_threshold: float,
        *,
        offset: float = 0.0,
        strict: bool = False,
        voting_threshold: float | None = None,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        self.iou_threshold = _check_unit_interval("iou_threshold", iou_threshold)
        self.offset = _check_offset(offset)
        self.strict = _check_flag("strict", strict)
        self.voting_threshold = _check_voting_threshold(voting_threshold)
        self.backend = backend

    def forward(
        self, segments: Tensor, scores: Tensor, idxs: Tensor | None = None
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Kept indices (Tensor[K], int64, descending score); per group when ``idxs`` is
        given; with voting, ``(kept_indices, voted_segments)``."""
        keep = _greedy_nms(
            segments, scores, idxs, self.iou_threshold, self.offset, self.strict, self.backend
        )
        if self.voting_threshold is None:
            return keep
        return keep, _vote_checked(segments, scores, keep, idxs, self.voting_threshold, self.offset)

    def extra_repr(self) -> str:
        text = f"iou_threshold={self.iou_threshold}, offset={self.offset}"
        if self.strict:
            text += ", strict=True"
        if self.voting_threshold is not None:
            text += f", voting_threshold={self.voting_threshold}"
        return text + f", backend={self.backend!r}"

"""Segment voting after NMS (ActionFormer's ``voting_thresh``), on the sparse candidate pairs."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from .._validation import check_tensor, shape_str, validation_enabled
from ._checks import (
    _check_idxs,
    _check_number,
    _check_offset,
    _check_segments_scores,
)
from ._graph import _CandidateWindows, _compact_group_ids, _expand_ranges, _WindowPairs

__all__ = ["segment_voting"]

# Candidate pairs examined at once (bounds the working memory for any input).
_VOTE_PAIRS = 1 << 20


def _check_voting_threshold(value: object) -> float | None:
    """``None`` (no voting) or a number in ``(0, 1]``."""
    if value is None:
        return None
    return _check_number(
        "voting_threshold", value, "None or a number in (0, 1]", lambda v: 0.0 < v <= 1.0
    )


def segment_voting(
    segments: Tensor,
    scores: Tensor,
    kept: Tensor,
    voting_threshold: float,
    *,
    idxs: Tensor | None = None,
    offset: float = 0.0,
) -> Tensor:
    """Segment voting (ActionFormer's ``voting_thresh``): refine each kept segment's boundaries.

    Each kept segment ``k`` becomes the score-weighted mean of the segments ``j`` of its
    group, itself included, that overlap it at ``IoU(k, j) >= voting_threshold``::

        w_j       = scores[j] if IoU(k, j) >= voting_threshold else 0
        start'_k  = sum_j w_j * start_j / sum_j w_j,   end'_k likewise

    This is ActionFormer's ``seg_voting`` (``libs/utils/nms.py``; OpenTAD has the same),
    which weights by the input scores (not by IoU, and not by soft-NMS's decayed scores) and
    votes among *all* input segments, suppressed ones included. ActionFormer applies it in
    its class-agnostic mode only, to one group; here each group of ``idxs`` votes apart.
    IoU follows :mod:`wtal_blocks.nms` (float64, ``offset``; ActionFormer uses ``offset=0``).
    Two deviations, both outside ActionFormer's inputs: a kept segment whose weights sum to 0
    (all scores 0) keeps its boundaries instead of becoming NaN, and negative scores are
    refused. The sums are in float64 and in another order than ActionFormer's (it normalises
    the weights first), so the boundaries agree to ~1e-15 relative.

    Args:
        segments (Tensor[N, 2]): ``(start, end)`` of every segment before NMS, any float dtype.
        scores (Tensor[N]): their scores (the weights), ``>= 0``.
        kept (Tensor[K]): int64 indices of the segments to refine (NMS's output).
        voting_threshold (float): in ``(0, 1]``.
        idxs (Tensor[N], optional): integer group ids; segments vote only within their group.
        offset (float): length convention (``0.0`` plain IoU, ``1.0`` the "+1" convention).

    Returns:
        Tensor[K, 2]: the refined ``(start, end)`` of ``segments[kept]``, segments' dtype.
    """
    _check_segments_scores(segments, scores, _check_offset(offset))
    threshold = _check_voting_threshold(voting_threshold)
    if threshold is None:
        raise ValueError("voting_threshold must be a number in (0, 1], got None")
    check_tensor("kept", kept)
    n = segments.shape[0]
    if kept.dim() != 1 or kept.dtype != torch.int64 or kept.device != segments.device:
        raise ValueError(
            f"kept must be an int64 tensor of shape (K,) on {segments.device}, got dtype "
            f"{kept.dtype}, shape {shape_str(kept)} on {kept.device}"
        )
    if kept.numel() > 0 and (int(kept.min()) < 0 or int(kept.max()) >= n):
        raise ValueError(f"kept must hold indices in [0, {n}), got {kept.min()}..{kept.max()}")
    if idxs is not None:
        _check_idxs(idxs, segments)
    if validation_enabled() and n > 0 and bool((scores < 0).any()):
        first = int(torch.nonzero(scores < 0)[0, 0])
        raise ValueError(
            f"scores must be >= 0 to weight the voting, got {float(scores[first])} at index {first}"
        )
    return _vote(segments, scores, kept, idxs, threshold, float(offset))


def _vote(
    segments: Tensor,
    scores: Tensor,
    kept: Tensor,
    idxs: Tensor | None,
    threshold: float,
    offset: float,
) -> Tensor:
    """:func:`segment_voting` on validated inputs."""
    n = segments.shape[0]
    if kept.numel() == 0:
        return segments[:0]
    device = segments.device
    seg = segments.detach().to(torch.float64)
    start, end = seg[:, 0].contiguous(), seg[:, 1].contiguous()
    weight = scores.detach().to(torch.float64)
    gid = None if idxs is None else _compact_group_ids(idxs)
    win = _CandidateWindows(start, end, gid, threshold, offset)
    position = torch.empty_like(win.pos)
    position[win.pos] = torch.arange(n, device=device)
    kept_at = torch.zeros(n, dtype=torch.bool, device=device)
    kept_at[position.index_select(0, kept)] = True
    everyone = torch.ones(n, dtype=torch.bool, device=device)

    w = weight.index_select(0, win.pos)  # by sorted position, as the windows hold them
    total = torch.where(kept_at, w, 0.0)  # every kept segment votes for itself (IoU 1)
    sum_start = total * win.start
    sum_end = total * win.end
    # (kept owner, any member) pairs vote for the owner, (any owner, kept member) for the
    # member: each unordered pair once, as windows hold the later-starting partner only
    for pairs, voter_is_member in (
        (_WindowPairs(win, kept_at, everyone), True),
        (_WindowPairs(win, everyone, kept_at), False),
    ):
        members = torch.nonzero(pairs.member).flatten()
        for lo, hi in _chunks(pairs.count):
            k, j = _expand_ranges(pairs.first[lo:hi], pairs.count[lo:hi])
            p = pairs.owners[lo:hi].index_select(0, k)
            q = members.index_select(0, j)
            close = torch.nonzero(win.iou(p, q) >= threshold).flatten()
            p, q = p.index_select(0, close), q.index_select(0, close)
            target, voter = (p, q) if voter_is_member else (q, p)
            wv = w.index_select(0, voter)
            total.index_add_(0, target, wv)
            sum_start.index_add_(0, target, wv * win.start.index_select(0, voter))
            sum_end.index_add_(0, target, wv * win.end.index_select(0, voter))
    at = position.index_select(0, kept)
    total = total.index_select(0, at)
    voted = torch.stack(
        [sum_start.index_select(0, at) / total, sum_end.index_select(0, at) / total], 1
    )
    # no weight at all (every voter scored 0): keep the boundaries, not 0/0
    voted = torch.where((total > 0)[:, None], voted, seg.index_select(0, kept))
    return voted.to(segments.dtype)


def _chunks(count: Tensor) -> list[tuple[int, int]]:
    """Consecutive owner ranges whose pairs number about ``_VOTE_PAIRS`` at most (an owner
    with more pairs forms its own range)."""
    m = count.shape[0]
    total = int(count.sum())
    if total <= _VOTE_PAIRS:
        return [(0, m)]
    cuts = torch.searchsorted(
        torch.cumsum(count, 0),
        torch.arange(_VOTE_PAIRS, total, _VOTE_PAIRS, device=count.device),
    )
    bounds = sorted({0, m, *(int(c) + 1 for c in cuts.tolist())})
    bounds = [b for b in bounds if b <= m]
    return list(itertools.pairwise(bounds))

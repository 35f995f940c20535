"""Selecting segments by a ranking signal: pseudo action/background (easy) and hard segments.

Weakly-supervised methods pick, per video, the segments a ranking signal deems most action-like
and most background-like, and train on them as if they were labelled:

* **Pseudo action / background segments** (UM Sec. 3.2, the MIL step; CoLA's *easy* snippets):
  the ``action_k`` segments of largest ranking value, and the ``background_k`` of smallest.
  UM ranks by feature magnitude (``action_k = T // 9``, ``background_k = T // 4``), CoLA by
  actionness (``T // 5`` for both). In training both official codes multiply the two rankings
  ``r`` and ``max_t r - r`` by a dropout applied to ones (a *multiplier*: 0 or ``1/(1-p)``), so
  a random share of the segments is demoted to 0 at every step. :func:`select_pseudo_segments`.
* **Hard segments** (CoLA): around the boundaries of the median-thresholded ranking, the
  segments just inside an action region (eroded by ``m`` but not by ``M``) and just outside it
  (dilated by ``M`` but not by ``m``). :func:`hard_segment_bands`, :func:`select_hard_segments`.

CoLA's paper says *snippet* where this library says *segment*: the same thing, one feature
vector of the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import repeat
from torch import Tensor, nn

from ._validation import check_finite_where, check_mask, check_rank, shape_str, valid_lengths
from .pooling import _resolve_k, masked_topk

__all__ = [
    "PseudoSegmentSelector",
    "PseudoSegments",
    "SelectedSegments",
    "gather_segments",
    "hard_segment_bands",
    "mean_at",
    "median_over_time",
    "select_hard_segments",
    "select_pseudo_segments",
]


@dataclass(frozen=True)
class SelectedSegments:
    """Time indices of selected segments, per video.

    Attributes:
        index: ``(B, K)`` int64 time indices, in descending ranking order.
        valid: ``(B, K)`` bool; False marks padding when ``k`` varies per video.
        k: ``(B,)`` int64 number of selected segments per video.
    """

    index: Tensor
    valid: Tensor
    k: Tensor


@dataclass(frozen=True)
class PseudoSegments:
    """Pseudo action and pseudo background segments of each video (see the module docstring).

    Attributes:
        action_index: ``(B, K_act)`` int64 time indices, in descending ranking order.
        action_valid: ``(B, K_act)`` bool; False marks padding when ``k`` varies per video.
        background_index: ``(B, K_bkg)`` int64.
        background_valid: ``(B, K_bkg)`` bool.
        action_k: ``(B,)`` int64 number of pseudo action segments per video.
        background_k: ``(B,)`` int64 number of pseudo background segments per video.
    """

    action_index: Tensor
    action_valid: Tensor
    background_index: Tensor
    background_valid: Tensor
    action_k: Tensor
    background_k: Tensor

    @property
    def action(self) -> SelectedSegments:
        return SelectedSegments(self.action_index, self.action_valid, self.action_k)

    @property
    def background(self) -> SelectedSegments:
        return SelectedSegments(self.background_index, self.background_valid, self.background_k)


def _check_ranking(name: str, ranking: Tensor, mask: Tensor | None) -> tuple[int, int]:
    check_rank(name, ranking, 2, "(B, T)")
    b, t = ranking.shape
    if t == 0:
        raise ValueError(f"{name} has no segments (T = 0)")
    if not ranking.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {ranking.dtype}")
    check_mask(mask, b, t)
    check_finite_where(name, ranking, mask)  # padding is ignored
    return b, t


def _top(
    score: Tensor, k: Tensor, k_max: int, mask: Tensor | None, stable: bool
) -> tuple[Tensor, Tensor]:
    """``(index (B, K), valid (B, K))`` of the ``k`` largest ``score`` per video."""
    if not stable:
        _, index, valid = masked_topk(score[:, :, None], k, mask, k_max=k_max)
        return index[:, :, 0], valid
    if mask is not None:
        score = score.masked_fill(~mask, float("-inf"))
    index = torch.sort(score, dim=1, descending=True, stable=True).indices[:, :k_max]
    valid = torch.arange(k_max, device=score.device)[None, :] < k[:, None]
    return torch.where(valid, index, index.new_zeros(())), valid


def select_pseudo_segments(
    ranking: Tensor,
    action_k: int | Tensor | None = None,
    background_k: int | Tensor | None = None,
    *,
    action_ratio: float | None = None,
    background_ratio: float | None = None,
    mask: Tensor | None = None,
    multiplier: Tensor | None = None,
    stable: bool = False,
) -> PseudoSegments:
    """The ``action_k`` most and ``background_k`` least action-like segments of ``ranking``.

    Selection follows the official UM and CoLA codes exactly: pseudo action = the ``action_k``
    largest of ``r * M``, pseudo background = the ``background_k`` largest of
    ``(max_t r - r) * M``, with ``r = ranking`` and ``M = multiplier`` (ones when omitted). The
    maximum is taken over the valid segments.

    Args:
        ranking: ``(B, T)`` ranking signal: UM's feature magnitudes, CoLA's actionness.
        action_k, background_k: counts (int or ``(B,)``), or give the ratios instead:
        action_ratio, background_ratio: ``k = max(1, ⌊T_n / ratio⌋)`` (UM: 9 and 4, CoLA: 5
            and 5).
        mask: optional ``(B, T)`` bool validity mask; padding is never selected.
        multiplier: optional ``(B, T)`` non-negative multiplier ``M`` (training-time dropout).
        stable: among equal values, select the earlier segment first (else the order of
            ``torch.topk``, which is unspecified among ties).

    Returns:
        :class:`PseudoSegments`.

    Example:
        >>> import torch
        >>> magnitudes = torch.tensor([[0.5, 3.0, 0.1, 2.0, 0.2]])
        >>> pseudo = select_pseudo_segments(magnitudes, action_k=2, background_k=2)
        >>> pseudo.action_index, pseudo.background_index
        (tensor([[1, 3]]), tensor([[2, 4]]))
    """
    b, t = _check_ranking("ranking", ranking, mask)
    counts = valid_lengths(mask, b, t, ranking.device)
    masked = mask is not None
    ka, ka_max = _resolve_k("action_k", action_k, action_ratio, counts, t, masked)
    kb, kb_max = _resolve_k("background_k", background_k, background_ratio, counts, t, masked)
    if multiplier is not None and tuple(multiplier.shape) != (b, t):
        raise ValueError(
            f"multiplier must have shape (B, T) = ({b}, {t}), got {shape_str(multiplier)}"
        )
    values = ranking if mask is None else ranking.masked_fill(~mask, float("-inf"))
    peak = values.max(dim=1, keepdim=True).values
    act_score = ranking
    bkg_score = peak - ranking
    if multiplier is not None:
        act_score = act_score * multiplier
        bkg_score = bkg_score * multiplier
    act_idx, act_valid = _top(act_score, ka, ka_max, mask, stable)
    bkg_idx, bkg_valid = _top(bkg_score, kb, kb_max, mask, stable)
    return PseudoSegments(act_idx, act_valid, bkg_idx, bkg_valid, ka, kb)


class PseudoSegmentSelector(nn.Module):
    """Pseudo action / background selection with a training-time dropout multiplier.

    In training mode a Dropout(``dropout``) mask applied to ones multiplies the selection
    scores (official behaviour: a random subset of segments is demoted at every step); in
    eval mode the selection is a plain top/bottom-k.

    Args:
        action_ratio: ratio for ``action_k = max(1, ⌊T / action_ratio⌋)`` (9).
        background_ratio: ratio for ``background_k = max(1, ⌊T / background_ratio⌋)`` (4).
        dropout: drop probability of the selection mask (0.7).

    Shape:
        ``ranking (B, T)``, optional ``mask (B, T)`` -> :class:`PseudoSegments`.
    """

    def __init__(
        self, action_ratio: float = 9.0, background_ratio: float = 4.0, dropout: float = 0.7
    ) -> None:
        super().__init__()
        if not (action_ratio >= 1 and background_ratio >= 1):
            raise ValueError(
                f"action_ratio and background_ratio must be >= 1, got {action_ratio}, {background_ratio}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.action_ratio = action_ratio
        self.background_ratio = background_ratio
        self.dropout = dropout

    def forward(
        self, ranking: Tensor, mask: Tensor | None = None, multiplier: Tensor | None = None
    ) -> PseudoSegments:
        """Select; in training mode ``multiplier`` (``(B, T)``) replaces the internally drawn mask."""
        if not self.training:
            multiplier = None
        elif multiplier is None and self.dropout > 0:
            multiplier = F.dropout(torch.ones_like(ranking), p=self.dropout, training=True)
        return select_pseudo_segments(
            ranking,
            action_ratio=self.action_ratio,
            background_ratio=self.background_ratio,
            mask=mask,
            multiplier=multiplier,
        )

    def extra_repr(self) -> str:
        return f"action_ratio={self.action_ratio}, background_ratio={self.background_ratio}, dropout={self.dropout}"


def median_over_time(ranking: Tensor, mask: Tensor | None = None) -> Tensor:
    """NumPy's median of each video's valid values: ``(B, T)`` -> ``(B,)``.

    For an even count it is the mean of the two middle values (``torch.median`` returns the
    lower one), computed as ``(a + b) / 2`` in the input's dtype, as ``np.median`` does.
    """
    b, t = ranking.shape
    counts = valid_lengths(mask, b, t, ranking.device)
    values = ranking if mask is None else ranking.masked_fill(~mask, float("inf"))
    ordered = torch.sort(values, dim=1).values
    lo = torch.gather(ordered, 1, ((counts - 1) // 2)[:, None])[:, 0]
    hi = torch.gather(ordered, 1, (counts // 2)[:, None])[:, 0]
    return (lo + hi) / 2


def _erode(binary: Tensor, k: int) -> Tensor:
    """``out[t] = 1`` iff ``binary`` is 1 at every ``t + j``, ``j ∈ [-⌊k/2⌋, k-1-⌊k/2⌋]``;
    positions outside the sequence count as 0 (SciPy's ``binary_erosion`` with ``(1, k)`` ones)."""
    left, right = k // 2, k - 1 - k // 2
    holes = F.pad(1.0 - binary, (left, right), value=1.0)
    return 1.0 - F.max_pool1d(holes[:, None], k, stride=1)[:, 0]


def _dilate(binary: Tensor, k: int) -> Tensor:
    """``out[t] = 1`` iff ``binary`` is 1 at some ``t - j``, ``j ∈ [-⌊k/2⌋, k-1-⌊k/2⌋]``;
    positions outside the sequence count as 0 (SciPy's ``binary_dilation`` with ``(1, k)`` ones)."""
    left, right = k - 1 - k // 2, k // 2
    padded = F.pad(binary, (left, right), value=0.0)
    return F.max_pool1d(padded[:, None], k, stride=1)[:, 0]


def hard_segment_bands(
    ranking: Tensor, *, inner: int = 3, outer: int = 6, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """CoLA's hard-segment bands around the action regions of ``ranking``.

    The ranking is binarised per video at its median (``r > median``, NumPy's median of the
    valid values), then eroded and dilated along time with windows of ones of length ``inner``
    (``m`` = 3) and ``outer`` (``M`` = 6); padding counts as outside the video.

    Args:
        ranking: ``(B, T)`` (CoLA: the actionness).
        inner, outer: the window lengths ``m < M``.
        mask: optional ``(B, T)`` bool validity mask.

    Returns:
        ``(inside, outside)``, each ``(B, T)`` bool: ``erode_m - erode_M`` (action segments
        near a boundary) and ``dilate_M - dilate_m`` (background segments near a boundary).
    """
    _check_ranking("ranking", ranking, mask)
    if not 1 <= inner < outer:
        raise ValueError(f"need 1 <= inner < outer, got inner={inner}, outer={outer}")
    binary = (ranking > median_over_time(ranking, mask)[:, None]).to(ranking.dtype)
    if mask is not None:
        binary = binary.masked_fill(~mask, 0.0)
    inside = (_erode(binary, inner) - _erode(binary, outer)) > 0
    outside = (_dilate(binary, outer) - _dilate(binary, inner)) > 0
    if mask is not None:
        inside, outside = inside & mask, outside & mask
    return inside, outside


def select_hard_segments(
    ranking: Tensor,
    hard_k: int | Tensor | None = None,
    *,
    hard_ratio: float | None = None,
    inner: int = 3,
    outer: int = 6,
    mask: Tensor | None = None,
) -> tuple[SelectedSegments, SelectedSegments]:
    """CoLA's hard action and hard background segments.

    Hard action: the ``hard_k`` largest of ``r * inside``; hard background: the ``hard_k``
    largest of ``r * outside`` (the *most* action-like segments of the outer band), with the
    bands of :func:`hard_segment_bands`. When a band holds fewer than ``hard_k`` segments of
    non-zero ranking, the remaining picks are zero-valued segments, as in the official code;
    among equal values the earlier segment is picked first (the official ``torch.sort`` leaves
    that order unspecified). The selection carries no gradient.

    Args:
        ranking: ``(B, T)`` (CoLA: actionness, non-negative).
        hard_k: count (int or ``(B,)``), or ``hard_ratio``: ``k = max(1, ⌊T_n / ratio⌋)``
            (CoLA: 20).
        inner, outer: the band windows ``m`` and ``M`` (3 and 6).
        mask: optional ``(B, T)`` bool validity mask; padding is never selected.

    Returns:
        ``(hard_action, hard_background)`` :class:`SelectedSegments`.
    """
    b, t = _check_ranking("ranking", ranking, mask)
    counts = valid_lengths(mask, b, t, ranking.device)
    k, k_max = _resolve_k("hard_k", hard_k, hard_ratio, counts, t, mask is not None)
    values = ranking.detach()
    inside, outside = hard_segment_bands(values, inner=inner, outer=outer, mask=mask)
    zero = values.new_zeros(())
    act_idx, act_valid = _top(torch.where(inside, values, zero), k, k_max, mask, True)
    bkg_idx, bkg_valid = _top(torch.where(outside, values, zero), k, k_max, mask, True)
    return SelectedSegments(act_idx, act_valid, k), SelectedSegments(bkg_idx, bkg_valid, k)


def gather_segments(x: Tensor, index: Tensor) -> Tensor:
    """Gather segments along time: ``x (B, T, D)``, ``index (B, K)`` -> ``(B, K, D)``."""
    return torch.gather(x, 1, repeat(index, "b k -> b k d", d=x.shape[2]))


def mean_at(values: Tensor, selected: SelectedSegments) -> Tensor:
    """Mean of ``values (B, T)`` or ``(B, T, D)`` over each video's selected segments.

    Returns:
        ``(B,)`` or ``(B, D)``.
    """
    if values.dim() == 2:
        picked = torch.gather(values, 1, selected.index)
        weight = selected.valid.to(picked.dtype)
    else:
        picked = gather_segments(values, selected.index)
        weight = selected.valid.to(picked.dtype)[:, :, None]
    total = (picked * weight).sum(dim=1)
    count = selected.valid.sum(dim=1).clamp(min=1).to(picked.dtype)
    return total / (count if values.dim() == 2 else count[:, None])

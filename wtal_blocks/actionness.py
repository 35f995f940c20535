"""Class-agnostic actionness: CoLA's ranking signal (Zhang et al., CVPR 2021, Sec. 3.1).

CoLA ranks the segments of a video by how action-like they are, whatever the class: the
*actionness* of a segment is the sum over classes of its (ReLU'd, hence non-negative) class
activations. It plays the role UM gives to the feature magnitude: the easy segments are the
most and least actionable ones (:func:`wtal_blocks.snippets.select_pseudo_segments`), the
hard segments lie at the boundaries of its median-thresholded regions
(:func:`wtal_blocks.snippets.select_hard_segments`), and at test time its min-max
normalisation is the second family of thresholds (:mod:`wtal_blocks.inference.cola`).
"""

from __future__ import annotations

from torch import Tensor

from ._validation import check_finite_where, check_mask, check_rank

__all__ = ["actionness"]


def actionness(cas: Tensor, mask: Tensor | None = None) -> Tensor:
    """The actionness ``a_t = Σ_c A[t, c]`` of each segment: ``(B, T, C) -> (B, T)``.

    The paper's class-agnostic aggregation of the CAS (Sec. 3.1; equation number not
    verified). The official code sums the CAS after the classifier's ReLU, without the
    sigmoid the paper describes, so the actionness is non-negative and zero exactly where all
    ``C`` class logits of a segment are ``<= 0``; this function sums whatever it is given.

    Args:
        cas: ``(B, T, C)`` float class activation sequence as CoLA's network emits it
            (non-negative).
        mask: optional ``(B, T)`` bool validity mask; padded segments get actionness 0.

    Returns:
        ``(B, T)`` tensor of ``cas``'s dtype, ``cas.sum(dim=2)`` (the official reduction).

    Example:
        >>> import torch
        >>> from wtal_blocks.actionness import actionness
        >>> actionness(torch.tensor([[[0.0, 0.5], [1.0, 2.0]]]))
        tensor([[0.5000, 3.0000]])
    """
    check_rank("cas", cas, 3, "(B, T, C)")
    if not cas.is_floating_point():
        raise ValueError(f"cas must be a floating-point tensor, got dtype {cas.dtype}")
    check_mask(mask, cas.shape[0], cas.shape[1])
    check_finite_where("cas", cas, mask)
    out = cas.sum(dim=2)
    return out if mask is None else out.masked_fill(~mask, 0.0)

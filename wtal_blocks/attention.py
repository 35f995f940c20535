"""Foreground attention and the two-branch, weight-sharing forward of BaS-Net.

BaS-Net (Lee, Uh, Byun, AAAI 2020) adds a *filtering module* to a CAS network: a per-segment
foreground weight ``w_t`` in (0, 1), predicted from the input features alone. The same CAS
network then runs twice with shared weights:

* the **base branch** on the input features ``x``;
* the **suppression branch** on ``w · x``, the features scaled by their segment's foreground
  weight, so that background segments are suppressed before classification.

The pieces, each one named function or module:

* :class:`ForegroundFilter`: the filtering module, ``x (B, T, F) -> w (B, T)``;
* :func:`suppress_background`: the suppression branch's input ``w_t · x_t``;
* :func:`shared_branches`: one shared classifier on both inputs, with independent dropout
  multipliers (in training the official code calls the network once per branch, so each
  branch draws its own dropout).

The equation numbers of the paper could not be checked against its text here; docstrings
describe each equation and say "(equation number not verified)".

Padding: every function takes an optional ``mask (B, T)`` (True = valid segment); padded
segments get a foreground weight of 0 and a suppressed feature of 0, so they never contribute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ._validation import check_mask, check_rank, shape_str
from .layers import temporal_conv

__all__ = ["ForegroundFilter", "shared_branches", "suppress_background"]

LEAKY_SLOPE = 0.01
"""Negative slope of every LeakyReLU of BaS-Net (PyTorch's default)."""


class ForegroundFilter(nn.Module):
    """BaS-Net's filtering module: one foreground weight per segment.

    ``w_t = sigmoid(conv_2(LeakyReLU(conv_1(x_t))))`` with two kernel-1 convolutions along time
    (the paper's filtering module; equation number not verified). Its submodules carry the
    official names, so its ``state_dict`` keys are ``conv_1.0.weight (hidden, F, 1)``,
    ``conv_1.0.bias (hidden,)``, ``conv_2.0.weight (1, hidden, 1)`` and ``conv_2.0.bias (1,)``.

    Args:
        feature_dim: ``F``, the input feature size.
        hidden: the hidden size (512 in the official code).

    Shape:
        ``x (B, T, F)`` float, optional ``mask (B, T)`` bool -> ``(B, T)`` weights in (0, 1), 0
        at padded segments.
    """

    def __init__(self, feature_dim: int, hidden: int = 512) -> None:
        super().__init__()
        if feature_dim < 1 or hidden < 1:
            raise ValueError(
                f"feature_dim and hidden must be >= 1, got feature_dim={feature_dim}, "
                f"hidden={hidden}"
            )
        self.feature_dim = feature_dim
        self.hidden = hidden
        self.conv_1 = nn.Sequential(
            nn.Conv1d(feature_dim, hidden, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(LEAKY_SLOPE),
        )
        self.conv_2 = nn.Sequential(
            nn.Conv1d(hidden, 1, kernel_size=1, stride=1, padding=0), nn.Sigmoid()
        )

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        check_rank("x", x, 3, "(B, T, F)")
        if x.shape[2] != self.feature_dim:
            raise ValueError(
                f"x must have F = feature_dim = {self.feature_dim} channels, got shape "
                f"{shape_str(x)}"
            )
        check_mask(mask, x.shape[0], x.shape[1])
        conv_1, act_1 = self.conv_1[0], self.conv_1[1]
        conv_2, act_2 = self.conv_2[0], self.conv_2[1]
        assert isinstance(conv_1, nn.Conv1d) and isinstance(conv_2, nn.Conv1d)
        weights = act_2(temporal_conv(act_1(temporal_conv(x, conv_1)), conv_2))[:, :, 0]
        return weights if mask is None else weights.masked_fill(~mask, 0.0)

    def extra_repr(self) -> str:
        return f"feature_dim={self.feature_dim}, hidden={self.hidden}"


def suppress_background(x: Tensor, weights: Tensor, mask: Tensor | None = None) -> Tensor:
    """The suppression branch's input: each segment's features times its foreground weight.

    ``x^supp_t = w_t · x_t`` (the paper's suppression branch input; equation number not
    verified). The official code multiplies the ``(B, T, F)`` features by the ``(B, T, 1)``
    weights, broadcasting over features.

    Args:
        x: ``(B, T, F)`` input features.
        weights: ``(B, T)`` foreground weights (:class:`ForegroundFilter`).
        mask: optional ``(B, T)`` bool validity mask; padded segments become 0.

    Returns:
        ``(B, T, F)``, the dtype of ``x``.
    """
    check_rank("x", x, 3, "(B, T, F)")
    check_rank("weights", weights, 2, "(B, T)")
    if tuple(weights.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"weights must have shape (B, T) = {tuple(x.shape[:2])}, got {shape_str(weights)}"
        )
    check_mask(mask, x.shape[0], x.shape[1])
    out = weights[:, :, None] * x
    return out if mask is None else out.masked_fill(~mask[:, :, None], 0.0)


Classifier = Callable[[Tensor, "Tensor | None", "Tensor | None"], Tensor]
"""``classifier(x (B, T, F), multiplier (B, T, D) or None, mask (B, T) or None) -> (B, T, K)``:
a network whose dropout is replaced by ``multiplier`` when one is given (drawn internally
otherwise) and which keeps padded segments (``mask == False``) out of the valid outputs."""


def shared_branches(
    classifier: Classifier,
    inputs: Sequence[Tensor],
    multipliers: Sequence[Tensor | None] | None = None,
    mask: Tensor | None = None,
) -> list[Tensor]:
    """Run one classifier, with shared weights, on several branch inputs at once.

    BaS-Net's base and suppression branches are the same CAS network applied to ``x`` and to
    ``w · x`` (the paper's two-branch weight-sharing architecture). The inputs are stacked
    along the batch and classified in one call, which equals one call per branch: every
    segment of every branch is classified independently of the others, and so is its dropout
    (a multiplier per branch, or internally drawn dropout, which is independent per element).

    Args:
        classifier: ``(x, multiplier, mask) -> output``, batch first (see :data:`Classifier`).
        inputs: the branch inputs, each ``(B, T, F)``, all of one shape.
        multipliers: ``None`` (eval mode, or dropout drawn by ``classifier``), or one entry per
            branch: every entry a tensor (the branch's dropout multiplier, batch first), or
            every entry ``None``.
        mask: optional ``(B, T)`` bool validity mask, the same for every branch.

    Returns:
        The classifier's output for each branch, in the order of ``inputs``.
    """
    if not inputs:
        raise ValueError("inputs must hold at least one branch input, got none")
    shape = tuple(inputs[0].shape)
    for i, x in enumerate(inputs):
        check_rank(f"inputs[{i}]", x, 3, "(B, T, F)")
        if tuple(x.shape) != shape:
            raise ValueError(
                f"inputs[{i}] must have the shape of inputs[0] {shape}, got {shape_str(x)}"
            )
    mult: Tensor | None = None
    if multipliers is not None:
        if len(multipliers) != len(inputs):
            raise ValueError(
                f"multipliers must have one entry per branch ({len(inputs)}), got "
                f"{len(multipliers)}"
            )
        given = [m for m in multipliers if m is not None]
        if given and len(given) != len(multipliers):
            raise ValueError("multipliers must be all tensors or all None, got a mixture")
        if given:
            first = tuple(given[0].shape)
            if first[0] != shape[0] or any(tuple(m.shape) != first for m in given):
                raise ValueError(
                    "multipliers must share one shape whose batch size is that of the inputs "
                    f"({shape[0]}), got {[tuple(m.shape) for m in given]}"
                )
            mult = torch.cat(given, dim=0)
    check_mask(mask, shape[0], shape[1])
    if len(inputs) == 1:
        return [classifier(inputs[0], mult, mask)]
    stacked_mask = None if mask is None else mask.repeat(len(inputs), 1)
    out = classifier(torch.cat(list(inputs), dim=0), mult, stacked_mask)
    return list(out.split(shape[0], dim=0))

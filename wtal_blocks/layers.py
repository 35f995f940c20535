"""Temporal convolutions on ``(B, T, F)`` sequences, the layers every reference model is made of.

The WTAL models of this library (UM, BaS-Net, CoLA) are stacks of 1-D convolutions over time
applied to feature sequences. Their official ``state_dict`` s hold ``nn.Conv1d`` weights, which
the models keep under the official names; these functions apply such a layer to a
time-major ``(B, T, F)`` tensor.

On the CPU a ``kernel 3, padding 1`` convolution runs as one im2col GEMM, several times faster
than the oneDNN convolution there (forward and backward); elsewhere it is ``conv1d``. Both
compute the same sums, in a different order (float32 results agree to ~1e-6 relative).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

__all__ = ["pointwise_conv", "temporal_conv"]


def temporal_conv(x: Tensor, conv: nn.Conv1d) -> Tensor:
    """Apply ``conv`` along time: ``x (B, T, F)`` -> ``(B, T, D)``.

    Args:
        x: ``(B, T, F)`` features, time-major.
        conv: an ``nn.Conv1d(F, D, kernel_size=k, padding=(k - 1) // 2)`` with stride 1 and an
            odd ``k`` (the output has ``T`` steps).

    Returns:
        ``(B, T, D)``, the convolution's output (no activation).
    """
    k = conv.kernel_size[0]
    if conv.stride[0] != 1 or k % 2 == 0 or conv.padding != ((k - 1) // 2,):
        raise ValueError(
            f"temporal_conv needs a stride-1, odd-kernel, same-padded Conv1d, got {conv}"
        )
    if k == 1:
        return pointwise_conv(x, conv.weight, conv.bias)
    if x.device.type == "cpu" and k == 3:
        # im2col + one GEMM: the three shifted copies side by side, weight laid out to match
        padded = F.pad(x, (0, 0, 1, 1))
        cols = torch.cat([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], dim=2)  # (B, T, 3F)
        return F.linear(cols, rearrange(conv.weight, "d f k -> d (k f)"), conv.bias)
    return rearrange(conv(rearrange(x, "b t f -> b f t")), "b d t -> b t d")


def pointwise_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A kernel-1 ``Conv1d`` along time as a matrix product: ``(B, T, F)`` -> ``(B, T, D)``.

    Args:
        x: ``(B, T, F)``.
        weight: ``(D, F, 1)``, an ``nn.Conv1d`` weight.
        bias: ``(D,)`` or None.
    """
    return F.linear(x, weight[:, :, 0], bias)

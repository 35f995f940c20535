"""Temporal convolutions on ``(B, T, F)`` sequences, the layers every reference model is made of.

The WTAL models of this library (UM, BaS-Net, CoLA) are stacks of 1-D convolutions over time
applied to feature sequences. Their official ``state_dict`` s hold ``nn.Conv1d`` weights, which
the models keep under the official names; these functions apply such a layer to a
time-major ``(B, T, F)`` tensor.

A kernel-``k`` convolution is ``conv1d`` on a channels-first view (oneDNN on the CPU, cuDNN on
CUDA); a kernel-1 one is a matrix product on the time-major tensor itself. An im2col GEMM
(the three shifted copies side by side, one ``linear``) computes the same sums in another order;
with torch 2.13 on a 2-core x86 CPU it is 2x *slower* than oneDNN's convolution at UM's shapes
(B 16, T 750, F 1024, D 2048: 0.95 s against 0.48 s for a forward, 1.8 s against 1.0 s with
the backward), so it is not used.
"""

from __future__ import annotations

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
    return rearrange(conv(rearrange(x, "b t f -> b f t")), "b d t -> b t d")


def pointwise_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A kernel-1 ``Conv1d`` along time as a matrix product: ``(B, T, F)`` -> ``(B, T, D)``.

    Args:
        x: ``(B, T, F)``.
        weight: ``(D, F, 1)``, an ``nn.Conv1d`` weight.
        bias: ``(D,)`` or None.
    """
    return F.linear(x, weight[:, :, 0], bias)

"""Argument checks shared by the blocks.

Every check raises :class:`ValueError` (or :class:`TypeError` for a wrong type) whose
message names the argument, what was expected and what was received, so that a bad call
fails loudly instead of producing a silently wrong number.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "check_finite",
    "check_mask",
    "check_probabilities",
    "check_rank",
    "check_tensor",
    "set_validation",
    "shape_str",
    "valid_lengths",
    "validation_enabled",
]


_ENABLED = True


def validation_enabled() -> bool:
    """Whether value checks (NaN/inf, probability ranges) run; shape checks always run."""
    return _ENABLED


class set_validation:
    """Turn the value checks on or off, globally or within a ``with`` block.

    The value checks (NaN/inf, ranges) read tensor contents, which costs a host-device
    synchronisation on CUDA. They are on by default; a tuned training loop on a GPU may switch
    them off once the pipeline is known to be sound. Shape checks are free and always run.
    """

    def __init__(self, enabled: bool) -> None:
        global _ENABLED
        self._previous = _ENABLED
        _ENABLED = bool(enabled)

    def __enter__(self) -> set_validation:
        return self

    def __exit__(self, *exc: object) -> None:
        global _ENABLED
        _ENABLED = self._previous


def shape_str(x: Tensor) -> str:
    """``(2, 750, 20)``-style rendering of a tensor's shape for error messages."""
    return "(" + ", ".join(str(s) for s in x.shape) + ")"


def check_tensor(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_rank(name: str, x: Tensor, ranks: int | Sequence[int], layout: str) -> None:
    """Require ``x.dim()`` to be one of ``ranks``; ``layout`` documents the expected axes."""
    check_tensor(name, x)
    allowed = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if x.dim() not in allowed:
        raise ValueError(
            f"{name} must have shape {layout} ({' or '.join(str(r) for r in allowed)}-D), "
            f"got shape {shape_str(x)}"
        )


def check_finite(name: str, x: Tensor) -> None:
    """Reject NaN and +/-inf (integer and boolean tensors are always finite)."""
    if not _ENABLED:
        return
    if not x.is_floating_point() or x.numel() == 0:
        return
    # one pass: a finite sum means every value is finite (a huge but finite tensor whose sum
    # overflows only takes the exact path below)
    if bool(torch.isfinite(x.sum(dtype=torch.float64))):
        return
    if not bool(torch.isfinite(x).all()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise ValueError(
            f"{name} must be finite, got {n_nan} NaN and {n_inf} inf value(s) "
            f"in a tensor of shape {shape_str(x)}"
        )


def check_finite_where(name: str, x: Tensor, mask: Tensor | None) -> None:
    """:func:`check_finite` on the valid entries ``x[mask]`` (all of ``x`` without a mask).

    With checks off it returns at once: ``x[mask]`` alone would read the device (its size).
    """
    if _ENABLED:
        check_finite(name, x if mask is None else x[mask])


def check_probabilities(name: str, x: Tensor) -> None:
    check_finite(name, x)
    if _ENABLED and x.numel() > 0 and (bool((x < 0).any()) or bool((x > 1).any())):
        raise ValueError(
            f"{name} must hold probabilities in [0, 1], got values in "
            f"[{float(x.min())}, {float(x.max())}]"
        )


def check_mask(mask: Tensor | None, batch: int, time: int, *, name: str = "mask") -> Tensor | None:
    """Validate an optional boolean ``(B, T)`` validity mask (True = real segment)."""
    if mask is None:
        return None
    check_tensor(name, mask)
    if mask.dtype != torch.bool:
        raise ValueError(f"{name} must be a boolean tensor, got dtype {mask.dtype}")
    if tuple(mask.shape) != (batch, time):
        raise ValueError(
            f"{name} must have shape (B, T) = ({batch}, {time}), got {shape_str(mask)}"
        )
    if _ENABLED and mask.numel() > 0 and not bool(mask.any(dim=1).all()):
        empty = torch.nonzero(~mask.any(dim=1)).flatten().tolist()
        raise ValueError(f"{name} has videos with zero valid segments (batch indices {empty})")
    return mask


def valid_lengths(mask: Tensor | None, batch: int, time: int, device: torch.device) -> Tensor:
    """Number of valid segments per video, ``(B,)`` int64."""
    if mask is None:
        return torch.full((batch,), time, dtype=torch.long, device=device)
    return mask.sum(dim=1)

"""Dropout multipliers drawn explicitly, so a training step is the same on 1 or N processes.

A network draws its dropout from torch's global generator by default. A recipe can instead
draw every multiplier of a step itself, for the *global* batch, from a dedicated generator
(:meth:`DropoutMultipliers.sample`), and hand each process its slice: a data-parallel run then
gives the same numbers as a single-process one. A multiplier is dropout applied to ones: each
entry is 0 (dropped) or ``1 / (1 - p)`` (kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from .._validation import shape_str

__all__ = ["DropoutMultipliers", "MultiplierSpec"]

MultiplierSpec = Mapping[str, tuple[tuple[int, ...], float]]
"""Name -> (shape with the batch first, drop probability p) of each multiplier of a model."""


@dataclass(frozen=True)
class DropoutMultipliers:
    """The dropout multipliers of one training step, by name (a model's ``multiplier_spec``).

    Attributes:
        tensors: name -> multiplier, batch first (UM: ``features (B, T, D)`` and
            ``selection (B, T)``).
    """

    tensors: Mapping[str, Tensor]

    @staticmethod
    def sample(
        spec: MultiplierSpec,
        generator: torch.Generator,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> DropoutMultipliers:
        """Draw every multiplier of ``spec`` from ``generator``, in the spec's order."""
        tensors = {}
        for name, (shape, p) in spec.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"dropout probability of {name!r} must be in [0, 1], got {p}")
            scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
            keep = torch.empty(shape, device=device, dtype=dtype)
            tensors[name] = keep.bernoulli_(1.0 - p, generator=generator).mul_(scale)
        return DropoutMultipliers(tensors)

    def slice(self, start: int, stop: int) -> DropoutMultipliers:
        """The multipliers of videos ``start:stop`` (one process's share of a global batch)."""
        return DropoutMultipliers({k: v[start:stop] for k, v in self.tensors.items()})

    def get(self, name: str, shape: tuple[int, ...]) -> Tensor:
        """The multiplier ``name``, checked to have ``shape``.

        Raises:
            ValueError: no such multiplier, or another shape.
        """
        if name not in self.tensors:
            raise ValueError(f"multipliers has no {name!r} entry (it has {sorted(self.tensors)})")
        value = self.tensors[name]
        if tuple(value.shape) != tuple(shape):
            raise ValueError(
                f"multipliers[{name!r}] must have shape {tuple(shape)}, got {shape_str(value)}"
            )
        return value

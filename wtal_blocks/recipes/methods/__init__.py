"""The method registry: a method is its configuration, model, objective and post-processor.

The recipe (training, evaluation, seeds, ablation, the ``wtal`` command) is written once
against :class:`Method`; each published method registers one. Adding a method is writing its
configuration class and four builders, and calling :func:`register_method` (see the how-to
"Assemble your own method").
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ...data.base import Sampling
from ...proposals import VideoProposals
from ..config import RecipeConfig

__all__ = [
    "Method",
    "Objective",
    "PostProcessor",
    "available_methods",
    "config_from_dict",
    "get_method",
    "method_of",
    "register_method",
]


class Objective(Protocol):
    """``objective(output, labels) -> (total, terms)``: the scalar to minimise and its
    detached terms for logging (``terms["loss_total"]`` included)."""

    def __call__(self, output: Any, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]: ...


class PostProcessor(Protocol):
    """``post(output, lengths, durations) -> detections``, one :class:`VideoProposals` per
    video of the batch (seconds, scores, class indices), in descending score order."""

    def __call__(
        self, output: Any, lengths: Tensor, durations: Tensor | None = None
    ) -> list[VideoProposals]: ...


@dataclass(frozen=True)
class Method:
    """A WTAL method as the recipe sees it.

    Attributes:
        name: the ``--method`` value (``"um"``).
        title: the paper, for messages and docs.
        config_type: its :class:`RecipeConfig` subclass (official defaults).
        build_model: ``(config, feature_dim, num_classes) -> nn.Module``; the module's forward
            takes ``(x (B, T, F), mask=None, *, multipliers=None)``, returns an output with
            ``video_probs (B, C)``, and it has ``multiplier_spec(batch, time)``.
        build_objective: ``config -> Objective``.
        build_post_processor: ``config -> PostProcessor``.
        load_checkpoint: ``(path, config, feature_dim, num_classes, device) -> nn.Module``, from
            an official-format ``state_dict`` read with ``weights_only=True``.
        test_sampling: ``config -> Sampling`` of the test set.
        loss_terms: the names of the objective's logged terms.
        ablation: rows ``(name, folder, config changes)`` of the method's ablation table.
    """

    name: str
    title: str
    config_type: type[RecipeConfig]
    build_model: Callable[[Any, int, int], nn.Module]
    build_objective: Callable[[Any], Objective]
    build_post_processor: Callable[[Any], PostProcessor]
    load_checkpoint: Callable[[str | os.PathLike[str], Any, int, int, torch.device], nn.Module]
    test_sampling: Callable[[Any], Sampling] = field(default=lambda config: "uniform")
    loss_terms: tuple[str, ...] = ("loss_total",)
    ablation: Sequence[tuple[str, str, dict[str, Any]]] = ()


_REGISTRY: dict[str, Method] = {}
_BUILTIN = ("um", "basnet", "cola")  # listed first, in this order


def register_method(method: Method) -> Method:
    """Add ``method`` to the registry (its name must be new)."""
    _load_builtin(method.name)  # a built-in name is taken even before its module is imported
    if method.name in _REGISTRY:
        raise ValueError(f"a method named {method.name!r} is already registered")
    if method.config_type.method != method.name:
        raise ValueError(
            f"{method.config_type.__name__}.method is {method.config_type.method!r}, "
            f"not {method.name!r}"
        )
    _REGISTRY[method.name] = method
    return method


def _load_builtin(name: str | None = None) -> None:
    """Import the built-in method ``name`` (all of them when None); each module registers its
    method when first imported, so a run pays only for the method it uses."""
    for builtin in _BUILTIN if name is None else (name,) if name in _BUILTIN else ():
        importlib.import_module(f"{__name__}.{builtin}")


def available_methods() -> tuple[str, ...]:
    """The method names: the built-in ones (UM first, the default), then the registered ones."""
    return _BUILTIN + tuple(n for n in _REGISTRY if n not in _BUILTIN)


def get_method(name: str) -> Method:
    """The method registered as ``name``.

    Raises:
        ValueError: no such method (the message lists the available ones).
    """
    _load_builtin(name)
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(available_methods())}")
    return _REGISTRY[name]


def config_from_dict(values: dict[str, Any]) -> RecipeConfig:
    """The configuration of whichever method ``values["method"]`` names (``"um"`` if absent)."""
    return get_method(str(values.get("method", "um"))).config_type.from_dict(values)


def method_of(config: RecipeConfig) -> Method:
    """The method a configuration belongs to."""
    return get_method(type(config).method)

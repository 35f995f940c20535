"""Reading weights safely: ``torch.load(..., weights_only=True)`` and a strict check of the
official ``state_dict`` layout, with one-line errors that name the file and the key.

Only tensors and plain containers are ever unpickled (``weights_only=True``); a file that
needs anything else is refused, and no message suggests turning that protection off.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from itertools import chain
from typing import TypeVar

import torch
from torch import Tensor, nn

M = TypeVar("M", bound=nn.Module)

__all__ = ["CheckpointError", "build_with_weights", "check_state_dict", "load_weights"]

Dim = int | str
"""A dimension of an expected shape: a fixed size, or a symbol (``"F"``) bound by the file."""


_SYMBOLS = {"F": "feature size F", "C": "number of classes C", "D": "embedded size D"}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and the problem."""


def load_weights(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> object:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Raises:
        CheckpointError: the file is missing, a folder, truncated, not a torch file, or holds
            something other than tensors and plain containers.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise CheckpointError(f"{name}: expected a checkpoint file, got a folder")
    if not os.path.isfile(name):
        raise CheckpointError(f"{name}: checkpoint file not found")
    try:
        return torch.load(name, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling refused, truncated or not a torch file
        raise CheckpointError(
            f"{name}: not a readable weights-only checkpoint ({_load_failure(exc, name)}); only tensors "
            "and plain containers are loaded, never pickled code"
        ) from None


def _load_failure(exc: BaseException, name: str) -> str:
    """Why ``torch.load`` refused a file, in our words: torch's own message suggests turning
    ``weights_only`` off, which this library never does, so it is not passed on."""
    text = str(exc)
    with open(name, "rb") as handle:
        head = handle.read(64).lstrip()
    if head[:1] in (b"{", b"["):
        return "it is a JSON or text file, not a torch checkpoint"
    if "PytorchStreamReader" in text:
        return "a corrupt or truncated torch file"
    if "Unsupported global" in text:
        found = text.split("Unsupported global:", 1)[1].split(" was not", 1)[0].strip()
        return f"it holds a Python object ({found.removeprefix('GLOBAL ')}), not only tensors"
    if "Weights only load failed" in text or "WeightsUnpickler" in text:
        return "it is not a torch checkpoint (a pickle with unsupported content, or another format)"
    if not text.strip():
        return "the file is empty or truncated"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_state_dict(
    state: object,
    path: str | os.PathLike[str],
    expected: Mapping[str, tuple[Dim, ...]],
    *,
    what: str,
    bound: Mapping[str, int] | None = None,
) -> tuple[dict[str, Tensor], dict[str, int]]:
    """Check an official-format ``state_dict`` against its expected keys and shapes.

    Args:
        state: what :func:`load_weights` returned. A training checkpoint of this library
            (``{"model": state_dict, ...}``) is unwrapped.
        path: the file, for the messages.
        expected: key -> shape, each dimension an int or a symbol (``"F"``, ``"C"`` ...).
        what: the model's name, for the messages (``"UM"``).
        bound: symbols whose size is known in advance (``{"F": 2048}``).

    Returns:
        ``(state_dict, sizes)``: the float tensors by key, and the size of every symbol.

    Raises:
        CheckpointError: not a mapping of string keys to tensors, a missing or unexpected key,
            a shape that contradicts the layout or another key, or a non-finite weight.
    """
    name = os.fspath(path)
    if isinstance(state, dict) and isinstance(state.get("model"), dict) and "step" in state:
        state = state["model"]  # our training checkpoints wrap the weights
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{name}: not a {what} state_dict (expected a mapping of parameter names to tensors, "
            f"got {type(state).__name__})"
        )
    bad_keys = [k for k in state if not isinstance(k, str)]
    if bad_keys:
        raise CheckpointError(f"{name}: state_dict keys must be strings, got {bad_keys[0]!r}")
    missing = [k for k in expected if k not in state]
    extra = sorted(k for k in state if k not in expected)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra[:5]}{' ...' if len(extra) > 5 else ''}")
        raise CheckpointError(
            f"{name}: not an official {what} state_dict ({'; '.join(parts)}); expected exactly "
            f"{list(expected)}"
        )
    sizes = dict(bound or {})
    out: dict[str, Tensor] = {}
    for key, dims in expected.items():
        value = state[key]
        if not isinstance(value, Tensor):
            raise CheckpointError(
                f"{name}: key {key!r} holds a {type(value).__name__}, expected a tensor"
            )
        if not value.is_floating_point():
            raise CheckpointError(f"{name}: key {key!r} has dtype {value.dtype}, expected floats")
        shape = tuple(value.shape)
        layout = "(" + ", ".join(str(d) for d in dims) + ")"
        if len(shape) != len(dims):
            raise CheckpointError(
                f"{name}: key {key!r} has shape {_shape(shape)}, expected {layout}"
            )
        for size, dim in zip(shape, dims, strict=True):
            if isinstance(dim, int):
                ok = size == dim
            elif bound is not None and dim in bound and size != bound[dim]:
                raise CheckpointError(
                    f"{name}: checkpoint has {_SYMBOLS.get(dim, dim)} = {size} (key {key!r} of "
                    f"shape {_shape(shape)}), expected {bound[dim]}"
                )
            else:
                ok = sizes.setdefault(dim, size) == size and size >= 1
            if not ok:
                detail = "" if isinstance(dim, int) else f" with {dim} = {sizes[dim]}"
                raise CheckpointError(
                    f"{name}: key {key!r} has shape {_shape(shape)}, expected {layout}{detail}"
                )
        # a finite sum proves every weight finite (NaN and inf propagate); only an overflowing
        # or non-finite sum needs the element-wise check
        if value.numel() and not math.isfinite(float(value.sum())):
            if not bool(torch.isfinite(value).all()):
                raise CheckpointError(f"{name}: key {key!r} holds NaN or inf weights")
        out[key] = value
    return out, sizes


def build_with_weights(factory: Callable[[], M], state: Mapping[str, Tensor]) -> M:
    """The module ``factory()`` builds, holding the weights of ``state`` (checked, strict keys).

    The module is built on the meta device and the weights assigned to it, converted to its
    parameters' dtypes, so no random initialisation is computed only to be overwritten (and the
    global random generator is not advanced). A module whose construction makes tensors that are
    not in its ``state_dict`` is built the ordinary way instead.
    """
    with torch.device("meta"):
        model = factory()
    own = dict(chain(model.named_parameters(), model.named_buffers()))
    converted = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    model.load_state_dict(converted, strict=True, assign=True)
    if any(t.is_meta for t in chain(model.parameters(), model.buffers())):
        model = factory()
        model.load_state_dict(dict(state), strict=True)
    return model

"""One place that picks the implementation of a batched op.

Rule (torchvision's ``batched_nms`` style: one signature, several strategies):

* ``backend="auto"`` (default): the Triton kernel for CUDA tensors when ``triton`` is
  importable, the vectorised torch path otherwise.
* ``backend="torch"`` / ``backend="triton"`` force a path. ``"triton"`` on CPU tensors is
  allowed only under Triton's interpreter (``TRITON_INTERPRET=1`` set before ``triton`` is
  first imported), which runs the very same kernel code on the CPU; this is how CI tests the
  kernels without a GPU.
* The environment variable ``WTAL_BLOCKS_BACKEND`` (``auto|torch|triton``) overrides the
  default for every call that does not pass ``backend`` explicitly, for benchmarking.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Literal

import torch

Backend = Literal["auto", "torch", "triton"]
BACKEND_ENV_VAR = "WTAL_BLOCKS_BACKEND"
_VALID = ("auto", "torch", "triton")


@functools.cache
def triton_available() -> bool:
    """True when ``import triton`` succeeds (checked once per process)."""
    if importlib.util.find_spec("triton") is None:
        return False
    try:
        import triton  # noqa: F401
    except Exception:  # a broken install must not break the torch path
        return False
    return True


def triton_interpreter_enabled() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def resolve_backend(
    backend: str | None,
    device: torch.device,
    *,
    op: str = "this op",
    supported: tuple[str, ...] = ("torch", "triton"),
) -> Literal["torch", "triton"]:
    """Return the concrete backend an op should run for tensors on ``device``.

    ``supported`` lists the backends the op has; ``"auto"`` only picks among them, and an
    explicit request for another one raises ``ValueError`` naming ``op``.
    """
    requested = backend if backend is not None else os.environ.get(BACKEND_ENV_VAR, "auto")
    if requested not in _VALID:
        source = "backend" if backend is not None else BACKEND_ENV_VAR
        raise ValueError(f"{source} must be one of {_VALID}, got {requested!r}")
    if requested == "auto":
        if "triton" in supported and device.type == "cuda" and triton_available():
            return "triton"
        return "torch"
    if requested not in supported:
        if backend is None:  # an environment-wide preference the op cannot follow
            return "torch"
        raise ValueError(
            f"{op} has no {requested!r} backend (it has {', '.join(supported)}); "
            "use backend='auto' or 'torch'"
        )
    if requested == "triton":
        if not triton_available():
            raise RuntimeError(
                "backend='triton' needs the optional dependency: pip install 'wtal_blocks[cuda]'"
            )
        if device.type != "cuda" and not triton_interpreter_enabled():
            raise ValueError(
                f"backend='triton' got tensors on {device}; Triton kernels run on CUDA, or on "
                "the CPU under the interpreter (set TRITON_INTERPRET=1 before importing triton)"
            )
        return "triton"
    return "torch"

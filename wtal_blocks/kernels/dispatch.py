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
* Top-k MIL pooling's ``"auto"`` also looks at the shape (:func:`topk_backend_for`): below the
  measured crossover :data:`TOPK_TRITON_MIN_ELEMENTS` ``torch.topk`` is as fast or faster, and
  it stays the choice there.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Literal

import torch

Backend = Literal["auto", "torch", "triton"]
ConcreteBackend = Literal["torch", "triton"]
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


TOPK_TRITON_MIN_ELEMENTS: dict[tuple[str, int], int] = {
    ("forward", 4): 240_000,
    ("forward", 2): 500_000,
    ("training", 4): 1_500_000,
    ("training", 2): 1_900_000,
}
"""Smallest ``B·T·C`` at which ``"auto"`` top-k pooling takes the Triton kernel, by pass
(``"forward"``: no gradient, inference; ``"training"``: forward + backward) and bytes per
element (2: float16/bfloat16, 4: float32; float64 uses the float32 entry).

From the H200 measurements in ``docs/benchmarks.md`` (kernel vs ``torch.topk(x, k, 1)`` + mean,
``k = T // 9``) at ``(16, 750, 20)`` (240k elements) and ``(16, 4096, 200)`` (13.1M), with each
path's time interpolated as a power of the size between the two: float32 forward ties at
240k (0.0368 vs 0.0367 ms) and the kernel is 3.0x faster at 13.1M; float32 forward + backward,
1.76x slower at 240k and 1.9x faster at 13.1M, crosses near 1.5M; float16, near 0.5M (forward)
and 1.9M (training). ``bash benchmarks/gpu_check.sh`` re-measures a sweep of sizes and prints the
crossover it finds next to these values."""


def topk_backend_for(numel: int, element_size: int, training: bool) -> ConcreteBackend:
    """The faster top-k pooling path for a CUDA tensor of ``numel`` elements (the table
    :data:`TOPK_TRITON_MIN_ELEMENTS`), when the Triton kernel is available.

    Args:
        numel: ``B·T·C`` of the scores.
        element_size: bytes per element (``scores.element_size()``).
        training: True for a call whose gradient is tracked (forward + backward).
    """
    key = ("training" if training else "forward", 2 if element_size <= 2 else 4)
    return "triton" if numel >= TOPK_TRITON_MIN_ELEMENTS[key] else "torch"

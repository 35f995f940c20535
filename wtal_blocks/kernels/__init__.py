"""Compute backends for the batched ops.

:mod:`wtal_blocks.kernels.dispatch` decides, per call, whether an op runs its vectorised
torch implementation or its Triton kernel. The Triton modules are imported lazily, so the
library works without ``triton`` installed.
"""

from .dispatch import BACKEND_ENV_VAR, Backend, resolve_backend, triton_available

__all__ = ["BACKEND_ENV_VAR", "Backend", "resolve_backend", "triton_available"]

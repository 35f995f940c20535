"""Shared test configuration.

* Triton kernels run under the interpreter on machines without CUDA, so the kernel tests
  exercise the very same kernel code on the CPU (``TRITON_INTERPRET`` must be set before
  ``triton`` is first imported, hence here).
* ``shared_data`` locates the real annotation/result files in ``../shared/data`` (or
  ``$WTAL_SHARED_DATA``) and skips, with the reason, when they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:  # pragma: no cover - depends on the machine
    import torch

    _HAS_CUDA = torch.cuda.is_available()
except Exception:  # pragma: no cover
    _HAS_CUDA = False

if not _HAS_CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("WTAL_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips the test when the folder is absent."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(
            f"real data folder {path} is absent (set WTAL_SHARED_DATA to its location "
            "to run the real-file reproductions)"
        )
    return path


@pytest.fixture(scope="session")
def has_cuda() -> bool:
    return _HAS_CUDA

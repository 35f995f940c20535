"""Shared test configuration.

* Triton kernels run under the interpreter on machines without CUDA, so the kernel tests
  exercise the very same kernel code on the CPU (``TRITON_INTERPRET`` must be set before
  ``triton`` is first imported, hence here).
* ``real_data`` is ``tests/data``: the public annotation and result files that the
  published-figure reproductions read (see ``tests/data/README.md``); they are part of the
  repository, so no test skips for missing data.
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


DATA = REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``tests/data``: the public annotation and result files of the published-figure tests."""
    return DATA


@pytest.fixture(scope="session")
def thumos14_annotation_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official THUMOS'14 test annotation folder, unpacked from ``tests/data``."""
    import tarfile

    out = tmp_path_factory.mktemp("thumos14")
    with tarfile.open(DATA / "thumos14_official_test_annotations.tar.gz") as archive:
        archive.extractall(out, filter="data")
    return out / "official_test_annotations"


@pytest.fixture(scope="session")
def has_cuda() -> bool:
    return _HAS_CUDA

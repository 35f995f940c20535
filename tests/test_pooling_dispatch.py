"""Top-k pooling's ``"auto"`` backend: by shape, from the measured crossover table, for the
training call (with a gradient) and the inference call (without); the Triton kernels run
under the interpreter on the CPU (tests/conftest.py)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from wtal_blocks import pooling
from wtal_blocks.kernels import dispatch
from wtal_blocks.kernels.dispatch import TOPK_TRITON_MIN_ELEMENTS, topk_backend_for

pytest.importorskip("triton")
# CUDA tensors where there is a device (the interpreter is off there), else the interpreter
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def test_the_table_is_the_measured_crossover() -> None:
    # THUMOS'14 scale: torch.topk wins the training call, ties the inference call
    thumos = 16 * 750 * 20
    assert topk_backend_for(thumos, 4, training=True) == "torch"
    assert topk_backend_for(thumos, 4, training=False) == "triton"
    assert topk_backend_for(thumos, 2, training=False) == "torch"  # float16: torch was faster
    # ActivityNet scale: the kernel wins both (3.0x and 1.9x in float32)
    anet = 16 * 4096 * 200
    for size in (2, 4, 8):
        for training in (False, True):
            assert topk_backend_for(anet, size, training=training) == "triton"
    for (kind, size), n in TOPK_TRITON_MIN_ELEMENTS.items():
        training = kind == "training"
        assert topk_backend_for(n, size, training) == "triton"
        assert topk_backend_for(n - 1, size, training) == "torch"
    assert topk_backend_for(10**6, 8, True) == topk_backend_for(10**6, 4, True)  # float64


@pytest.fixture
def as_on_cuda(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``auto`` resolves as on a CUDA machine with Triton (the kernel itself runs under the
    interpreter), a small crossover table, and a record of which kernel entry ran."""
    from wtal_blocks.kernels import topk_triton

    monkeypatch.delenv(dispatch.BACKEND_ENV_VAR, raising=False)
    real = pooling.resolve_backend

    def like_cuda(backend: Any, device: torch.device, **kw: Any) -> str:
        requested = backend if backend is not None else os.environ.get(dispatch.BACKEND_ENV_VAR)
        return "triton" if requested in (None, "auto") else real(backend, device, **kw)

    monkeypatch.setattr(pooling, "resolve_backend", like_cuda)
    monkeypatch.setitem(TOPK_TRITON_MIN_ELEMENTS, ("forward", 4), 100)
    monkeypatch.setitem(TOPK_TRITON_MIN_ELEMENTS, ("training", 4), 1000)
    calls: list[str] = []  # one entry per kernel entry point called (a call may use two)

    def spying(f: Any) -> Any:
        def spy(*args: Any, **kw: Any) -> Any:
            calls.append("triton")
            return f(*args, **kw)

        return spy

    for name in ("topk_mean_triton", "topk_mean_values_triton"):
        monkeypatch.setattr(topk_triton, name, spying(getattr(topk_triton, name)))
    return calls


@pytest.mark.parametrize(
    ("shape", "inference", "training"),
    [
        ((2, 10, 4), "torch", "torch"),
        ((2, 20, 4), "triton", "torch"),
        ((2, 200, 4), "triton", "triton"),
    ],
)
def test_auto_follows_the_table_in_both_calls(
    as_on_cuda: list[str], shape: tuple[int, int, int], inference: str, training: str
) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(DEVICE)
    expected = torch.topk(x, shape[1] // 3, dim=1).values.mean(1)
    with torch.no_grad():
        out = pooling.topk_mil_pooling(x, ratio=3)
    assert bool(as_on_cuda) == (inference == "triton")
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)  # either path: the same values
    as_on_cuda.clear()
    xg = x.clone().requires_grad_()
    out = pooling.topk_mil_pooling(xg, ratio=3)
    out.sum().backward()
    assert bool(as_on_cuda) == (training == "triton")
    torch.testing.assert_close(out.detach(), expected, rtol=0, atol=1e-6)
    expected_count = torch.full((shape[0], shape[2]), shape[1] // 3, device=DEVICE)
    assert torch.equal((xg.grad != 0).sum(1), expected_count)


def test_explicit_backends_ignore_the_table(
    as_on_cuda: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    x = torch.randn(2, 10, 4, device=DEVICE)  # below every crossover of the test table
    pooling.topk_mil_pooling(x, ratio=3, backend="triton")
    assert as_on_cuda == ["triton"]
    monkeypatch.setenv(dispatch.BACKEND_ENV_VAR, "triton")
    pooling.topk_mil_pooling(x, ratio=3)
    assert as_on_cuda == ["triton", "triton"]
    monkeypatch.setenv(dispatch.BACKEND_ENV_VAR, "torch")
    pooling.topk_mil_pooling(torch.randn(2, 200, 4, device=DEVICE), ratio=3)
    assert as_on_cuda == ["triton", "triton"]


def test_masked_inference_call_skips_the_check_only_with_checks_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``scores[mask]`` reads the device (its size): only the value check may do it."""
    from wtal_blocks._validation import set_validation

    indexed: list[bool] = []
    getitem = torch.Tensor.__getitem__

    def spy(self: torch.Tensor, key: Any) -> Any:
        indexed.append(isinstance(key, torch.Tensor) and key.dtype == torch.bool)
        return getitem(self, key)

    monkeypatch.setattr(torch.Tensor, "__getitem__", spy)
    x = torch.randn(2, 12, 3)
    mask = torch.arange(12)[None, :] < torch.tensor([[12], [7]])
    with set_validation(False):
        off = pooling.topk_mil_pooling(x, ratio=3, mask=mask, backend="torch")
    assert not any(indexed)
    on = pooling.topk_mil_pooling(x, ratio=3, mask=mask, backend="torch")
    assert any(indexed) and torch.equal(on, off)

"""Upsampling, run finding and NumPy-exact threshold grids against plain references."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis.extra.numpy import arrays

from tests.reference import proposals_reference as ref
from wtal_blocks.segments import find_runs, numpy_arange, upsample_linear, upsampled_mask


@pytest.mark.parametrize("t", [1, 2, 3, 17, 750])
def test_upsample_matches_reference(t: int) -> None:
    g = torch.Generator().manual_seed(t)
    x = torch.rand(2, t, 3, generator=g, dtype=torch.float64)
    out = upsample_linear(x, 24)
    assert out.shape == (2, 24 * t, 3) and out.dtype == torch.float64
    for b in range(2):
        for c in range(3):
            want = torch.tensor(ref.upsample(x[b, :, c].tolist(), 24), dtype=torch.float64)
            assert float((out[b, :, c] - want).abs().max()) <= 1e-12


def test_upsample_matches_scipy_bit_for_bit_on_float32() -> None:
    interpolate = pytest.importorskip(
        "scipy.interpolate", reason="SciPy is the official code's interpolator"
    )
    x = torch.rand(1, 750, 2)  # float32 CAS, as the official pipeline feeds it
    out = upsample_linear(x, 24)
    f = interpolate.interp1d(
        np.arange(750), x[0].numpy(), kind="linear", axis=0, fill_value="extrapolate"
    )
    want = f(np.arange(0, 750, 1 / 24))
    assert np.array_equal(out[0].numpy(), want)


def test_upsample_extrapolates_linearly_past_the_end() -> None:
    x = torch.tensor([[0.0, 1.0, 3.0]], dtype=torch.float64)
    out = upsample_linear(x, 4)
    assert out[0, -1].item() == pytest.approx(3.0 + 2.0 * 0.75)  # slope 2 beyond the last point
    held = upsample_linear(x, 4, extrapolate=False)
    assert held[0, -1].item() == 3.0 and float(held.max()) == 3.0


def test_upsample_masked_batch_equals_each_video_alone() -> None:
    lengths = [9, 4, 1, 2]
    x = torch.rand(4, 9, dtype=torch.float64)
    mask = torch.arange(9)[None, :] < torch.tensor(lengths)[:, None]
    out = upsample_linear(x.masked_fill(~mask, 99.0), 24, mask=mask)
    for n, length in enumerate(lengths):
        alone = upsample_linear(x[n : n + 1, :length], 24)
        torch.testing.assert_close(out[n, : 24 * length], alone[0], rtol=0, atol=0)
        assert float(out[n, 24 * length :].abs().sum()) == 0.0
    assert upsampled_mask(mask, 24).sum(dim=1).tolist() == [24 * n for n in lengths]


def test_upsample_bad_input() -> None:
    with pytest.raises(ValueError, match=r"x must have shape \(B, T\) or \(B, T, C\)"):
        upsample_linear(torch.rand(5), 24)
    with pytest.raises(ValueError, match=r"scale must be a positive int"):
        upsample_linear(torch.rand(1, 5), 0)
    with pytest.raises(ValueError, match=r"x must be finite"):
        upsample_linear(torch.tensor([[0.0, float("nan")]]), 24)
    with pytest.raises(ValueError, match=r"no segments"):
        upsample_linear(torch.zeros(1, 0), 24)


@given(arrays(np.bool_, st.tuples(st.integers(1, 4), st.integers(1, 30))))
def test_find_runs_matches_grouping(cand: np.ndarray) -> None:
    row, start, end = find_runs(torch.from_numpy(cand))
    got = list(zip(row.tolist(), start.tolist(), end.tolist(), strict=True))
    want = []
    for r in range(cand.shape[0]):
        for run in ref.group_runs([i for i in range(cand.shape[1]) if cand[r, i]]):
            want.append((r, run[0], run[-1]))
    assert got == want


def test_find_runs_multi_dim_and_bad_dtype() -> None:
    cand = torch.zeros(2, 3, 5, dtype=torch.bool)
    cand[1, 2, 3:] = True
    row, start, end = find_runs(cand)
    assert (row.tolist(), start.tolist(), end.tolist()) == ([5], [3], [4])
    with pytest.raises(ValueError, match="boolean"):
        find_runs(torch.zeros(3, 4))


@pytest.mark.parametrize(
    ("start", "stop", "step"),
    [(0.0, 0.25, 0.025), (0.4, 0.625, 0.025), (0.1, 0.75, 0.05), (1, 10, 3)],
)
def test_numpy_arange_is_exact(start: float, stop: float, step: float) -> None:
    assert numpy_arange(start, stop, step) == tuple(np.arange(start, stop, step).tolist())
    assert (
        len(numpy_arange(0.4, 0.625, 0.025)) == 9
        and numpy_arange(0.4, 0.625, 0.025)[2] == 0.45000000000000007
    )

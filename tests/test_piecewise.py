"""The piecewise view of upsampled sequences against dense upsampling (values, sums, runs)."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

from wtal_blocks._piecewise import PiecewiseLinear
from wtal_blocks.segments import find_runs, upsample_linear

f64 = torch.float64


def _dense_runs(
    up: torch.Tensor, lengths: torch.Tensor, scale: int, thresholds: list[float]
) -> set[tuple[int, int, int, int]]:
    out = set()
    ranks = sorted(range(len(thresholds)), key=lambda i: thresholds[i])
    for rank, i in enumerate(ranks):
        valid = torch.arange(up.shape[1])[None, :] < (scale * lengths)[:, None]
        cand = (up >= thresholds[i]) & (up > 0) & valid
        row, start, end = find_runs(cand)
        out |= {(int(r), rank, int(a), int(b)) for r, a, b in zip(row, start, end, strict=True)}
    return out


def _check(
    y: torch.Tensor, lengths: torch.Tensor, scale: int, thresholds: list[float], extrapolate: bool
) -> None:
    mask = torch.arange(y.shape[1])[None, :] < lengths[:, None]
    up = upsample_linear(y, scale, mask=mask, extrapolate=extrapolate)
    pw = PiecewiseLinear(y, lengths, scale, extrapolate=extrapolate)
    for r in range(y.shape[0]):
        n = scale * int(lengths[r])
        j = torch.arange(n)
        rows = torch.full_like(j, r)
        assert torch.equal(pw.value(rows, pw.piece_of(rows, j), j), up[r, :n])  # bit-identical
        j1 = torch.arange(n + 1)
        want = torch.nn.functional.pad(torch.cumsum(up[r, :n], 0), (1, 0))
        torch.testing.assert_close(
            pw.cumulative(torch.full_like(j1, r), j1), want, rtol=0, atol=1e-9
        )
    got = pw.runs(thresholds)
    got_set = set(zip(*(x.tolist() for x in got), strict=True))
    assert got_set == _dense_runs(up, lengths, scale, thresholds)
    keys = [(a, b, c) for a, b, c, _ in zip(*(x.tolist() for x in got), strict=True)]
    assert keys == sorted(keys)


@pytest.mark.parametrize("scale", [1, 2, 24])
@pytest.mark.parametrize("extrapolate", [True, False])
def test_random_rows_match_dense(scale: int, extrapolate: bool) -> None:
    g = torch.Generator().manual_seed(scale)
    y = torch.rand(6, 17, generator=g) * 1.2 - 0.1
    lengths = torch.tensor([17, 9, 1, 2, 3, 17])
    _check(y, lengths, scale, [0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9], extrapolate)


def test_values_exactly_on_thresholds_and_flat_pieces() -> None:
    # grid values equal to thresholds, plateaus, tiny slopes, negative values
    y = torch.tensor(
        [
            [0.5, 0.5, 0.5, 0.25, 0.25, 0.75, 0.0, -0.2, 0.5, 0.5 + 1e-15, 0.5, 1.0],
            [0.1, 0.1 + 1e-12, 0.1, 0.1 - 1e-12, 0.3, 0.3, 0.3, 0.0, 0.0, 0.0, 0.3, 0.6],
        ],
        dtype=f64,
    )
    for scale in (1, 3, 24):
        _check(y, torch.tensor([12, 12]), scale, [0.0, 0.1, 0.25, 0.3, 0.5, 0.75], True)


@given(
    st.integers(1, 12),
    st.sampled_from([1, 2, 5, 24]),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_property_matches_dense(t: int, scale: int, extrapolate: bool, rnd) -> None:  # type: ignore[no-untyped-def]
    levels = [0.0, 0.1, 0.2, 0.4, 0.5, 1.0]
    y = torch.tensor(
        [[rnd.choice([*levels, rnd.random(), -rnd.random()]) for _ in range(t)] for _ in range(3)],
        dtype=f64,
    )
    lengths = torch.tensor([t, max(1, t - 1), max(1, t // 2)])
    _check(y, lengths, scale, [0.0, 0.05, 0.1, 0.2, 0.4, 0.45], extrapolate)


def test_fallback_when_the_computed_crossing_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import wtal_blocks._piecewise as pw

    monkeypatch.setattr(
        pw, "_WINDOW", 0
    )  # a one-point window always misses: every crossing falls back
    g = torch.Generator().manual_seed(9)
    _check(
        torch.rand(3, 11, generator=g, dtype=f64),
        torch.tensor([11, 7, 2]),
        24,
        [0.2, 0.4, 0.6, 0.8],
        True,
    )

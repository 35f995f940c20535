"""Top-k MIL pooling (Eq. 1) against the plain-loop reference."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given
from hypothesis.extra.numpy import arrays

from tests.reference import um_reference as ref
from wtal_blocks import (
    TopKMILPooling,
    k_from_ratio,
    topk_mil_pooling,
    topk_mil_pooling_with_indices,
)


def _reference(
    scores: torch.Tensor, ks: list[int], mask: torch.Tensor | None = None
) -> torch.Tensor:
    b, t, c = scores.shape
    out = torch.zeros(b, c, dtype=torch.float64)
    for n in range(b):
        valid = [i for i in range(t) if mask is None or bool(mask[n, i])]
        for j in range(c):
            out[n, j] = ref.topk_mean([float(scores[n, i, j]) for i in valid], ks[n])
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [1, 3, 17])
def test_matches_reference_random(dtype: torch.dtype, k: int) -> None:
    g = torch.Generator().manual_seed(k)
    scores = torch.randn(3, 17, 5, generator=g, dtype=dtype)
    got = topk_mil_pooling(scores, k=k)
    torch.testing.assert_close(got.double(), _reference(scores, [k] * 3), rtol=1e-6, atol=1e-6)


def test_ratio_uses_floor_and_clamps_to_one() -> None:
    assert int(k_from_ratio(750, 9)) == 83 and int(k_from_ratio(750, 4)) == 187
    assert int(k_from_ratio(8, 9)) == 1  # T < ratio: official T // r = 0; we clamp to 1
    assert k_from_ratio(torch.tensor([0, 9, 20]), 9.0).tolist() == [1, 1, 2]
    assert k_from_ratio(torch.tensor([15]), 7.5).tolist() == [2]
    # Python's floor division, as the official ``T // r``: 11 // 2.2 == 4, not floor(11 / 2.2) == 5
    assert int(k_from_ratio(11, 2.2)) == 4 and int(k_from_ratio(1, 1.1)) == 1
    assert [int(k_from_ratio(n, 0.1 * 13)) for n in range(1, 40)] == [
        max(1, int(n // (0.1 * 13))) for n in range(1, 40)
    ]
    scores = torch.randn(2, 8, 3)  # T < ratio
    torch.testing.assert_close(topk_mil_pooling(scores, ratio=9), scores.max(dim=1).values)


def test_ties_and_constant_rows() -> None:
    scores = torch.tensor([[[1.0, 2.0], [1.0, 2.0], [1.0, 0.0], [0.0, 2.0]]])
    torch.testing.assert_close(topk_mil_pooling(scores, k=2), torch.tensor([[1.0, 2.0]]))
    torch.testing.assert_close(topk_mil_pooling(scores, k=4), scores.mean(dim=1))  # k = T


def test_masked_batch_equals_each_video_alone() -> None:
    g = torch.Generator().manual_seed(0)
    lengths = [20, 7, 1, 13]
    t = max(lengths)
    scores = torch.randn(len(lengths), t, 4, generator=g, dtype=torch.float64)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    # padding holds huge values: it must never enter a result
    scores = scores.masked_fill(~mask[:, :, None], 1e6)
    res = topk_mil_pooling_with_indices(scores, ratio=3, mask=mask)
    ks = [max(1, n // 3) for n in lengths]
    assert res.k.tolist() == ks
    torch.testing.assert_close(res.values, _reference(scores, ks, mask))
    for n, length in enumerate(lengths):
        alone = topk_mil_pooling(scores[n : n + 1, :length], ratio=3)
        torch.testing.assert_close(res.values[n : n + 1], alone)
        sel = res.indices[n, : ks[n]]
        assert bool((sel < length).all())
        assert not bool(res.valid[n, ks[n] :].any())


def test_indices_point_at_selected_values() -> None:
    scores = torch.randn(2, 30, 3, dtype=torch.float64)
    res = topk_mil_pooling_with_indices(scores, k=4)
    picked = torch.gather(scores, 1, res.indices)
    torch.testing.assert_close(picked.mean(dim=1), res.values)
    torch.testing.assert_close(picked, scores.topk(4, dim=1).values)


def test_float16_and_no_grad_inputs() -> None:
    scores = torch.randn(2, 40, 3)
    got = topk_mil_pooling(scores.half(), k=5)
    assert got.dtype == torch.float16
    torch.testing.assert_close(got.float(), topk_mil_pooling(scores, k=5), rtol=2e-3, atol=2e-3)
    with torch.no_grad():
        no_grad = topk_mil_pooling(scores.requires_grad_(), k=5)
    assert not no_grad.requires_grad and no_grad.grad_fn is None  # nothing recorded
    torch.testing.assert_close(no_grad, topk_mil_pooling(scores.detach(), k=5))


def test_gradient_flows_only_to_selected_segments() -> None:
    scores = torch.randn(2, 10, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    topk_mil_pooling(scores, ratio=3, mask=mask).sum().backward()
    assert scores.grad is not None
    assert float(scores.grad[1, 6:].abs().sum()) == 0.0
    # each (video, class) spreads 1/k over exactly k segments
    ks = torch.tensor([3, 2], dtype=torch.float64)
    torch.testing.assert_close(scores.grad.sum(dim=1), torch.ones(2, 3, dtype=torch.float64))
    torch.testing.assert_close((scores.grad > 0).sum(dim=1).double(), ks[:, None].expand(2, 3))
    assert torch.autograd.gradcheck(
        lambda s: topk_mil_pooling(s, k=3),
        (torch.randn(2, 8, 2, dtype=torch.float64, requires_grad=True),),
    )


def test_module_matches_functional() -> None:
    scores = torch.randn(3, 50, 4)
    torch.testing.assert_close(TopKMILPooling(ratio=9)(scores), topk_mil_pooling(scores, ratio=9))
    assert "ratio=9" in repr(TopKMILPooling(ratio=9))


@given(
    arrays(
        "float64",
        st.tuples(st.integers(1, 3), st.integers(1, 25), st.integers(1, 4)),
        elements=st.floats(-1e3, 1e3, allow_nan=False),
    ),
    st.data(),
)
def test_property_reference_and_monotone(x, data) -> None:  # type: ignore[no-untyped-def]
    scores = torch.from_numpy(x)
    t = scores.shape[1]
    k = data.draw(st.integers(1, t))
    got = topk_mil_pooling(scores, k=k)
    torch.testing.assert_close(got, _reference(scores, [k] * scores.shape[0]))
    # monotone: raising any score never lowers the pooled value
    bump = torch.from_numpy(data.draw(arrays("float64", x.shape, elements=st.floats(0, 10))))
    assert bool((topk_mil_pooling(scores + bump, k=k) >= got - 1e-9).all())
    # bounded by the mean and the max over time
    assert bool((got <= scores.max(dim=1).values + 1e-9).all())
    assert bool((got >= scores.mean(dim=1) - 1e-9).all())


@pytest.mark.parametrize(
    ("kwargs", "scores", "match"),
    [
        ({"k": 2}, torch.randn(4, 5), r"scores must have shape \(B, T, C\).*got shape \(4, 5\)"),
        ({"k": 6}, torch.randn(1, 5, 2), r"k=6 is larger than the number of segments T=5"),
        ({"k": 0}, torch.randn(1, 5, 2), r"k must be >= 1"),
        ({}, torch.randn(1, 5, 2), r"exactly one of k and ratio"),
        ({"k": 1, "ratio": 3}, torch.randn(1, 5, 2), r"exactly one of k and ratio"),
        ({"k": 1}, torch.tensor([[[float("nan")]]]), r"scores must be finite, got 1 NaN"),
        ({"k": 1}, torch.tensor([[[float("inf")]]]), r"scores must be finite, got 0 NaN and 1 inf"),
        ({"k": 1}, torch.zeros(1, 0, 2), r"no segments"),
        ({"ratio": 0}, torch.randn(1, 5, 2), r"ratio must be >= 1"),
        ({"ratio": 0.5}, torch.randn(1, 5, 2), r"ratio must be >= 1"),
        ({"k": torch.tensor([1.7])}, torch.randn(1, 5, 2), r"k must hold integers"),
        ({"k": torch.tensor(1.7)}, torch.randn(1, 5, 2), r"k must hold integers"),  # 0-d too
    ],
)
def test_bad_input(kwargs: dict, scores: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        topk_mil_pooling(scores, **kwargs)


def test_bad_mask() -> None:
    scores = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match=r"mask must be a boolean tensor"):
        topk_mil_pooling(scores, k=1, mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"mask must have shape \(B, T\) = \(2, 5\), got \(2, 4\)"):
        topk_mil_pooling(scores, k=1, mask=torch.ones(2, 4, dtype=torch.bool))
    empty = torch.ones(2, 5, dtype=torch.bool)
    empty[1] = False
    with pytest.raises(ValueError, match=r"zero valid segments \(batch indices \[1\]\)"):
        topk_mil_pooling(scores, k=1, mask=empty)
    short = torch.ones(2, 5, dtype=torch.bool)
    short[0, 2:] = False
    with pytest.raises(
        ValueError, match=r"k=3 is larger than the number of valid segments \(2 of T=5\) of video 0"
    ):
        topk_mil_pooling(scores, k=3, mask=short)
    # NaN in padding is fine: padding never enters a result
    padded = scores.clone()
    padded[0, 2:] = float("nan")
    assert bool(torch.isfinite(topk_mil_pooling(padded, k=1, mask=short)).all())

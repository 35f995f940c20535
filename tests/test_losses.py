"""UM losses (Eqs. 5-8) against plain-loop references, in both forms."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

import wtal_blocks
from tests.reference import um_reference as ref
from wtal_blocks import (
    BackgroundEntropyLoss,
    UMObjective,
    VideoClassificationLoss,
    background_entropy_loss,
    uncertainty_modeling_loss,
    video_classification_loss,
)

f64 = torch.float64


def _labels(b: int, c: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(b, c, generator=g) < 0.3).to(f64)
    y[torch.arange(b), torch.randint(0, c, (b,), generator=g)] = 1.0  # at least one label
    return y


@pytest.mark.parametrize("form", ["official", "paper"])
def test_classification_matches_reference(form: str) -> None:
    probs = torch.softmax(torch.randn(4, 20, dtype=f64), dim=1)
    y = _labels(4, 20, 0)
    got = VideoClassificationLoss(form)(probs, y)  # type: ignore[arg-type]
    assert got.item() == pytest.approx(
        ref.classification_loss(probs.tolist(), y.tolist(), form), rel=1e-12, abs=1e-9
    )


@pytest.mark.parametrize("form", ["official", "paper"])
def test_background_entropy_matches_reference(form: str) -> None:
    probs = torch.softmax(torch.randn(5, 20, dtype=f64) * 3, dim=1)
    got = BackgroundEntropyLoss(form)(probs)  # type: ignore[arg-type]
    assert got.item() == pytest.approx(
        ref.background_entropy_loss(probs.tolist(), form), rel=1e-12, abs=1e-9
    )


def test_named_calls_match_official_terms_float64() -> None:
    """The exact calls of the issue, against the official terms, to 1e-9 in float64."""
    g = torch.Generator().manual_seed(7)
    act = torch.rand(3, 83, 16, generator=g, dtype=f64) * 40
    bkg = torch.rand(3, 187, 16, generator=g, dtype=f64) * 2
    got = wtal_blocks.UncertaintyModelingLoss(margin=100.0)(act, bkg)
    assert got.dim() == 0
    assert abs(got.item() - ref.um_loss(act.tolist(), bkg.tolist(), 100.0)) <= 1e-9 * max(
        1.0, abs(got.item())
    )
    probs = torch.softmax(torch.randn(3, 20, generator=g, dtype=f64), dim=1)
    got_be = wtal_blocks.BackgroundEntropyLoss()(probs)
    assert got_be.dim() == 0
    assert abs(got_be.item() - ref.background_entropy_loss(probs.tolist(), "official")) <= 1e-9


def test_um_loss_hinge_regimes() -> None:
    big = torch.full((2, 4, 3), 100.0, dtype=f64)  # ||mean|| = 100*sqrt(3) >= m
    zero = torch.zeros(2, 5, 3, dtype=f64)
    assert uncertainty_modeling_loss(big, zero, 100.0).item() == 0.0
    assert uncertainty_modeling_loss(zero, zero, 100.0).item() == pytest.approx(100.0**2)
    assert uncertainty_modeling_loss(zero, big, 100.0).item() == pytest.approx(
        (100 + 100 * 3**0.5) ** 2
    )


@given(st.floats(0, 1e3), st.floats(1, 500))
def test_um_loss_zero_when_action_beyond_margin_and_background_zero(
    extra: float, margin: float
) -> None:
    act = torch.zeros(2, 3, 4, dtype=f64)
    act[:, :, 0] = margin + extra
    # the norm of the mean may round one ulp below m: allow that, squared
    loss = uncertainty_modeling_loss(act, torch.zeros(2, 6, 4, dtype=f64), margin).item()
    assert 0.0 <= loss <= (4 * margin * 2**-52) ** 2


def test_all_losses_finite_with_finite_gradients_on_zero_features() -> None:
    act = torch.zeros(2, 3, 8, dtype=f64, requires_grad=True)
    bkg = torch.zeros(2, 5, 8, dtype=f64, requires_grad=True)
    loss = uncertainty_modeling_loss(act, bkg)
    loss.backward()
    assert (
        torch.isfinite(loss) and torch.isfinite(act.grad).all() and torch.isfinite(bkg.grad).all()
    )  # type: ignore[arg-type]
    # probabilities at the boundary: log clamped at -100 as BCELoss does
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=f64, requires_grad=True)
    y = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=f64)
    for form in ("official", "paper"):
        for value in (video_classification_loss(p, y, form), background_entropy_loss(p, form)):  # type: ignore[arg-type]
            (g,) = torch.autograd.grad(value, p)
            assert torch.isfinite(value) and torch.isfinite(g).all()


def test_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    act = (torch.rand(2, 3, 4, generator=g, dtype=f64) * 30).requires_grad_()
    bkg = torch.rand(2, 5, 4, generator=g, dtype=f64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: uncertainty_modeling_loss(a, b, 100.0), (act, bkg))
    y = _labels(3, 6, 1)
    for form in ("official", "paper"):
        logits = torch.randn(3, 6, dtype=f64, generator=g, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda z, f=form: video_classification_loss(torch.softmax(z, 1), y, f), (logits,)
        )
        assert torch.autograd.gradcheck(
            lambda z, f=form: background_entropy_loss(torch.softmax(z, 1), f), (logits,)
        )


def test_masked_um_loss_equals_unpadded() -> None:
    act = torch.rand(2, 4, 3, dtype=f64) * 50
    bkg = torch.rand(2, 6, 3, dtype=f64)
    act_valid = torch.tensor([[True] * 4, [True, True, False, False]])
    bkg_valid = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    got = uncertainty_modeling_loss(
        act * 1, bkg * 1, action_valid=act_valid, background_valid=bkg_valid
    )
    want = (
        uncertainty_modeling_loss(act[:1], bkg[:1])
        + uncertainty_modeling_loss(act[1:, :2], bkg[1:, :3])
    ) / 2
    torch.testing.assert_close(got, want)


def test_float32_and_float16_inputs() -> None:
    act = torch.rand(2, 3, 4) * 30
    bkg = torch.rand(2, 5, 4)
    assert uncertainty_modeling_loss(act, bkg).dtype == torch.float32
    torch.testing.assert_close(
        uncertainty_modeling_loss(act.half(), bkg.half()).float(),
        uncertainty_modeling_loss(act, bkg),
        rtol=5e-3,
        atol=1e-2,
    )


def test_objective_combines_terms_and_baseline() -> None:
    g = torch.Generator().manual_seed(2)
    s_act = torch.softmax(torch.randn(2, 5, generator=g, dtype=f64), 1)
    s_bkg = torch.softmax(torch.randn(2, 5, generator=g, dtype=f64), 1)
    act = torch.rand(2, 3, 4, generator=g, dtype=f64)
    bkg = torch.rand(2, 6, 4, generator=g, dtype=f64)
    y = _labels(2, 5, 3)
    total, terms = UMObjective(alpha=5e-4, beta=1.0)(s_act, s_bkg, act, bkg, y)
    want = terms["loss_cls"] + 5e-4 * terms["loss_um"] + terms["loss_be"]
    torch.testing.assert_close(total.detach(), want)
    base, _ = UMObjective(alpha=0.0, beta=0.0)(s_act, s_bkg, act, bkg, y)
    torch.testing.assert_close(base, video_classification_loss(s_act, y))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: video_classification_loss(torch.full((2, 3), 1 / 3), torch.ones(2, 4)),
            r"labels must have the shape of video_probs \(2, 3\), got \(2, 4\)",
        ),
        (
            lambda: video_classification_loss(torch.full((2, 3), 1 / 3), torch.zeros(2, 3)),
            r"no positive class \(batch indices \[0, 1\]\)",
        ),
        (
            lambda: video_classification_loss(torch.full((2, 3), 1.5), torch.ones(2, 3)),
            r"video_probs must hold probabilities in \[0, 1\]",
        ),
        (
            lambda: video_classification_loss(torch.full((2, 3), float("nan")), torch.ones(2, 3)),
            r"video_probs must be finite",
        ),
        (
            lambda: video_classification_loss(torch.full((2, 3), 1 / 3), torch.ones(2, 3), "bogus"),
            r"form must be one of",
        ),  # type: ignore[arg-type]
        (lambda: background_entropy_loss(torch.full((2, 3), 0.5)), r"rows must sum to 1"),
        (
            lambda: background_entropy_loss(torch.full((2, 3, 1), 0.5)),
            r"background_probs must have shape \(B, C\)",
        ),
        (
            lambda: uncertainty_modeling_loss(torch.ones(2, 3, 4), torch.ones(3, 3, 4)),
            r"must agree on B and D",
        ),
        (
            lambda: uncertainty_modeling_loss(torch.ones(2, 3), torch.ones(2, 3, 4)),
            r"action_features must have shape \(B, action_k, D\)",
        ),
        (
            lambda: uncertainty_modeling_loss(torch.ones(2, 0, 4), torch.ones(2, 3, 4)),
            r"at least one pseudo segment",
        ),
        (
            lambda: uncertainty_modeling_loss(
                torch.ones(2, 1, 4), torch.full((2, 3, 4), float("inf"))
            ),
            r"background_features must be finite",
        ),
        (lambda: UMObjective(alpha=-1.0), r"alpha and beta must be >= 0"),
    ],
)
def test_bad_input(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()

"""Feature-magnitude uncertainty (Eq. 4, official test-time form) and pseudo selection."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given
from hypothesis.extra.numpy import arrays

from tests.reference import um_reference as ref
from wtal_blocks import (
    FeatureMagnitudeUncertainty,
    PseudoSegmentSelector,
    feature_magnitude,
    magnitude_action_probability,
    minmax_action_probability,
    select_pseudo_segments,
)


def test_eq4_matches_reference() -> None:
    g = torch.Generator().manual_seed(1)
    feats = torch.rand(2, 9, 6, generator=g, dtype=torch.float64) * 80
    got = FeatureMagnitudeUncertainty(margin=100.0)(feats)
    for b in range(2):
        for t in range(9):
            assert got[b, t].item() == pytest.approx(
                ref.eq4_probability(feats[b, t].tolist(), 100.0), abs=1e-12
            )
    assert float(got.max()) == 1.0  # some norms exceed m: clipped
    torch.testing.assert_close(feature_magnitude(feats), feats.norm(dim=2))


@given(
    arrays("float64", (2, 7, 3), elements=st.floats(-1e4, 1e4, allow_nan=False)),
    st.floats(1e-3, 1e3),
)
def test_eq4_in_unit_interval(x, margin: float) -> None:  # type: ignore[no-untyped-def]
    p = magnitude_action_probability(torch.from_numpy(x), margin)
    assert bool(((p >= 0) & (p <= 1)).all())


def test_minmax_matches_reference_including_degenerate_denominator() -> None:
    mags = torch.tensor([[0.0, 5.0, 10.0, 20.0], [3.0, 3.0, 3.0, 3.0]], dtype=torch.float64)
    act = torch.tensor([10.0, 3.0], dtype=torch.float64)
    bkg = torch.tensor([2.0, 3.0], dtype=torch.float64)  # second video: denominator 0 -> 1
    got = minmax_action_probability(mags, act, bkg)
    for b in range(2):
        for t in range(4):
            assert got[b, t].item() == pytest.approx(
                ref.minmax_probability(mags[b, t].item(), act[b].item(), bkg[b].item())
            )
    assert got[1].tolist() == [0.0, 0.0, 0.0, 0.0]
    neg = minmax_action_probability(
        mags[:1], torch.tensor([1.0], dtype=torch.float64), torch.tensor([5.0], dtype=torch.float64)
    )
    torch.testing.assert_close(neg, ((mags[:1] - 5.0) / 1.0).clamp(0, 1))
    assert FeatureMagnitudeUncertainty.test_time(mags, act, bkg).equal(got)


@given(
    arrays("int64", (3, 12), elements=st.integers(0, 10_000), unique=True),
    st.integers(1, 12),
    st.integers(1, 12),
)
def test_selection_matches_reference_without_ties(ints, action_k: int, background_k: int) -> None:  # type: ignore[no-untyped-def]
    # distinct multiples of 1/8 keep ``max - mag`` exact, so no ties arise in either ranking
    mags = ints / 8.0
    sel = select_pseudo_segments(torch.from_numpy(mags), action_k, background_k)
    for b in range(3):
        act, bkg = ref.pseudo_segments(mags[b].tolist(), action_k, background_k)
        assert sel.action_index[b].tolist() == act
        assert sel.background_index[b].tolist() == bkg


@given(arrays("float64", (2, 9), elements=st.floats(0, 1e3)), st.integers(1, 9), st.integers(1, 9))
def test_selection_scores_match_reference(mags, action_k: int, background_k: int) -> None:  # type: ignore[no-untyped-def]
    # with ties (equal magnitudes, or ``max - mag`` rounding equal) the official rule leaves
    # the choice among tied segments open; the selected *scores* are still determined
    sel = select_pseudo_segments(torch.from_numpy(mags), action_k, background_k)
    for b in range(2):
        act, bkg = ref.pseudo_segments(mags[b].tolist(), action_k, background_k)
        peak = float(mags[b].max())
        assert sorted(mags[b][sel.action_index[b].numpy()]) == sorted(mags[b][act])
        assert sorted(peak - mags[b][sel.background_index[b].numpy()]) == sorted(
            peak - mags[b][bkg]
        )


def test_selection_with_ties_picks_tied_values() -> None:
    mags = torch.tensor([[1.0, 1.0, 1.0, 5.0, 5.0, 0.0]])
    sel = select_pseudo_segments(mags, 3, 3)
    assert sorted(mags[0, sel.action_index[0]].tolist()) == [1.0, 5.0, 5.0]
    assert sorted(mags[0, sel.background_index[0]].tolist()) == [0.0, 1.0, 1.0]


def test_selection_with_drop_mask_follows_official_rule() -> None:
    g = torch.Generator().manual_seed(3)
    mags = torch.rand(2, 30, generator=g, dtype=torch.float64) * 10
    keep = (torch.rand(2, 30, generator=g) > 0.7).double() / 0.3
    sel = select_pseudo_segments(mags, 3, 7, multiplier=keep)
    for b in range(2):
        act, bkg = ref.pseudo_segments(mags[b].tolist(), 3, 7, keep[b].tolist())
        # dropped segments score 0 and may tie: compare the selected scores, not positions
        s_act = (mags[b] * keep[b]).tolist()
        assert sorted(s_act[i] for i in sel.action_index[b].tolist()) == sorted(
            s_act[i] for i in act
        )
        peak = float(mags[b].max())
        s_bkg = ((peak - mags[b]) * keep[b]).tolist()
        assert sorted(s_bkg[i] for i in sel.background_index[b].tolist()) == sorted(
            s_bkg[i] for i in bkg
        )


def test_mask_aware_selection_single_valid_segment() -> None:
    mags = torch.tensor([[3.0, 9.0, 1.0, 7.0], [100.0, -1.0, 50.0, 50.0]])
    mask = torch.tensor([[True, True, True, True], [False, True, False, False]])
    sel = select_pseudo_segments(mags, action_ratio=2, background_ratio=2, mask=mask)
    assert sel.action_k.tolist() == [2, 1] and sel.background_k.tolist() == [2, 1]
    assert sel.action_index[1, 0].item() == 1 and sel.background_index[1, 0].item() == 1
    assert sel.action_valid[1].tolist() == [True, False]
    assert sorted(sel.action_index[0].tolist()) == [1, 3]
    assert sorted(sel.background_index[0].tolist()) == [0, 2]


def test_selector_train_vs_eval() -> None:
    sel = PseudoSegmentSelector(action_ratio=9, background_ratio=4, dropout=0.7)
    mags = torch.rand(4, 750)
    sel.eval()
    a = sel(mags)
    b = select_pseudo_segments(mags, action_ratio=9, background_ratio=4)
    assert a.action_index.equal(b.action_index) and a.background_index.equal(b.background_index)
    assert a.action_index.shape == (4, 83) and a.background_index.shape == (4, 187)
    sel.train()
    torch.manual_seed(0)
    c = sel(mags)
    torch.manual_seed(0)
    keep = torch.nn.functional.dropout(torch.ones_like(mags), 0.7, training=True)
    d = select_pseudo_segments(mags, action_ratio=9, background_ratio=4, multiplier=keep)
    assert c.action_index.equal(d.action_index)
    assert not c.action_index.equal(a.action_index)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: magnitude_action_probability(torch.ones(3, 4), 100.0),
            r"features must have shape \(B, T, D\)",
        ),
        (lambda: magnitude_action_probability(torch.ones(1, 3, 4), 0.0), r"margin must be > 0"),
        (
            lambda: magnitude_action_probability(torch.full((1, 3, 4), float("nan"))),
            r"features must be finite",
        ),
        (
            lambda: minmax_action_probability(torch.ones(2, 4), torch.ones(3), torch.ones(2)),
            r"action_magnitude must have shape \(B,\) = \(2,\), got \(3\)",
        ),
        (
            lambda: select_pseudo_segments(torch.ones(2, 4), 5, 1),
            r"k=5 is larger than the number of segments T=4",
        ),
        (
            lambda: select_pseudo_segments(torch.ones(2, 4, 1), 1, 1),
            r"ranking must have shape \(B, T\)",
        ),
        (
            lambda: select_pseudo_segments(torch.ones(2, 4), 1, 1, multiplier=torch.ones(2, 3)),
            r"multiplier must have shape",
        ),
        (lambda: PseudoSegmentSelector(dropout=1.0), r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_input(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()

"""Batched OIC proposal generation against the per-class, per-threshold reference loop."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

from tests.reference import proposals_reference as ref
from wtal_blocks.proposals import (
    UM_CAS_THRESHOLDS,
    UM_MAGNITUDE_THRESHOLDS,
    ProposalGenerator,
    VideoProposals,
)

f64 = torch.float64


def _as_tuples(p: VideoProposals) -> list[tuple[int, float, float, float]]:
    return [
        (int(lab), float(s), float(a), float(e))
        for lab, s, (a, e) in zip(
            p.labels.tolist(), p.scores.tolist(), p.segments.tolist(), strict=True
        )
    ]


def assert_same_proposals(got: VideoProposals, want: list[tuple[int, float, float, float]]) -> None:
    key = lambda x: (x[0], x[2], x[3], x[1])  # noqa: E731
    g, w = sorted(_as_tuples(got), key=key), sorted(want, key=key)
    assert len(g) == len(w)
    for a, b in zip(g, w, strict=True):
        assert a[0] == b[0] and a[2] == b[2] and a[3] == b[3]  # times: bit-identical
        assert a[1] == pytest.approx(b[1], abs=1e-9)


def _check(
    cas: torch.Tensor,
    vs: torch.Tensor,
    classes: torch.Tensor,
    lengths: list[int],
    u: torch.Tensor | None,
    **kw: object,
) -> None:
    gen = ProposalGenerator(**kw)  # type: ignore[arg-type]
    per = gen(cas, vs, lengths, auxiliary=u, classes=classes).split()
    for b in range(cas.shape[0]):
        want = ref.video_proposals(
            cas[b].tolist(),
            vs[b].tolist(),
            torch.nonzero(classes[b]).flatten().tolist(),
            lengths[b],
            gen.thresholds,
            None if u is None else u[b].tolist(),
            gen.auxiliary_thresholds,
            min_length=gen.min_length,
        )
        assert_same_proposals(per[b], want)


def test_random_batch_matches_reference() -> None:
    g = torch.Generator().manual_seed(0)
    cas = torch.rand(3, 30, 4, generator=g, dtype=f64)
    u = torch.rand(3, 30, generator=g, dtype=f64)
    vs = torch.softmax(torch.randn(3, 4, generator=g, dtype=f64), 1)
    classes = torch.rand(3, 4, generator=g) < 0.6
    _check(cas, vs, classes, [100, 30, 2000], u)


def test_smooth_realistic_cas_matches_reference() -> None:
    t = torch.linspace(0, 12, 60, dtype=f64)
    cas = ((torch.sin(t)[:, None] * torch.tensor([1.0, 0.5, -0.3], dtype=f64)) * 0.5 + 0.5)[None]
    u = (torch.cos(t) * 0.5 + 0.5)[None]
    _check(
        cas,
        torch.tensor([[0.5, 0.3, 0.2]], dtype=f64),
        torch.ones(1, 3, dtype=torch.bool),
        [240],
        u,
    )


@pytest.mark.parametrize(
    "cas",
    [
        torch.zeros(
            1, 8, 2, dtype=f64
        ),  # all zero: no candidate except at threshold 0? (> 0 needed)
        torch.full((1, 8, 2), 0.3, dtype=f64),  # constant: one run covering everything
        torch.ones(1, 1, 2, dtype=f64),  # a single segment
        torch.tensor([[[1.0], [0.0], [0.0], [1.0]]], dtype=f64),  # runs touching both ends
    ],
)
def test_adversarial_sequences(cas: torch.Tensor) -> None:
    c = cas.shape[2]
    vs = torch.full((1, c), 1.0 / c, dtype=f64)
    _check(cas, vs, torch.ones(1, c, dtype=torch.bool), [cas.shape[1] * 3], cas[:, :, 0].clone())


def test_lone_candidate_at_position_zero_is_dropped_in_faithful_mode() -> None:
    # after x24 upsampling only upsampled position 0 exceeds the threshold: [1, 0] -> 1, 0.958...
    cas = torch.tensor([[[1.0], [-23.0]]], dtype=f64)
    vs = torch.ones(1, 1, dtype=f64)
    gen = ProposalGenerator(thresholds=[0.5], auxiliary_thresholds=[], min_length=1, scale=24)
    assert len(gen(cas, vs, [2]).split()[0]) == 0
    loose = ProposalGenerator(
        thresholds=[0.5], auxiliary_thresholds=[], min_length=1, scale=24, faithful=False
    )
    p = loose(cas, vs, [2]).split()[0]
    assert len(p) == 1 and p.segments[0, 0].item() == 0.0


def test_single_position_runs_are_dropped() -> None:
    cas = torch.tensor([[[0.0], [1.0], [0.0]]], dtype=f64)
    gen = ProposalGenerator(thresholds=[0.99], auxiliary_thresholds=[], scale=1)
    assert len(gen(cas, torch.ones(1, 1, dtype=f64), [3]).split()[0]) == 0
    gen1 = ProposalGenerator(thresholds=[0.99], auxiliary_thresholds=[], scale=1, min_length=1)
    assert len(gen1(cas, torch.ones(1, 1, dtype=f64), [3]).split()[0]) == 1


def test_masked_batch_equals_videos_alone() -> None:
    g = torch.Generator().manual_seed(1)
    lengths = [25, 9, 2]
    cas = torch.rand(3, 25, 2, generator=g, dtype=f64)
    u = torch.rand(3, 25, generator=g, dtype=f64)
    vs = torch.softmax(torch.randn(3, 2, generator=g, dtype=f64), 1)
    mask = torch.arange(25)[None, :] < torch.tensor(lengths)[:, None]
    gen = ProposalGenerator()
    orig = [400, 9, 7]
    per = gen(cas.masked_fill(~mask[:, :, None], 5.0), vs, orig, auxiliary=u, mask=mask).split()
    for n, length in enumerate(lengths):
        alone = gen(cas[n, :length], vs[n], [orig[n]], auxiliary=u[n, :length]).split()[0]
        assert_same_proposals(per[n], _as_tuples(alone))


def test_chunking_does_not_change_results() -> None:
    g = torch.Generator().manual_seed(2)
    cas = torch.rand(4, 20, 3, generator=g, dtype=f64)
    u = torch.rand(4, 20, generator=g, dtype=f64)
    vs = torch.softmax(torch.randn(4, 3, generator=g, dtype=f64), 1)
    big = ProposalGenerator()(cas, vs, [20] * 4, auxiliary=u)
    small = ProposalGenerator(chunk_elements=1)(cas, vs, [20] * 4, auxiliary=u)
    for a, b in zip(big.split(), small.split(), strict=True):
        assert_same_proposals(a, _as_tuples(b))


def test_defaults_are_the_official_settings() -> None:
    gen = ProposalGenerator()
    assert gen.thresholds == UM_CAS_THRESHOLDS and len(gen.thresholds) == 10
    assert (
        gen.auxiliary_thresholds == UM_MAGNITUDE_THRESHOLDS and len(gen.auxiliary_thresholds) == 9
    )
    assert (gen.scale, gen.outer_ratio, gen.video_score_weight, gen.min_length) == (
        24,
        0.25,
        0.2,
        2,
    )
    assert ProposalGenerator(faithful=False).auxiliary_thresholds[2] == 0.45


def test_time_conversion() -> None:
    # one run over the whole upsampled video: [0, 24T) positions -> [0, 16 L / 25] seconds
    cas = torch.full((1, 10, 1), 0.5, dtype=f64)
    p = ProposalGenerator(thresholds=[0.1], auxiliary_thresholds=[])(
        cas, torch.ones(1, 1, dtype=f64), [937]
    ).split()[0]
    t_factor = (16 * 937) / (24 * 10 * 25)  # the official expression, one rounding
    assert p.segments.tolist() == [[0.0, 240 * t_factor]]
    assert p.segments[0, 1].item() == pytest.approx(16 * 937 / 25)


@given(st.integers(1, 12), st.integers(1, 3), st.randoms(use_true_random=False))
def test_property_matches_reference(t: int, c: int, rnd) -> None:  # type: ignore[no-untyped-def]
    cas = torch.tensor(
        [
            [
                [rnd.choice([0.0, 0.1, 0.2, 0.5, 1.0, rnd.random()]) for _ in range(c)]
                for _ in range(t)
            ]
        ],
        dtype=f64,
    )
    u = torch.tensor(
        [[rnd.choice([0.0, 0.4, 0.5, 1.0, rnd.random()]) for _ in range(t)]], dtype=f64
    )
    vs = torch.softmax(torch.tensor([[rnd.random() for _ in range(c)]], dtype=f64), 1)
    _check(cas, vs, torch.ones(1, c, dtype=torch.bool), [t + rnd.randint(0, 50)], u)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda g: g(torch.rand(1, 5, 2), torch.rand(1, 3), [5]),
            r"video_probs must have shape \(B, C\) = \(1, 2\), got \(1, 3\)",
        ),
        (
            lambda g: g(torch.rand(2, 5, 2), torch.rand(2, 2), [5]),
            r"lengths must have one entry per video \(B = 2\), got 1",
        ),
        (lambda g: g(torch.rand(1, 5, 2), torch.rand(1, 2), [0]), r"lengths must lie in \[1, "),
        (
            lambda g: g(torch.rand(1, 5, 2), torch.rand(1, 2), [2.7]),
            r"lengths must be whole numbers .* 2.7",
        ),
        (lambda g: g(torch.rand(1, 5, 2), torch.rand(1, 2), [2**62]), r"lengths must lie in \[1, "),
        (
            lambda g: g(torch.full((1, 5, 2), float("nan")), torch.rand(1, 2), [5]),
            r"scores must be finite",
        ),
        (
            lambda g: g(torch.rand(1, 5, 2), torch.rand(1, 2), [5], auxiliary=torch.rand(1, 4)),
            r"auxiliary must have shape \(B, T\) = \(1, 5\)",
        ),
        (
            lambda g: g(torch.rand(1, 5, 2), torch.rand(1, 2), [5], classes=torch.ones(1, 2)),
            r"classes must be a \(B, C\) = \(1, 2\) boolean tensor",
        ),
        (
            lambda g: g(torch.rand(5), torch.rand(1, 2), [5]),
            r"scores must have shape \(B, T, C\) or \(T, C\)",
        ),
    ],
)
def test_bad_input(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call(ProposalGenerator())


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="thresholds must be finite"):
        ProposalGenerator(thresholds=[float("nan")])
    with pytest.raises(ValueError, match="min_length must be >= 1"):
        ProposalGenerator(min_length=0)

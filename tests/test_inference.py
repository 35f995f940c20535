"""The batched UM inference pipeline against the per-video, per-class reference loop."""

from __future__ import annotations

import pytest
import torch

from tests.reference import um_pipeline_reference as ref
from wtal_blocks import UncertaintyModelingNet
from wtal_blocks.inference import (
    UMInferenceConfig,
    UMPostProcessor,
    minmax_over_time,
    select_classes,
)

f64 = torch.float64


def _net(seed: int, c: int = 5) -> UncertaintyModelingNet:
    torch.manual_seed(seed)
    net = UncertaintyModelingNet(12, c, embed_dim=16).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(4.0)
    return net


def _compare(got, want) -> None:  # type: ignore[no-untyped-def]
    key = lambda d: (d[0], round(d[2], 9), round(d[3], 9), -d[1])  # noqa: E731
    g = sorted(
        [
            (int(lab), float(s), float(a), float(b))
            for lab, s, (a, b) in zip(
                got.labels.tolist(), got.scores.tolist(), got.segments.tolist(), strict=True
            )
        ],
        key=key,
    )
    w = sorted(want, key=key)
    assert len(g) == len(w), (len(g), len(w))
    for a, b in zip(g, w, strict=True):
        assert a[0] == b[0]
        assert a[2] == pytest.approx(b[2], abs=1e-9) and a[3] == pytest.approx(b[3], abs=1e-9)
        assert a[1] == pytest.approx(b[1], abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pipeline_matches_reference_on_a_padded_batch(seed: int) -> None:
    net = _net(seed)
    g = torch.Generator().manual_seed(seed)
    counts = [40, 23, 9]  # valid sampled segments per video
    x = torch.rand(3, 40, 12, generator=g, dtype=f64)
    mask = torch.arange(40)[None, :] < torch.tensor(counts)[:, None]
    lengths = [100, 23, 400]  # original lengths L
    with torch.no_grad():
        out = net(x, mask)
    post = UMPostProcessor()
    dets = post(out, lengths)
    cfg = post.config
    for b, count in enumerate(counts):
        want = ref.detect_video(
            out.segment_probs[b, :count].tolist(),
            out.magnitudes[b, :count].tolist(),
            out.pseudo.action_index[b, out.pseudo.action_valid[b]].tolist(),
            out.pseudo.background_index[b, out.pseudo.background_valid[b]].tolist(),
            out.video_probs[b].tolist(),
            lengths[b],
            cfg.cas_thresholds,
            cfg.magnitude_thresholds,
        )
        _compare(dets[b], want)
        assert len(dets[b]) > 0
        assert bool((dets[b].scores[:-1] >= dets[b].scores[1:]).all())  # descending


def test_random_cas_and_magnitudes_match_reference() -> None:
    """The post-processor alone, on random CAS/magnitudes (not produced by a network)."""
    from wtal_blocks.models.um import UMOutput
    from wtal_blocks.snippets import PseudoSegments

    g = torch.Generator().manual_seed(5)
    b, t, c = 2, 30, 4
    segment_probs = torch.softmax(torch.randn(b, t, c, generator=g, dtype=f64) * 2, dim=2)
    mags = torch.rand(b, t, generator=g, dtype=f64) * 50
    act = mags.topk(3, dim=1).indices
    bkg = (-mags).topk(7, dim=1).indices
    vs = torch.tensor([[0.5, 0.3, 0.1, 0.1], [0.1, 0.15, 0.05, 0.7]], dtype=f64)
    pseudo = PseudoSegments(
        act,
        torch.ones_like(act, dtype=torch.bool),
        bkg,
        torch.ones_like(bkg, dtype=torch.bool),
        torch.full((b,), 3),
        torch.full((b,), 7),
    )
    z = torch.zeros(b, t, 1, dtype=f64)
    output = UMOutput(vs, vs, z, z, z, segment_probs, segment_probs, mags, pseudo, None)
    dets = UMPostProcessor()(output, [300, 30])
    cfg = UMInferenceConfig()
    for n in range(b):
        want = ref.detect_video(
            segment_probs[n].tolist(),
            mags[n].tolist(),
            act[n].tolist(),
            bkg[n].tolist(),
            vs[n].tolist(),
            [300, 30][n],
            cfg.cas_thresholds,
            cfg.magnitude_thresholds,
        )
        _compare(dets[n], want)


def test_class_selection_fallback_and_minmax() -> None:
    vs = torch.tensor([[0.1, 0.15, 0.05], [0.3, 0.2, 0.5], [0.19999, 0.2, 0.1]])
    assert select_classes(vs, 0.2).tolist() == [
        [False, True, False],
        [True, True, True],
        [False, True, False],
    ]
    x = torch.tensor([[[-1.0, 2.0], [3.0, 2.0], [1.0, 2.0]]])
    got = minmax_over_time(x)
    # column 0: max 3, min relu(-1)=0 -> x/3 clipped; column 1: constant -> denominator 1
    torch.testing.assert_close(got, torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1 / 3, 0.0]]]))


def test_softmax_scoring_uses_no_magnitude_thresholds() -> None:
    net = _net(3)
    x = torch.rand(1, 30, 12, dtype=f64)
    with torch.no_grad():
        out = net(x)
    soft = UMPostProcessor(UMInferenceConfig(scoring="softmax"))
    cas, _ = soft.scores(out)
    torch.testing.assert_close(cas, minmax_over_time(out.segment_probs))
    batch = soft.proposals(out, [30])
    gen = soft.generator
    plain = gen(cas, out.video_probs, [30], classes=select_classes(out.video_probs))
    assert torch.equal(batch.scores, plain.scores)
    with pytest.raises(ValueError, match="scoring must be"):
        UMInferenceConfig(scoring="bogus")  # type: ignore[arg-type]

"""BaS-Net from the blocks against the plain-loop reference of the official code.

Blocks (filter, suppression, shared branches, losses), the network (eval and train with
explicit multipliers, padded batches), checkpoints, the post-processor (faithful: the same
detections and counts as the official test; its quirks and their fixes) and the recipe.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import write_thumos_layout
from tests.reference import basnet_reference as ref
from wtal_blocks.attention import ForegroundFilter, shared_branches, suppress_background
from wtal_blocks.data.sampling import uniform_sampling
from wtal_blocks.inference.basnet import (
    BASNET_CAS_THRESHOLDS,
    BaSNetInferenceConfig,
    BaSNetPostProcessor,
)
from wtal_blocks.losses import (
    AttentionNormLoss,
    BaSNetObjective,
    BranchClassificationLoss,
    attention_norm_loss,
    background_class_targets,
    basnet_total_loss,
    branch_classification_loss,
)
from wtal_blocks.models import CheckpointError, DropoutMultipliers
from wtal_blocks.models.basnet import BaSNet, BaSNetOutput, load_basnet_checkpoint

f64 = torch.float64
Det = tuple[int, float, float, float]


def _net(seed: int = 0, f: int = 6, c: int = 4, dtype: torch.dtype = f64, **kw: object) -> BaSNet:
    torch.manual_seed(seed)
    net = BaSNet(f, c, hidden=10, filter_hidden=5, **kw).to(dtype).eval()  # type: ignore[arg-type]
    with torch.no_grad():  # spread the weights so that weights and classes are well separated
        for p in net.parameters():
            p.mul_(3.0)
    return net


def _dets(v) -> list[Det]:  # type: ignore[no-untyped-def]
    return [
        (int(lab), float(s), float(a), float(b))
        for lab, s, (a, b) in zip(
            v.labels.tolist(), v.scores.tolist(), v.segments.tolist(), strict=True
        )
    ]


def _unmatched(got: list[Det], want: list[Det]) -> tuple[int, int]:
    """Detections of each side without a partner on the other (the judge's tolerances: same
    class, boundaries within 1e-4 s, score within 1e-5)."""
    left = list(want)
    missing = 0
    for d in got:
        for i, w in enumerate(left):
            if w[0] == d[0] and abs(w[2] - d[2]) <= 1e-4 and abs(w[3] - d[3]) <= 1e-4:
                if abs(w[1] - d[1]) <= 1e-5:
                    left.pop(i)
                    break
        else:
            missing += 1
    return missing, len(left)


def _assert_same(got: list[Det], want: list[Det] | None) -> None:
    want = want or []
    assert len(got) == len(want), (len(got), len(want))
    assert _unmatched(got, want) == (0, 0)


def _output(
    cas: torch.Tensor, probs: torch.Tensor, mask: torch.Tensor | None = None
) -> BaSNetOutput:
    """A suppression-branch output from a CAS (B, T, C+1) and video probabilities (B, C+1)."""
    return BaSNetOutput(None, cas, cas, probs, probs, probs[:, :-1], mask)


# --------------------------------------------------------------------------------------------
# blocks


def test_filter_and_suppression_match_the_reference_on_a_padded_batch() -> None:
    net = _net(1)
    counts = [23, 9, 1]
    x = torch.randn(3, 23, 6, dtype=f64)
    mask = torch.arange(23)[None, :] < torch.tensor(counts)[:, None]
    with torch.no_grad():
        w = net.filter_module(x, mask)
        supp = suppress_background(x, w, mask)
    sd = net.state_dict()
    for b, n in enumerate(counts):
        want = ref.basnet_forward(x[b, :n], sd, num_segments=n)
        torch.testing.assert_close(w[b, :n], torch.tensor(want.foreground_weights))
        torch.testing.assert_close(
            supp[b, :n], torch.tensor(want.foreground_weights)[:, None] * x[b, :n]
        )
    assert bool((w[~mask] == 0).all()) and bool((supp[~mask] == 0).all())
    assert bool(((w[mask] > 0) & (w[mask] < 1)).all())
    assert set(ForegroundFilter(6).state_dict()) == {
        "conv_1.0.weight", "conv_1.0.bias", "conv_2.0.weight", "conv_2.0.bias"
    }  # fmt: skip


def test_shared_branches_equal_one_call_per_branch_with_its_multiplier() -> None:
    net = _net(2).train()
    x = torch.randn(2, 11, 6, dtype=f64)
    xs = x * 0.5
    g = torch.Generator().manual_seed(0)
    m1, m2 = ((torch.rand(2, 11, 10, generator=g, dtype=f64) > 0.7) / 0.3 for _ in range(2))
    a, b = shared_branches(net.cas_module, [x, xs], [m1, m2])
    torch.testing.assert_close(a, net.cas_module(x, m1))
    torch.testing.assert_close(b, net.cas_module(xs, m2))
    with pytest.raises(ValueError, match="all tensors or all None"):
        shared_branches(net.cas_module, [x, xs], [m1, None])
    with pytest.raises(ValueError, match="one entry per branch"):
        shared_branches(net.cas_module, [x, xs], [m1])
    with pytest.raises(ValueError, match=r"inputs\[1\] must have the shape"):
        shared_branches(net.cas_module, [x, xs[:, :5]])
    with pytest.raises(ValueError, match="weights must have shape"):
        suppress_background(x, torch.ones(2, 10))


# --------------------------------------------------------------------------------------------
# losses


@pytest.mark.parametrize("seed", [0, 1])
def test_losses_match_the_reference(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    b, c, t = 5, 6, 17
    labels = (torch.rand(b, c, generator=g) > 0.6).to(f64)
    labels[:, seed] = 1.0  # every video has a class
    labels[0] = 1.0  # a video with every class
    pb = torch.softmax(torch.randn(b, c + 1, generator=g, dtype=f64) * 3, dim=1)
    ps = torch.softmax(torch.randn(b, c + 1, generator=g, dtype=f64) * 3, dim=1)
    ps[1] = torch.tensor([1.0] + [0.0] * c, dtype=f64)  # exact 0 and 1: logs clamped at -100
    w = torch.rand(b, t, generator=g, dtype=f64)
    want = ref.basnet_losses(pb.tolist(), ps.tolist(), w.tolist(), labels.tolist(), alpha=1e-4)
    total, terms = BaSNetObjective(1e-4)(pb, ps, w, labels)
    for key in ("loss_base", "loss_supp", "loss_norm", "loss_total"):
        assert float(terms[key]) == pytest.approx(want[key], rel=1e-12), key
    assert float(total) == pytest.approx(want["loss_total"], rel=1e-12)
    assert float(branch_classification_loss(pb, labels, background=True)) == pytest.approx(
        want["loss_base"], rel=1e-12
    )
    assert float(BranchClassificationLoss(background=False)(ps, labels)) == pytest.approx(
        want["loss_supp"], rel=1e-12
    )
    assert float(attention_norm_loss(w)) == pytest.approx(want["loss_norm"], rel=1e-12)
    assert float(AttentionNormLoss()(w)) == pytest.approx(want["loss_norm"], rel=1e-12)
    parts = (terms["loss_base"], terms["loss_supp"], terms["loss_norm"])
    assert float(basnet_total_loss(*parts, alpha=1e-4)) == pytest.approx(want["loss_total"])


def test_targets_norm_mask_and_errors() -> None:
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    base = background_class_targets(y, background=True)
    supp = background_class_targets(y, background=False)
    torch.testing.assert_close(
        base, torch.tensor([[1, 0, 1, 1], [0, 0, 1, 1]]) / torch.tensor([[3.0], [2.0]])
    )
    torch.testing.assert_close(supp, torch.tensor([[0.5, 0, 0.5, 0], [0, 0, 1, 0]]))
    # base targets exist without any action (background only); suppression targets do not
    assert background_class_targets(torch.zeros(1, 3), background=True).tolist() == [[0, 0, 0, 1]]
    with pytest.raises(ValueError, match="no positive class"):
        background_class_targets(torch.zeros(1, 3), background=False)
    with pytest.raises(ValueError, match="non-negative"):
        background_class_targets(-y, background=True)
    with pytest.raises(ValueError, match=r"\(B, C \+ 1\)"):
        branch_classification_loss(torch.full((2, 3), 1 / 3), y, background=True)
    w = torch.rand(2, 9)
    mask = torch.arange(9)[None, :] < torch.tensor([[9], [4]])
    masked = attention_norm_loss(w.masked_fill(~mask, 5.0), mask)
    assert float(masked) == pytest.approx(float((w[0].sum() + w[1, :4].sum()) / 2))
    assert float(attention_norm_loss(torch.full((1, 750), 1.0))) == 750.0  # a sum, not a mean
    probs = torch.softmax(torch.randn(2, 4), 1)
    total, terms = BaSNetObjective()(probs, None, None, y)  # base branch alone
    assert float(total) == float(terms["loss_base"]) and float(terms["loss_norm"]) == 0.0
    with pytest.raises(ValueError, match="both be None"):
        BaSNetObjective()(probs, probs, None, y)
    with pytest.raises(ValueError, match="alpha"):
        BaSNetObjective(-1.0)


# --------------------------------------------------------------------------------------------
# the network


def test_eval_and_train_forward_match_the_reference() -> None:
    net = _net(3)
    x = torch.randn(2, 24, 6, dtype=f64)
    sd = net.state_dict()
    with torch.no_grad():
        out = net(x)
    for b in range(2):
        want = ref.basnet_forward(x[b], sd, num_segments=24)
        assert want.k == 3
        for name in (
            "foreground_weights",
            "cas_base",
            "cas_supp",
            "video_probs_base",
            "video_probs_supp",
        ):
            torch.testing.assert_close(getattr(out, name)[b], torch.tensor(getattr(want, name)))
        torch.testing.assert_close(out.video_probs[b], torch.tensor(want.video_probs_supp[:-1]))
    net.train()
    spec = net.multiplier_spec(2, 24)
    assert list(spec) == ["base", "supp"] and spec["base"] == ((2, 24, 10), 0.7)
    mult = DropoutMultipliers.sample(spec, torch.Generator().manual_seed(5), dtype=f64)
    out = net(x, multipliers=mult)
    for b in range(2):
        want = ref.basnet_forward(
            x[b], sd, num_segments=24,
            base_multiplier=mult.tensors["base"][b], supp_multiplier=mult.tensors["supp"][b],
        )  # fmt: skip
        torch.testing.assert_close(out.cas_base[b].detach(), torch.tensor(want.cas_base))
        torch.testing.assert_close(out.cas_supp[b].detach(), torch.tensor(want.cas_supp))
        torch.testing.assert_close(
            out.video_probs_supp[b].detach(), torch.tensor(want.video_probs_supp)
        )
    net.eval()
    assert not torch.equal(out.cas_base, net(x).cas_base)  # the multipliers were applied


def test_padded_batch_equals_videos_alone_and_base_only_variant() -> None:
    net = _net(4)
    counts = [30, 11, 5]
    x = torch.randn(3, 30, 6, dtype=f64)
    mask = torch.arange(30)[None, :] < torch.tensor(counts)[:, None]
    x = x.masked_fill(~mask[:, :, None], 7.0)  # garbage in the padding
    with torch.no_grad():
        out = net(x, mask)
        for n, count in enumerate(counts):
            alone = net(x[n : n + 1, :count])
            torch.testing.assert_close(out.cas_supp[n, :count], alone.cas_supp[0])
            torch.testing.assert_close(out.video_probs_base[n], alone.video_probs_base[0])
            torch.testing.assert_close(out.video_probs[n], alone.video_probs[0])
        base = _net(4, use_filter=False)(x, mask)
    assert base.cas_supp is None and base.foreground_weights is None
    torch.testing.assert_close(base.cas_base, out.cas_base)
    torch.testing.assert_close(base.video_probs, out.video_probs_base[:, :4])
    torch.testing.assert_close(base.cas, out.cas_base)
    assert list(_net(4, use_filter=False).multiplier_spec(1, 5)) == ["base"]
    with pytest.raises(ValueError, match="F = feature_dim = 6"):
        net(torch.zeros(1, 5, 7, dtype=f64))


def test_checkpoint_round_trip_and_bad_checkpoints(tmp_path: Path) -> None:
    net = _net(5, dtype=torch.float32)
    state = net.state_dict()
    shapes = ref.basnet_state_dict_shapes(6, 4, hidden=10, filter_hidden=5)
    assert list(state) == list(ref.BASNET_STATE_DICT_KEYS)
    assert {k: tuple(v.shape) for k, v in state.items()} == shapes
    path = tmp_path / "BaS_Net_model_seed_0.pkl"
    torch.save(state, path)
    loaded = load_basnet_checkpoint(path, feature_dim=6, num_classes=4).eval()
    x = torch.randn(1, 16, 6)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).cas_supp, net(x).cas_supp, rtol=0, atol=0)
    from_file = torch.load(path, weights_only=True)  # as the official code reads it
    want = ref.basnet_forward(x[0], from_file, num_segments=16)
    np.testing.assert_allclose(net(x).cas_supp[0].detach().numpy(), want.cas_supp, atol=1e-4)
    full = BaSNet(8, 20).state_dict()  # the official sizes
    assert {k: tuple(v.shape) for k, v in full.items()} == ref.basnet_state_dict_shapes(8)

    def bad(sd: dict[str, torch.Tensor], match: str, **kw: int) -> None:
        p = tmp_path / "bad.pkl"
        torch.save(sd, p)
        with pytest.raises(CheckpointError, match=match) as info:
            load_basnet_checkpoint(p, **kw)  # type: ignore[arg-type]
        assert "\n" not in str(info.value) and str(p) in str(info.value)

    bad({**state, "cas_module.conv_1.0.weight": torch.zeros(10, 6, 1)}, "conv_1.0.weight")
    bad({**state, "cas_module.conv_3.0.bias": torch.zeros(5)}, "unexpected")
    bad({k: v for k, v in state.items() if "filter" not in k}, "missing")
    bad(state, "C\\+1", num_classes=20)
    bad(state, "feature size F", feature_dim=1024)
    bad({**state, "cas_module.conv_3.0.weight": torch.zeros(1, 10, 1)}, "C \\+ 1 >= 2")


# --------------------------------------------------------------------------------------------
# the post-processor


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pipeline_matches_the_official_test_for_every_video_length(seed: int) -> None:
    """Random small models on features of length L < T, L == T and L > T, each sampled to
    T = 40 by the official test sampling (short videos stretched)."""
    net = _net(10 + seed, c=5, dtype=torch.float32)
    sd = net.state_dict()
    rng = np.random.default_rng(seed)
    lengths = [17, 40, 133, int(rng.integers(41, 900))]
    feats = [rng.normal(0, 1, (n, 6)).astype(np.float32) for n in lengths]
    x = torch.stack(
        [
            torch.from_numpy(f[uniform_sampling(n, 40, stretch=True)])
            for f, n in zip(feats, lengths, strict=True)
        ]
    )
    with torch.no_grad():
        out = net(x)
    dets = BaSNetPostProcessor()(out, lengths)
    total = 0
    for b, n in enumerate(lengths):
        idx = ref.basnet_test_indices(n, 40)
        assert idx == uniform_sampling(n, 40, stretch=True).tolist()
        want_out = ref.basnet_forward(feats[b][idx], sd, num_segments=40)
        np.testing.assert_allclose(
            out.video_probs_supp[b].numpy(), want_out.video_probs_supp, atol=1e-6
        )
        want = ref.basnet_detect_video(out.cas_supp[b], out.video_probs_supp[b].numpy(), n)
        _assert_same(_dets(dets[b]), want)
        total += len(want or [])
    assert total > 0


def test_random_cas_padded_batch_matches_the_official_test() -> None:
    """The post-processor alone on random, smooth and quantised CAS, with padding."""
    rng = np.random.default_rng(3)
    counts, c = [750, 40, 23, 31], 5
    cas = np.zeros((4, 750, c + 1), dtype=np.float32)
    cas[0] = rng.normal(0, 1, (750, c + 1))
    kernel = np.hanning(9) / np.hanning(9).sum()
    cas[1, :40] = np.stack(
        [np.convolve(rng.normal(0, 2, 48), kernel, "valid") for _ in range(c + 1)], 1
    )
    cas[2, :23] = np.round(rng.normal(-0.5, 1, (23, c + 1)) * 2) / 2  # ties, negative minima
    cas[3, :31] = rng.normal(0, 1, (31, c + 1)) - 2.0  # mostly negative: extrapolated tails
    probs = torch.softmax(torch.from_numpy(rng.normal(0, 1.2, (4, c + 1))).float(), 1)
    probs[3] = torch.tensor([0.05, 0.3, 0.3, 0.3, 0.03, 0.02])
    mask = torch.arange(750)[None, :] < torch.tensor(counts)[:, None]
    cas_t = torch.from_numpy(cas).masked_fill(~mask[:, :, None], 99.0)
    lengths = [2000, 40, 10, 90]
    dets = BaSNetPostProcessor()(_output(cas_t, probs, mask), lengths)
    for b, n in enumerate(counts):
        want = ref.basnet_detect_video(cas[b, :n], probs[b].numpy(), lengths[b], on_crash="skip")
        _assert_same(_dets(dets[b]), want)
        assert bool((dets[b].scores[:-1] >= dets[b].scores[1:]).all())


def _quirk_batch() -> tuple[BaSNetOutput, list[int]]:
    """Video 0: BaseballPitch only. Video 1: class 1 whose only candidate is position 0
    (a steep drop after segment 0), class 2 ordinary. Video 2: class 1 with negative logits and
    a rising tail (candidates only in the extrapolation past the last segment)."""
    t, c = 20, 3
    cas = torch.linspace(-1, 1, t)[None, :, None].repeat(3, 1, c + 1).contiguous()
    cas[1, :, 1] = -100.0
    cas[1, 0, 1] = 1.0
    cas[2, :, 1] = -2.0
    cas[2, -1, 1] = -0.1
    probs = torch.tensor(
        [[0.5, 0.2, 0.1, 0.2], [0.1, 0.3, 0.3, 0.3], [0.1, 0.6, 0.1, 0.2]], dtype=torch.float32
    )
    return _output(cas, probs), [20, 20, 20]


def test_faithful_quirks_and_crash_cases_do_not_raise() -> None:
    out, lengths = _quirk_batch()
    dets = BaSNetPostProcessor()(out, lengths)
    assert len(dets[0]) == 0  # BaseballPitch alone: no entry, as the official test
    assert ref.basnet_detect_video(out.cas[0], out.video_probs_supp[0].numpy(), 20) is None
    with pytest.raises(IndexError):  # where the official test would abort ...
        ref.basnet_detect_video(out.cas[1], out.video_probs_supp[1].numpy(), 20)
    for b in (1, 2):  # ... we skip that class at that threshold, as on_crash="skip" does
        want = ref.basnet_detect_video(
            out.cas[b], out.video_probs_supp[b].numpy(), 20, on_crash="skip"
        )
        _assert_same(_dets(dets[b]), want)
    assert 1 not in dets[1].labels.tolist() and set(dets[1].labels.tolist()) == {2}
    tail = dets[2].segments[dets[2].labels == 1]
    assert len(tail) > 0 and bool((tail[:, 0] >= 19 * 24 * ref.seconds_per_position(20, 20)).all())
    assert bool((dets[1].scores[dets[1].labels == 2] > 0.2).all())  # the constant 0.2 term


def test_non_faithful_options_change_exactly_what_they_say() -> None:
    out, lengths = _quirk_batch()
    faithful = BaSNetPostProcessor()(out, lengths)
    fixed = BaSNetPostProcessor(BaSNetInferenceConfig(faithful=False))(out, lengths)
    # BaseballPitch-only video: localised, like any other video
    assert set(fixed[0].labels.tolist()) == {0}
    # position 0 alone: one proposal [0, f) of score 1 - 0 + 0.2 at each threshold, NMS keeps one
    f = ref.seconds_per_position(20, 20)
    lone = fixed[1].labels == 1
    assert fixed[1].segments[lone].tolist() == [[0.0, f]] and fixed[1].scores[lone].tolist() == [
        1.2
    ]
    # class 2 of video 1 has no quirk: identical in both modes
    same = faithful[1].labels == 2
    torch.testing.assert_close(fixed[1].segments[fixed[1].labels == 2], faithful[1].segments[same])
    # no extrapolation: the rising tail is held flat below 0, so class 1 of video 2 has nothing
    assert 1 in faithful[2].labels.tolist() and 1 not in fixed[2].labels.tolist()
    # options that are settings, not quirks
    argmax = BaSNetPostProcessor(
        BaSNetInferenceConfig(class_fallback="argmax", class_threshold=0.9, faithful=False)
    )
    assert argmax.classes(out.video_probs).tolist() == [
        [True, False, False], [False, True, False], [False, True, False]
    ]  # fmt: skip
    assert (
        BaSNetPostProcessor(BaSNetInferenceConfig(class_threshold=0.9))
        .classes(out.video_probs)
        .sum()
        == 0
    )  # no fallback: no class, no detection
    assert [len(d) for d in argmax(out, lengths)][:2] == [len(fixed[0]), 1]
    clipped = BaSNetPostProcessor(BaSNetInferenceConfig(clip=True)).scores(out)
    assert float(clipped.min()) >= 0.0 and float(BaSNetPostProcessor().scores(out).min()) < 0.0
    prob = BaSNetPostProcessor(BaSNetInferenceConfig(video_score="probability"))(out, lengths)
    shift = (prob[1].scores - faithful[1].scores).tolist()
    assert shift == pytest.approx([0.2 * 0.3 - 0.2] * len(shift), abs=1e-7)
    with pytest.raises(ValueError, match="video_score"):
        BaSNetInferenceConfig(video_score="max")  # type: ignore[arg-type]


def test_official_inference_defaults() -> None:
    cfg = BaSNetInferenceConfig()
    assert cfg.class_threshold == 0.25 and cfg.nms_threshold == 0.7 and cfg.nms_offset == 1.0
    assert cfg.cas_thresholds == BASNET_CAS_THRESHOLDS == ref.BASNET_CAS_THRESHOLDS
    assert BASNET_CAS_THRESHOLDS == tuple(np.arange(0, 0.25, 0.025).tolist())
    assert (cfg.scale, cfg.min_length, cfg.video_score_weight) == (24, 1, 0.2)
    assert cfg.class_fallback == "none" and cfg.clip is False and cfg.faithful is True


# --------------------------------------------------------------------------------------------
# the recipe


def test_config_defaults_and_registry() -> None:
    from wtal_blocks.recipes.methods import get_method
    from wtal_blocks.recipes.methods.basnet import BaSNetConfig

    cfg = BaSNetConfig()
    assert (cfg.iterations, cfg.batch_size, cfg.lr, cfg.weight_decay) == (1500, 16, 1e-4, 5e-4)
    assert (cfg.class_threshold, cfg.alpha, cfg.topk_ratio, cfg.dropout) == (0.25, 1e-4, 8.0, 0.7)
    assert cfg.batch_order == "fresh_shuffle" and cfg.faithful and cfg.filter
    assert cfg.tiou_thresholds == "0.1:0.7:0.1"
    assert set(BaSNetConfig.help) >= {f for f in cfg.to_dict() if f not in ("method",)}
    assert BaSNetConfig(filter=False).filter is False
    with pytest.raises(ValueError, match="filter must be bool, got 'False'"):
        BaSNetConfig(filter="False")  # type: ignore[arg-type]
    method = get_method("basnet")
    assert method.test_sampling(cfg) == "stretch"
    assert method.loss_terms == ("loss_base", "loss_supp", "loss_norm", "loss_total")
    assert [row[2] for row in method.ablation] == [{}, {"filter": False}]


def test_cli_train_and_evaluate(tmp_path: Path) -> None:
    from wtal_blocks.cli.wtal import main

    lengths = {
        **{f"train_{i}": 20 + 3 * i for i in range(4)},
        **{f"test_{i}": 12 + 9 * i for i in range(3)},
    }
    root = write_thumos_layout(tmp_path / "data", lengths, instances=True)
    out = tmp_path / "run"
    common = ["--data-root", str(root), "--modal", "rgb", "--num-segments", "16"]
    code = main(
        ["train", "--method", "basnet", *common, "--iterations", "2", "--batch-size", "3",
         "--hidden", "16", "--filter-hidden", "8", "--eval-every", "0", "--num-workers", "0",
         "--output-dir", str(out)]
    )  # fmt: skip
    assert code == 0
    weights = torch.load(out / "model_final.pkl", weights_only=True)
    assert list(weights) == list(ref.BASNET_STATE_DICT_KEYS)
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["mAP"]) == 7 and "average_mAP" in metrics and metrics["method"] == "basnet"
    result = tmp_path / "result.json"
    code = main(
        ["evaluate", "--method", "basnet", *common, "--checkpoint", str(out / "model_final.pkl"),
         "--output", str(result)]
    )  # fmt: skip
    assert code == 0
    written = json.loads(result.read_text())
    assert {"version", "results", "external_data"} <= set(written)
    bad = tmp_path / "um.pkl"
    torch.save({"cas_module.conv.0.weight": torch.zeros(2, 8, 3)}, bad)
    assert (
        main(
            [
                "evaluate",
                "--method",
                "basnet",
                *common,
                "--checkpoint",
                str(bad),
                "--output",
                str(tmp_path / "r2.json"),
            ]
        )
        == 2
    )


def test_documented_commands_parse_and_boolean_flags_are_read() -> None:
    from tests.test_docs import DOCS, _command_lines
    from wtal_blocks.cli.wtal import _config_from, build_parser
    from wtal_blocks.recipes.methods.basnet import BaSNetConfig

    lines = [w for _, w in _command_lines(DOCS / "methods" / "basnet.md") if w[0] == "wtal"]
    assert [w[1] for w in lines] == ["train", "evaluate", "ablation"]
    for words in lines:
        build_parser("basnet").parse_args(words[1:])
    args = build_parser("basnet").parse_args(
        ["evaluate", "--method", "basnet", "--checkpoint", "c.pkl", "--output", "r.json",
         "--filter", "false", "--faithful", "False"]
    )  # fmt: skip
    cfg = _config_from(args, BaSNetConfig)
    assert cfg.filter is False and cfg.faithful is False


def test_wtal_evaluate_matches_the_official_test_end_to_end(tmp_path: Path) -> None:
    """Features on disk -> ``wtal evaluate`` -> result file, against the reference test on
    the same checkpoint: stretch sampling (L < T, L == T, L > T), lengths, detections."""
    from wtal_blocks.cli.wtal import main
    from wtal_blocks.data import THUMOS14_CLASSES

    lengths = {"train_0": 20, "train_1": 25, "test_0": 12, "test_1": 16, "test_2": 30}
    root = write_thumos_layout(tmp_path / "data", lengths, instances=True)
    torch.manual_seed(1)
    net = BaSNet(8, 20, hidden=16, filter_hidden=8)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(4.0)
    torch.save(net.state_dict(), tmp_path / "ck.pkl")
    result = tmp_path / "result.json"
    args = ["--data-root", str(root), "--modal", "rgb", "--num-segments", "16"]
    code = main(
        ["evaluate", "--method", "basnet", *args, "--checkpoint", str(tmp_path / "ck.pkl"),
         "--output", str(result)]
    )  # fmt: skip
    assert code == 0
    got = json.loads(result.read_text())["results"]
    net.eval()
    total = 0
    for vid in ("test_0", "test_1", "test_2"):
        feats = np.load(root / "features" / "test" / "rgb" / f"{vid}.npy")
        x = torch.from_numpy(feats[ref.basnet_test_indices(len(feats), 16)])[None]
        with torch.no_grad():
            out = net(x)
        want = ref.basnet_detect_video(out.cas_supp[0], out.video_probs_supp[0].numpy(), len(feats))
        mine = [(THUMOS14_CLASSES.index(d["label"]), d["score"], *d["segment"]) for d in got[vid]]
        _assert_same(mine, want)
        total += len(mine)
    assert total > 0


def test_training_without_the_filter_uses_the_base_branch_alone(tmp_path: Path) -> None:
    import csv

    from wtal_blocks.recipes import train
    from wtal_blocks.recipes.methods.basnet import BaSNetConfig

    lengths = {"train_0": 20, "train_1": 22, "test_0": 14}
    root = write_thumos_layout(tmp_path / "data", lengths, instances=True)
    cfg = BaSNetConfig(
        data_root=str(root), modal="rgb", num_segments=16, iterations=2, batch_size=2,
        hidden=16, filter_hidden=8, eval_every=0, num_workers=0,
        output_dir=str(tmp_path / "run"), filter=False,
    )  # fmt: skip
    train(cfg, log=lambda _: None, progress=False)
    rows = list(csv.DictReader((tmp_path / "run" / "train_log.csv").open()))
    assert [float(r["loss_supp"]) for r in rows] == [0.0, 0.0]
    assert all(float(r["loss_total"]) == float(r["loss_base"]) for r in rows)
    weights = torch.load(tmp_path / "run" / "model_final.pkl", weights_only=True)
    assert list(weights) == list(ref.BASNET_STATE_DICT_KEYS)  # the official layout still

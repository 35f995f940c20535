"""CoLA assembled from the blocks, against the plain-loop reference of the official code.

Each block CoLA uses is checked against ``tests/reference/cola_reference.py`` on random,
tie-heavy and padded inputs: the actionness, the easy and hard segment selections, InfoNCE and
the SniCo loss, the network's forward pass (eval and train with explicit multipliers), the
checkpoint layout, and the batched post-processor against the per-video, per-class,
per-threshold test pipeline. The recipe is run end to end on a tiny official-layout dataset.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import write_thumos_layout
from tests.reference import cola_reference as ref
from wtal_blocks.actionness import actionness
from wtal_blocks.cli.wtal import main
from wtal_blocks.inference.cola import (
    COLA_ACTIONNESS_THRESHOLDS,
    COLA_CAS_THRESHOLDS,
    CoLAInferenceConfig,
    CoLAPostProcessor,
)
from wtal_blocks.losses.cola import CoLAObjective, info_nce, snico_loss
from wtal_blocks.models.checkpoint import CheckpointError
from wtal_blocks.models.cola import CoLA, CoLAOutput, load_cola_checkpoint
from wtal_blocks.models.dropout import DropoutMultipliers
from wtal_blocks.recipes.methods import get_method
from wtal_blocks.recipes.methods.cola import CoLAConfig
from wtal_blocks.snippets import (
    SelectedSegments,
    hard_segment_bands,
    select_hard_segments,
    select_pseudo_segments,
)

f64 = torch.float64
Det = tuple[int, float, float, float]


def _ranking(kind: str, b: int, t: int, g: torch.Generator) -> torch.Tensor:
    """Random rankings; ``ties``: few distinct values (median-valued entries, equal maxima)."""
    if kind == "random":
        return torch.rand(b, t, generator=g)
    if kind == "ties":
        return torch.randint(0, 4, (b, t), generator=g).float() * 0.5
    return torch.relu(torch.randn(b, t, generator=g))  # "zeros": many exact zeros, as CoLA's


def _valid(sel: SelectedSegments, n: int) -> list[int]:
    return sel.index[n, sel.valid[n]].tolist()


# ------------------------------------------------------------------------------------------
# actionness and the selections
# ------------------------------------------------------------------------------------------


def test_actionness_is_the_class_sum_and_zero_on_padding() -> None:
    g = torch.Generator().manual_seed(0)
    cas = torch.relu(torch.randn(2, 7, 5, generator=g, dtype=f64))
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    got = actionness(cas, mask)
    for b, n in enumerate((7, 4)):
        want = [sum(float(cas[b, t, c]) for c in range(5)) for t in range(n)]
        np.testing.assert_allclose(got[b, :n].numpy(), want, rtol=1e-15)
    assert got[1, 4:].tolist() == [0.0, 0.0, 0.0]
    assert torch.equal(actionness(cas.float()), cas.float().sum(dim=2))  # the official reduction
    with pytest.raises(ValueError, match="cas must have shape"):
        actionness(cas[0])
    with pytest.raises(ValueError, match="cas must be finite"):
        actionness(torch.full((1, 2, 3), float("nan")))


@pytest.mark.parametrize("kind", ["random", "ties", "zeros"])
@pytest.mark.parametrize("padded", [False, True])
def test_easy_and_hard_selections_match_the_reference(kind: str, padded: bool) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(8):
        b, t = 3, int(torch.randint(20, 90, (1,), generator=g))
        ranking = _ranking(kind, b, t, g)
        counts = [t, max(20, t - 7), max(20, t - 19)] if padded else [t] * b
        mask = torch.arange(t)[None] < torch.tensor(counts)[:, None] if padded else None
        mult = (torch.rand(b, t, generator=g) > 0.6).float() / 0.4  # Dropout(0.6) of ones
        easy = select_pseudo_segments(
            ranking, action_ratio=5, background_ratio=5, mask=mask, multiplier=mult, stable=True
        )
        hard_action, hard_background = select_hard_segments(
            ranking, hard_ratio=20, inner=3, outer=6, mask=mask
        )
        for n, count in enumerate(counts):
            values = ranking[n, :count].numpy()
            ea, eb = ref.easy_snippet_mining(values, count // 5, mult[n, :count].tolist())
            ha, hb = ref.hard_snippet_mining(values, count // 20)
            assert _valid(easy.action, n) == ea
            assert _valid(easy.background, n) == eb
            assert _valid(hard_action, n) == ha
            assert _valid(hard_background, n) == hb


def test_hard_bands_median_rule_and_windows() -> None:
    g = torch.Generator().manual_seed(2)
    for t in (20, 21, 37, 60):  # even and odd counts: np.median's mean of the middle two
        for kind in ("random", "ties", "zeros"):
            ranking = _ranking(kind, 2, t, g)
            inside, outside = hard_segment_bands(ranking, inner=3, outer=6)
            for n in range(2):
                inner, outer = ref.hard_snippet_bands(ranking[n].numpy())
                assert inside[n].int().tolist() == inner
                assert outside[n].int().tolist() == outer
    # the worked example of the reference: erode_6 looks at t-3..t+2, dilate_6 at t-2..t+3
    block = torch.tensor([[0.0] * 3 + [1.0] * 7 + [0.0] * 4])
    inside, outside = hard_segment_bands(block)
    assert torch.nonzero(inside[0]).flatten().tolist() == [4, 5, 8]
    assert torch.nonzero(outside[0]).flatten().tolist() == [0, 1, 11]


def test_a_short_band_is_filled_with_zero_valued_segments() -> None:
    # one action block: the inner band has 3 segments, k_hard = 80 // 20 = 4
    ranking = torch.zeros(1, 80)
    ranking[0, 30:40] = torch.linspace(1.0, 2.0, 10)
    hard_action, hard_background = select_hard_segments(ranking, hard_ratio=20)
    ha, hb = ref.hard_snippet_mining(ranking[0].numpy(), 4)
    assert hard_action.index[0].tolist() == ha
    assert hard_background.index[0].tolist() == hb
    # inner band 31, 32, 38 ranked by value, then the first zero-valued segment (index 0)
    assert ha == [38, 32, 31, 0]
    assert float(ranking[0, ha[-1]]) == 0.0


# ------------------------------------------------------------------------------------------
# losses
# ------------------------------------------------------------------------------------------


def _selections(b: int, t: int, g: torch.Generator) -> list[ref.ColaSelections]:
    out = []
    for _ in range(b):
        perm = torch.randperm(t, generator=g).tolist()
        out.append(ref.ColaSelections(perm[:6], perm[6:12], perm[12:14], perm[14:16]))
    return out


def _as_selected(rows: list[list[int]]) -> SelectedSegments:
    index = torch.tensor(rows)
    return SelectedSegments(
        index,
        torch.ones_like(index, dtype=torch.bool),
        index.new_full((len(rows),), index.shape[1]),
    )


@pytest.mark.parametrize("case", ["random", "zero_vectors", "huge", "identical"])
def test_info_nce_and_snico_match_the_reference(case: str) -> None:
    g = torch.Generator().manual_seed(3)
    b, t, d = 3, 30, 7
    emb = torch.rand(b, t, d, generator=g, dtype=f64)
    if case == "zero_vectors":
        emb[:, ::2] = 0.0  # F.normalize maps zero vectors to zero
    elif case == "huge":
        emb = emb * 1e6
    elif case == "identical":
        emb[:] = emb[:, :1]  # every logit equal: loss log(K + 1)
    sels = _selections(b, t, g)
    got = snico_loss(
        emb,
        _as_selected([s.easy_action for s in sels]),
        _as_selected([s.easy_background for s in sels]),
        _as_selected([s.hard_action for s in sels]),
        _as_selected([s.hard_background for s in sels]),
    )
    want = ref.snico_loss(list(emb), sels)
    for key in ("loss_ha", "loss_hb", "loss_snico"):
        assert float(got[key]) == pytest.approx(want[key], rel=1e-10, abs=1e-12)
    if case == "identical":
        assert float(got["loss_ha"]) == pytest.approx(math.log(7), rel=1e-12)
    q, k, neg = emb[:, 0], emb[:, 1], emb[:, 2:8]
    one = [ref.info_nce(list(q[n]), list(k[n]), [list(v) for v in neg[n]]) for n in range(b)]
    assert float(info_nce(q, k, neg, 0.07)) == pytest.approx(float(sum(one)) / b, rel=1e-10)


def test_invalid_negatives_are_left_out() -> None:
    g = torch.Generator().manual_seed(4)
    q, k = torch.randn(2, 5, generator=g, dtype=f64), torch.randn(2, 5, generator=g, dtype=f64)
    neg = torch.randn(2, 4, 5, generator=g, dtype=f64)
    valid = torch.tensor([[True, True, False, False], [True, True, True, True]])
    got = info_nce(q, k, neg, 0.5, negatives_valid=valid)
    want = (info_nce(q[:1], k[:1], neg[:1, :2], 0.5) + info_nce(q[1:], k[1:], neg[1:], 0.5)) / 2
    assert float(got) == pytest.approx(float(want), rel=1e-12)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        info_nce(q, k, neg, 0.0)
    with pytest.raises(ValueError, match="must agree on B and D"):
        info_nce(q, k[:, :3], neg)


def test_cola_objective_matches_the_reference_losses() -> None:
    g = torch.Generator().manual_seed(5)
    b, t, d, c = 2, 30, 5, 4
    emb = torch.rand(b, t, d, generator=g, dtype=f64)
    probs = torch.softmax(torch.randn(b, c, generator=g, dtype=f64), 1)
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 0]], dtype=f64)
    sels = _selections(b, t, g)
    total, terms = CoLAObjective()(
        probs,
        labels,
        emb,
        _as_selected([s.easy_action for s in sels]),
        _as_selected([s.easy_background for s in sels]),
        _as_selected([s.hard_action for s in sels]),
        _as_selected([s.hard_background for s in sels]),
    )
    want = ref.cola_losses(probs.tolist(), labels.tolist(), list(emb), sels)
    for key in ("loss_cls", "loss_ha", "loss_hb", "loss_snico", "loss_total"):
        assert float(terms[key]) == pytest.approx(want[key], rel=1e-10)
    assert float(total) == float(terms["loss_total"])
    with pytest.raises(ValueError, match="snico_weight must be >= 0"):
        CoLAObjective(-1.0)


# ------------------------------------------------------------------------------------------
# the network and its checkpoint
# ------------------------------------------------------------------------------------------


def _net(seed: int, *, feature_dim: int = 6, num_classes: int = 5, sparse: bool = False) -> CoLA:
    torch.manual_seed(seed)
    net = CoLA(feature_dim, num_classes, embed_dim=16)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
        if sparse:  # most class logits negative: many segments of exactly zero actionness
            net.actionness_module.f_cls[0].weight.sub_(0.6)
    return net


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_forward_matches_the_reference(train: bool, sparse: bool) -> None:
    net = _net(6, sparse=sparse).double().train(train)
    b, t = 3, 60
    x = torch.rand(b, t, 6, generator=torch.Generator().manual_seed(7), dtype=f64)
    mult = None
    if train:
        spec = net.multiplier_spec(b, t)
        assert spec == {"features": ((b, t, 16), 0.7), "selection": ((b, t), 0.6)}
        mult = DropoutMultipliers.sample(spec, torch.Generator().manual_seed(8), dtype=f64)
    out = net(x, multipliers=mult)
    sd = net.state_dict()
    zeros = 0
    for n in range(b):
        want = ref.cola_forward(
            x[n],
            sd,
            embedding_multiplier=None if mult is None else mult.tensors["features"][n],
            selection_multiplier=None if mult is None else mult.tensors["selection"][n],
        )
        np.testing.assert_allclose(out.embeddings[n].detach(), want.embeddings, atol=1e-12)
        np.testing.assert_allclose(out.cas[n].detach(), want.cas, atol=1e-12)
        np.testing.assert_allclose(out.actionness[n].detach(), want.actionness, atol=1e-12)
        np.testing.assert_allclose(out.video_probs[n].detach(), want.video_probs, atol=1e-12)
        s = want.selections
        assert out.easy_action.index[n].tolist() == s.easy_action
        assert out.easy_background.index[n].tolist() == s.easy_background
        assert out.hard_action.index[n].tolist() == s.hard_action
        assert out.hard_background.index[n].tolist() == s.hard_background
        zeros += int((want.actionness == 0).sum())
    assert (zeros > 20) == sparse  # the sparse nets exercise the tie-heavy EB ranking
    pairs = out.contrast_pairs()
    assert pairs["EA"].shape == (b, 12, 16) and pairs["HB"].shape == (b, 3, 16)


def test_padded_batch_equals_each_video_alone() -> None:
    net = _net(9).eval()
    x = torch.rand(3, 50, 6, generator=torch.Generator().manual_seed(10))
    counts = [50, 31, 22]
    mask = torch.arange(50)[None] < torch.tensor(counts)[:, None]
    with torch.no_grad():
        out = net(x, mask)
        for n, count in enumerate(counts):
            alone = net(x[n : n + 1, :count])
            torch.testing.assert_close(out.cas[n, :count], alone.cas[0])
            torch.testing.assert_close(out.video_probs[n], alone.video_probs[0])
            torch.testing.assert_close(out.actionness[n, :count], alone.actionness[0])
            assert _valid(out.hard_action, n) == alone.hard_action.index[0].tolist()
            assert _valid(out.easy.background, n) == alone.easy.background_index[0].tolist()
    assert out.actionness[2, 22:].abs().sum() == 0


def test_checkpoint_round_trip_and_bad_checkpoints(tmp_path: Path) -> None:
    net = _net(11).eval()
    path = tmp_path / "model_best.pth.tar"
    torch.save(net.state_dict(), path)
    assert list(net.state_dict()) == list(ref.COLA_STATE_DICT_KEYS)
    loaded = load_cola_checkpoint(path, feature_dim=6, num_classes=5).eval()
    assert loaded.embed_dim == 16
    x = torch.rand(1, 30, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x).cas, net(x).cas)
    sd = net.state_dict()
    cases = {
        "missing": {k: v for k, v in sd.items() if "bias" not in k},
        "extra": {**sd, "cas_module.conv.0.weight": sd["actionness_module.f_embed.0.weight"]},
        "shape": {**sd, "actionness_module.f_cls.0.weight": torch.zeros(5, 15, 1)},
        "list": [1, 2, 3],
    }
    for name, state in cases.items():
        bad = tmp_path / f"{name}.pt"
        torch.save(state, bad)
        with pytest.raises(CheckpointError) as err:
            load_cola_checkpoint(bad)
        assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="feature size F = 6"):
        load_cola_checkpoint(path, feature_dim=8)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable weights-only checkpoint"):
        load_cola_checkpoint(truncated)


# ------------------------------------------------------------------------------------------
# the post-processor against the official test pipeline
# ------------------------------------------------------------------------------------------


def _detections(post_out: object) -> list[Det]:
    d = post_out
    return [
        (int(lab), float(s), float(a), float(b))
        for lab, s, (a, b) in zip(
            d.labels.tolist(),  # type: ignore[attr-defined]
            d.scores.tolist(),  # type: ignore[attr-defined]
            d.segments.tolist(),  # type: ignore[attr-defined]
            strict=True,
        )
    ]


def _same(a: Det, b: Det) -> bool:
    """The judge's tolerances: class, boundaries within 1e-4 s, score within 1e-5."""
    return (
        a[0] == b[0]
        and abs(a[2] - b[2]) <= 1e-4
        and abs(a[3] - b[3]) <= 1e-4
        and abs(a[1] - b[1]) <= 1e-5
    )


def _agreement(got: list[Det], want: list[Det]) -> tuple[int, int]:
    """Detections of each side with a match on the other (both ways)."""
    return (
        sum(any(_same(g, w) for w in want) for g in got),
        sum(any(_same(g, w) for g in got) for w in want),
    )


def _padded(feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    t = max(f.shape[0] for f in feats)
    x = torch.zeros(len(feats), t, feats[0].shape[1])
    for n, f in enumerate(feats):
        x[n, : f.shape[0]] = f
    counts = torch.tensor([f.shape[0] for f in feats])
    return x, torch.arange(t)[None] < counts[:, None]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_post_processor_matches_the_official_pipeline(seed: int) -> None:
    net = _net(seed, num_classes=20).eval()
    g = torch.Generator().manual_seed(100 + seed)
    t = 40  # the test T; L < T keeps every segment, L > T samples floor(i L / T)
    lengths = [17, 40, 33, 95, 400]
    feats = []
    for length in lengths:
        raw = torch.rand(length, 6, generator=g) * torch.linspace(0.2, 2.0, length)[:, None]
        feats.append(raw[ref.cola_test_indices(length, t)])
    x, mask = _padded(feats)
    with torch.no_grad():
        out = net(x, mask)
    dets = CoLAPostProcessor()(out, lengths)
    total = 0
    for n, length in enumerate(lengths):
        count = int(mask[n].sum())
        want = ref.cola_detect_video(
            out.cas[n, :count].numpy(),
            out.actionness[n, :count].numpy(),
            out.video_probs[n].tolist(),
            length,
            on_crash="skip",
        )
        got = _detections(dets[n])
        assert len(got) == len(want)  # exact counts in faithful mode
        assert _agreement(got, want) == (len(got), len(want))
        assert bool((dets[n].scores[:-1] >= dets[n].scores[1:]).all())
        total += len(got)
    assert total > 50


def _output(cas: torch.Tensor, probs: torch.Tensor, mask: torch.Tensor | None) -> CoLAOutput:
    aness = actionness(cas, mask)
    easy = select_pseudo_segments(aness, action_ratio=5, background_ratio=5, mask=mask)
    hard_action, hard_background = select_hard_segments(aness, hard_ratio=20, mask=mask)
    zeros = torch.zeros(*cas.shape[:2], 1)
    return CoLAOutput(probs, cas, aness, zeros, easy, hard_action, hard_background, mask)


def test_post_processor_on_adversarial_sequences() -> None:
    """Quantised CAS (plateaus, exact threshold hits), isolated spikes hitting thresholds
    exactly, classes that never fire, padded videos of 9 segments stretched over L = 600.
    Exact mathematical score ties between overlapping proposals (plateaus, linear pieces) may
    be broken by rounding on either side (NumPy means here, prefix sums in the library), so
    agreement is counted rather than required per detection."""
    g = torch.Generator().manual_seed(12)
    agree = [0, 0, 0, 0]
    for trial in range(12):
        b, t, c = 3, 40, 6
        if trial % 3 == 0:
            cas = torch.randint(0, 5, (b, t, c), generator=g).float() * 0.25
        elif trial % 3 == 1:
            cas = torch.zeros(b, t, c)
            for n in range(b):
                spots = torch.randint(0, t, (6,), generator=g)
                classes = torch.randint(0, c, (6,), generator=g)
                cas[n, spots, classes] = torch.tensor([0.2, 1.0, 0.225, 0.9, 0.5, 0.1])
        else:
            fire = torch.rand(b, 1, c, generator=g) > 0.4
            cas = torch.relu(torch.randn(b, t, c, generator=g)) * fire
        counts, lengths = [40, 23, 9], [100, 23, 600]
        mask = torch.arange(t)[None] < torch.tensor(counts)[:, None]
        probs = torch.softmax(torch.randn(b, c, generator=g) * (2.0 if trial % 2 else 0.3), 1)
        out = _output(cas, probs, mask)
        dets = CoLAPostProcessor()(out, lengths)
        for n, count in enumerate(counts):
            args = (cas[n, :count].numpy(), out.actionness[n, :count].numpy(), probs[n].tolist())
            want = ref.cola_detect_video(*args, lengths[n])
            got = _detections(dets[n])
            ok_got, ok_want = _agreement(got, want)
            agree = [
                agree[0] + ok_got,
                agree[1] + len(got),
                agree[2] + ok_want,
                agree[3] + len(want),
            ]
    assert agree[1] == agree[3] > 500
    assert agree[0] / agree[1] >= 0.995 and agree[2] / agree[3] >= 0.995


def test_inference_config_defaults_and_the_non_faithful_option() -> None:
    cfg = CoLAInferenceConfig()
    assert (cfg.class_threshold, cfg.nms_threshold, cfg.nms_offset, cfg.scale) == (
        0.2,
        0.6,
        1.0,
        24,
    )
    assert (cfg.min_length, cfg.video_score_weight, cfg.faithful) == (2, 0.2, True)
    assert cfg.resolved_cas_thresholds == ref.COLA_CAS_THRESHOLDS == COLA_CAS_THRESHOLDS
    assert cfg.resolved_actionness_thresholds == ref.COLA_ACTIONNESS_THRESHOLDS
    assert len(COLA_ACTIONNESS_THRESHOLDS) == 33
    fixed = CoLAInferenceConfig(faithful=False)
    assert fixed.resolved_actionness_thresholds[4] == 0.2  # 0.19999999999999998 when faithful
    assert fixed.resolved_cas_thresholds[3] == 0.075
    # a class rising to the last segment: the faithful tail is extrapolated past 1
    cas = torch.zeros(1, 10, 2)
    cas[0, :, 1] = torch.linspace(0.0, 1.0, 10)
    out = _output(cas, torch.tensor([[0.1, 0.9]]), None)
    faithful = CoLAPostProcessor()(out, [10])[0]
    held = CoLAPostProcessor(fixed)(out, [10])[0]
    assert len(faithful) and len(held) and not torch.equal(faithful.scores, held.scores)
    # no class above the threshold: the arg-max class, or none with class_fallback="none"
    low = _output(
        torch.rand(1, 30, 4), torch.full((1, 4), 0.25) - torch.tensor([0, 0, 0.1, 0]), None
    )
    assert set(CoLAPostProcessor()(low, [30])[0].labels.tolist()) <= {0, 1, 3}
    none = CoLAPostProcessor(CoLAInferenceConfig(class_threshold=0.5, class_fallback="none"))
    assert len(none(low, [30])[0]) == 0
    with pytest.raises(ValueError, match="class_fallback"):
        CoLAInferenceConfig(class_fallback="first")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# the recipe
# ------------------------------------------------------------------------------------------


def test_official_defaults_and_registration() -> None:
    cfg = CoLAConfig()
    assert (cfg.iterations, cfg.batch_size, cfg.lr, cfg.weight_decay) == (6000, 16, 1e-4, 5e-4)
    assert (cfg.class_threshold, cfg.eval_every, cfg.seed, cfg.faithful) == (0.2, 100, 0, True)
    assert (cfg.snico_weight, cfg.temperature, cfg.embed_dim) == (0.01, 0.07, 2048)
    assert (cfg.easy_ratio, cfg.hard_ratio, cfg.inner, cfg.outer) == (5, 20, 3, 6)
    assert (cfg.dropout, cfg.selection_dropout) == (0.7, 0.6)
    method = get_method("cola")
    assert method.config_type is CoLAConfig and method.test_sampling(cfg) == "uniform"
    assert [(r[0], r[1], r[2]) for r in method.ablation] == [
        ("CoLA", "cola", {}),
        ("without SniCo (L_cls only)", "no_snico", {"snico_weight": 0.0}),
    ]
    assert set(CoLAConfig.help) >= {f for f in cfg.to_dict() if f != "method"}
    with pytest.raises(ValueError, match="faithful must be bool, got '0'"):
        CoLAConfig(faithful="0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="need 1 <= inner < outer"):
        CoLAConfig(inner=6, outer=3)


def test_cli_train_and_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lengths = {
        **{f"train_{i}": 30 + 5 * i for i in range(4)},
        **{f"test_{i}": 25 + 30 * i for i in range(3)},
    }
    root = write_thumos_layout(tmp_path / "data", lengths, instances=True)
    out = tmp_path / "out"
    argv = ["--method", "cola", "--data-root", str(root), "--modal", "all"]
    code = main(
        ["train", *argv, "--iterations", "2", "--batch-size", "2", "--seed", "0",
         "--output-dir", str(out), "--num-workers", "0"]
    )  # fmt: skip
    assert code == 0
    weights = torch.load(out / "model_final.pkl", weights_only=True)
    assert list(weights) == list(ref.COLA_STATE_DICT_KEYS)
    assert weights["actionness_module.f_embed.0.weight"].shape == (2048, 16, 3)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "cola" and len(metrics["mAP"]) == 7 and "average_mAP" in metrics
    result = tmp_path / "result.json"
    capsys.readouterr()
    code = main(
        ["evaluate", *argv, "--checkpoint", str(out / "model_final.pkl"), "--output", str(result)]
    )
    assert code == 0 and "mAP (%)" in capsys.readouterr().out
    payload = json.loads(result.read_text())
    assert {"method", "results"} <= set(payload)
    assert set(payload["results"]) == {f"test_{i}" for i in range(3)}
    bad = tmp_path / "um.pkl"
    torch.save({"cas_module.conv.0.weight": torch.zeros(4, 16, 3)}, bad)
    code = main(["evaluate", *argv, "--checkpoint", str(bad), "--output", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "not an official CoLA state_dict" in err and err.count("\n") == 1

"""The UM reference network against an independent re-implementation of the official one."""

from __future__ import annotations

import pytest
import torch

from tests.reference import um_reference as ref
from wtal_blocks import UncertaintyModelingNet, load_official_checkpoint

f64 = torch.float64


def _small_net(seed: int = 0, **kwargs: object) -> UncertaintyModelingNet:
    torch.manual_seed(seed)
    net = UncertaintyModelingNet(6, 4, embed_dim=8, **kwargs).double().eval()  # type: ignore[arg-type]
    with torch.no_grad():  # spread the weights so that magnitudes are well separated
        for p in net.parameters():
            p.mul_(3.0)
    return net


def test_eval_forward_equals_official_architecture() -> None:
    net = _small_net()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 19, 6, generator=g, dtype=f64)
    with torch.no_grad():
        out = net(x)
    sd = net.state_dict()
    conv_w = sd["cas_module.conv.0.weight"].tolist()
    conv_b = sd["cas_module.conv.0.bias"].tolist()
    cls_w = sd["cas_module.classifier.0.weight"][:, :, 0].tolist()
    for b in range(2):
        want = ref.official_forward_eval(x[b].tolist(), conv_w, conv_b, cls_w, 9, 4)
        torch.testing.assert_close(out.features[b], torch.tensor(want["features"], dtype=f64))
        torch.testing.assert_close(out.cas[b], torch.tensor(want["cas"], dtype=f64))
        torch.testing.assert_close(
            out.segment_probs[b], torch.tensor(want["segment_probs"], dtype=f64)
        )
        torch.testing.assert_close(out.magnitudes[b], torch.tensor(want["magnitudes"], dtype=f64))
        torch.testing.assert_close(out.video_probs[b], torch.tensor(want["video_probs"], dtype=f64))
        torch.testing.assert_close(
            out.background_probs[b], torch.tensor(want["background_probs"], dtype=f64)
        )
        assert sorted(out.pseudo.action_index[b].tolist()) == sorted(want["action_index"])  # type: ignore[arg-type]
        assert sorted(out.pseudo.background_index[b].tolist()) == sorted(want["background_index"])  # type: ignore[arg-type]
        assert out.action_magnitude[b].item() == pytest.approx(want["action_magnitude"])
        assert out.background_magnitude[b].item() == pytest.approx(want["background_magnitude"])
    assert out.action_features.shape == (2, 2, 8) and out.background_features.shape == (2, 4, 8)


def test_paper_background_score_is_mean_of_segment_softmax() -> None:
    net = _small_net(background_score="paper")
    x = torch.rand(1, 20, 6, dtype=f64)
    with torch.no_grad():
        out = net(x)
    idx = out.pseudo.background_index[0]
    torch.testing.assert_close(out.background_probs[0], out.segment_probs[0, idx].mean(dim=0))


def test_padded_batch_equals_videos_alone() -> None:
    net = _small_net()
    lengths = [30, 11, 1]
    x = torch.rand(3, 30, 6, dtype=f64)
    mask = torch.arange(30)[None, :] < torch.tensor(lengths)[:, None]
    x = x.masked_fill(~mask[:, :, None], 7.0)  # garbage in the padding
    with torch.no_grad():
        out = net(x, mask)
        for n, length in enumerate(lengths):
            alone = net(x[n : n + 1, :length])
            torch.testing.assert_close(out.features[n, :length], alone.features[0])
            torch.testing.assert_close(out.cas[n, :length], alone.cas[0])
            torch.testing.assert_close(out.video_probs[n], alone.video_probs[0])
            torch.testing.assert_close(out.background_probs[n], alone.background_probs[0])
            torch.testing.assert_close(out.action_magnitude[n], alone.action_magnitude[0])
            torch.testing.assert_close(out.background_magnitude[n], alone.background_magnitude[0])


def test_training_mode_applies_both_dropouts() -> None:
    net = _small_net().train()
    x = torch.rand(2, 27, 6, dtype=f64)
    with torch.no_grad():
        eval_cas = net.eval()(x).cas
        net.train()
        outs = [net(x) for _ in range(2)]
    assert not torch.allclose(outs[0].cas, eval_cas)  # classifier-input dropout is active
    assert not outs[0].pseudo.action_index.equal(
        outs[1].pseudo.action_index
    )  # so is the selection mask


def test_cpu_gemm_embedding_equals_conv1d() -> None:
    net = _small_net()
    x = torch.rand(3, 11, 6, dtype=f64)
    with torch.no_grad():
        cas, feats = net.cas_module(x)
        conv = net.cas_module.conv[0]
        want = torch.relu(
            torch.nn.functional.conv1d(x.transpose(1, 2), conv.weight, conv.bias, padding=1)
        )
        torch.testing.assert_close(feats, want.transpose(1, 2))
        want_cas = torch.nn.functional.conv1d(want, net.cas_module.classifier[0].weight).transpose(
            1, 2
        )
        torch.testing.assert_close(cas, want_cas)


def test_gradients_reach_all_parameters() -> None:
    net = UncertaintyModelingNet(16, 5, embed_dim=12).train()
    out = net(torch.rand(3, 40, 16))
    loss = out.video_probs.sum() + out.action_features.sum() + out.background_probs.sum()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_official_checkpoint_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    net = UncertaintyModelingNet(1024, 20)
    path = tmp_path / "model_seed_0.pkl"
    torch.save(net.state_dict(), path)
    loaded = load_official_checkpoint(path, feature_dim=1024, num_classes=20)
    assert loaded.feature_dim == 1024 and loaded.num_classes == 20
    for k, v in net.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert set(net.state_dict()) == {
        "cas_module.conv.0.weight",
        "cas_module.conv.0.bias",
        "cas_module.classifier.0.weight",
    }
    with pytest.raises(ValueError, match=r"checkpoint has feature size F = 1024 .*expected 2048"):
        load_official_checkpoint(path, feature_dim=2048)
    with pytest.raises(ValueError, match=r"checkpoint has number of classes C = 20 .*expected 100"):
        load_official_checkpoint(path, num_classes=100)
    bad = tmp_path / "bad.pkl"
    torch.save({"weight": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match=r"not an official UM state_dict"):
        load_official_checkpoint(bad)


def test_checkpoint_loading_refuses_pickled_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("executed",))

    path = tmp_path / "evil.pkl"
    torch.save({"x": Evil()}, path)
    with pytest.raises(Exception, match=r"(?i)weights.only|unsupported|global"):
        load_official_checkpoint(path)


@pytest.mark.parametrize(
    ("x", "mask", "match"),
    [
        (torch.rand(2, 10), None, r"x must have shape \(B, T, F\)"),
        (
            torch.rand(2, 10, 5),
            None,
            r"x must have F = feature_dim = 6 channels, got shape \(2, 10, 5\)",
        ),
        (torch.full((1, 10, 6), float("nan")), None, r"x must be finite"),
        (torch.rand(2, 10, 6), torch.ones(2, 9, dtype=torch.bool), r"mask must have shape"),
    ],
)
def test_bad_input(x: torch.Tensor, mask: torch.Tensor | None, match: str) -> None:
    net = UncertaintyModelingNet(6, 4, embed_dim=8)
    with pytest.raises(ValueError, match=match):
        net(x, mask)


def test_explicit_multipliers_make_batch_slices_reproducible() -> None:
    from wtal_blocks.models import DropoutMultipliers

    net = _small_net().train()
    x = torch.rand(4, 27, 6, dtype=f64)
    g = torch.Generator().manual_seed(11)
    multipliers = DropoutMultipliers.sample(net.multiplier_spec(4, 27), g, dtype=f64)
    assert set(multipliers.tensors["selection"].unique().tolist()) <= {0.0, 1 / (1 - 0.7)}
    whole = net(x, multipliers=multipliers)
    halves = [net(x[i : i + 2], multipliers=multipliers.slice(i, i + 2)) for i in (0, 2)]
    torch.testing.assert_close(whole.cas, torch.cat([h.cas for h in halves]))
    torch.testing.assert_close(whole.video_probs, torch.cat([h.video_probs for h in halves]))
    assert whole.pseudo.action_index.equal(torch.cat([h.pseudo.action_index for h in halves]))
    # the multipliers is what the dropout would have been: manual computation with the same masks
    h = torch.relu(
        torch.nn.functional.conv1d(
            x.transpose(1, 2), net.cas_module.conv[0].weight, net.cas_module.conv[0].bias, padding=1
        )
    )
    cas = torch.nn.functional.conv1d(
        h * multipliers.tensors["features"].transpose(1, 2), net.cas_module.classifier[0].weight
    ).transpose(1, 2)
    torch.testing.assert_close(whole.cas, cas)
    net.eval()  # eval mode ignores multipliers
    torch.testing.assert_close(net(x, multipliers=multipliers).cas, net(x).cas)
    with pytest.raises(ValueError, match=r"multipliers\['features'\] must have shape \(2, 27, 8\)"):
        net.train()(x[:2], multipliers=multipliers)


def test_build_with_weights_assigns_without_initialising() -> None:
    from wtal_blocks.models import build_with_weights

    ref = UncertaintyModelingNet(8, 3, embed_dim=6)
    state = {k: v.double() for k, v in ref.state_dict().items()}  # saved in float64
    rng = torch.get_rng_state()
    model = build_with_weights(lambda: UncertaintyModelingNet(8, 3, embed_dim=6), state)
    assert torch.equal(torch.get_rng_state(), rng)  # no random initialisation was drawn
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32 and not v.is_meta
        assert torch.equal(v, ref.state_dict()[k])
    assert all(p.requires_grad for p in model.parameters())

    class WithExtra(torch.nn.Module):  # makes a tensor that is not in its state_dict
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)
            self.register_buffer("scale", torch.ones(2), persistent=False)

    src = WithExtra()
    built = build_with_weights(WithExtra, src.state_dict())
    assert not built.scale.is_meta and torch.equal(built.scale, torch.ones(2))
    assert torch.equal(built.lin.weight, src.lin.weight)
    with pytest.raises(RuntimeError, match="Missing key"):
        build_with_weights(WithExtra, {"lin.weight": src.lin.weight})


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("grad", [False, True])
def test_temporal_conv_equals_conv1d(kernel: int, grad: bool) -> None:
    """Every path of temporal_conv (the channels-last inference path on the CPU, conv1d with a
    gradient, the matrix product for kernel 1) is the Conv1d applied along time."""
    from einops import rearrange

    from wtal_blocks.layers import temporal_conv

    torch.manual_seed(kernel)
    conv = torch.nn.Conv1d(12, 7, kernel, padding=kernel // 2).double()
    for x in (torch.randn(3, 17, 12, dtype=torch.float64), torch.randn(2, 1, 12).double()):
        want = rearrange(conv(rearrange(x, "b t f -> b f t")), "b d t -> b t d")
        with torch.set_grad_enabled(grad):
            got = temporal_conv(x, conv)
        assert got.shape == want.shape
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
        assert got.requires_grad == grad
    with pytest.raises(ValueError, match="stride-1, odd-kernel, same-padded"):
        temporal_conv(torch.randn(1, 4, 12), torch.nn.Conv1d(12, 7, 3, padding=0))

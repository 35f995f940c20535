"""Self-consistency checks of the BaS-Net and CoLA plain-loop references.

The references are test oracles, so they are checked here against independent formulations
(SciPy's morphology, torch's convolution and loss functions, the generic NMS reference) and on
hand-made cases whose answer is worked out in the test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

from tests.reference import basnet_reference as bas
from tests.reference import cola_reference as cola
from tests.reference import nms_reference


def _random_state_dict(
    shapes: dict[str, tuple[int, ...]], seed: int, scale: float = 0.5
) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        k: scale * torch.randn(shape, generator=g, dtype=torch.float64)
        for k, shape in shapes.items()
    }


def _pairwise_iou_ok(dets: list[bas.Detection], threshold: float) -> bool:
    for i in range(len(dets)):
        for j in range(i + 1, len(dets)):
            if dets[i][0] == dets[j][0]:
                if bas.plus_one_iou(dets[i][2:], dets[j][2:]) >= threshold:
                    return False
    return True


def _check_well_formed(
    dets: list[bas.Detection], classes: set[int], length: int, threshold: float
) -> None:
    last_end = 16 * length / 25 * (1 + 1e-12)
    for cls, score, start, end in dets:
        assert cls in classes
        assert math.isfinite(score)
        assert 0.0 <= start < end <= last_end
    for c in classes:
        scores = [d[1] for d in dets if d[0] == c]
        assert scores == sorted(scores, reverse=True)
    assert _pairwise_iou_ok(dets, threshold)


# ------------------------------------------------------------------------------------------
# constants
# ------------------------------------------------------------------------------------------


def test_threshold_families_are_the_arange_floats() -> None:
    assert (
        len(bas.BASNET_CAS_THRESHOLDS) == 10 and bas.BASNET_CAS_THRESHOLDS[3] == 0.07500000000000001
    )
    assert cola.COLA_CAS_THRESHOLDS == bas.BASNET_CAS_THRESHOLDS
    assert len(cola.COLA_ACTIONNESS_THRESHOLDS) == 33
    assert cola.COLA_ACTIONNESS_THRESHOLDS[4] == 0.19999999999999998
    assert cola.COLA_ACTIONNESS_THRESHOLDS[-1] == 0.8999999999999998


def test_state_dict_keys_and_official_parameter_counts() -> None:
    shapes = bas.basnet_state_dict_shapes(1024)
    assert tuple(shapes) == bas.BASNET_STATE_DICT_KEYS
    assert sum(math.prod(s) for s in shapes.values()) == 19_446_785  # about 19.4 M (F = 1024)
    shapes = bas.basnet_state_dict_shapes(2048)
    assert sum(math.prod(s) for s in shapes.values()) == 26_262_529  # about 26.3 M (F = 2048)
    cshapes = cola.cola_state_dict_shapes(2048)
    assert tuple(cshapes) == cola.COLA_STATE_DICT_KEYS
    assert sum(math.prod(s) for s in cshapes.values()) == 12_625_920  # about 12.6 M


# ------------------------------------------------------------------------------------------
# sampling
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 100, 749, 750, 751, 2000])
def test_test_sampling(length: int) -> None:
    idx = bas.basnet_test_indices(length)
    assert len(idx) == 750 and idx == sorted(idx) and idx[0] == 0 and idx[-1] <= length - 1
    assert set(idx) == set(range(length)) if length <= 750 else len(set(idx)) == 750
    assert idx == [int(v) for v in np.floor(np.arange(750) * length / 750)]
    cidx = cola.cola_test_indices(length)
    assert len(cidx) == min(length, 750)
    if length <= 750:
        assert cidx == list(range(length))
    else:
        assert cidx == idx


# ------------------------------------------------------------------------------------------
# CoLA snippet mining
# ------------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 1), min_size=1, max_size=40), st.integers(1, 8))
def test_erosion_and_dilation_loops_agree_with_scipy(bits: list[int], k: int) -> None:
    arr = np.array(bits, dtype=np.float32)[None, :]
    structure = np.ones((1, k))
    assert (
        cola.erode(bits, k)
        == ndimage.binary_erosion(arr, structure=structure)[0].astype(int).tolist()
    )
    assert (
        cola.dilate(bits, k)
        == ndimage.binary_dilation(arr, structure=structure)[0].astype(int).tolist()
    )


def test_window_offsets_for_the_official_sizes() -> None:
    assert list(cola.window_offsets(3)) == [-1, 0, 1]
    assert list(cola.window_offsets(6)) == [-3, -2, -1, 0, 1, 2]
    single = [0] * 10
    single[5] = 1
    # dilate_6(t) looks at t - 2 .. t + 3, so a single 1 at 5 is seen from t = 2 .. 7
    assert [t for t, v in enumerate(cola.dilate(single, 6)) if v] == [2, 3, 4, 5, 6, 7]
    block = [0] * 4 + [1] * 6 + [0] * 4  # ones at 4..9
    assert [t for t, v in enumerate(cola.erode(block, 6)) if v] == [7]  # needs t - 3 .. t + 2


def test_hard_bands_hand_made() -> None:
    actionness = [0.0] * 3 + [1.0] * 7 + [0.0] * 4  # median 0.5, action block 3..9
    inner, outer = cola.hard_snippet_bands(actionness)
    assert [t for t, v in enumerate(inner) if v] == [4, 5, 8]  # erode_3 = 4..8, erode_6 = 6..7
    # dilate_6(t) looks at t - 2 .. t + 3 -> 0..11; dilate_3 -> 2..10: two before, one after
    assert [t for t, v in enumerate(outer) if v] == [0, 1, 11]


@given(st.lists(st.integers(0, 6), min_size=2, max_size=60), st.integers(0, 2**31 - 1))
def test_hard_mining_matches_the_scipy_formulation(levels: list[int], seed: int) -> None:
    # quantised values make ties and median-valued entries common
    actionness = np.array(levels, dtype=np.float32) * np.float32(0.5)
    median = np.median(actionness[None, :], 1, keepdims=True)
    binary = np.where(actionness[None, :] > median, 1.0, 0.0)
    ero = [
        ndimage.binary_erosion(binary, structure=np.ones((1, k))).astype(np.float32) for k in (3, 6)
    ]
    dil = [
        ndimage.binary_dilation(binary, structure=np.ones((1, k))).astype(np.float32)
        for k in (3, 6)
    ]
    inner, outer = cola.hard_snippet_bands(list(actionness))
    assert inner == (ero[0] - ero[1])[0].astype(int).tolist()
    assert outer == (dil[1] - dil[0])[0].astype(int).tolist()
    assert set(inner) <= {0, 1} and set(outer) <= {0, 1}
    k_hard = max(1, len(levels) // 4)
    ha, hb = cola.hard_snippet_mining(list(actionness), k_hard)
    for picks, band in ((ha, inner), (hb, outer)):
        score = [float(actionness[t]) * band[t] for t in range(len(levels))]
        assert len(picks) == k_hard == len(set(picks))
        # every pick is at least as large as every non-pick; ties go to lower indices
        worst = min(score[t] for t in picks)
        assert all(score[t] <= worst for t in range(len(levels)) if t not in picks)
        assert all(t in picks for t in range(len(levels)) if score[t] > worst)
        tied = [t for t in range(len(levels)) if score[t] == worst]
        assert [t for t in tied if t in picks] == tied[: len([t for t in tied if t in picks])]


def test_easy_mining_with_a_multiplier() -> None:
    actionness = [0.5, 3.0, 1.0, 0.0, 2.0, 0.0]
    ea, eb = cola.easy_snippet_mining(actionness, 2)
    assert ea == [1, 4] and eb == [3, 5]  # peak - 0 = 3 at 3 and 5 (tie: lower first)
    mult = [2.5, 0.0, 2.5, 2.5, 2.5, 0.0]  # dropped snippets score 0
    ea, eb = cola.easy_snippet_mining(actionness, 2, mult)
    assert ea == [4, 2] and eb == [3, 0]


def test_top_k_mean_follows_sort_and_slice() -> None:
    assert bas.top_k_mean([1.0, 4.0, 2.0], 2) == 3.0
    assert bas.top_k_mean([1.0, 4.0], 5) == 2.5  # fewer than k: mean of all
    assert math.isnan(bas.top_k_mean([1.0], 0))


def test_stable_top_k_breaks_ties_by_index() -> None:
    assert bas.stable_top_k([1.0, 2.0, 2.0, 0.0, 2.0], 2) == [1, 2]
    assert bas.stable_top_k([0.0] * 5, 3) == [0, 1, 2]


# ------------------------------------------------------------------------------------------
# forward passes against torch's convolutions
# ------------------------------------------------------------------------------------------


def _torch_basnet(
    x: torch.Tensor,
    sd: dict[str, torch.Tensor],
    k: int,
    mults: tuple[torch.Tensor, ...] | None,
) -> tuple[torch.Tensor, ...]:
    xt = x.T[None]  # (1, F, T)
    w = torch.sigmoid(
        F.conv1d(
            F.leaky_relu(
                F.conv1d(
                    xt, sd["filter_module.conv_1.0.weight"], sd["filter_module.conv_1.0.bias"]
                ),
                0.01,
            ),
            sd["filter_module.conv_2.0.weight"],
            sd["filter_module.conv_2.0.bias"],
        )
    )  # (1, 1, T)

    def cas_module(inp: torch.Tensor, mult: torch.Tensor | None) -> torch.Tensor:
        h = F.leaky_relu(
            F.conv1d(
                inp, sd["cas_module.conv_1.0.weight"], sd["cas_module.conv_1.0.bias"], padding=1
            ),
            0.01,
        )
        h = F.leaky_relu(
            F.conv1d(
                h, sd["cas_module.conv_2.0.weight"], sd["cas_module.conv_2.0.bias"], padding=1
            ),
            0.01,
        )
        if mult is not None:
            h = h * mult.T[None]
        return F.conv1d(h, sd["cas_module.conv_3.0.weight"])[0].T  # (T, C+1)

    cas_base = cas_module(xt, None if mults is None else mults[0])
    cas_supp = cas_module(xt * w, None if mults is None else mults[1])
    probs = [torch.softmax(c.topk(k, dim=0).values.mean(0), 0) for c in (cas_base, cas_supp)]
    return w[0, 0], cas_base, cas_supp, probs[0], probs[1]


@pytest.mark.parametrize("train", [False, True])
def test_basnet_forward_matches_torch_conv(train: bool) -> None:
    t_len, f_dim = 24, 5
    sd = _random_state_dict(
        bas.basnet_state_dict_shapes(f_dim, num_classes=4, hidden=6, filter_hidden=3), seed=1
    )
    x = torch.randn(t_len, f_dim, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mults: tuple[torch.Tensor, ...] | None = None
    if train:
        g = torch.Generator().manual_seed(3)
        mults = tuple((torch.rand(t_len, 6, generator=g) > 0.7).double() / 0.3 for _ in range(2))
    out = bas.basnet_forward(
        x,
        sd,
        num_segments=t_len,
        base_multiplier=None if mults is None else mults[0],
        supp_multiplier=None if mults is None else mults[1],
    )
    assert out.k == 3
    expected = _torch_basnet(x, sd, 3, mults)
    got = (
        out.foreground_weights,
        out.cas_base,
        out.cas_supp,
        out.video_probs_base,
        out.video_probs_supp,
    )
    for g_, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g_, e.numpy(), rtol=1e-12, atol=1e-12)
    if train:
        assert not np.allclose(out.cas_base, bas.basnet_forward(x, sd, num_segments=t_len).cas_base)


def test_basnet_k_comes_from_the_configured_segments() -> None:
    sd = _random_state_dict(
        bas.basnet_state_dict_shapes(3, num_classes=2, hidden=4, filter_hidden=2), seed=4
    )
    x = torch.randn(100, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    assert bas.basnet_forward(x, sd).k == 93


@pytest.mark.parametrize("train", [False, True])
def test_cola_forward_matches_torch_conv(train: bool) -> None:
    t_len, f_dim, d_dim, c_dim = 45, 4, 6, 3
    sd = _random_state_dict(
        cola.cola_state_dict_shapes(f_dim, num_classes=c_dim, hidden=d_dim), seed=6
    )
    x = torch.randn(t_len, f_dim, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    g = torch.Generator().manual_seed(8)
    emb_mult = (torch.rand(t_len, d_dim, generator=g) > 0.7).double() / 0.3 if train else None
    sel_mult = (torch.rand(t_len, generator=g) > 0.6).double() / 0.4 if train else None
    out = cola.cola_forward(x, sd, embedding_multiplier=emb_mult, selection_multiplier=sel_mult)
    emb = F.relu(
        F.conv1d(
            x.T[None],
            sd["actionness_module.f_embed.0.weight"],
            sd["actionness_module.f_embed.0.bias"],
            padding=1,
        )
    )
    hidden = emb if emb_mult is None else emb * emb_mult.T[None]
    cas = F.relu(F.conv1d(hidden, sd["actionness_module.f_cls.0.weight"]))[0].T
    np.testing.assert_allclose(out.embeddings, emb[0].T.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.cas, cas.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.actionness, cas.sum(1).numpy(), rtol=1e-12, atol=1e-12)
    assert (out.k_easy, out.k_hard) == (9, 2)
    probs = torch.softmax(cas.topk(9, dim=0).values.mean(0), 0)
    np.testing.assert_allclose(out.video_probs, probs.numpy(), rtol=1e-12)
    ea, eb = cola.easy_snippet_mining(
        list(out.actionness), 9, None if sel_mult is None else list(sel_mult.numpy())
    )
    ha, hb = cola.hard_snippet_mining(list(out.actionness), 2)
    assert out.selections == cola.ColaSelections(ea, eb, ha, hb)


# ------------------------------------------------------------------------------------------
# losses against torch
# ------------------------------------------------------------------------------------------


def test_basnet_losses_match_torch() -> None:
    g = torch.Generator().manual_seed(9)
    b, c, t = 3, 4, 7
    pb = torch.softmax(torch.randn(b, c + 1, generator=g, dtype=torch.float64), 1)
    ps = torch.softmax(torch.randn(b, c + 1, generator=g, dtype=torch.float64), 1)
    w = torch.rand(b, t, generator=g, dtype=torch.float64)
    y = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.float64)
    got = bas.basnet_losses(pb.tolist(), ps.tolist(), w.tolist(), y.tolist(), alpha=0.3)
    tb = torch.cat([y, torch.ones(b, 1, dtype=torch.float64)], 1)
    ts = torch.cat([y, torch.zeros(b, 1, dtype=torch.float64)], 1)
    lb = F.binary_cross_entropy(pb, tb / tb.sum(1, keepdim=True))
    ls = F.binary_cross_entropy(ps, ts / ts.sum(1, keepdim=True))
    ln = w.abs().sum(1).mean()
    assert got["loss_base"] == pytest.approx(lb.item(), rel=1e-12)
    assert got["loss_supp"] == pytest.approx(ls.item(), rel=1e-12)
    assert got["loss_norm"] == pytest.approx(ln.item(), rel=1e-12)
    assert got["loss_total"] == pytest.approx((lb + ls + 0.3 * ln).item(), rel=1e-12)


def test_bce_clamps_the_log_at_minus_100() -> None:
    p = torch.tensor([[0.0, 1.0, 0.5]], dtype=torch.float64)
    t = torch.tensor([[0.5, 0.5, 0.0]], dtype=torch.float64)
    assert bas.mean_bce(p.tolist(), t.tolist()) == pytest.approx(
        F.binary_cross_entropy(p, t).item(), rel=1e-12
    )


def test_cola_losses_match_torch() -> None:
    g = torch.Generator().manual_seed(10)
    b, t, d, c = 2, 20, 5, 3
    emb = [torch.rand(t, d, generator=g, dtype=torch.float64) for _ in range(b)]
    sels = []
    for _ in range(b):
        perm = torch.randperm(t, generator=g).tolist()
        sels.append(cola.ColaSelections(perm[:4], perm[4:8], perm[8:10], perm[10:12]))
    probs = torch.softmax(torch.randn(b, c, generator=g, dtype=torch.float64), 1)
    y = torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.float64)
    got = cola.cola_losses(probs.tolist(), y.tolist(), emb, sels)

    def gather(key: str) -> torch.Tensor:
        return torch.stack(
            [e[getattr(s, key)] for e, s in zip(emb, sels, strict=True)]
        )  # (B, k, D)

    def nce(q: torch.Tensor, k: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        neg = F.normalize(neg, dim=2)
        logits = (
            torch.cat([(q * k).sum(1, keepdim=True), torch.einsum("nd,nkd->nk", q, neg)], 1) / 0.07
        )
        return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))

    ea, eb, ha, hb = (
        gather(k) for k in ("easy_action", "easy_background", "hard_action", "hard_background")
    )
    l_ha = nce(ha.mean(1), ea.mean(1), eb)
    l_hb = nce(hb.mean(1), eb.mean(1), ea)
    l_cls = F.binary_cross_entropy(probs, y / y.sum(1, keepdim=True))
    assert got["loss_ha"] == pytest.approx(l_ha.item(), rel=1e-10)
    assert got["loss_hb"] == pytest.approx(l_hb.item(), rel=1e-10)
    assert got["loss_cls"] == pytest.approx(l_cls.item(), rel=1e-12)
    assert got["loss_total"] == pytest.approx((l_cls + 0.01 * (l_ha + l_hb)).item(), rel=1e-10)


# ------------------------------------------------------------------------------------------
# post-processing steps
# ------------------------------------------------------------------------------------------


def test_minmax_clipping_and_degenerate_range() -> None:
    logits = [-2.0, -1.0, 1.0, 3.0]  # min < 0 -> relu(min) = 0, nothing clipped for BaS-Net
    got = bas.minmax_over_time(logits, clip=False)
    assert got.dtype == np.float32 and got.tolist() == [
        np.float32(v) / np.float32(3.0) for v in logits
    ]
    assert bas.minmax_over_time(logits, clip=True).tolist()[:2] == [0.0, 0.0]
    assert bas.minmax_over_time([-3.0, -1.0], clip=False).tolist() == [-3.0, -1.0]  # delta 0 -> 1
    assert bas.minmax_over_time([2.0, 2.0], clip=True).tolist() == [0.0, 0.0]


def test_upsample_is_linear_with_an_extrapolated_tail() -> None:
    column = np.array([0.0, 1.0, 0.5, 0.75], dtype=np.float32)
    up = bas.upsample(column)
    assert up.dtype == np.float64 and len(up) == 96
    for j, v in enumerate(up):
        x = j * (1 / 24)
        lo = min(int(x), 2)
        y0, y1 = float(column[lo]), float(column[lo + 1])
        assert v == pytest.approx(y0 + (y1 - y0) * (x - lo), abs=1e-12)
    assert up[-1] > 0.75  # past the last segment, the last slope continues


def test_oic_runs_scores_and_times() -> None:
    values = np.zeros(40)
    values[10:14] = [0.5, 1.0, 1.0, 0.5]  # run of 4, outer windows [9, 10) and (13, 14]
    values[20] = 0.8  # isolated position
    values[30:32] = 0.6
    values[29] = 0.3
    positions = [10, 11, 12, 13, 20, 29, 30, 31]
    f = bas.seconds_per_position(length=50, num_segments=40)
    assert f == 16 * 50 / (24 * 40 * 25)
    props = bas.oic_proposals(7, values, positions, 0.2, f, min_run_length=1)
    assert [(p[2] / f, p[3] / f) for p in props] == [(10, 14), (20, 21), (29, 32)]
    assert props[0][1] == pytest.approx(0.75 - 0.0 + 0.2)
    assert props[1][1] == pytest.approx(0.8 + 0.2)  # n = 1: int(20 - 0.25) = 19, int(20.25) = 20
    assert props[2][1] == pytest.approx(0.5 - 0.0 + 0.2)  # n = 3: outer [28, 29) holds a 0
    assert all(p[0] == 7 for p in props)
    cola_props = bas.oic_proposals(7, values, positions, 0.2, f, min_run_length=2)
    assert [p[2] / f for p in cola_props] == [10, 29]
    # outer mean: n = 8 -> windows of int(8/4) = 2 on each side, clipped to the video
    values2 = np.zeros(12)
    values2[2:10] = 1.0
    values2[0:2] = 0.5
    values2[10:12] = 0.25
    (prop,) = bas.oic_proposals(0, values2, list(range(2, 10)), 0.0, 1.0, min_run_length=2)
    assert prop[1] == pytest.approx(1.0 - (0.5 + 0.5 + 0.25 + 0.25) / 4)


def test_gamma_term_numpy_promotions() -> None:
    assert bas.gamma_term(1.0, 0.2, "legacy") == 0.2
    assert bas.gamma_term(1.0, 0.2, "nep50") == float(np.float32(0.2)) == 0.20000000298023224
    assert bas.gamma_term(0.3, 0.2, "legacy") == 0.2 * float(np.float32(0.3))


def test_nms_hand_made_cases() -> None:
    d = [
        (1, 0.9, 0.0, 9.0),  # len 10
        (1, 0.8, 0.0, 6.0),  # "+1" IoU with the first: 7 / 10 = 0.7 exactly -> suppressed at 0.7
        (1, 0.7, 0.0, 5.0),  # IoU 6 / 10 = 0.6: kept at 0.7, suppressed at 0.6
        (1, 0.6, 20.0, 30.0),  # disjoint: kept
        (1, 0.95, 20.5, 30.0),  # best overall; suppresses the previous one (IoU 10.5/11 > 0.7)
    ]
    assert bas.greedy_nms_plus_one(d, 0.7) == [d[4], d[0], d[2]]
    assert bas.greedy_nms_plus_one(d, 0.6) == [d[4], d[0]]
    # chain: b is suppressed by a, so c (which only b overlaps) survives
    chain = [(0, 0.9, 0.0, 10.0), (0, 0.8, 2.0, 12.0), (0, 0.7, 4.0, 14.0)]
    assert (
        bas.plus_one_iou((2.0, 12.0), (4.0, 14.0))
        >= 0.6
        > bas.plus_one_iou((0.0, 10.0), (4.0, 14.0))
    )
    assert bas.greedy_nms_plus_one(chain, 0.6) == [chain[0], chain[2]]
    # equal scores: the earlier-pooled one is kept
    ties = [(2, 0.5, 0.0, 4.0), (2, 0.5, 0.0, 4.5), (2, 0.5, 100.0, 101.0)]
    assert bas.greedy_nms_plus_one(ties, 0.7) == [ties[0], ties[2]]
    assert bas.greedy_nms_plus_one([], 0.7) == []


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(1, 30), st.integers(0, 5)),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([0.6, 0.7]),
)
def test_nms_agrees_with_the_generic_reference(
    rows: list[tuple[int, int, int]], threshold: float
) -> None:
    f = 0.4266666666666667  # times on a grid of f seconds, as the pipelines produce them
    dets = [(0, s / 5, a * f, (a + n) * f) for a, n, s in rows]
    kept = bas.greedy_nms_plus_one(dets, threshold)
    idx = nms_reference.greedy_nms(
        [(d[2], d[3]) for d in dets], [d[1] for d in dets], threshold, offset=1.0
    )
    assert kept == [dets[i] for i in idx]


def test_pool_by_class_keeps_order_of_first_appearance() -> None:
    a, b = (3, 0.5, 0.0, 1.0), (9, 0.4, 0.0, 1.0)
    pooled = bas.pool_by_class([[[b]], [[a], [b]]])
    assert list(pooled) == [9, 3] and pooled[9] == [b, b]


# ------------------------------------------------------------------------------------------
# BaS-Net pipeline
# ------------------------------------------------------------------------------------------


def _tiny_basnet(length: int, seed: int) -> bas.BasNetOutputs:
    sd = _random_state_dict(bas.basnet_state_dict_shapes(4, hidden=8, filter_hidden=4), seed=seed)
    raw = torch.randn(
        length, 4, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64
    )
    x = raw[bas.basnet_test_indices(length)]
    return bas.basnet_forward(x, sd)


def _probs_with(*pairs: tuple[int, float], num_classes: int = 21) -> list[float]:
    rest = (1.0 - sum(p for _, p in pairs)) / (num_classes - len(pairs))
    probs = [rest] * num_classes
    for c, p in pairs:
        probs[c] = p
    return probs


@pytest.mark.parametrize("length", [300, 1200])
def test_basnet_pipeline_on_a_tiny_random_model(length: int) -> None:
    out = _tiny_basnet(length, seed=11)
    assert out.cas_supp.shape == (750, 21) and out.video_probs_supp.shape == (21,)
    cas32 = out.cas_supp.astype(np.float32)
    own = bas.basnet_detect_video(cas32, out.video_probs_supp, length, on_crash="skip")
    pred = bas.basnet_predicted_classes(out.video_probs_supp, 0.25)
    assert (own is None) == (not any(pred))
    probs = _probs_with((4, 0.4), (13, 0.3))
    dets = bas.basnet_detect_video(cas32, probs, length, on_crash="skip")
    assert dets is not None and dets
    _check_well_formed(dets, {4, 13}, length, 0.7)
    assert [d[0] for d in dets] == sorted(d[0] for d in dets)  # classes in predicted order
    file = bas.basnet_result_file({"video_a": dets, "video_b": None})
    assert set(file) == {"version", "results", "external_data"} and file["version"] == "VERSION 1.3"
    assert list(file["results"]) == ["video_a"]
    entry = file["results"]["video_a"][0]
    assert set(entry) == {"label", "score", "segment"} and entry["label"] in (
        bas.THUMOS14_CLASSES[4],
        bas.THUMOS14_CLASSES[13],
    )
    assert isinstance(entry["score"], float) and len(entry["segment"]) == 2


def test_basnet_score_term_is_the_constant_point_two() -> None:
    cas = np.full((750, 21), -1.0, dtype=np.float32)
    cas[100:110, 6] = 2.0  # one bump; min-max maps it to 1 and the rest to -0.5
    length = 800
    dets = bas.basnet_detect_video(cas, _probs_with((6, 0.9)), length)
    assert dets is not None and {d[0] for d in dets} == {6}
    up = bas.upsample(bas.minmax_over_time(cas[:, 6], clip=False))
    f = bas.seconds_per_position(length, 750)
    # the bump is unimodal and everything around it is thresholded to 0, so outer = 0 and every
    # proposal scores mean(run) + 0.2, whatever the video probability (0.9 here)
    for _, score, start, end in dets:
        a, b = round(start / f), round(end / f) - 1
        assert score == float(np.mean(up[a : b + 1])) - 0.0 + 0.2
    nep = bas.basnet_detect_video(cas, _probs_with((6, 0.9)), length, numpy_promotion="nep50")
    assert nep is not None
    assert [d[1] - 0.2 for d in dets] == pytest.approx(
        [d[1] - float(np.float32(0.2)) for d in nep], abs=1e-15
    )


def test_basnet_class_selection_quirks() -> None:
    cas = np.zeros((750, 21), dtype=np.float32)
    cas[200:260, 0] = 3.0
    cas[400:420, 9] = 2.0
    assert bas.basnet_detect_video(cas, _probs_with((0, 0.6)), 750) is None  # BaseballPitch only
    assert bas.basnet_detect_video(cas, _probs_with((3, 0.2499)), 750) is None  # no fallback
    dets = bas.basnet_detect_video(cas, _probs_with((0, 0.4), (9, 0.3)), 750)
    assert dets is not None and {d[0] for d in dets} == {0, 9}
    assert bas.basnet_predicted_classes(_probs_with((2, 0.25)), 0.25) == [2]  # >= threshold


def test_basnet_crash_on_a_class_without_candidates() -> None:
    cas = np.full((750, 21), -1.0, dtype=np.float32)
    cas[50:80, 2] = 1.5
    cas[:, 7] = np.linspace(-3.0, -1.0, 750, dtype=np.float32)  # max <= 0: stays negative
    probs = _probs_with((2, 0.4), (7, 0.3))
    with pytest.raises(IndexError):
        bas.basnet_detect_video(cas, probs, 900, on_crash="raise")
    dets = bas.basnet_detect_video(cas, probs, 900, on_crash="skip")
    assert dets and {d[0] for d in dets} == {2}


def test_basnet_crash_with_a_positive_maximum_at_the_first_segment() -> None:
    # max logit 0.1 at t = 0, then -2: normalised 1 then -20, so at the higher thresholds the
    # only upsampled candidate is position 0, which ``any()`` does not count
    cas = np.full((750, 21), -1.0, dtype=np.float32)
    cas[300:320, 3] = 2.0
    cas[:, 8] = -2.0
    cas[0, 8] = 0.1
    probs = _probs_with((3, 0.4), (8, 0.3))
    with pytest.raises(IndexError):
        bas.basnet_detect_video(cas, probs, 750)
    dets = bas.basnet_detect_video(cas, probs, 750, on_crash="skip")
    assert dets is not None and [d[2] for d in dets if d[0] == 8] == [0.0]


def test_basnet_position_zero_only_is_no_candidate() -> None:
    values = np.zeros(48)
    values[0] = 0.9
    per = bas.basnet_proposals_from_upsampled({5: values}, [1.0] * 20, 2, 2, on_crash="skip")
    assert per == [[] for _ in bas.BASNET_CAS_THRESHOLDS]
    with pytest.raises(IndexError):
        bas.basnet_proposals_from_upsampled({5: values}, [1.0] * 20, 2, 2)
    values[1] = 0.9  # a run [0, 1]: now a proposal exists
    per = bas.basnet_proposals_from_upsampled({5: values}, [1.0] * 20, 2, 2)
    assert all(len(lists) == 1 and lists[0][0][2] == 0.0 for lists in per)


def test_basnet_accuracy_rule() -> None:
    labels = [0.0] * 20
    labels[3] = 1.0
    assert bas.basnet_video_correct(_probs_with((3, 0.3)), labels)
    assert not bas.basnet_video_correct(_probs_with((3, 0.3), (4, 0.26)), labels)
    assert not bas.basnet_video_correct(_probs_with((3, 0.2)), labels)
    assert (
        bas.basnet_accuracy([_probs_with((3, 0.3)), _probs_with((5, 0.9))], [labels, labels]) == 0.5
    )


# ------------------------------------------------------------------------------------------
# CoLA pipeline
# ------------------------------------------------------------------------------------------


def test_cola_pipeline_on_a_tiny_random_model() -> None:
    length = 60
    sd = _random_state_dict(cola.cola_state_dict_shapes(4, hidden=8), seed=12)
    raw = torch.randn(length, 4, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    out = cola.cola_forward(raw[cola.cola_test_indices(length)], sd)
    assert out.cas.shape == (60, 20) and (out.cas >= 0).all()
    pred = cola.cola_predicted_classes(out.video_probs)
    if max(out.video_probs) < 0.2:
        assert pred == [int(np.argmax(out.video_probs.astype(np.float32)))]  # arg-max fallback
    dets = cola.cola_detect_video(
        out.cas.astype(np.float32), out.actionness.astype(np.float32), out.video_probs, length
    )
    assert dets
    _check_well_formed(dets, set(pred), length, 0.6)
    # forced multi-class selection on the same outputs
    probs = [0.01] * 20
    probs[1], probs[17] = 0.45, 0.37
    dets = cola.cola_detect_video(out.cas, out.actionness, probs, length)
    _check_well_formed(dets, {1, 17}, length, 0.6)
    file = cola.cola_result_file({"v": dets, "w": []})
    assert set(file) == {"method", "results"} and file["results"]["w"] == []
    assert {e["label"] for e in file["results"]["v"]} <= {"BasketballDunk", "TennisSwing"}


def test_cola_score_term_uses_the_probability() -> None:
    cas = np.zeros((40, 20), dtype=np.float32)
    cas[10:20, 8] = 1.0
    probs = [0.0] * 20
    probs[8] = 0.9
    dets = cola.cola_detect_video(
        cas, cas.sum(1), probs, 40, cas_thresholds=[0.1], actionness_thresholds=[]
    )
    assert len(dets) == 1
    up = bas.upsample(np.float32(cas[:, 8]))
    kept, positions = bas.threshold_positions(up, 0.1)
    (run,) = bas.group_runs(positions)
    n = len(run)
    outer = [kept[i] for i in range(max(0, int(run[0] - n / 4)), run[0])]
    outer += [kept[i] for i in range(run[-1] + 1, min(len(up) - 1, int(run[-1] + n / 4)) + 1)]
    expected = (
        float(np.mean(kept[run[0] : run[-1] + 1]))
        - float(np.mean(outer))
        + 0.2 * float(np.float32(0.9))
    )
    assert dets[0][1] == pytest.approx(expected, rel=1e-15)
    f = 16 * 40 / (24 * 40 * 25)
    assert dets[0][2:] == (run[0] * f, (run[-1] + 1) * f)


def test_cola_all_single_position_runs_crash() -> None:
    cas_up = {4: np.zeros(48)}
    aness = np.zeros(48)
    aness[[5, 9, 20]] = 0.95  # isolated candidates: every run has length 1
    with pytest.raises(IndexError):
        cola.cola_proposals_from_upsampled(cas_up, aness, [0.5] * 20, 2, 2)
    per = cola.cola_proposals_from_upsampled(cas_up, aness, [0.5] * 20, 2, 2, on_crash="skip")
    assert all(lists == [] for lists in per)


def test_cola_class_order_follows_first_appearance() -> None:
    cas_up = {2: np.zeros(48), 7: np.zeros(48)}
    cas_up[7][10:20] = 0.5  # class 7 has CAS candidates, class 2 none
    aness = np.zeros(48)
    aness[30:40] = 0.5
    per = cola.cola_proposals_from_upsampled(cas_up, aness, [0.3] * 20, 2, 2)
    assert list(bas.pool_by_class(per)) == [7, 2]


def test_cola_accuracy_and_argmax_fallback() -> None:
    labels = [0.0] * 20
    labels[11] = 1.0
    probs = [0.04] * 20
    probs[11] = 0.2  # >= 0.2 (compared in float32)
    assert cola.cola_video_correct(probs, labels)
    probs[11] = 0.19
    assert not cola.cola_video_correct(probs, labels)
    assert cola.cola_predicted_classes(probs) == [11]
    assert cola.cola_predicted_classes([0.05] * 20) == [0]  # first maximum
    assert cola.cola_accuracy([probs, [0.0] * 11 + [1.0] + [0.0] * 8], [labels, labels]) == 0.5

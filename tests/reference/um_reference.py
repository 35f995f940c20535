"""Plain-loop references for the UM blocks, written from the paper and docs/official-code.md.

Everything here works on nested Python lists of floats (math module), one video, one class,
one segment at a time. Slow on purpose; independent of wtal_blocks.
"""

from __future__ import annotations

import math

Matrix = list[list[float]]


def topk_mean(values: list[float], k: int) -> float:
    """Eq. 1 for one (video, class): mean of the k largest values."""
    assert 1 <= k <= len(values)
    ordered = sorted(values, reverse=True)
    return sum(ordered[:k]) / k


def eq4_probability(feature: list[float], margin: float) -> float:
    norm = math.sqrt(sum(v * v for v in feature))
    return min(margin, norm) / margin


def minmax_probability(mag: float, mag_act: float, mag_bkg: float) -> float:
    delta = mag_act - mag_bkg
    if delta <= 0:
        delta = 1.0
    return min(1.0, max(0.0, (mag - mag_bkg) / delta))


def top_indices(scores: list[float], k: int) -> list[int]:
    """Indices of the k largest scores (ties: lower index first)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return order[:k]


def pseudo_segments(
    magnitudes: list[float], action_k: int, background_k: int, keep: list[float] | None = None
) -> tuple[list[int], list[int]]:
    """Official selection: top-k of mag*M, and top-k of (max mag - mag)*M."""
    m = keep if keep is not None else [1.0] * len(magnitudes)
    peak = max(magnitudes)
    act = top_indices([a * b for a, b in zip(magnitudes, m, strict=True)], action_k)
    bkg = top_indices([(peak - a) * b for a, b in zip(magnitudes, m, strict=True)], background_k)
    return act, bkg


def _log(p: float) -> float:
    return max(-100.0, math.log(p)) if p > 0 else -100.0


def bce(p: float, y: float) -> float:
    return -(y * _log(p) + (1 - y) * _log(1 - p))


def classification_loss(scores: Matrix, labels: Matrix, form: str) -> float:
    n = len(scores)
    c = len(scores[0])
    total = 0.0
    for b in range(n):
        s = sum(labels[b])
        y = [v / s for v in labels[b]]
        for j in range(c):
            total += bce(scores[b][j], y[j]) if form == "official" else -y[j] * _log(scores[b][j])
    return total / (n * c) if form == "official" else total / n


def background_entropy_loss(probs: Matrix, form: str) -> float:
    n = len(probs)
    c = len(probs[0])
    total = 0.0
    for b in range(n):
        for j in range(c):
            total += bce(probs[b][j], 1.0 / c) if form == "official" else -_log(probs[b][j])
    return total / (n * c)


def um_loss(act: list[Matrix], bkg: list[Matrix], margin: float) -> float:
    """Eq. 7: act[b] is a list of action_k feature vectors."""
    total = 0.0
    for a_feats, b_feats in zip(act, bkg, strict=True):
        d = len(a_feats[0])
        mean_a = [sum(f[i] for f in a_feats) / len(a_feats) for i in range(d)]
        mean_b = [sum(f[i] for f in b_feats) / len(b_feats) for i in range(d)]
        la = max(0.0, margin - math.sqrt(sum(v * v for v in mean_a)))
        lb = math.sqrt(sum(v * v for v in mean_b))
        total += (la + lb) ** 2
    return total / len(act)


def softmax(v: list[float]) -> list[float]:
    m = max(v)
    e = [math.exp(x - m) for x in v]
    s = sum(e)
    return [x / s for x in e]


def official_forward_eval(
    x: Matrix,
    conv_w: list[list[list[float]]],
    conv_b: list[float],
    cls_w: Matrix,
    action_ratio: int,
    background_ratio: int,
) -> dict[str, object]:
    """The official architecture in eval mode for ONE video, from docs/official-code.md.

    x: T×F features; conv_w: D×F×3; conv_b: D; cls_w: C×D.
    """
    t_len, f_dim = len(x), len(x[0])
    d_dim, c_dim = len(conv_w), len(cls_w)
    feats = []
    for t in range(t_len):
        row = []
        for d in range(d_dim):
            acc = conv_b[d]
            for tap in range(3):
                src = t + tap - 1  # kernel 3, padding 1
                if 0 <= src < t_len:
                    acc += sum(conv_w[d][f][tap] * x[src][f] for f in range(f_dim))
            row.append(max(0.0, acc))
        feats.append(row)
    cas = [
        [sum(cls_w[c][d] * feats[t][d] for d in range(d_dim)) for c in range(c_dim)]
        for t in range(t_len)
    ]
    mags = [math.sqrt(sum(v * v for v in f)) for f in feats]
    action_k, background_k = t_len // action_ratio, t_len // background_ratio
    act_idx, bkg_idx = pseudo_segments(mags, action_k, background_k)
    video_raw = [topk_mean([cas[t][c] for t in range(t_len)], action_k) for c in range(c_dim)]
    bkg_raw = [sum(cas[t][c] for t in bkg_idx) / background_k for c in range(c_dim)]
    return {
        "features": feats,
        "cas": cas,
        "magnitudes": mags,
        "video_probs": softmax(video_raw),
        "background_probs": softmax(bkg_raw),
        "segment_probs": [softmax(row) for row in cas],
        "action_index": act_idx,
        "background_index": bkg_idx,
        "action_magnitude": sum(mags[i] for i in act_idx) / action_k,
        "background_magnitude": sum(mags[i] for i in bkg_idx) / background_k,
    }

"""Plain-loop reference of what the official BaS-Net code computes, written from the spec.

One video at a time, one class, one threshold, one run at a time. The network is evaluated
with explicit per-time-step loops over the convolution taps (NumPy float64), the test-time
pipeline with Python loops over NumPy scalars chosen so that every value is the one the
official NumPy/SciPy code produces. Independent of ``wtal_blocks``.

The post-processing helpers at the top (min-max over time, x24 upsampling, thresholds, run
finding, outer-inner contrast, greedy NMS with the "+1" convention, detection JSON) are also
those of CoLA's official code, whose utilities derive from BaS-Net's; ``cola_reference``
reuses them with its own parameters.

Spec sections cited below are those of the BaS-Net behaviour spec ("Model", "Losses",
"Inference 1-9", "Data").

Conventions
-----------
* ``length`` is L, the original number of feature segments of a video; ``num_segments`` is T,
  the sampled count (750 for BaS-Net, always, at test time).
* A detection is ``(class_index, score, start_seconds, end_seconds)``.
* Score ties in NMS: the reference visits equal scores in pooled order (stable descending).
  The official code uses NumPy's default ``argsort`` reversed, which is not stable (and, for
  small arrays where NumPy happens to sort stably, puts ties in *reverse* pooled order).
* ``on_crash``: where the official code raises ``IndexError`` (a predicted class without a
  proposal at some threshold), ``"raise"`` raises ``IndexError`` and ``"skip"`` drops that
  class at that threshold and carries on.
* ``numpy_promotion``: the proposal score adds ``0.2 * s`` with ``s`` a NumPy float32 scalar.
  Under NumPy 1.x (the authors' environment, ``"legacy"``) that product is float64; under
  NumPy >= 2 (NEP 50, ``"nep50"``) it is rounded to float32 (0.2 becomes 0.20000000298...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.interpolate import interp1d

Array = npt.NDArray[np.float64]
Floats = Sequence[float] | npt.NDArray[Any]  # a 1-D sequence of numbers, list or array
Detection = tuple[int, float, float, float]  # (class index, score, start s, end s)
OnCrash = Literal["raise", "skip"]
Promotion = Literal["legacy", "nep50"]

THUMOS14_CLASSES: tuple[str, ...] = (
    "BaseballPitch",
    "BasketballDunk",
    "Billiards",
    "CleanAndJerk",
    "CliffDiving",
    "CricketBowling",
    "CricketShot",
    "Diving",
    "FrisbeeCatch",
    "GolfSwing",
    "HammerThrow",
    "HighJump",
    "JavelinThrow",
    "LongJump",
    "PoleVault",
    "Shotput",
    "SoccerPenalty",
    "TennisSwing",
    "ThrowDiscus",
    "VolleyballSpiking",
)

NUM_SEGMENTS = 750
UP_SCALE = 24
FEATURE_FPS = 25
FRAMES_PER_SEGMENT = 16
# numpy ``arange`` floats, e.g. 0.07500000000000001 (Inference 6)
BASNET_CAS_THRESHOLDS: tuple[float, ...] = tuple(float(v) for v in np.arange(0.0, 0.25, 0.025))
BASNET_CLASS_THRESHOLD = 0.25
BASNET_NMS_THRESHOLD = 0.7
BASNET_ALPHA = 1e-4
LEAKY_SLOPE = 0.01

BASNET_STATE_DICT_KEYS: tuple[str, ...] = (
    "filter_module.conv_1.0.weight",
    "filter_module.conv_1.0.bias",
    "filter_module.conv_2.0.weight",
    "filter_module.conv_2.0.bias",
    "cas_module.conv_1.0.weight",
    "cas_module.conv_1.0.bias",
    "cas_module.conv_2.0.weight",
    "cas_module.conv_2.0.bias",
    "cas_module.conv_3.0.weight",
)


def basnet_state_dict_shapes(
    feature_size: int, num_classes: int = 20, hidden: int = 2048, filter_hidden: int = 512
) -> dict[str, tuple[int, ...]]:
    """The official checkpoint's keys and shapes (spec: Model, checkpoint table).

    The official network has ``hidden = 2048`` and ``filter_hidden = 512``; smaller values give
    a tiny model with the same keys for tests.
    """
    return {
        "filter_module.conv_1.0.weight": (filter_hidden, feature_size, 1),
        "filter_module.conv_1.0.bias": (filter_hidden,),
        "filter_module.conv_2.0.weight": (1, filter_hidden, 1),
        "filter_module.conv_2.0.bias": (1,),
        "cas_module.conv_1.0.weight": (hidden, feature_size, 3),
        "cas_module.conv_1.0.bias": (hidden,),
        "cas_module.conv_2.0.weight": (hidden, hidden, 3),
        "cas_module.conv_2.0.bias": (hidden,),
        "cas_module.conv_3.0.weight": (num_classes + 1, hidden, 1),
    }


# --------------------------------------------------------------------------------------------
# Network building blocks (plain loops over time and kernel taps)
# --------------------------------------------------------------------------------------------


def as_float64(value: Any) -> Array:
    """A tensor or array as a float64 NumPy array (detached, on the CPU)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def conv1d_over_time(x: Array, weight: Array, bias: Array | None) -> Array:
    """``Conv1d(stride 1, padding (k-1)//2)`` along time, one output step and tap at a time.

    ``x`` is ``(T, F_in)``, ``weight`` is ``(F_out, F_in, k)`` (PyTorch layout), the result is
    ``(T, F_out)``; positions outside the video contribute 0 (zero padding).
    """
    t_len = x.shape[0]
    f_out, _, k = weight.shape
    pad = (k - 1) // 2
    out = np.zeros((t_len, f_out), dtype=np.float64)
    for t in range(t_len):
        acc = np.zeros(f_out, dtype=np.float64) if bias is None else bias.copy()
        for tap in range(k):
            src = t + tap - pad
            if 0 <= src < t_len:
                acc = acc + weight[:, :, tap] @ x[src]
        out[t] = acc
    return out


def leaky_relu(x: Array, slope: float = LEAKY_SLOPE) -> Array:
    return np.where(x >= 0, x, slope * x)


def sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(values: Sequence[float]) -> list[float]:
    peak = max(values)
    e = [math.exp(v - peak) for v in values]
    total = sum(e)
    return [v / total for v in e]


def top_k_mean(values: Sequence[float], k: int) -> float:
    """Mean of the k largest values (the video score pooling of both methods).

    As the official ``sort(descending=True)[:k].mean()``: with fewer than k values the mean
    is over all of them, with none (k = 0) it is NaN.
    """
    chosen = sorted(values, reverse=True)[:k]
    return sum(chosen) / len(chosen) if chosen else math.nan


def stable_top_k(values: Sequence[float], k: int) -> list[int]:
    """Indices of the k largest values; ties: lower index first (the reference's rule)."""
    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]


# --------------------------------------------------------------------------------------------
# BaS-Net forward (spec: Model)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasNetOutputs:
    """Everything one video's forward pass yields (shapes for T segments, C classes).

    * ``foreground_weights`` ``(T,)``: filtering-module sigmoid output ``w``.
    * ``cas_base`` / ``cas_supp`` ``(T, C + 1)``: CAS logits of the base branch (input ``x``) and
      the suppression branch (input ``w * x``); the last channel is background.
    * ``video_probs_base`` / ``video_probs_supp`` ``(C + 1,)``: softmax over C + 1 of the
      top-k mean of the logits over time, ``k = num_segments // 8``.
    """

    foreground_weights: Array
    cas_base: Array
    cas_supp: Array
    video_probs_base: Array
    video_probs_supp: Array
    k: int


def _cas_module(x: Array, sd: Mapping[str, Array], multiplier: Array | None) -> Array:
    """CAS module: conv k3 -> LeakyReLU -> conv k3 -> LeakyReLU -> Dropout -> conv k1 (no bias)."""
    h = leaky_relu(
        conv1d_over_time(x, sd["cas_module.conv_1.0.weight"], sd["cas_module.conv_1.0.bias"])
    )
    h = leaky_relu(
        conv1d_over_time(h, sd["cas_module.conv_2.0.weight"], sd["cas_module.conv_2.0.bias"])
    )
    if multiplier is not None:
        h = h * multiplier  # Dropout(0.7): entries 0 or 1 / 0.3 in training
    return conv1d_over_time(h, sd["cas_module.conv_3.0.weight"], None)


def basnet_forward(
    features: Any,
    state_dict: Mapping[str, Any],
    *,
    num_segments: int = NUM_SEGMENTS,
    base_multiplier: Any | None = None,
    supp_multiplier: Any | None = None,
) -> BasNetOutputs:
    """The official ``BaS_Net`` forward for ONE video (spec: Model), in float64.

    Args:
        features: ``(T, F)`` input features of the video.
        state_dict: the official checkpoint keys (``BASNET_STATE_DICT_KEYS``); layer sizes are
            read from the tensors, so a tiny model with the same keys works.
        num_segments: the *configured* T; the top-k pooling uses ``k = num_segments // 8``
            (93 for 750) whatever the input length (the official ``self.k``).
        base_multiplier, supp_multiplier: ``(T, hidden)`` dropout multipliers (0 or 1/(1-0.7))
            applied before the classifier in the base and the suppression branch (training
            draws two independent masks); ``None`` for both is eval mode.

    Returns:
        BasNetOutputs.
    """
    sd = {key: as_float64(value) for key, value in state_dict.items()}
    x = as_float64(features)
    # filtering module: conv k1 -> LeakyReLU -> conv k1 -> sigmoid, one weight per segment
    h = leaky_relu(
        conv1d_over_time(x, sd["filter_module.conv_1.0.weight"], sd["filter_module.conv_1.0.bias"])
    )
    w = sigmoid(
        conv1d_over_time(h, sd["filter_module.conv_2.0.weight"], sd["filter_module.conv_2.0.bias"])
    )[:, 0]
    x_supp = np.array([w[t] * x[t] for t in range(x.shape[0])])
    cas_base = _cas_module(x, sd, None if base_multiplier is None else as_float64(base_multiplier))
    cas_supp = _cas_module(
        x_supp, sd, None if supp_multiplier is None else as_float64(supp_multiplier)
    )
    k = num_segments // 8
    probs = []
    for cas in (cas_base, cas_supp):
        pooled = [top_k_mean(list(cas[:, c]), k) for c in range(cas.shape[1])]
        probs.append(np.array(softmax(pooled)))
    return BasNetOutputs(w, cas_base, cas_supp, probs[0], probs[1], k)


# --------------------------------------------------------------------------------------------
# BaS-Net losses (spec: Losses)
# --------------------------------------------------------------------------------------------


def clamped_log(p: float) -> float:
    """``log p`` clamped at -100, as ``torch.nn.BCELoss`` does."""
    return max(-100.0, math.log(p)) if p > 0 else -100.0


def bce(p: float, t: float) -> float:
    return -(t * clamped_log(p) + (1.0 - t) * clamped_log(1.0 - p))


def mean_bce(probs: Sequence[Sequence[float]], targets: Sequence[Sequence[float]]) -> float:
    """``BCELoss()``: mean over videos x classes."""
    terms = [
        bce(p, t)
        for row_p, row_t in zip(probs, targets, strict=True)
        for p, t in zip(row_p, row_t, strict=True)
    ]
    return sum(terms) / len(terms)


def basnet_losses(
    video_probs_base: Sequence[Sequence[float]],
    video_probs_supp: Sequence[Sequence[float]],
    foreground_weights: Sequence[Sequence[float]],
    labels: Sequence[Sequence[float]],
    alpha: float = BASNET_ALPHA,
) -> dict[str, float]:
    """BaS-Net's training loss for a batch (spec: Losses).

    Args:
        video_probs_base, video_probs_supp: ``(B, C + 1)`` softmax video scores.
        foreground_weights: ``(B, T)`` filtering-module weights ``w``.
        labels: ``(B, C)`` multi-hot labels.

    Returns:
        ``loss_base`` (BCE against ``[y, 1] / (sum y + 1)``), ``loss_supp`` (BCE against
        ``[y, 0] / sum y``), ``loss_norm`` (``mean_b sum_t |w|``) and
        ``loss_total = loss_base + loss_supp + alpha * loss_norm``.
    """
    target_base, target_supp = [], []
    for y in labels:
        with_bg, without_bg = [*y, 1.0], [*y, 0.0]
        target_base.append([v / sum(with_bg) for v in with_bg])
        target_supp.append([v / sum(without_bg) for v in without_bg])
    loss_base = mean_bce(video_probs_base, target_base)
    loss_supp = mean_bce(video_probs_supp, target_supp)
    loss_norm = sum(sum(abs(v) for v in w) for w in foreground_weights) / len(foreground_weights)
    return {
        "loss_base": loss_base,
        "loss_supp": loss_supp,
        "loss_norm": loss_norm,
        "loss_total": loss_base + loss_supp + alpha * loss_norm,
    }


# --------------------------------------------------------------------------------------------
# Test-time steps shared with CoLA
# --------------------------------------------------------------------------------------------


def basnet_test_indices(length: int, num_segments: int = NUM_SEGMENTS) -> list[int]:
    """BaS-Net's test sampling (spec: Data): always ``num_segments`` indices.

    ``floor(i * L / T)`` for every ``L != T`` (a short video is stretched by repetition, a long
    one subsampled); ``0 .. T-1`` when ``L == T``.
    """
    if length == num_segments:
        return list(range(num_segments))
    return [math.floor(i * length / num_segments) for i in range(num_segments)]


def minmax_over_time(column: Floats, *, clip: bool) -> npt.NDArray[np.float32]:
    """Official ``minmax_norm`` of one class over time, in float32 as the torch code runs it.

    ``hi = relu(max_t)``, ``lo = relu(min_t)``, ``(v - lo) / (hi - lo)`` with a denominator
    ``<= 0`` replaced by 1; BaS-Net does not clip (``clip=False``), CoLA clips to [0, 1].
    """
    values = np.asarray(column, dtype=np.float32)
    hi = max(np.float32(0.0), max(values))
    lo = max(np.float32(0.0), min(values))
    delta = np.float32(hi - lo)
    if delta <= 0:
        delta = np.float32(1.0)
    out = np.empty(len(values), dtype=np.float32)
    for t, v in enumerate(values):
        r = np.float32(np.float32(v - lo) / delta)
        if clip:
            r = min(np.float32(1.0), max(np.float32(0.0), r))
        out[t] = r
    return out


def upsample(column: npt.NDArray[np.float32], scale: int = UP_SCALE) -> Array:
    """Linear interpolation from ``arange(T)`` to ``arange(0, T, 1/scale)`` (scale * T points),
    extrapolating past the last segment (``interp1d(kind='linear', fill_value='extrapolate')``).

    The input stays float32, as in the official code: SciPy then forms the slopes from float32
    differences, which is not the same as upsampling the float64 cast.
    """
    t_len = len(column)
    f = interp1d(np.arange(t_len), column, kind="linear", axis=0, fill_value="extrapolate")
    return np.asarray(f(np.arange(0, t_len, 1 / scale)), dtype=np.float64)


def threshold_positions(values: Array, threshold: float) -> tuple[Array, list[int]]:
    """Values ``< threshold`` set to 0; candidate positions are those still ``> 0``."""
    kept = values.copy()
    for i in range(len(kept)):
        if kept[i] < threshold:
            kept[i] = 0.0
    return kept, [i for i in range(len(kept)) if kept[i] > 0]


def group_runs(positions: Sequence[int]) -> list[list[int]]:
    """Maximal runs of consecutive positions, in order."""
    runs: list[list[int]] = []
    for p in positions:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def seconds_per_position(
    length: int, num_segments: int, scale: int = UP_SCALE, fps: int = FEATURE_FPS
) -> float:
    """``f = 16 L / (scale * T * fps)`` seconds per upsampled position (official ``t_factor``)."""
    return (FRAMES_PER_SEGMENT * length) / (scale * num_segments * fps)


def gamma_term(video_score: float, gamma: float, numpy_promotion: Promotion) -> float:
    """``gamma * s`` for a float32 video score ``s``, as NumPy 1.x or >= 2 evaluates it."""
    s32 = np.float32(video_score)
    if numpy_promotion == "nep50":
        return float(np.float32(gamma * float(s32)))
    return gamma * float(s32)


def oic_proposals(
    cls: int,
    values: Array,
    positions: Sequence[int],
    score_term: float,
    t_factor: float,
    *,
    min_run_length: int,
    lambda_: float = 0.25,
) -> list[Detection]:
    """Outer-inner contrast proposals of one class at one threshold (``get_proposal_oic``).

    For each run ``[a, b]`` of ``positions`` with ``n = b - a + 1 >= min_run_length``:
    ``inner = mean(values[a..b])``; ``outer = mean`` over ``[max(0, int(a - n/4)), a)`` then
    ``(b, min(N - 1, int(b + n/4))]`` (0 when both are empty); score
    ``inner - outer + score_term``; times ``a * f`` and ``(b + 1) * f``. The means are NumPy
    means of the same contiguous float64 arrays as the official fancy indexing, so they are
    bit-identical. The caller decides what happens when ``positions`` is empty or ``[0]``.
    """
    out: list[Detection] = []
    last = len(values) - 1
    for run in group_runs(positions):
        n = len(run)
        if n < min_run_length:
            continue
        a, b = run[0], run[-1]
        inner = float(np.mean(values[a : b + 1]))
        outer_s = max(0, int(a - lambda_ * n))
        outer_e = min(last, int(b + lambda_ * n))
        outer_values = np.concatenate([values[outer_s:a], values[b + 1 : outer_e + 1]])
        outer = float(np.mean(outer_values)) if len(outer_values) else 0.0
        out.append((cls, inner - outer + score_term, a * t_factor, (b + 1) * t_factor))
    return out


def plus_one_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Official NMS overlap on seconds with the "+1" convention, in the official op order."""
    area_a = a[1] - a[0] + 1
    area_b = b[1] - b[0] + 1
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]) + 1)
    return inter / (area_a + area_b - inter)


def greedy_nms_plus_one(detections: Sequence[Detection], threshold: float) -> list[Detection]:
    """Greedy NMS of one class (Inference 8): keep the best remaining detection, drop every
    remaining one whose "+1" IoU with it is ``>= threshold``. Visiting order: descending score,
    ties in input order (stable; the official order for ties is implementation-defined).
    Returns the kept detections in keep order (descending score).
    """
    remaining = sorted(range(len(detections)), key=lambda i: -detections[i][1])
    kept: list[Detection] = []
    while remaining:
        best = detections[remaining.pop(0)]
        kept.append(best)
        remaining = [
            j
            for j in remaining
            if plus_one_iou((best[2], best[3]), (detections[j][2], detections[j][3])) < threshold
        ]
    return kept


def pool_by_class(
    per_threshold: Sequence[Sequence[list[Detection]]],
) -> dict[int, list[Detection]]:
    """Pool per-threshold, per-class proposal lists into one list per class.

    Classes are keyed in order of first appearance (the official ``proposal_dict``), proposals
    in threshold order then run order.
    """
    pooled: dict[int, list[Detection]] = {}
    for lists in per_threshold:
        for props in lists:
            cls = props[0][0]
            pooled.setdefault(cls, []).extend(props)
    return pooled


def nms_per_class(pooled: Mapping[int, list[Detection]], threshold: float) -> list[Detection]:
    """Per-class greedy NMS, classes in ``pooled`` order, each in keep order."""
    out: list[Detection] = []
    for props in pooled.values():
        out.extend(greedy_nms_plus_one(props, threshold))
    return out


def detections_to_json(
    detections: Sequence[Detection], class_names: Sequence[str] = THUMOS14_CLASSES
) -> list[dict[str, Any]]:
    """``result2json``: ``{"label", "score", "segment": [start, end]}`` per detection."""
    return [
        {"label": class_names[cls], "score": float(score), "segment": [float(start), float(end)]}
        for cls, score, start, end in detections
    ]


# --------------------------------------------------------------------------------------------
# BaS-Net test pipeline (spec: Inference 1-9)
# --------------------------------------------------------------------------------------------


def basnet_binarised_scores(video_probs_supp: Floats, class_threshold: float) -> list[float]:
    """Inference 1-2: the first C suppression-branch probabilities (background dropped, not
    renormalised; rounded to float32, as the network emits them), binarised in place:
    ``< threshold -> 0`` then ``>= threshold -> 1``."""
    scores = [float(np.float32(v)) for v in video_probs_supp[:-1]]
    scores = [0.0 if v < class_threshold else v for v in scores]
    return [1.0 if v >= class_threshold else v for v in scores]


def basnet_predicted_classes(video_probs_supp: Floats, class_threshold: float) -> list[int]:
    """Inference 3: indices whose binarised score is ``> class_threshold``; no arg-max fallback."""
    binarised = basnet_binarised_scores(video_probs_supp, class_threshold)
    return [c for c, v in enumerate(binarised) if v > class_threshold]


def basnet_video_correct(
    video_probs_supp: Floats,
    labels: Floats,
    class_threshold: float = BASNET_CLASS_THRESHOLD,
) -> bool:
    """Classification accuracy rule (Inference 2): all C binarised scores equal the labels."""
    binarised = basnet_binarised_scores(video_probs_supp, class_threshold)
    return all(b == float(y) for b, y in zip(binarised, labels, strict=True))


def basnet_accuracy(
    video_probs_supp: Sequence[Sequence[float]],
    labels: Sequence[Sequence[float]],
    class_threshold: float = BASNET_CLASS_THRESHOLD,
) -> float:
    """Fraction of test videos counted correct (every video counts, dropped ones included)."""
    flags = [
        basnet_video_correct(p, y, class_threshold)
        for p, y in zip(video_probs_supp, labels, strict=True)
    ]
    return sum(flags) / len(flags)


def basnet_proposals_from_upsampled(
    upsampled: Mapping[int, Array],
    binarised_scores: Floats,
    length: int,
    num_segments: int,
    *,
    cas_thresholds: Sequence[float] = BASNET_CAS_THRESHOLDS,
    scale: int = UP_SCALE,
    fps: int = FEATURE_FPS,
    gamma: float = 0.2,
    on_crash: OnCrash = "raise",
    numpy_promotion: Promotion = "legacy",
) -> list[list[list[Detection]]]:
    """Inference 6-7 for the predicted classes (the keys of ``upsampled``, in order).

    Per threshold, per class: values ``< thr`` zeroed, candidates ``> 0``, runs of every length
    (``min_run_length = 1``) scored on the thresholded values with the constant
    ``gamma * binarised score``. The official code appends every predicted class's list even
    when empty and then reads its first element, so a class with no candidate, or whose only
    candidate is position 0 (``any()`` of ``[0]`` is false), raises ``IndexError``. The second
    case needs no negative maximum: a maximum at segment 0 followed by a steep drop (unclipped
    min-max makes the next segment far below 0) leaves only position 0 at the higher thresholds.

    Returns:
        For each threshold, the non-empty per-class proposal lists in class order.
    """
    t_factor = seconds_per_position(length, num_segments, scale, fps)
    out: list[list[list[Detection]]] = []
    for thr in cas_thresholds:
        lists: list[list[Detection]] = []
        for cls, values in upsampled.items():
            kept, positions = threshold_positions(values, thr)
            props: list[Detection] = []
            if any(positions):
                term = gamma_term(binarised_scores[cls], gamma, numpy_promotion)
                props = oic_proposals(cls, kept, positions, term, t_factor, min_run_length=1)
            if not props:
                if on_crash == "raise":
                    raise IndexError(f"class {cls} has no proposal at CAS threshold {thr!r}")
                continue
            lists.append(props)
        out.append(lists)
    return out


def basnet_detect_video(
    cas_supp: Any,
    video_probs_supp: Floats,
    length: int,
    *,
    class_threshold: float = BASNET_CLASS_THRESHOLD,
    cas_thresholds: Sequence[float] = BASNET_CAS_THRESHOLDS,
    nms_threshold: float = BASNET_NMS_THRESHOLD,
    scale: int = UP_SCALE,
    fps: int = FEATURE_FPS,
    gamma: float = 0.2,
    on_crash: OnCrash = "raise",
    numpy_promotion: Promotion = "legacy",
) -> list[Detection] | None:
    """The official BaS-Net test pipeline for ONE video (spec: Inference 1-9).

    Args:
        cas_supp: ``(T, C + 1)`` suppression-branch CAS logits as the network emits them
            (float32 in the official code; T is 750 at test time, see ``basnet_test_indices``).
        video_probs_supp: ``(C + 1,)`` suppression-branch softmax video scores.
        length: L, the video's original number of feature segments (for the times).

    Returns:
        The detections (classes in predicted order, each class in NMS keep order), or ``None``
        when the video gets no entry in the results: no class passes ``class_threshold``, or
        the only predicted class is index 0 (the official ``pred.any()``).

    Raises:
        IndexError: with ``on_crash="raise"``, where the official code raises it.
    """
    cas = np.asarray(as_float64(cas_supp), dtype=np.float32)
    num_segments = cas.shape[0]
    binarised = basnet_binarised_scores(video_probs_supp, class_threshold)
    pred = basnet_predicted_classes(video_probs_supp, class_threshold)
    if not any(pred):
        return None
    # Inference 4-5: min-max of the logits (not clipped), then x24 upsampling, per class
    upsampled = {c: upsample(minmax_over_time(cas[:, c], clip=False), scale) for c in pred}
    per_threshold = basnet_proposals_from_upsampled(
        upsampled,
        binarised,
        length,
        num_segments,
        cas_thresholds=cas_thresholds,
        scale=scale,
        fps=fps,
        gamma=gamma,
        on_crash=on_crash,
        numpy_promotion=numpy_promotion,
    )
    return nms_per_class(pool_by_class(per_threshold), nms_threshold)


def basnet_result_file(
    detections_by_video: Mapping[str, list[Detection] | None],
    class_names: Sequence[str] = THUMOS14_CLASSES,
) -> dict[str, Any]:
    """The prediction file BaS-Net writes (Inference 9); videos mapped to ``None`` are left out."""
    return {
        "version": "VERSION 1.3",
        "results": {
            vid: detections_to_json(dets, class_names)
            for vid, dets in detections_by_video.items()
            if dets is not None
        },
        "external_data": {"used": True, "details": "Features from I3D Network"},
    }

"""Plain-loop reference of what the official CoLA code computes, written from the spec.

One video at a time, one time position, class and threshold at a time. The network runs in
NumPy float64 with explicit loops over time and kernel taps; the hard-snippet mining is
written as loops over time positions and window offsets; the test-time pipeline reuses the
post-processing helpers of ``basnet_reference`` (CoLA's official utilities derive from
BaS-Net's) with CoLA's parameters. Independent of ``wtal_blocks``.

Spec sections cited below are those of the CoLA behaviour spec ("Model", "Losses",
"Inference 1-10", "Data").

Conventions
-----------
* ``length`` is L (original number of feature segments); ``num_segments`` is T, the sampled
  count: 750 in training, ``min(L, 750)`` at test time.
* Selections (EA, EB, HA, HB) are index lists. The official code takes the first k indices of
  ``torch.sort(descending=True)``, whose order among equal values is implementation-defined;
  the reference breaks ties by lower index first, and the loss takes the selections as
  inputs so that a test can feed the ones the implementation under test made.
* ``on_crash`` and ``numpy_promotion``: as in ``basnet_reference``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.reference.basnet_reference import (
    FEATURE_FPS,
    THUMOS14_CLASSES,
    UP_SCALE,
    Array,
    Detection,
    Floats,
    OnCrash,
    Promotion,
    as_float64,
    conv1d_over_time,
    detections_to_json,
    gamma_term,
    mean_bce,
    minmax_over_time,
    nms_per_class,
    oic_proposals,
    pool_by_class,
    seconds_per_position,
    softmax,
    stable_top_k,
    threshold_positions,
    top_k_mean,
    upsample,
)

NUM_SEGMENTS = 750
# numpy ``arange`` floats (Inference 7): 10 CAS thresholds 0 .. 0.225, 33 actionness ones
COLA_CAS_THRESHOLDS: tuple[float, ...] = tuple(float(v) for v in np.arange(0.0, 0.25, 0.025))
COLA_ACTIONNESS_THRESHOLDS: tuple[float, ...] = tuple(
    float(v) for v in np.arange(0.1, 0.925, 0.025)
)
COLA_CLASS_THRESHOLD = 0.2
COLA_NMS_THRESHOLD = 0.6
COLA_METHOD = "[CoLA] https://github.com/zhang-can/CoLA"
R_EASY = 5
R_HARD = 20
M_SMALL = 3  # ``m``: the inner erosion / outer dilation window
M_LARGE = 6  # ``M``
TEMPERATURE = 0.07
SNICO_WEIGHT = 0.01

COLA_STATE_DICT_KEYS: tuple[str, ...] = (
    "actionness_module.f_embed.0.weight",
    "actionness_module.f_embed.0.bias",
    "actionness_module.f_cls.0.weight",
)


def cola_state_dict_shapes(
    feature_size: int = 2048, num_classes: int = 20, hidden: int = 2048
) -> dict[str, tuple[int, ...]]:
    """The official checkpoint's keys and shapes (spec: Model, checkpoint table)."""
    return {
        "actionness_module.f_embed.0.weight": (hidden, feature_size, 3),
        "actionness_module.f_embed.0.bias": (hidden,),
        "actionness_module.f_cls.0.weight": (num_classes, hidden, 1),
    }


def cola_test_indices(length: int, num_segments: int = NUM_SEGMENTS) -> list[int]:
    """CoLA's test sampling (spec: Data): all L segments when ``L <= T``, else
    ``floor(i * L / T)`` for ``i < T``; the test T is ``min(L, 750)``."""
    if length <= num_segments:
        return list(range(length))
    return [math.floor(i * length / num_segments) for i in range(num_segments)]


# --------------------------------------------------------------------------------------------
# Snippet mining (spec: Model, easy and hard snippet mining)
# --------------------------------------------------------------------------------------------


def binarise_above_median(actionness: Floats) -> list[int]:
    """``1`` where ``actionness > median`` over the video (``np.median``, in the input's
    dtype: the mean of the two middle values for an even T), else ``0``."""
    values = np.asarray(actionness)
    median = np.median(values)
    return [1 if values[t] > median else 0 for t in range(len(values))]


def window_offsets(k: int) -> range:
    """Offsets ``j`` of a length-k window of ones: ``-floor(k/2) .. k - 1 - floor(k/2)``."""
    return range(-(k // 2), k - k // 2)


def erode(bits: Sequence[int], k: int) -> list[int]:
    """Binary erosion along time: 1 at t iff ``bits[t + j] == 1`` for every window offset j;
    positions outside the video count as 0."""
    t_len = len(bits)
    out = []
    for t in range(t_len):
        ok = all(0 <= t + j < t_len and bits[t + j] == 1 for j in window_offsets(k))
        out.append(1 if ok else 0)
    return out


def dilate(bits: Sequence[int], k: int) -> list[int]:
    """Binary dilation along time: 1 at t iff ``bits[t - j] == 1`` for some window offset j
    (the reflected window); positions outside the video count as 0."""
    t_len = len(bits)
    out = []
    for t in range(t_len):
        hit = any(0 <= t - j < t_len and bits[t - j] == 1 for j in window_offsets(k))
        out.append(1 if hit else 0)
    return out


def hard_snippet_bands(
    actionness: Floats, m: int = M_SMALL, big_m: int = M_LARGE
) -> tuple[list[int], list[int]]:
    """The inner band ``erode_m - erode_M`` and the outer band ``dilate_M - dilate_m`` of the
    median-binarised actionness (0/1 lists)."""
    bits = binarise_above_median(actionness)
    erode_m, erode_big = erode(bits, m), erode(bits, big_m)
    dilate_m, dilate_big = dilate(bits, m), dilate(bits, big_m)
    inner = [erode_m[t] - erode_big[t] for t in range(len(bits))]
    outer = [dilate_big[t] - dilate_m[t] for t in range(len(bits))]
    return inner, outer


def hard_snippet_mining(
    actionness: Floats, k_hard: int, m: int = M_SMALL, big_m: int = M_LARGE
) -> tuple[list[int], list[int]]:
    """HA = the ``k_hard`` largest ``actionness * inner``, HB = the ``k_hard`` largest
    ``actionness * outer`` (the most action-like snippets of each band). With fewer than
    ``k_hard`` non-zero products the remaining picks are zero-valued positions (ties: lower
    index first here; implementation-defined in the official code)."""
    inner, outer = hard_snippet_bands(actionness, m, big_m)
    a = [float(v) for v in actionness]
    hard_action = stable_top_k([a[t] * inner[t] for t in range(len(a))], k_hard)
    hard_background = stable_top_k([a[t] * outer[t] for t in range(len(a))], k_hard)
    return hard_action, hard_background


def easy_snippet_mining(
    actionness: Floats, k_easy: int, multiplier: Sequence[float] | None = None
) -> tuple[list[int], list[int]]:
    """EA = the ``k_easy`` largest ``actionness * mult``, EB = the ``k_easy`` largest
    ``(max_t actionness - actionness) * mult``; ``multiplier`` is the Dropout(0.6) of ones
    (entries 0 or 2.5 in training), ``None`` in eval mode."""
    a = [float(v) for v in actionness]
    mult = [1.0] * len(a) if multiplier is None else [float(v) for v in multiplier]
    peak = max(a)
    easy_action = stable_top_k([a[t] * mult[t] for t in range(len(a))], k_easy)
    easy_background = stable_top_k([(peak - a[t]) * mult[t] for t in range(len(a))], k_easy)
    return easy_action, easy_background


# --------------------------------------------------------------------------------------------
# CoLA forward (spec: Model)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColaSelections:
    """Indices of the easy action/background (k_easy each) and hard action/background (k_hard
    each) snippets: the official ``contrast_pairs`` EA, EB, HA, HB before the gather."""

    easy_action: list[int]
    easy_background: list[int]
    hard_action: list[int]
    hard_background: list[int]


@dataclass(frozen=True)
class ColaOutputs:
    """One video's forward pass (T segments, C classes, D embedded channels).

    * ``embeddings`` ``(T, D)``: ReLU(conv k3) output, taken before dropout.
    * ``cas`` ``(T, C)``: ReLU of the classifier (after dropout in training), non-negative.
    * ``actionness`` ``(T,)``: sum of the CAS over classes.
    * ``video_probs`` ``(C,)``: softmax of the top-``k_easy`` mean of the CAS over time.
    * ``selections``: EA/EB/HA/HB indices, ``k_easy = T // 5``, ``k_hard = T // 20``.
    """

    embeddings: Array
    cas: Array
    actionness: Array
    video_probs: Array
    selections: ColaSelections
    k_easy: int
    k_hard: int


def cola_forward(
    features: Any,
    state_dict: Mapping[str, Any],
    *,
    embedding_multiplier: Any | None = None,
    selection_multiplier: Any | None = None,
    r_easy: int = R_EASY,
    r_hard: int = R_HARD,
    m: int = M_SMALL,
    big_m: int = M_LARGE,
) -> ColaOutputs:
    """The official ``CoLA`` forward for ONE video (spec: Model), in float64.

    Args:
        features: ``(T, F)``; k_easy and k_hard come from this input T.
        state_dict: the official keys (``COLA_STATE_DICT_KEYS``); sizes read from the tensors.
        embedding_multiplier: ``(T, D)`` Dropout(0.7) multiplier on the embeddings before the
            classifier (0 or 1/0.3), ``None`` in eval mode.
        selection_multiplier: ``(T,)`` Dropout(0.6) multiplier of the easy-snippet mining
            (0 or 2.5), ``None`` in eval mode.

    Returns:
        ColaOutputs.
    """
    sd = {key: as_float64(value) for key, value in state_dict.items()}
    x = as_float64(features)
    embeddings = np.maximum(
        conv1d_over_time(
            x, sd["actionness_module.f_embed.0.weight"], sd["actionness_module.f_embed.0.bias"]
        ),
        0.0,
    )
    hidden = (
        embeddings
        if embedding_multiplier is None
        else embeddings * as_float64(embedding_multiplier)
    )
    cas = np.maximum(conv1d_over_time(hidden, sd["actionness_module.f_cls.0.weight"], None), 0.0)
    t_len, num_classes = cas.shape
    actionness = np.array([sum(cas[t, c] for c in range(num_classes)) for t in range(t_len)])
    k_easy, k_hard = t_len // r_easy, t_len // r_hard
    mult = None if selection_multiplier is None else list(as_float64(selection_multiplier))
    easy_action, easy_background = easy_snippet_mining(list(actionness), k_easy, mult)
    hard_action, hard_background = hard_snippet_mining(list(actionness), k_hard, m, big_m)
    pooled = [top_k_mean(list(cas[:, c]), k_easy) for c in range(num_classes)]
    return ColaOutputs(
        embeddings=embeddings,
        cas=cas,
        actionness=actionness,
        video_probs=np.array(softmax(pooled)),
        selections=ColaSelections(easy_action, easy_background, hard_action, hard_background),
        k_easy=k_easy,
        k_hard=k_hard,
    )


# --------------------------------------------------------------------------------------------
# CoLA losses (spec: Losses)
# --------------------------------------------------------------------------------------------


def l2_normalise(v: Sequence[float], eps: float = 1e-12) -> list[float]:
    """``F.normalize``: ``v / max(||v||, eps)``."""
    norm = max(math.sqrt(sum(x * x for x in v)), eps)
    return [x / norm for x in v]


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def mean_vector(vectors: Sequence[Sequence[float]], dim: int) -> list[float]:
    """Channel-wise mean of k vectors; NaN for k = 0 (``torch.mean`` over an empty dim), which
    happens when ``T < 20`` makes ``k_hard = 0``."""
    if not vectors:
        return [math.nan] * dim
    return [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]


def info_nce(
    query: Sequence[float],
    positive: Sequence[float],
    negatives: Sequence[Sequence[float]],
    temperature: float = TEMPERATURE,
) -> float:
    """One video's InfoNCE term: logits ``[q.k+, q.n_1, ..., q.n_K] / temperature`` on the
    L2-normalised vectors, cross-entropy with the positive at index 0."""
    q, k = l2_normalise(query), l2_normalise(positive)
    logits = [dot(q, k) / temperature] + [dot(q, l2_normalise(n)) / temperature for n in negatives]
    peak = max(logits)
    log_sum = peak + math.log(sum(math.exp(v - peak) for v in logits))
    return log_sum - logits[0]


def snico_loss(
    embeddings: Sequence[Any],
    selections: Sequence[ColaSelections],
    temperature: float = TEMPERATURE,
) -> dict[str, float]:
    """SniCo for a batch: ``L_HA = NCE(mean HA, mean EA, EB)``, ``L_HB = NCE(mean HB, mean EB,
    EA)``, each averaged over the videos; returns both and their sum ``loss_snico``.

    ``embeddings[b]`` is video b's ``(T, D)`` pre-dropout embedding sequence.
    """
    l_ha, l_hb = [], []
    for emb, sel in zip(embeddings, selections, strict=True):
        e = as_float64(emb)

        def rows(idx: Sequence[int], e: Array = e) -> list[list[float]]:
            return [list(e[t]) for t in idx]

        ea, eb, ha, hb = (
            rows(sel.easy_action),
            rows(sel.easy_background),
            rows(sel.hard_action),
            rows(sel.hard_background),
        )
        dim = e.shape[1]
        l_ha.append(info_nce(mean_vector(ha, dim), mean_vector(ea, dim), eb, temperature))
        l_hb.append(info_nce(mean_vector(hb, dim), mean_vector(eb, dim), ea, temperature))
    loss_ha, loss_hb = sum(l_ha) / len(l_ha), sum(l_hb) / len(l_hb)
    return {"loss_ha": loss_ha, "loss_hb": loss_hb, "loss_snico": loss_ha + loss_hb}


def cola_losses(
    video_probs: Sequence[Sequence[float]],
    labels: Sequence[Sequence[float]],
    embeddings: Sequence[Any],
    selections: Sequence[ColaSelections],
    *,
    temperature: float = TEMPERATURE,
    snico_weight: float = SNICO_WEIGHT,
) -> dict[str, float]:
    """CoLA's training loss for a batch (spec: Losses).

    ``loss_cls = BCE(video_probs, y / sum y)`` (mean over B x C), ``loss_snico`` from
    ``snico_loss``, ``loss_total = loss_cls + snico_weight * loss_snico`` (0.01 hard-coded in
    the official THUMOS'14 code; the unused config ``LAMBDA`` is also 0.01).
    """
    targets = [[v / sum(y) for v in y] for y in labels]
    loss_cls = mean_bce(video_probs, targets)
    snico = snico_loss(embeddings, selections, temperature)
    return {
        **snico,
        "loss_cls": loss_cls,
        "loss_total": loss_cls + snico_weight * snico["loss_snico"],
    }


# --------------------------------------------------------------------------------------------
# CoLA test pipeline (spec: Inference 1-10)
# --------------------------------------------------------------------------------------------


def cola_predicted_classes(
    video_probs: Floats, class_threshold: float = COLA_CLASS_THRESHOLD
) -> list[int]:
    """Inference 3: classes with ``p_c >= threshold`` (float32 probabilities, as emitted), else
    the arg-max class (first maximum)."""
    probs = [float(np.float32(v)) for v in video_probs]
    pred = [c for c, p in enumerate(probs) if p >= class_threshold]
    if not pred:
        pred = [max(range(len(probs)), key=lambda c: (probs[c], -c))]
    return pred


def cola_video_correct(
    video_probs: Floats,
    labels: Floats,
    class_threshold: float = COLA_CLASS_THRESHOLD,
) -> bool:
    """Accuracy rule (Inference 2): ``(p >= threshold)`` equals the labels on every class."""
    probs = [float(np.float32(v)) for v in video_probs]
    return all(
        (1.0 if p >= class_threshold else 0.0) == float(y)
        for p, y in zip(probs, labels, strict=True)
    )


def cola_accuracy(
    video_probs: Sequence[Sequence[float]],
    labels: Sequence[Sequence[float]],
    class_threshold: float = COLA_CLASS_THRESHOLD,
) -> float:
    flags = [
        cola_video_correct(p, y, class_threshold) for p, y in zip(video_probs, labels, strict=True)
    ]
    return sum(flags) / len(flags)


def cola_proposals_from_upsampled(
    upsampled_cas: Mapping[int, Array],
    upsampled_actionness: Array,
    video_probs: Floats,
    length: int,
    num_segments: int,
    *,
    cas_thresholds: Sequence[float] = COLA_CAS_THRESHOLDS,
    actionness_thresholds: Sequence[float] = COLA_ACTIONNESS_THRESHOLDS,
    scale: int = UP_SCALE,
    fps: int = FEATURE_FPS,
    gamma: float = 0.2,
    on_crash: OnCrash = "raise",
    numpy_promotion: Promotion = "legacy",
) -> list[list[list[Detection]]]:
    """Inference 7-8 for the predicted classes (the keys of ``upsampled_cas``, in order).

    First the CAS thresholds (candidates and scores on the thresholded CAS), then the actionness
    thresholds (candidates where the thresholded actionness is ``> 0``, scores on the
    un-thresholded CAS). Runs shorter than 2 are dropped; the score term is ``gamma * p_c``.
    A class whose candidates are empty or only ``[0]`` is skipped (``any()``); a class that has
    candidates but no run of length >= 2 makes the official code raise ``IndexError``.

    Returns:
        For each threshold (CAS family first), the non-empty per-class proposal lists.
    """
    t_factor = seconds_per_position(length, num_segments, scale, fps)
    out: list[list[list[Detection]]] = []
    families = [("cas", thr) for thr in cas_thresholds] + [
        ("actionness", thr) for thr in actionness_thresholds
    ]
    for family, thr in families:
        lists: list[list[Detection]] = []
        for cls, cas_values in upsampled_cas.items():
            if family == "cas":
                scored, positions = threshold_positions(cas_values, thr)
            else:
                scored = cas_values
                _, positions = threshold_positions(upsampled_actionness, thr)
            if not any(positions):
                continue
            term = gamma_term(video_probs[cls], gamma, numpy_promotion)
            props = oic_proposals(cls, scored, positions, term, t_factor, min_run_length=2)
            if not props:
                if on_crash == "raise":
                    raise IndexError(
                        f"class {cls} has only single-position runs at {family} threshold {thr!r}"
                    )
                continue
            lists.append(props)
        out.append(lists)
    return out


def cola_detect_video(
    cas: Any,
    actionness: Any,
    video_probs: Floats,
    length: int,
    *,
    class_threshold: float = COLA_CLASS_THRESHOLD,
    cas_thresholds: Sequence[float] = COLA_CAS_THRESHOLDS,
    actionness_thresholds: Sequence[float] = COLA_ACTIONNESS_THRESHOLDS,
    nms_threshold: float = COLA_NMS_THRESHOLD,
    scale: int = UP_SCALE,
    fps: int = FEATURE_FPS,
    gamma: float = 0.2,
    on_crash: OnCrash = "raise",
    numpy_promotion: Promotion = "legacy",
) -> list[Detection]:
    """The official CoLA test pipeline for ONE video (spec: Inference 1-9).

    Args:
        cas: ``(T, C)`` ReLU'd CAS as the network emits it (float32 officially), with
            ``T = min(L, 750)`` test segments (``cola_test_indices``).
        actionness: ``(T,)`` sum of the CAS over classes.
        video_probs: ``(C,)`` softmax video scores.
        length: L, the video's original number of feature segments.

    Returns:
        The detections: classes in order of first appearance in the pooled proposals (the
        predicted order unless a class first appears in a later threshold), each class in NMS
        keep order. Every video has an entry, possibly empty.

    Raises:
        IndexError: with ``on_crash="raise"``, where the official code raises it.
    """
    cas32 = np.asarray(as_float64(cas), dtype=np.float32)
    aness32 = np.asarray(as_float64(actionness), dtype=np.float32)
    num_segments = cas32.shape[0]
    pred = cola_predicted_classes(video_probs, class_threshold)
    # Inference 4-6: clipped min-max of each class and of the actionness, x24 upsampling
    upsampled_cas = {c: upsample(minmax_over_time(cas32[:, c], clip=True), scale) for c in pred}
    upsampled_actionness = upsample(minmax_over_time(aness32, clip=True), scale)
    per_threshold = cola_proposals_from_upsampled(
        upsampled_cas,
        upsampled_actionness,
        video_probs,
        length,
        num_segments,
        cas_thresholds=cas_thresholds,
        actionness_thresholds=actionness_thresholds,
        scale=scale,
        fps=fps,
        gamma=gamma,
        on_crash=on_crash,
        numpy_promotion=numpy_promotion,
    )
    return nms_per_class(pool_by_class(per_threshold), nms_threshold)


def cola_result_file(
    detections_by_video: Mapping[str, list[Detection]],
    class_names: Sequence[str] = THUMOS14_CLASSES,
) -> dict[str, Any]:
    """The prediction file CoLA writes (Inference 10): keys ``method`` and ``results``."""
    return {
        "method": COLA_METHOD,
        "results": {
            vid: detections_to_json(dets, class_names) for vid, dets in detections_by_video.items()
        },
    }

"""Plain-loop reference of W-TALC's ``getDetectionMAP``, written from its description.

Independent of ``wtal_blocks.evaluation``; clarity over speed. The pipeline, per threshold:

* videos: the test videos in annotation order, minus those without segments (their score
  arrays are dropped too); classes: the ground-truth classes of those videos, sorted by name;
* per video, ``k = int(L / 8)`` and ``v_c`` = mean of the ``k`` largest values of column ``c``
  (in the array's dtype); a column with ``v_c > 0`` is kept, any other is replaced by zeros
  (``k = 0`` gives a NaN mean: every column is zeroed);
* per video and class, column ``x``: ``threshold = max - (max - min) * 0.5``; every maximal run
  of ``x > threshold`` with at least 2 positions is a proposal ``[s, e)`` scored
  ``max(x[s:e]) + 0.7 * v_c`` (in the array's dtype, then stored as a Python float);
* a proposal whose index set meets ``range(round(a f), round(b f))`` of an ambiguous interval
  of its video is deleted;
* if a class has no proposal left, the mAP of the threshold is 0 (``empty_class="zero_map"``)
  or that class's AP is 0 (``"zero_ap"``);
* proposals are ranked by descending score, stably (ties: earlier video, then earlier
  segment); each takes the first still-unmatched ground truth of its video, in list order,
  with ``|A & B| / |A | B| >= t`` on integer index sets, the ground truth being
  ``range(round(start f), round(end f))`` (Python's round: half to even);
* AP = sum of the precision at the true positives / number of ground truths.

The mean ``v_c`` is where numpy's summation order shows: W-TALC takes ``np.mean`` over axis 0
of the ``(k, C)`` block of the column-sorted array. For a C-ordered block with at least two
columns numpy adds the sorted rows one after the other, largest first (written out below);
for one column or a Fortran-ordered array it sums each contiguous column pairwise, which is
what ``np.mean`` of a single contiguous column does.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def top_k_mean(cas: np.ndarray, column: int, k: int) -> Any:
    """``v_c`` in the array's dtype, with W-TALC's summation order."""
    kind = cas.dtype.type
    ordered = sorted((kind(v) for v in cas[:, column]), key=float, reverse=True)[:k]
    row_by_row = (-cas).flags.c_contiguous and cas.shape[1] >= 2
    if row_by_row:
        total = ordered[0]
        for value in ordered[1:]:
            total = kind(total + value)
        return kind(total / kind(k))
    return kind(np.mean(np.asarray(ordered, dtype=cas.dtype)))


def video_proposals(cas: np.ndarray, classes: list[int]) -> list[tuple[int, int, int, float]]:
    """``(class, s, e, score)`` of one video, classes in the given order, runs left to right."""
    kind = cas.dtype.type
    length = cas.shape[0]
    k = int(length / 8)
    out = []
    for c in classes:
        if k == 0:
            v = kind("nan")
        else:
            v = top_k_mean(cas, c, k)
        keep = bool(v > 0)
        x = [kind(value) if keep else kind(0) for value in cas[:, c]]
        high, low = max(x), min(x)
        threshold = kind(high - kind(kind(high - low) * kind(0.5)))
        marked = [value > threshold for value in x]
        s = 0
        while s < length:
            if not marked[s]:
                s += 1
                continue
            e = s
            while e < length and marked[e]:
                e += 1
            if e - s >= 2:
                score = kind(max(x[s:e]) + kind(kind(0.7) * v))
                out.append((c, s, e, float(score)))
            s = e
    return out


def index_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """IoU of the index sets ``range(*a)`` and ``range(*b)`` (0 when both are empty).

    Counted without building the sets: ``|range(s, e)| = max(0, e - s)``, and the intersection
    of two ranges is the range between the larger start and the smaller end.
    """
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(0, a[1] - a[0]) + max(0, b[1] - b[0]) - inter
    return inter / union if union else 0.0


def wtalc_detection_map(
    test_videos: list[tuple[str, list[tuple[float, float]], list[str]]],
    class_list: list[str],
    ambiguous: list[tuple[str, float, float]],
    predictions: list[np.ndarray],
    thresholds: list[float],
    factor: float = 25.0 / 16.0,
    empty_class: str = "zero_map",
) -> tuple[list[float], dict[str, list[float]], list[str]]:
    """W-TALC's detection mAP as fractions.

    Args:
        test_videos: ``(name, [(start, end), ...], [label, ...])`` of every test video, in
            annotation order (seconds, one label per segment).
        class_list: the column order of the score arrays.
        ambiguous: ``(video name, start, end)`` in seconds.
        predictions: one ``(L, C)`` array per test video, same order.
        thresholds: tIoU thresholds.
        factor: features per second (25/16 for I3D).
        empty_class: ``"zero_map"`` or ``"zero_ap"``.

    Returns:
        ``(mAP per threshold, {class: AP per threshold}, classes without proposals)``.
    """
    kept = [(v, p) for v, p in zip(test_videos, predictions, strict=True) if v[1]]
    classes = sorted({label for (_, _, labels), _ in kept for label in labels})
    columns = [class_list.index(name) for name in classes]

    # proposals per class, in (video, segment) order
    per_class: dict[int, list[tuple[int, int, int, float]]] = {c: [] for c in columns}
    for i, (_, cas) in enumerate(kept):
        with np.errstate(over="ignore", invalid="ignore"):  # huge scores overflow to inf
            found = video_proposals(cas, columns)
        for c, s, e, score in found:
            per_class[c].append((i, s, e, score))

    # ambiguous deletion
    ambiguous_of: dict[str, list[tuple[int, int]]] = {}
    for video, a, b in ambiguous:
        ambiguous_of.setdefault(video, []).append((round(a * factor), round(b * factor)))
    for c in columns:
        left = []
        for i, s, e, score in per_class[c]:
            name = kept[i][0][0]
            hit = any(index_iou(span, (s, e)) > 0 for span in ambiguous_of.get(name, []))
            if not hit:
                left.append((i, s, e, score))
        per_class[c] = left
    empty = [classes[j] for j, c in enumerate(columns) if not per_class[c]]

    ap: dict[str, list[float]] = {name: [] for name in classes}
    m_ap: list[float] = []
    for t in thresholds:
        values = []
        for name, c in zip(classes, columns, strict=True):
            gts = [
                (i, round(seg[0] * factor), round(seg[1] * factor))
                for i, ((_, segments, labels), _) in enumerate(kept)
                for seg, label in zip(segments, labels, strict=True)
                if label == name
            ]
            ranked = sorted(per_class[c], key=lambda p: -p[3])  # stable
            # the still-unmatched ground truths, in list order; only those of the
            # proposal's own video can match it, so they are kept per video
            remaining: dict[int, list[tuple[int, int]]] = {}
            for gi, gs, ge in gts:
                remaining.setdefault(gi, []).append((gs, ge))
            n_tp, total = 0, 0.0
            for rank, (i, s, e, _) in enumerate(ranked, 1):
                candidates = remaining.get(i, [])
                for j, span in enumerate(candidates):
                    if index_iou(span, (s, e)) >= t:
                        del candidates[j]
                        n_tp += 1
                        total += n_tp / rank
                        break
            values.append(total / len(gts))
            ap[name].append(total / len(gts))
        if empty and empty_class == "zero_map":
            m_ap.append(0.0)
        else:
            m_ap.append(sum(values) / len(values))
    return m_ap, ap, empty

"""Plain-loop reference of the official THUMOS'14 detection protocol, written from its description.

Independent of ``wtal_blocks.evaluation``. Per class and threshold:

* videos are visited in sorted-name order (every video with ground truth or detections);
* in a video, the class's detections are sorted by descending confidence (stable); each ground
  truth of the class, in file order, takes the free detection with the largest overlap (first on
  ties) and matches it when that overlap is strictly above the threshold;
* overlap = intersection / (max end - min start) when the intersection is positive, else 0;
* an unmatched detection intersecting an ambiguous segment of its video is dropped;
* the kept detections are listed video by video (each video in its confidence order), the list
  is sorted stably by descending confidence, and AP = sum of the precision at the true
  positives / #ground truths.
"""

from __future__ import annotations


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    a = (min(a), max(a))
    b = (min(b), max(b))
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def class_ranking(
    gts: list[tuple[str, float, float]],
    dets: list[tuple[str, float, float, float]],
    ambiguous: list[tuple[str, float, float]],
    threshold: float,
) -> list[tuple[float, bool]]:
    """The ranked (confidence, is true positive) list of one class, ambiguous ones removed.

    ``gts``: (video, start, end) in file order; ``dets``: (video, start, end, confidence).
    """
    videos = sorted({g[0] for g in gts} | {d[0] for d in dets} | {a[0] for a in ambiguous})
    listed: list[tuple[float, bool]] = []
    for video in videos:
        vdets = sorted((d for d in dets if d[0] == video), key=lambda d: -d[3])
        if not vdets:
            continue
        free = [True] * len(vdets)
        for g in (g for g in gts if g[0] == video):
            best, best_j = None, None
            for j, d in enumerate(vdets):
                if not free[j]:
                    continue
                ov = overlap((g[1], g[2]), (d[1], d[2]))
                if best is None or ov > best:
                    best, best_j = ov, j
            if best is not None and best_j is not None and best > threshold:
                free[best_j] = False
        for j, d in enumerate(vdets):
            if not free[j]:
                listed.append((d[3], True))
                continue
            near_ambiguous = any(
                a[0] == video and overlap((a[1], a[2]), (d[1], d[2])) > 0 for a in ambiguous
            )
            if not near_ambiguous:
                listed.append((d[3], False))
    return sorted(listed, key=lambda x: -x[0])  # stable


def class_ap(
    gts: list[tuple[str, float, float]],
    dets: list[tuple[str, float, float, float]],
    ambiguous: list[tuple[str, float, float]],
    threshold: float,
) -> float:
    """``gts``: (video, start, end) in file order; ``dets``: (video, start, end, confidence)."""
    npos = len(gts)
    ranked = class_ranking(gts, dets, ambiguous, threshold)
    ap, n_tp = 0.0, 0
    for k, (_, is_tp) in enumerate(ranked):
        if is_tp:
            n_tp += 1
            ap += n_tp / (k + 1)
    return ap / npos


def thumos14_map(
    gts: list[tuple[str, str, float, float]],
    dets: list[tuple[str, str, float, float, float]],
    ambiguous: list[tuple[str, float, float]],
    classes: list[str],
    thresholds: list[float],
) -> tuple[dict[str, list[float]], list[float]]:
    """Per-class AP and mAP. ``gts``: (video, class, start, end); ``dets``: (video, class, start, end, conf)."""
    ap = {}
    for c in classes:
        g = [(v, s, e) for v, lab, s, e in gts if lab == c]
        d = [(v, s, e, sc) for v, lab, s, e, sc in dets if lab == c]
        ap[c] = [class_ap(g, d, ambiguous, t) for t in thresholds]
    m_ap = [sum(ap[c][i] for c in classes) / len(classes) for i in range(len(thresholds))]
    return ap, m_ap

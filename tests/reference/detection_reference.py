"""Plain-loop reference of the ActivityNet detection protocol, written from the spec.

Deliberately simple (one prediction at a time, one threshold at a time) and independent of
``wtal_blocks.evaluation``. Rules, as documented by the library:

* predictions of a class in descending score, ties in input order;
* a prediction walks its video's ground truths of its class in descending tIoU (ties in input
  order): below the threshold -> false positive, stop; already matched at this threshold ->
  next; else true positive, lock it, stop; nothing found -> false positive;
* tIoU = intersection / ((e1 - s1) + (e2 - s2) - intersection), 0 when that union is 0;
* AP: all-point interpolation of the precision/recall curve; mAP over classes with ground truth.
"""

from __future__ import annotations


def tiou(pred: tuple[float, float], gt: tuple[float, float]) -> float:
    inter = max(0.0, min(pred[1], gt[1]) - max(pred[0], gt[0]))
    union = (gt[1] - gt[0]) + (pred[1] - pred[0]) - inter
    if union <= 0:
        return 0.0
    return inter / union


def interpolated_ap(precision: list[float], recall: list[float]) -> float:
    mprec = [0.0, *precision, 0.0]
    mrec = [0.0, *recall, 1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mprec[i]
    return ap


def class_ranking(
    gts: list[tuple[str, float, float]],
    preds: list[tuple[str, float, float, float]],
    thresholds: list[float],
) -> tuple[list[float], list[list[int]]]:
    """The ranked scores of one class and, per threshold, the true-positive flags in that order.

    ``gts``: (video, start, end); ``preds``: (video, start, end, score).
    """
    npos = len(gts)
    gt_of_video: dict[str, list[int]] = {}
    for j, (video, _, _) in enumerate(gts):
        gt_of_video.setdefault(video, []).append(j)
    order = sorted(range(len(preds)), key=lambda i: -preds[i][3])  # sorted() is stable
    # for every prediction: its video's ground truths as (tIoU, index), best first, ties by index
    walks = []
    for i in order:
        video, s, e, _ = preds[i]
        ious = [(tiou((s, e), (gts[j][1], gts[j][2])), j) for j in gt_of_video.get(video, [])]
        ious.sort(key=lambda x: -x[0])
        walks.append(ious)
    flags = []
    for thr in thresholds:
        locked = [False] * npos
        tp: list[int] = []
        for walk in walks:
            hit = 0
            for iou, j in walk:
                if iou < thr:
                    break
                if locked[j]:
                    continue
                locked[j] = True
                hit = 1
                break
            tp.append(hit)
        flags.append(tp)
    return [preds[i][3] for i in order], flags


def class_ap(
    gts: list[tuple[str, float, float]],
    preds: list[tuple[str, float, float, float]],
    thresholds: list[float],
) -> list[float]:
    """AP of one class. ``gts``: (video, start, end); ``preds``: (video, start, end, score)."""
    npos = len(gts)
    _, flags = class_ranking(gts, preds, thresholds)
    result = []
    for tp in flags:
        precision, recall = [], []
        n_tp = 0
        for k, hit in enumerate(tp):
            n_tp += hit
            precision.append(n_tp / (k + 1))
            recall.append(n_tp / npos)
        result.append(interpolated_ap(precision, recall) if tp else 0.0)
    return result


def detection_map(
    gts: list[tuple[str, str, float, float]],
    preds: list[tuple[str, str, float, float, float]],
    thresholds: list[float],
) -> tuple[dict[str, list[float]], list[float]]:
    """Per-class AP and mAP per threshold.

    ``gts``: (video, label, start, end); ``preds``: (video, label, start, end, score).
    Predictions of labels without ground truth are ignored (they cannot change the mAP).
    """
    classes = sorted({g[1] for g in gts})
    ap = {}
    for c in classes:
        ap[c] = class_ap(
            [(v, s, e) for v, lab, s, e in gts if lab == c],
            [(v, s, e, sc) for v, lab, s, e, sc in preds if lab == c],
            thresholds,
        )
    m_ap = [sum(ap[c][t] for c in classes) / len(classes) for t in range(len(thresholds))]
    return ap, m_ap

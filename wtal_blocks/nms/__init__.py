"""Temporal non-maximum suppression: exact greedy NMS, batched NMS and soft-NMS on 1-D segments.

Conventions shared by every function here
-----------------------------------------
* ``segments`` is a floating-point ``Tensor[N, 2]`` of ``(start, end)`` pairs with
  ``end >= start`` (any float dtype; seconds, frames or snippet indices alike).
* ``offset`` is the length convention. ``offset=0.0`` is the plain 1-D IoU; ``offset=1.0`` is
  the "+1" convention of the official UM code (inherited from the 2-D pixel-box NMS it was
  copied from). For segments ``i`` and ``j``::

      len_i = (end_i - start_i) + offset
      inter = max(0, (min(end_i, end_j) - max(start_i, start_j)) + offset)
      IoU   = inter / ((len_i + len_j) - inter)

* **Exactness.** IoU is always evaluated in float64 (float16/float32 inputs are cast, which is
  exact) with exactly the operation order above, which is the order of the official numpy
  code (``areas = x2 - x1 + 1``; ``inter = maximum(0, xx2 - xx1 + 1)``;
  ``inter / (areas[i] + areas[rest] - inter)``). Every operation is correctly rounded IEEE
  arithmetic, so each IoU is bit-identical to numpy's and the suppression decisions, including
  pairs whose IoU lands *exactly* on the threshold, are the official ones. This matters: UM's
  proposal boundaries lie on a grid, so exact ties are common, and a single flipped tie
  cascades through the chain of suppressions.
* **Suppression rule.** ``j`` is suppressed by a kept ``i`` when ``IoU(i, j) >= iou_threshold``
  (the official code keeps ``iou < thresh``); ``strict=True`` suppresses at ``>`` instead
  (torchvision's convention), computed exactly as ``>=`` the next double above the threshold.
* **Coordinates.** Finite, ``end >= start``, and a span ``max(end) - min(start) + offset`` of
  at most ``1e307``, so that no length, sum of lengths or union overflows to ``inf`` (two
  copies of ``[-1e308, 1e308]`` would otherwise have the IoU ``inf / inf = nan`` and both be
  kept). Anything else is refused with a one-line ``ValueError`` naming the argument and
  index.
* **Degenerate union.** The union is zero only for two zero-length segments with
  ``offset=0``. Their IoU is defined as 1 if they are the same point and 0 otherwise (numpy
  would produce ``0/0 = nan``, which the official ``iou < thresh`` test treats as "suppress";
  with UM's ``offset=1`` this case cannot occur).
* **Score ties.** The greedy order is descending score, and equal scores keep their input
  order (a stable sort): among equal scores the lower index wins. Every backend follows this
  rule, so results are deterministic. (The official code uses numpy's unstable ``argsort``
  reversed, whose tie order is unspecified.)

Peer conventions
----------------
Each is off by default, so every official number stays exact: ``strict`` (above);
``width_gate`` on :func:`soft_nms`, BSN/BMN's Gaussian decay gated by a threshold that grows
with the picked segment's width; ``voting_threshold`` on every function,
ActionFormer's segment voting (:func:`segment_voting`).

Algorithms
----------
No path builds the dense ``N x N`` IoU matrix or loops in Python over proposals. CPU tensors
go through numpy from end to end (``wtal_blocks.nms._greedy_cpu``), CUDA tensors through
torch (or the Triton kernel); both implement the scheme below. The numpy path first runs the
textbook loop itself for as long as each kept segment suppresses a large share of the rest
(one vectorised step per kept segment is then the cheapest exact method: a few segments
covering many near-copies), and resolves the rest as below, a batched call a few thousand
rows (whole groups) at a time.

The graph scheme. Segments are sorted by (group, start). A positive IoU needs the
later-starting segment to begin by ``end_i + offset``, and ``IoU >= t > 1/2`` needs it to
begin within ``(1/t - 1) * len_i`` of ``start_i``, so each segment's candidate partners form
one contiguous window of the sorted order, found by binary search; groups never share a
window.
Only candidate pairs get the exact float64 IoU test. The pairs that pass form a sparse
"may suppress" graph directed from the higher to the lower score, and greedy NMS is its
lexicographically-first maximal independent set. It is resolved in decision rounds: every
undecided segment with no undecided higher-scored neighbour is kept, its neighbours are
suppressed, and decided segments leave the graph. The number of rounds is the length of the
longest chain of dependent decisions: 3 on UM-like proposals; in the worst case, a chain of
segments each suppressing the next, about N/2. When segments overlap many others on
average (UM's proposals of a short video, near-duplicates), the work goes in growing blocks
of score order (of rank within the group), each tested against the segments kept so far
before its survivors are tested against each other. Memory stays bounded for any input:
pairs are counted before they are built, and a block whose pairs exceed a fixed budget is
halved.

The Triton path (:mod:`wtal_blocks.kernels.nms_triton`) runs every group of a batched call in
one launch; see that module.
"""

from __future__ import annotations

from .greedy import TemporalNMS, batched_temporal_nms, temporal_nms
from .soft import SoftNMSMethod, batched_soft_nms, soft_nms
from .voting import segment_voting

__all__ = [
    "SoftNMSMethod",
    "TemporalNMS",
    "batched_soft_nms",
    "batched_temporal_nms",
    "segment_voting",
    "soft_nms",
    "temporal_nms",
]

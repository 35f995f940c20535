"""The result of a detection evaluation, shared by every protocol, and its text/JSON forms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import EvaluationInputError

__all__ = ["DetectionResult"]


@dataclass(frozen=True, eq=False)
class DetectionResult:
    """What a detection evaluation returns.

    Attributes:
        tiou_thresholds: ``(T,)`` float64.
        mAP: ``(T,)`` float64, mean AP over ``class_names`` at each threshold.
        average_mAP: mean of ``mAP`` over the thresholds.
        ap: ``(C, T)`` float64 per-class AP, rows in ``class_names`` order.
        class_names: the evaluated classes (those with ground truth).
        num_predictions: predictions evaluated.
        num_ground_truth: ground-truth instances of the evaluated classes.
        num_skipped: predictions skipped because their label is unknown
            (only with ``ignore_unknown_labels``).
        protocol: ``"activitynet"`` or ``"thumos14"``.
    """

    tiou_thresholds: NDArray[np.float64]
    mAP: NDArray[np.float64]
    average_mAP: float
    ap: NDArray[np.float64]
    class_names: tuple[str, ...]
    num_predictions: int = 0
    num_ground_truth: int = 0
    num_skipped: int = 0
    protocol: str = "activitynet"

    @classmethod
    def from_class_ap(
        cls,
        ap: NDArray[np.float64],
        class_names: Sequence[str],
        tiou_thresholds: NDArray[np.float64],
        **counts: Any,
    ) -> DetectionResult:
        """Build the result from ``(C, T)`` AP with NaN rows for classes without ground truth."""
        evaluated = np.asarray(~np.isnan(ap).any(axis=1), dtype=bool)
        if not evaluated.any():
            raise EvaluationInputError(
                "the ground truth has no action instance to evaluate against"
            )
        kept = np.ascontiguousarray(ap[evaluated])
        m_ap = kept.mean(axis=0)
        flags: list[bool] = evaluated.tolist()
        names = tuple(n for n, e in zip(class_names, flags, strict=True) if e)
        return cls(
            tiou_thresholds=np.asarray(tiou_thresholds, dtype=np.float64),
            mAP=m_ap,
            average_mAP=float(m_ap.mean()),
            ap=kept,
            class_names=names,
            **counts,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` schema: ``tiou_thresholds``, ``mAP``, ``average_mAP``, ``ap``."""
        return {
            "tiou_thresholds": [float(t) for t in self.tiou_thresholds],
            "mAP": [float(v) for v in self.mAP],
            "average_mAP": float(self.average_mAP),
            "ap": {
                name: [float(v) for v in row]
                for name, row in zip(self.class_names, self.ap, strict=True)
            },
        }

    def format_table(self, n_extreme: int = 3) -> str:
        """A readable table: mAP per threshold (fraction and %), the average, worst and best classes."""
        lines = [f"  {'tIoU':<5}  {'mAP':>9}  {'%':>6}"]
        for t, v in zip(self.tiou_thresholds.tolist(), self.mAP.tolist(), strict=True):
            lines.append(f"  {t:<5g}  {v:9.6f}  {100 * v:6.2f}")
        lines.append(f"  avg    {self.average_mAP:9.6f}  {100 * self.average_mAP:6.2f}")
        if self.class_names:
            mean_ap = self.ap.mean(axis=1)
            order = np.argsort(mean_ap, kind="stable")
            k = min(n_extreme, len(order))
            width = max(len(self.class_names[i]) for i in order)

            def row(i: int) -> str:
                return f"    {self.class_names[i]:<{width}}  {100 * mean_ap[i]:6.2f}"

            lines.append(f"  worst classes (AP % averaged over tIoU, of {len(order)}):")
            lines += [row(int(i)) for i in order[:k]]
            lines.append("  best classes:")
            lines += [row(int(i)) for i in order[::-1][:k]]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()

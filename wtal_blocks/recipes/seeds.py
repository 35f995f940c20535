"""Multi-seed runs and the paper's Table 3 ablation, reported as mean ± std."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write_text
from .config import UMConfig
from .engine import (
    EvalReport,
    Log,
    TrainResult,
    build_dataset,
    evaluate_model,
    resolve_device,
    train_um,
)

__all__ = ["SeedSummary", "run_ablation", "run_seeds", "summarize"]


@dataclass(frozen=True)
class SeedSummary:
    """Final-model numbers over seeds.

    Attributes:
        seeds: the seeds run.
        tiou_thresholds: thresholds of the mAP columns.
        mAP_mean, mAP_std: per-threshold mean and sample standard deviation (0 for one seed).
        average_mAP_mean, average_mAP_std: the same for the average mAP.
        runs: each seed's final report.
    """

    seeds: list[int]
    tiou_thresholds: list[float]
    mAP_mean: list[float]
    mAP_std: list[float]
    average_mAP_mean: float
    average_mAP_std: float
    runs: list[EvalReport]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``seeds_summary.json``)."""
        return {
            "seeds": self.seeds,
            "tiou_thresholds": self.tiou_thresholds,
            "mAP_mean": self.mAP_mean,
            "mAP_std": self.mAP_std,
            "average_mAP_mean": self.average_mAP_mean,
            "average_mAP_std": self.average_mAP_std,
            "runs": [r.to_dict() for r in self.runs],
        }

    def table(self, title: str = "final model, mean ± std over seeds") -> str:
        """Per-threshold and average mAP (%) as ``mean ± std``."""
        head = "  ".join(f"{t:>11g}" for t in self.tiou_thresholds)
        cells = "  ".join(
            f"{100 * m:5.2f} ± {100 * s:4.2f}"
            for m, s in zip(self.mAP_mean, self.mAP_std, strict=True)
        )
        avg = f"{100 * self.average_mAP_mean:5.2f} ± {100 * self.average_mAP_std:4.2f}"
        return f"{title} (seeds {self.seeds})\n  tIoU     {head}          avg\n  mAP (%)  {cells}  {avg}"


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(seeds: Sequence[int], reports: Sequence[EvalReport]) -> SeedSummary:
    columns = list(zip(*[r.mAP for r in reports], strict=True))
    averages = [r.average_mAP for r in reports]
    return SeedSummary(
        seeds=list(seeds),
        tiou_thresholds=list(reports[0].tiou_thresholds),
        mAP_mean=[statistics.fmean(c) for c in columns],
        mAP_std=[_std(c) for c in columns],
        average_mAP_mean=statistics.fmean(averages),
        average_mAP_std=_std(averages),
        runs=list(reports),
    )


def run_seeds(
    config: UMConfig,
    seeds: Sequence[int],
    *,
    resume: bool = False,
    overwrite: bool = False,
    log: Log = print,
    progress: bool = True,
) -> SeedSummary:
    """Train once per seed (``OUT/seed_S``) and summarise the final models as mean ± std.

    Writes ``OUT/seeds_summary.json``. The per-seed runs are complete runs of :func:`train_um`.
    """
    if not seeds:
        raise ValueError("seeds must not be empty")
    out = Path(config.output_dir)
    results: list[TrainResult] = []
    for seed in seeds:
        log(f"=== seed {seed} ===")
        cfg = config.replace(seed=seed, output_dir=str(out / f"seed_{seed}"))
        # resuming a multi-seed run: seeds that had not started yet start now
        started = (Path(cfg.output_dir) / "checkpoint_last.pt").exists()
        results.append(
            train_um(
                cfg, resume=resume and started, overwrite=overwrite, log=log, progress=progress
            )
        )
    summary = summarize(seeds, [r.final for r in results])
    atomic_write_text(out / "seeds_summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    log(summary.table())
    return summary


ABLATION_ROWS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("baseline, softmax scoring", "baseline", {"alpha": 0.0, "beta": 0.0, "scoring": "softmax"}),
    ("baseline, fused scoring", "baseline", {"alpha": 0.0, "beta": 0.0, "scoring": "fused"}),
    ("+ L_um", "um_loss", {"beta": 0.0, "scoring": "fused"}),
    ("+ L_um + L_be (UM)", "um_full", {"scoring": "fused"}),
)
"""The rows of the paper's Table 3: (name, output folder, config changes). The α and β of
the "+ L" rows are the config's (official 5e-4 and 1)."""


def run_ablation(
    config: UMConfig,
    seeds: Sequence[int],
    *,
    overwrite: bool = False,
    log: Log = print,
    progress: bool = True,
) -> dict[str, SeedSummary]:
    """Table 3 on ``config``'s data: every row over ``seeds``, final models, mean ± std.

    The two baseline rows share their training (α = β = 0); only the test-time scoring
    differs, so the softmax row re-scores the fused row's final models.
    """
    out = Path(config.output_dir)
    reports: dict[str, list[EvalReport]] = {name: [] for name, _, _ in ABLATION_ROWS}
    device = resolve_device(config.device)
    softmax_row, fused_row = ABLATION_ROWS[0][0], ABLATION_ROWS[1][0]
    for seed in seeds:
        for name, folder, changes in ABLATION_ROWS[1:]:
            cfg = config.replace(
                seed=seed, output_dir=str(out / folder / f"seed_{seed}"), **changes
            )
            log(f"=== {name}, seed {seed} ===")
            result = train_um(cfg, overwrite=overwrite, log=log, progress=progress)
            reports[name].append(result.final)
            if name == fused_row:  # same training, softmax scoring at test time
                from ..models.um import load_official_checkpoint

                soft_cfg = cfg.replace(scoring="softmax")
                model = load_official_checkpoint(
                    result.output_dir / "model_final.pkl",
                    map_location=device,
                    action_ratio=cfg.action_ratio,
                    background_ratio=cfg.background_ratio,
                )
                test_set = build_dataset(soft_cfg, train=False)
                soft, _ = evaluate_model(
                    model, test_set, soft_cfg, device, step=result.final.step, label="final"
                )
                reports[softmax_row].append(soft)
    summaries = {name: summarize(seeds, reps) for name, reps in reports.items()}
    lines = [
        "Ablation (paper Table 3), final models, mAP % mean ± std over seeds " + str(list(seeds))
    ]
    thr = summaries[ABLATION_ROWS[0][0]].tiou_thresholds
    lines.append(f"  {'row':<28}" + "".join(f"{t:>13g}" for t in thr) + f"{'avg':>13}")
    for name, s in summaries.items():
        cells = "".join(
            f"  {100 * m:5.2f}±{100 * d:4.2f}" for m, d in zip(s.mAP_mean, s.mAP_std, strict=True)
        )
        lines.append(
            f"  {name:<28}{cells}  {100 * s.average_mAP_mean:5.2f}±{100 * s.average_mAP_std:4.2f}"
        )
    table = "\n".join(lines)
    log(table)
    atomic_write_text(
        out / "ablation.json",
        json.dumps({k: v.to_dict() for k, v in summaries.items()}, indent=2) + "\n",
    )
    atomic_write_text(out / "ablation.txt", table + "\n")
    return summaries

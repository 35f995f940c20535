"""Multi-seed runs and the paper's Table 3 ablation, reported as mean ± std."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .build import resolve_device
from .config import RecipeConfig
from .evaluate import EvalReport, evaluate_model, model_and_test_set
from .methods import method_of
from .rundir import Log, atomic_write_text
from .training import TrainResult, train

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
    config: RecipeConfig,
    seeds: Sequence[int],
    *,
    resume: bool = False,
    overwrite: bool = False,
    log: Log = print,
    progress: bool = True,
) -> SeedSummary:
    """Train once per seed (``OUT/seed_S``) and summarise the final models as mean ± std.

    Writes ``OUT/seeds_summary.json``. The per-seed runs are complete runs of :func:`train`.
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
            train(cfg, resume=resume and started, overwrite=overwrite, log=log, progress=progress)
        )
    summary = summarize(seeds, [r.final for r in results])
    atomic_write_text(out / "seeds_summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    log(summary.table())
    return summary


def run_ablation(
    config: RecipeConfig,
    seeds: Sequence[int],
    *,
    overwrite: bool = False,
    log: Log = print,
    progress: bool = True,
) -> dict[str, SeedSummary]:
    """The method's ablation table on ``config``'s data: every row over ``seeds``, final
    models, mean ± std.

    The rows are the method's :attr:`~.methods.Method.ablation`. Rows that share an output
    folder share their training (they differ only in test-time settings): the folder's last
    row is trained, and the others re-score its final models.
    """
    method = method_of(config)
    rows = list(method.ablation)
    if not rows:
        raise ValueError(f"method {method.name!r} has no ablation table")
    out = Path(config.output_dir)
    reports: dict[str, list[EvalReport]] = {name: [] for name, _, _ in rows}
    device = resolve_device(config.device)
    trained_by = {folder: name for name, folder, _ in rows}  # the last row of each folder
    for seed in seeds:
        for name, folder, changes in rows:
            if trained_by[folder] != name:
                continue
            cfg = config.replace(
                seed=seed, output_dir=str(out / folder / f"seed_{seed}"), **changes
            )
            log(f"=== {name}, seed {seed} ===")
            result = train(cfg, overwrite=overwrite, log=log, progress=progress)
            reports[name].append(result.final)
            for other, other_folder, other_changes in rows:
                if other_folder != folder or other == name:
                    continue
                rescore = cfg.replace(**other_changes)
                model, test_set = model_and_test_set(
                    rescore, result.output_dir / "model_final.pkl", device
                )
                report, _ = evaluate_model(
                    model, test_set, rescore, device, step=result.final.step, label="final"
                )
                reports[other].append(report)
    summaries = {name: summarize(seeds, reports[name]) for name, _, _ in rows}
    table = _ablation_table(summaries, seeds)
    log(table)
    payload = {k: v.to_dict() for k, v in summaries.items()}
    atomic_write_text(out / "ablation.json", json.dumps(payload, indent=2) + "\n")
    atomic_write_text(out / "ablation.txt", table + "\n")
    return summaries


def _ablation_table(summaries: dict[str, SeedSummary], seeds: Sequence[int]) -> str:
    lines = [f"Ablation, final models, mAP % mean ± std over seeds {list(seeds)}"]
    thr = next(iter(summaries.values())).tiou_thresholds
    lines.append(f"  {'row':<28}" + "".join(f"{t:>13g}" for t in thr) + f"{'avg':>13}")
    for name, s in summaries.items():
        cells = "".join(
            f"  {100 * m:5.2f}±{100 * d:4.2f}" for m, d in zip(s.mAP_mean, s.mAP_std, strict=True)
        )
        avg = f"{100 * s.average_mAP_mean:5.2f}±{100 * s.average_mAP_std:4.2f}"
        lines.append(f"  {name:<28}{cells}  {avg}")
    return "\n".join(lines)

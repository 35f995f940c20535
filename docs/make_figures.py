"""Regenerate the figures of the documentation (``docs/_static/*.png``) from the synthetic demo.

    python docs/make_figures.py [--work runs/docs_figures] [--iterations 300] [--retrain]

Two CPU runs with the configuration of ``wtal-um demo`` (built-in synthetic data, preset
``demo``, T = 256, D = 512, lr 1e-3, 300 iterations): UM with the official losses, and the
paper's baseline (α = β = 0, fused scoring). Each takes a few minutes on a laptop-class CPU;
finished runs in ``--work`` are reused unless ``--retrain``.
Then, with the library's own plotting functions and command-line hooks:

* ``magnitudes.png``: feature magnitudes of action vs background test segments, at
  initialisation, after baseline training and after UM training (the paper's Figure 2);
* ``localization_best.png`` / ``localization_worst.png``: the best and the worst test video of
  ``wtal-um evaluate --plots`` for the UM run (the paper's Figure 4);
* ``class_ap.png`` / ``precision_recall.png``: ``wtal-eval --plots`` on the UM run's results;
* ``figures.json``: the numbers behind them (mAP of both runs, the plotted videos, versions).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import wtal_blocks  # noqa: E402
from wtal_blocks.cli.eval import main as wtal_eval  # noqa: E402
from wtal_blocks.models import load_official_checkpoint  # noqa: E402
from wtal_blocks.recipes import UMConfig, train  # noqa: E402
from wtal_blocks.recipes.build import build_dataset  # noqa: E402
from wtal_blocks.recipes.evaluate import model_and_test_set  # noqa: E402
from wtal_blocks.recipes.inspect import localization_cases, segment_magnitudes  # noqa: E402
from wtal_blocks.recipes.methods.um import build_model, inference_config  # noqa: E402
from wtal_blocks.viz import plot_magnitude_histograms, write_localization_plots  # noqa: E402

STATIC = Path(__file__).resolve().parent / "_static"


def _auc(action: np.ndarray, background: np.ndarray) -> float:
    """P(an action segment's magnitude > a background segment's), ties counting half: how well
    the magnitude alone separates the two (0.5: not at all, 1: perfectly)."""
    bkg = np.sort(background)
    below = np.searchsorted(bkg, action, side="left")
    not_above = np.searchsorted(bkg, action, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (action.size * bkg.size))


def demo_config(output_dir: Path, iterations: int) -> UMConfig:
    """The configuration of ``wtal-um demo`` (the recipe's, when it is installed)."""
    try:
        from wtal_blocks.recipes.demo import demo_config as recipe_demo_config
    except ImportError:  # the same values, for checkouts without the demo module
        return UMConfig(
            dataset="synthetic", synthetic_size="demo", num_segments=256, embed_dim=512, lr=1e-3,
            iterations=iterations, seed=0, output_dir=str(output_dir),
        )  # fmt: skip
    return recipe_demo_config(output_dir, seed=0, iterations=iterations)


def _train(config: UMConfig, retrain: bool) -> dict[str, object]:
    metrics = Path(config.output_dir) / "metrics.json"
    if retrain or not metrics.is_file():
        start = time.perf_counter()
        train(config, overwrite=True, progress=False)
        print(f"trained {config.output_dir} in {time.perf_counter() - start:.0f} s")
    return json.loads(metrics.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", default="runs/docs_figures", help="where the runs and raw plots go"
    )
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--retrain", action="store_true", help="train again even if the runs exist")
    args = parser.parse_args(argv)
    work = Path(args.work)
    STATIC.mkdir(exist_ok=True)

    um = demo_config(work / "um", iterations=args.iterations).replace(eval_every=0, device="cpu")
    baseline = um.replace(alpha=0.0, beta=0.0, output_dir=str(work / "baseline"))
    um_metrics = _train(um, args.retrain)
    baseline_metrics = _train(baseline, args.retrain)

    # Figure 2: magnitudes of action vs background test segments
    test_set = build_dataset(um, train=False)
    torch.manual_seed(um.seed)  # the recipe's initialisation: same seed, same construction
    initial = build_model(um, test_set.feature_dim, test_set.num_classes)
    trained = {
        name: load_official_checkpoint(
            Path(cfg.output_dir) / "model_final.pkl",
            action_ratio=cfg.action_ratio,
            background_ratio=cfg.background_ratio,
        )
        for name, cfg in (("baseline", baseline), ("um", um))
    }
    stages = {
        "at initialisation": segment_magnitudes(initial, test_set),
        "baseline (α = β = 0), trained": segment_magnitudes(trained["baseline"], test_set),
        "UM, trained": segment_magnitudes(trained["um"], test_set),
    }
    plot_magnitude_histograms(
        stages,
        title=f"feature magnitudes of synthetic test segments ({args.iterations} iterations)",
    ).save(STATIC / "magnitudes.png")
    magnitude_stats = {
        stage: {
            "action_mean": float(a.mean()),
            "background_mean": float(b.mean()),
            "auc": _auc(a, b),
        }
        for stage, (a, b) in stages.items()
    }

    # Figure 4: the best and worst videos, through the wtal-um evaluate --plots hook
    plots = work / "evaluate_plots"
    results = Path(um.output_dir) / "results_final.json"
    um_model, um_test_set = model_and_test_set(
        um, Path(um.output_dir) / "model_final.pkl", torch.device("cpu")
    )
    cases, overall = localization_cases(
        um_model,
        um_test_set,
        results,
        tiou_thresholds=um.tiou_thresholds,
        inference=inference_config(um),
        num_videos=1,
    )
    write_localization_plots(cases, overall, plots)
    summary = json.loads((plots / "plots.json").read_text())
    for entry in summary["videos"]:
        shutil.copyfile(plots / entry["file"], STATIC / f"localization_{entry['kind']}.png")

    # per-class AP and precision-recall, through wtal-eval --plots
    gt = work / "synthetic_demo_test_gt.json"
    gt.write_text(json.dumps(test_set.ground_truth()))
    eval_plots = work / "eval_plots"
    code = wtal_eval(
        [str(gt), str(results), "--tiou", um.tiou_thresholds, "--plots", str(eval_plots)]
    )
    if code != 0:
        return code
    shutil.copyfile(eval_plots / "class_ap.png", STATIC / "class_ap.png")
    shutil.copyfile(eval_plots / "pr_tiou0.5.png", STATIC / "precision_recall.png")

    record = {
        "generated": time.strftime("%Y-%m-%d"),
        "wtal_blocks": wtal_blocks.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "config": {k: v for k, v in um.to_dict().items() if k not in ("data_root", "output_dir")},
        "um": {
            "mAP": um_metrics["mAP"],
            "average_mAP": um_metrics["average_mAP"],
            "accuracy": um_metrics["accuracy"],
        },
        "baseline": {
            "mAP": baseline_metrics["mAP"],
            "average_mAP": baseline_metrics["average_mAP"],
            "accuracy": baseline_metrics["accuracy"],
        },
        "magnitudes": magnitude_stats,
        "localization": summary["videos"],
    }
    (STATIC / "figures.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

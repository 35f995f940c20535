"""``wtal demo``: a method (UM by default) trained and evaluated on the built-in synthetic data
in about a CPU minute.

The demo runs the full reference recipe (training with ``L_cls + α L_um + β L_be``, the
official test pipeline, the ActivityNet-protocol mAP at tIoU 0.1:0.1:0.7) on
``SyntheticWTAL(preset="demo")``: THUMOS'14-like videos with 128-d RGB and flow streams
(:mod:`wtal_blocks.data.synthetic`), generated on the fly, nothing to download.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..data.synthetic import PRESETS
from .config import RecipeConfig
from .methods import get_method
from .rundir import Log
from .training import TrainResult, train

__all__ = ["DEMO_ITERATIONS", "demo_config", "run_demo"]

DEMO_ITERATIONS = 300
"""Training iterations of the demo: 24 epochs of the 200 synthetic training videos (batch 16)."""


def demo_config(
    output_dir: str | os.PathLike[str],
    seed: int = 0,
    iterations: int | None = None,
    device: str = "auto",
    *,
    method: str = "um",
) -> RecipeConfig:
    """The demo's configuration: a method's official recipe on small data, stopped early.

    For UM (the default ``method``; the others change the same settings):

    Kept from the official recipe: the network (embedded size D = 2048), α = 5e-4, β = 1,
    m = 100, action_ratio = 9, background_ratio = 4, dropout 0.7, Adam (lr 1e-4, betas 0.9/0.999, weight
    decay 5e-4), batch 16, fused scoring and every loss and inference detail. Changed, and
    why (measured on this recipe; see ``benchmarks/ablation_synthetic.md``):

    * data: ``synthetic_size="demo"``: 256-d input (128-d RGB + 128-d flow instead of
      2 x 1024) and videos about half as long as THUMOS'14's, the same structure otherwise;
    * ``num_segments=128`` (instead of 750): the embedding GEMM, linear in T, is most of the
      cost; the demo videos have a median of ~117 segments, so T = 128 drops little of them;
    * ``iterations=300`` (instead of 10,000): the fused baseline has converged by then
      (41.4% average mAP at 300 and at 600 iterations), UM is still improving (55.5% at 300,
      63.5% at 600; pass ``iterations=600`` for the longer run);
    * ``eval_every=100``: the test set is evaluated at steps 100 and 200 as well, so that
      the final and the best step are both shown.

    Args:
        output_dir: where checkpoints, logs and metrics go.
        seed: the run's seed (data order, sampling, dropout); the synthetic data itself is fixed.
        iterations: override the number of training iterations (default :data:`DEMO_ITERATIONS`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` ….
    """
    iters = DEMO_ITERATIONS if iterations is None else iterations
    return get_method(method).config_type(
        dataset="synthetic",
        synthetic_size="demo",
        modal="all",
        num_segments=128,
        iterations=iters,
        eval_every=max(1, iters // 3) if iters >= 3 else 0,
        seed=seed,
        device=device,
        output_dir=str(output_dir),
    )


def run_demo(
    output_dir: str | os.PathLike[str] = "runs/demo",
    *,
    method: str = "um",
    seed: int = 0,
    iterations: int | None = None,
    device: str = "auto",
    log: Log = print,
    progress: bool = True,
) -> TrainResult:
    """Train and evaluate a method on the synthetic demo data; print the mAP table and the time.

    Args:
        output_dir: where checkpoints, logs and metrics go (replaced if it holds a run).
        seed, iterations, device: see :func:`demo_config`.
        log: where messages go.
        progress: show a progress bar when tqdm is installed and stderr is a terminal.

    Returns:
        The :class:`TrainResult` of the run (``final`` is the number to report).
    """
    config = demo_config(output_dir, seed=seed, iterations=iterations, device=device, method=method)
    spec = PRESETS[config.synthetic_size]
    log(
        f"wtal demo: {get_method(method).title}\ntrained and evaluated on the built-in synthetic THUMOS'14-like\n"
        f"dataset (20 classes, {spec.num_train} training / {spec.num_test} test videos, "
        f"{spec.rgb_dim}-d RGB + {spec.flow_dim}-d flow, generated on the fly).\n"
        f"{config.iterations} iterations of batch {config.batch_size}, then the official test pipeline "
        f"and the ActivityNet-protocol mAP at tIoU {config.tiou_thresholds}.\n"
        "The data is synthetic: the numbers show the recipe working end to end, not THUMOS'14 results.\n"
    )
    start = time.perf_counter()
    result = train(config, overwrite=True, log=log, progress=progress)
    elapsed = time.perf_counter() - start
    out = Path(config.output_dir)
    log(
        f"\ndemo finished in {elapsed:.0f} s: final average mAP {100 * result.final.average_mAP:.2f}% "
        f"(best evaluated step {result.best.step}: {100 * result.best.average_mAP:.2f}%)\n"
        f"outputs in {out}/: metrics.json, results_final.json (detections, ActivityNet JSON), "
        "model_final.pkl (official state_dict), train_log.csv, eval_log.csv"
    )
    return result

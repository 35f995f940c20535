"""``wtal-um``: train, evaluate, demo and ablation of the UM reference recipe.

Every :class:`UMConfig` field is a command-line flag (``--action-ratio``, ``--weight-decay`` …), so
any hyper-parameter can be overridden; the defaults are the official ones.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main"]

_HELP = {
    "data_root": "data directory (official layout for thumos14: gt.json, split_*.txt, features/)",
    "dataset": "dataset kind",
    "modal": "feature stream(s): rgb, flow or all (concatenated)",
    "num_segments": "T, sampled segments per video (default: 750 THUMOS'14, 50 ActivityNet)",
    "iterations": "training iterations",
    "batch_size": "videos per iteration (global batch)",
    "lr": "Adam learning rate",
    "weight_decay": "Adam weight decay",
    "alpha": "weight of the uncertainty modelling loss L_um (0 with --beta 0: the baseline)",
    "beta": "weight of the background entropy loss L_be",
    "margin": "m, the maximum feature magnitude of Eqs. 4 and 7",
    "action_ratio": "action_k = T // action_ratio pseudo action segments",
    "background_ratio": "background_k = T // background_ratio pseudo background segments",
    "dropout": "dropout of the classifier input and of the selection mask",
    "embed_dim": "embedded feature size D (2048 in the official code)",
    "loss_form": "official (BCE) or paper (Eqs. 6 and 8) loss forms",
    "background_score": "official (softmax of mean logits) or paper (mean of softmax)",
    "scoring": "fused (softmax x uncertainty) or softmax test-time scoring",
    "class_threshold": "video score threshold of the classes to localise",
    "seed": "random seed",
    "eval_every": "evaluate the test set every K iterations (0: only the final model)",
    "eval_batch_size": "videos per evaluation batch",
    "tiou": "tIoU thresholds LO:HI:STEP (default 0.1:0.7:0.1 THUMOS'14, 0.5:0.95:0.05 ActivityNet)",
    "num_workers": "data-loader worker processes",
    "device": "auto, cpu, cuda, cuda:1 ...",
    "output_dir": "where checkpoints, logs and metrics go",
    "synthetic_size": "synthetic dataset preset: demo (small, fast) or thumos (THUMOS'14-sized)",
}


def _add_config_flags(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    from ..recipes.config import UMConfig

    hints = typing.get_type_hints(UMConfig)
    for f in dataclasses.fields(UMConfig):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        args = typing.get_args(hint)
        kwargs: dict[str, Any] = {
            "default": None,
            "help": f"{_HELP.get(f.name, '')} (default: {f.default})",
        }
        literal = [a for a in args if typing.get_origin(a) is typing.Literal]
        if typing.get_origin(hint) is typing.Literal:
            kwargs["choices"] = list(args)
        elif literal:
            kwargs["choices"] = list(typing.get_args(literal[0]))
        elif hint is float or float in args:
            kwargs["type"] = float
        elif hint is int or int in args:
            kwargs["type"] = int
        else:
            kwargs["type"] = str
        parser.add_argument(
            flag, dest=f.name, metavar=None if "choices" in kwargs else f.name.upper(), **kwargs
        )


def _config_from(args: argparse.Namespace, **base: Any) -> Any:
    from ..recipes.config import UMConfig

    values = dict(base)
    for f in dataclasses.fields(UMConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = v
    return UMConfig(**values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wtal-um",
        description="UM (AAAI 2021) reference recipe: train, evaluate, demo, ablation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train UM (optionally over several seeds)")
    _add_config_flags(train)
    train.add_argument("--seeds", type=int, nargs="+", help="run every seed; report mean ± std")
    train.add_argument("--resume", action="store_true", help="continue the run in --output-dir")
    train.add_argument("--overwrite", action="store_true", help="replace the run in --output-dir")

    ev = sub.add_parser("evaluate", help="the official test pipeline from a checkpoint")
    ev.add_argument("--checkpoint", required=True, help="official-format state_dict (.pkl/.pt)")
    ev.add_argument("--output", required=True, help="ActivityNet-format result JSON to write")
    ev.add_argument(
        "--batch-size",
        dest="eval_batch_size",
        type=int,
        default=None,
        help="videos per forward batch",
    )
    ev.add_argument(
        "--plots", default=None, help="also write plots of the best and worst videos to this folder"
    )
    _add_config_flags(
        ev,
        skip=(
            "iterations",
            "batch_size",
            "lr",
            "weight_decay",
            "alpha",
            "beta",
            "margin",
            "eval_every",
            "eval_batch_size",
            "output_dir",
            "seed",
            "num_workers",
            "loss_form",
            "dropout",
            "embed_dim",
        ),
    )

    demo = sub.add_parser(
        "demo",
        help="train and evaluate on the built-in synthetic dataset (a minute or two on 2 CPU cores)",
    )
    demo.add_argument("--output-dir", default="runs/demo")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--iterations", type=int, default=None)
    demo.add_argument("--device", default="auto")

    abl = sub.add_parser("ablation", help="the paper's Table 3 ablation, mean ± std over seeds")
    _add_config_flags(abl)
    abl.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    abl.add_argument("--overwrite", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ..data.base import DataError
    from ..recipes.engine import RunRefused

    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (DataError, RunRefused, FileNotFoundError, ValueError) as exc:
        print(f"wtal-um: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:  # training diverged
        print(f"wtal-um: error: {exc}; try a lower --lr", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wtal-um: interrupted; continue with --resume", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from ..recipes.engine import evaluate_checkpoint, train_um
    from ..recipes.seeds import run_ablation, run_seeds

    if args.command == "train":
        config = _config_from(args)
        if args.seeds:
            run_seeds(config, args.seeds, resume=args.resume, overwrite=args.overwrite)
        else:
            train_um(config, resume=args.resume, overwrite=args.overwrite)
        return 0
    if args.command == "evaluate":
        config = _config_from(args)
        if args.plots:  # fail before the evaluation, not after it, when matplotlib is missing
            try:
                from ..viz import write_localization_plots
            except ImportError as exc:
                print(f"wtal-um: error: --plots: {exc}", file=sys.stderr)
                return 2
        report = evaluate_checkpoint(config, args.checkpoint, args.output)
        print(report.table(f"{args.checkpoint}"))
        if args.plots:
            _write_plots(config, args.checkpoint, args.output, args.plots, write_localization_plots)
        return 0
    if args.command == "demo":
        from ..recipes.demo import run_demo

        run_demo(args.output_dir, seed=args.seed, iterations=args.iterations, device=args.device)
        return 0
    if args.command == "ablation":
        config = _config_from(args)
        run_ablation(config, args.seeds, overwrite=args.overwrite)
        return 0
    raise AssertionError(args.command)


def _write_plots(config: Any, checkpoint: str, results: str, directory: str, write: Any) -> None:
    """``--plots``: the worst and best test videos (computed in the recipe layer), drawn."""
    from ..recipes.engine import inference_config, model_and_test_set, resolve_device
    from ..recipes.inspect import localization_cases

    model, test_set = model_and_test_set(config, checkpoint, resolve_device(config.device))
    cases, overall = localization_cases(
        model,
        test_set,
        results,
        tiou_thresholds=config.tiou_thresholds,
        inference=inference_config(config),
    )
    paths = write(cases, overall, directory)
    print(f"wrote {len(paths)} plots to {directory}")


if __name__ == "__main__":
    raise SystemExit(main())

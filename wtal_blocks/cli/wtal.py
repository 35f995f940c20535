"""``wtal``: train, evaluate, demo and ablation of every registered method (``--method``).

Every field of the method's configuration is a command-line flag (``--weight-decay``,
``--action-ratio`` …) with the official default, so any hyper-parameter can be overridden.
``wtal-um ...`` is the same command with the method fixed to UM.

Usage::

    wtal train --method cola --data-root DIR --modal all --iterations N --batch-size B --seed S --output-dir OUT
    wtal evaluate --method basnet --data-root DIR --modal rgb --checkpoint FILE --output RESULT.json
    wtal demo [--method um]
    wtal ablation --method um --dataset synthetic --seeds 0 1 2

Errors print one line to stderr and exit with status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._common import CommandError, check_output_file, console_entry, run_command

__all__ = ["build_parser", "entry_point", "main"]

COMMANDS = ("train", "evaluate", "demo", "ablation")


def _add_config_flags(
    parser: argparse.ArgumentParser, config_type: Any, skip: frozenset[str] | tuple[str, ...] = ()
) -> None:
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        args = typing.get_args(hint)
        help_text = f"{config_type.help.get(f.name, '')} (default: {f.default})"
        kwargs: dict[str, Any] = {"default": None, "help": help_text}
        literal = [a for a in args if typing.get_origin(a) is typing.Literal]
        if typing.get_origin(hint) is typing.Literal:
            kwargs["choices"] = list(args)
        elif literal:
            kwargs["choices"] = list(typing.get_args(literal[0]))
        elif hint is bool:
            kwargs["type"] = _parse_bool
            kwargs["metavar"] = "{true,false}"
        elif hint is float or float in args:
            kwargs["type"] = float
        elif hint is int or int in args:
            kwargs["type"] = int
        else:
            kwargs["type"] = str
        kwargs.setdefault("metavar", None if "choices" in kwargs else f.name.upper())
        parser.add_argument(flag, dest=f.name, **kwargs)


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _config_from(args: argparse.Namespace, config_type: Any, **base: Any) -> Any:
    values = dict(base)
    for f in dataclasses.fields(config_type):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = v
    return config_type(**values)


def build_parser(
    method: str = "um", *, prog: str = "wtal", fixed: bool = False
) -> argparse.ArgumentParser:
    """The parser of ``wtal`` with the flags of ``method`` (``fixed``: no ``--method`` flag)."""
    from ..recipes.methods import available_methods, get_method

    spec = get_method(method)
    config_type = spec.config_type
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            f"WTAL recipe of {spec.title}: train, evaluate, demo, ablation."
            if fixed
            else "WTAL recipes (UM, BaS-Net, CoLA): train, evaluate, demo, ablation."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        if not fixed:
            p.add_argument(
                "--method",
                choices=available_methods(),
                default="um",
                help="the WTAL method (default: um)",
            )
        return p

    train = add("train", "train a method (optionally over several seeds)")
    _add_config_flags(train, config_type)
    train.add_argument("--seeds", type=int, nargs="+", help="run every seed; report mean ± std")
    train.add_argument("--resume", action="store_true", help="continue the run in --output-dir")
    train.add_argument("--overwrite", action="store_true", help="replace the run in --output-dir")

    ev = add("evaluate", "the method's official test pipeline from a checkpoint")
    ev.add_argument("--checkpoint", required=True, help="official-format state_dict (.pkl/.pt)")
    ev.add_argument("--output", required=True, help="ActivityNet-format result JSON to write")
    ev.add_argument(
        "--batch-size",
        dest="eval_batch_size",
        type=int,
        default=None,
        help="videos per forward batch (default: 16)",
    )
    ev.add_argument(
        "--plots", default=None, help="also write plots of the best and worst videos to this folder"
    )
    ev.add_argument(
        "--timings",
        default=None,
        metavar="FILE",
        help="write the seconds of every stage (load, read, forward, post, evaluate, write) "
        "and the padding counts as JSON",
    )
    _add_config_flags(ev, config_type, skip=config_type.training_only | {"eval_batch_size"})

    demo = add(
        "demo",
        "train and evaluate on the built-in synthetic dataset (about a minute on 2 CPU cores)",
    )
    demo.add_argument("--output-dir", default=None, help="default: runs/demo (runs/demo_METHOD)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--iterations", type=int, default=None)
    demo.add_argument("--device", default="auto")

    abl = add("ablation", "the method's ablation table, mean ± std over seeds")
    _add_config_flags(abl, config_type)
    abl.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    abl.add_argument("--overwrite", action="store_true")
    return parser


def _method_of_argv(argv: Sequence[str]) -> str:
    """The ``--method`` value of the command line (``um`` when absent), read before parsing."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--method", default="um")
    known, _ = pre.parse_known_args(argv)
    return str(known.method)


def main(
    argv: Sequence[str] | None = None, *, method: str | None = None, prog: str = "wtal"
) -> int:
    """Run ``wtal`` (or, with ``method``, its one-method shortcut); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from ..recipes.methods import available_methods

    chosen = method or _method_of_argv(argv)
    if chosen not in available_methods():
        print(
            f"{prog}: error: --method {chosen!r} is not a method "
            f"(choose from {', '.join(available_methods())})",
            file=sys.stderr,
        )
        return 2
    args = build_parser(chosen, prog=prog, fixed=method is not None).parse_args(argv)
    return run_command(prog, lambda: _run(args, chosen, prog))


def _run(args: argparse.Namespace, method: str, prog: str) -> int:
    from ..recipes import get_method

    config_type = get_method(method).config_type
    if args.command == "train":
        from ..recipes import train
        from ..recipes.seeds import run_seeds

        config = _config_from(args, config_type)
        if args.seeds:
            run_seeds(config, args.seeds, resume=args.resume, overwrite=args.overwrite)
        else:
            train(config, resume=args.resume, overwrite=args.overwrite)
        return 0
    if args.command == "evaluate":
        return _evaluate(args, config_type, prog)
    if args.command == "demo":
        from ..recipes.demo import run_demo

        out = args.output_dir or ("runs/demo" if method == "um" else f"runs/demo_{method}")
        run_demo(out, method=method, seed=args.seed, iterations=args.iterations, device=args.device)
        return 0
    if args.command == "ablation":
        from ..recipes.seeds import run_ablation

        run_ablation(_config_from(args, config_type), args.seeds, overwrite=args.overwrite)
        return 0
    raise AssertionError(args.command)


def _evaluate(args: argparse.Namespace, config_type: Any, prog: str) -> int:
    from ..recipes import evaluate_checkpoint
    from ..recipes.clock import StageClock
    from ..recipes.rundir import atomic_write_text

    config = _config_from(args, config_type)
    check_output_file(args.output, "--output", inputs={"--checkpoint": args.checkpoint})
    if args.timings:
        check_output_file(
            args.timings,
            "--timings",
            inputs={"--checkpoint": args.checkpoint, "--output": args.output},
        )
    if args.plots:  # fail before the evaluation, not after it, when matplotlib is missing
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CommandError(
                "--plots needs matplotlib, an optional dependency: pip install 'wtal_blocks[viz]'"
            ) from None
    clock = StageClock(enabled=bool(args.timings))
    report = evaluate_checkpoint(config, args.checkpoint, args.output, clock=clock)
    print(report.table(f"{args.checkpoint}"))
    if args.timings:
        timings = {**clock.to_dict(), "average_mAP": report.average_mAP}
        atomic_write_text(Path(args.timings), json.dumps(timings, indent=1))
        print(f"stages (wrote {args.timings}):\n{clock.table()}")
    if args.plots:
        _write_plots(config, args.checkpoint, args.output, args.plots)
    return 0


def _write_plots(config: Any, checkpoint: str, results: str, directory: str) -> None:
    """``--plots``: the worst and best test videos (computed in the recipe layer), drawn."""
    from ..recipes.build import resolve_device
    from ..recipes.evaluate import model_and_test_set
    from ..recipes.inspect import localization_cases
    from ..recipes.methods.um import inference_config
    from ..viz import write_localization_plots

    if type(config).method != "um":
        raise CommandError(
            f"--plots draws UM's fused CAS; it is not available for {type(config).method}"
        )
    model, test_set = model_and_test_set(config, checkpoint, resolve_device(config.device))
    cases, overall = localization_cases(
        model,  # type: ignore[arg-type]
        test_set,
        results,
        tiou_thresholds=config.tiou_thresholds,
        inference=inference_config(config),
    )
    paths = write_localization_plots(cases, overall, directory)
    print(f"wrote {len(paths)} plots to {directory}")


entry_point = console_entry(main)

if __name__ == "__main__":
    entry_point()

"""``wtal-eval``: detection mAP from files, under the ActivityNet or the official THUMOS'14 protocol.

Usage::

    wtal-eval GT.json PRED.json [--subset test] [--tiou 0.1:0.7:0.1] [--json]
    wtal-eval ANNOTATION_DIR RESULTS.txt --protocol thumos14 [--tiou 0.1:0.5:0.1] [--json]

The human output is a table (mAP per threshold, the average, the worst and best classes);
``--json`` prints exactly one JSON object ``{"tiou_thresholds", "mAP", "average_mAP", "ap"}``.
Input errors print one line to stderr and exit with status 2 (no traceback).

``--plots DIR`` also writes the per-class AP bar chart and precision–recall curves as PNGs
(:func:`wtal_blocks.viz.write_evaluation_plots`; needs the ``viz`` extra, matplotlib).

Only numpy is imported (never torch; matplotlib only with ``--plots``), so the command starts
fast.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from ..evaluation.annotations import GroundTruth, Predictions, Thumos14Annotations
from ..evaluation.detection import ACTIVITYNET_TIOU_THRESHOLDS, evaluate_detection
from ..evaluation.errors import EvaluationInputError
from ..evaluation.io import load_activitynet_ground_truth, load_activitynet_results
from ..evaluation.result import DetectionResult
from ..evaluation.thumos14 import THUMOS14_OFFICIAL_TIOU_THRESHOLDS, evaluate_thumos14
from ..evaluation.thumos14_io import load_thumos14_annotations, load_thumos14_results
from ..evaluation.tiou import parse_tiou_thresholds

__all__ = ["build_parser", "main"]

PROG = "wtal-eval"


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object {tiou_thresholds, mAP, average_mAP, ap} instead of the table",
    )
    parser.add_argument(
        "--plots",
        default=None,
        metavar="DIR",
        help="also write the per-class AP chart and precision-recall curves (best, median and "
        "worst class at tIoU 0.5, or the middle threshold) as PNGs to DIR; needs matplotlib "
        "(pip install 'wtal_blocks[viz]')",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``wtal-eval``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Detection mAP of temporal action localization results. ActivityNet protocol "
            "(default): GROUND_TRUTH and PREDICTIONS are ActivityNet JSON files. Official "
            "THUMOS'14 protocol (--protocol thumos14): GROUND_TRUTH is the folder of per-class "
            "annotation files with detclasslist.txt and Ambiguous_test.txt, PREDICTIONS the "
            "text results 'video start end class_id score' (or ActivityNet JSON)."
        ),
    )
    parser.add_argument(
        "ground_truth", metavar="GROUND_TRUTH", help="GT.json, or the THUMOS'14 annotation folder"
    )
    parser.add_argument(
        "predictions", metavar="PREDICTIONS", help="PRED.json, or THUMOS'14 text results"
    )
    parser.add_argument(
        "--protocol",
        choices=("activitynet", "thumos14"),
        default="activitynet",
        help="evaluation protocol (default: activitynet)",
    )
    parser.add_argument(
        "--subset",
        default=None,
        help="ground-truth subset. ActivityNet: default the file's only subset, else 'test' if "
        "annotated (THUMOS'14 gt.json), else 'validation'. THUMOS'14: the annotation file "
        "suffix, default 'test'",
    )
    parser.add_argument(
        "--tiou",
        default=None,
        metavar="LO:HI:STEP",
        help=f"tIoU thresholds, LO:HI:STEP (HI included) or a comma list (default: "
        f"{ACTIVITYNET_TIOU_THRESHOLDS} for activitynet, {THUMOS14_OFFICIAL_TIOU_THRESHOLDS} for thumos14)",
    )
    parser.add_argument(
        "--ignore-unknown-labels",
        action="store_true",
        help="skip predictions whose label is not a ground-truth class (default: error)",
    )
    _add_output_options(parser)
    return parser


def _with_path(exc: EvaluationInputError, path: str) -> EvaluationInputError:
    if exc.path is not None:
        return exc
    return EvaluationInputError(
        exc.reason, path=path, video=exc.video, index=exc.index, field=exc.field
    )


def _evaluate(
    args: argparse.Namespace,
) -> tuple[DetectionResult, str, GroundTruth | Thumos14Annotations, Predictions]:
    if args.protocol == "thumos14":
        thresholds = parse_tiou_thresholds(args.tiou or THUMOS14_OFFICIAL_TIOU_THRESHOLDS)
        annotations = load_thumos14_annotations(args.ground_truth, subset=args.subset or "test")
        if str(args.predictions).lower().endswith(".json"):
            predictions = load_activitynet_results(args.predictions)
        else:
            predictions = load_thumos14_results(args.predictions)
        try:
            result = evaluate_thumos14(
                annotations,
                predictions,
                thresholds,
                ignore_unknown_labels=args.ignore_unknown_labels,
            )
        except EvaluationInputError as exc:
            raise _with_path(exc, args.predictions) from None
        header = (
            f"Official THUMOS'14 protocol: {args.predictions} vs {args.ground_truth} "
            f"(subset {annotations.subset!r})\n"
            f"  {len(annotations)} instances, {len(annotations.ambiguous_segments)} ambiguous segments, "
            f"{len(result.class_names)} classes; {result.num_predictions} predictions"
        )
        return result, header, annotations, predictions
    thresholds = parse_tiou_thresholds(args.tiou or ACTIVITYNET_TIOU_THRESHOLDS)
    ground_truth = load_activitynet_ground_truth(args.ground_truth, subset=args.subset or "auto")
    predictions = load_activitynet_results(args.predictions)
    try:
        result = evaluate_detection(
            ground_truth, predictions, thresholds, ignore_unknown_labels=args.ignore_unknown_labels
        )
    except EvaluationInputError as exc:
        raise _with_path(exc, args.predictions) from None
    header = (
        f"ActivityNet detection protocol: {args.predictions} vs {args.ground_truth} "
        f"(subset {ground_truth.subset!r})\n"
        f"  {len(ground_truth.video_ids)} videos, {len(ground_truth)} instances, "
        f"{len(result.class_names)} classes; {result.num_predictions} predictions"
    )
    return result, header, ground_truth, predictions


def _emit(result: DetectionResult, header: str, args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        out.write(json.dumps(result.to_dict()) + "\n")
    else:
        out.write(header + "\n" + result.format_table() + "\n")


def _plots(
    result: DetectionResult,
    ground_truth: GroundTruth | Thumos14Annotations,
    predictions: Predictions,
    directory: str,
) -> int:
    """Write the ``--plots`` PNGs; messages go to stderr so that ``--json`` stays one object."""
    try:  # matplotlib is optional: imported only when plots are asked for
        from ..viz import write_evaluation_plots
    except ImportError as exc:
        print(f"{PROG}: error: --plots: {exc}", file=sys.stderr)
        return 2
    try:
        paths = write_evaluation_plots(result, ground_truth, predictions, directory)
    except (OSError, ValueError) as exc:
        print(f"{PROG}: error: --plots {directory}: {exc}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {len(paths)} plots to {directory}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wtal-eval``; returns the exit status (0 ok, 2 bad input)."""
    # The run builds no reference cycles: the cyclic collector would only re-scan the decoded
    # JSON (hundreds of thousands of containers) over and over. Restored for in-process callers.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if enabled:
            gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result, header, ground_truth, predictions = _evaluate(args)
    except EvaluationInputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if result.num_predictions == 0 and not result.num_skipped:
        print(
            f"{PROG}: note: {args.predictions} holds no prediction: every AP is 0", file=sys.stderr
        )
    if result.num_skipped:
        print(
            f"{PROG}: skipped {result.num_skipped} prediction(s) whose label is not a ground-truth class",
            file=sys.stderr,
        )
    _emit(result, header, args, sys.stdout)
    if args.plots:
        return _plots(result, ground_truth, predictions, args.plots)
    return 0


if __name__ == "__main__":
    sys.exit(main())

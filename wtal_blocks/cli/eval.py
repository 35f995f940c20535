"""``wtal-eval``: detection mAP from files, under the ActivityNet, THUMOS'14 or W-TALC protocol.

Usage::

    wtal-eval GT.json RESULTS [--subset test] [--tiou 0.1:0.7:0.1] [--json] [--strict]
    wtal-eval ANNOTATION_DIR RESULTS --protocol thumos14 [--tiou 0.1:0.5:0.1] [--json]
    wtal-eval ANNOTATION_DIR SCORES.npz --protocol wtalc [--side-by-side] [--json]

``RESULTS`` is ActivityNet JSON (``.json``), JSON Lines (``.jsonl``) or text lines
``video start end label score`` (anything else; ``--format`` overrides the guess), read in
bounded pieces. The human output is a table (mAP per threshold, the average, the worst and best
classes); ``--json`` prints exactly one JSON object ``{"tiou_thresholds", "mAP", "average_mAP",
"ap"}`` (fractions), with an ``"activitynet"`` member of the same form under
``--protocol wtalc --side-by-side``.

Input errors print one line to stderr and exit with status 2 (no traceback, nothing on
stdout); the options are checked before any file is read. Warnings (results that match no
ground-truth video, W-TALC's empty-class quirk) are one line each on stderr; ``--strict`` makes
the first an error.

``--plots DIR`` also writes the per-class AP bar chart and precision–recall curves as PNGs
(:func:`wtal_blocks.viz.write_evaluation_plots`; needs the ``viz`` extra, matplotlib).

Only numpy is imported (never torch; matplotlib only with ``--plots``), so the command starts
fast.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import numpy as np

from ..evaluation.annotations import GroundTruth, Predictions, Thumos14Annotations
from ..evaluation.detection import ACTIVITYNET_TIOU_THRESHOLDS, evaluate_detection
from ..evaluation.errors import EvaluationInputError, UnmatchedVideosWarning
from ..evaluation.io import load_activitynet_ground_truth
from ..evaluation.result import DetectionResult
from ..evaluation.results_io import RESULTS_FORMATS, load_predictions
from ..evaluation.thumos14 import THUMOS14_OFFICIAL_TIOU_THRESHOLDS, evaluate_thumos14
from ..evaluation.thumos14_io import load_thumos14_annotations
from ..evaluation.tiou import parse_tiou_thresholds
from ..evaluation.wtalc import (
    WTALC_TIOU_THRESHOLDS,
    WtalcEmptyClassWarning,
    evaluate_wtalc,
    load_wtalc_annotations,
    load_wtalc_scores,
    wtalc_ground_truth,
    wtalc_proposals,
)
from ..evaluation.wtalc_io import FeatureType
from ._common import console_entry

__all__ = ["build_parser", "entry_point", "main"]

PROG = "wtal-eval"
_T = TypeVar("_T")
_DEFAULT_TIOU = {
    "activitynet": ACTIVITYNET_TIOU_THRESHOLDS,
    "thumos14": THUMOS14_OFFICIAL_TIOU_THRESHOLDS,
    "wtalc": WTALC_TIOU_THRESHOLDS,
}


class _Refused(Exception):
    """A bad command line or input: one line on stderr, exit status 2."""


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
            "(default): GROUND_TRUTH is ActivityNet JSON (or a built-in name: thumos14, "
            "anet12), PREDICTIONS ActivityNet JSON, JSON Lines or text lines 'video start end "
            "label score'. Official THUMOS'14 protocol (--protocol thumos14): GROUND_TRUTH is "
            "the folder of per-class annotation files with detclasslist.txt and "
            "Ambiguous_test.txt. W-TALC protocol (--protocol wtalc): GROUND_TRUTH is W-TALC's "
            "annotation folder, PREDICTIONS an .npz of one (L, C) array of per-snippet class "
            "scores per test video."
        ),
    )
    parser.add_argument(
        "ground_truth", metavar="GROUND_TRUTH", help="GT.json, or an annotation folder"
    )
    parser.add_argument(
        "predictions", metavar="PREDICTIONS", help="results file (or SCORES.npz for wtalc)"
    )
    parser.add_argument(
        "--protocol",
        choices=("activitynet", "thumos14", "wtalc"),
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
        f"{ACTIVITYNET_TIOU_THRESHOLDS} for activitynet, {THUMOS14_OFFICIAL_TIOU_THRESHOLDS} "
        f"for thumos14, {WTALC_TIOU_THRESHOLDS} for wtalc)",
    )
    parser.add_argument(
        "--format",
        choices=RESULTS_FORMATS,
        default="auto",
        help="results format (default auto: .json ActivityNet JSON, .jsonl/.ndjson JSON Lines, "
        "anything else text lines)",
    )
    parser.add_argument(
        "--ignore-unknown-labels",
        action="store_true",
        help="skip predictions whose label is not a ground-truth class (default: error)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="make 'no prediction is on a ground-truth video' an error (default: a warning)",
    )
    wtalc = parser.add_argument_group("W-TALC protocol (--protocol wtalc)")
    wtalc.add_argument(
        "--feature-type",
        choices=("I3D", "UNT"),
        default=None,
        help="feature rate of the scores: I3D 25/16 per second (default), UNT 10/4",
    )
    wtalc.add_argument(
        "--empty-class",
        choices=("zero_map", "zero_ap"),
        default=None,
        help="a class without proposals makes the mAP 0 (zero_map, W-TALC's quirk, default) or "
        "gets AP 0 (zero_ap)",
    )
    wtalc.add_argument(
        "--side-by-side",
        action="store_true",
        help="also score W-TALC's proposals (wtalc_proposals) with the ActivityNet algorithm",
    )
    _add_output_options(parser)
    return parser


def _stage(what: str, path: str, fn: Callable[[], _T]) -> _T:
    """Run one stage; an input error without a file gets ``path`` (the file it concerns)."""
    try:
        return fn()
    except EvaluationInputError as exc:
        if exc.path is None:
            exc = EvaluationInputError(
                exc.reason, path=path, video=exc.video, index=exc.index, field=exc.field
            )
        raise _Refused(str(exc)) from None
    except (OSError, ValueError, TypeError) as exc:
        raise _Refused(f"{path}: {what}: {exc}") from None


def _thresholds(args: argparse.Namespace) -> np.ndarray:
    spec = args.tiou if args.tiou is not None else _DEFAULT_TIOU[args.protocol]
    try:
        thr = parse_tiou_thresholds(spec)
    except EvaluationInputError as exc:
        reason = exc.reason.removeprefix(f"tIoU thresholds {spec!r}: ")
        raise _Refused(f"--tiou {spec!r}: {reason}") from None
    if args.protocol != "thumos14" and np.any(thr <= 0):
        name = "ActivityNet" if args.protocol == "activitynet" else "W-TALC"
        raise _Refused(
            f"--tiou {spec!r}: thresholds must be > 0 for the {name} protocol "
            f"(a pair that does not overlap has tIoU 0), got {thr.tolist()}"
        )
    return thr


def _check_options(args: argparse.Namespace) -> None:
    """Refuse an inconsistent command line before any file is read."""
    wtalc_only = {
        "--feature-type": args.feature_type is not None,
        "--empty-class": args.empty_class is not None,
        "--side-by-side": args.side_by_side,
    }
    if args.protocol != "wtalc":
        for flag, given in wtalc_only.items():
            if given:
                raise _Refused(f"{flag} applies to --protocol wtalc only")
    else:
        if args.plots:
            raise _Refused("--plots is not available with --protocol wtalc")
        if args.format != "auto":
            raise _Refused("--format does not apply to --protocol wtalc (SCORES.npz)")
    if args.plots:
        _check_plots_dir(args.plots, (args.ground_truth, args.predictions))
        try:  # fail before the evaluation, not after it, when the optional extra is missing
            import matplotlib  # noqa: F401
        except ImportError:
            raise _Refused(
                "--plots needs matplotlib, an optional dependency: pip install 'wtal_blocks[viz]'"
            ) from None


def _check_plots_dir(directory: str, inputs: Sequence[str]) -> None:
    out = Path(directory)
    for src in inputs:
        if Path(src).exists() and out.resolve() == Path(src).resolve():
            raise _Refused(f"--plots {directory}: is an input; give another folder")
    if out.exists() and not out.is_dir():
        raise _Refused(f"--plots {directory}: exists and is not a folder")
    probe = out
    while not probe.exists():  # the folder, or the first existing folder above it
        probe = probe.parent
    if not probe.is_dir():
        raise _Refused(f"--plots {directory}: {probe} is a file, not a folder")
    try:  # a real write, not only the permission bits (which do not bind root)
        if not os.access(probe, os.W_OK | os.X_OK):
            raise PermissionError
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError:
        raise _Refused(f"--plots {directory}: the folder {probe} is not writable") from None


def _evaluate(args: argparse.Namespace, thr: np.ndarray) -> tuple[DetectionResult, str, Any]:
    if args.protocol == "wtalc":
        return _evaluate_wtalc(args, thr)
    pred_path = str(args.predictions)
    if args.protocol == "thumos14":
        annotations: GroundTruth | Thumos14Annotations = _stage(
            "annotations",
            args.ground_truth,
            lambda: load_thumos14_annotations(args.ground_truth, subset=args.subset or "test"),
        )
        strip = ".mpeg"  # the kit drops it from video names
    else:
        annotations = _stage(
            "ground truth",
            args.ground_truth,
            lambda: load_activitynet_ground_truth(args.ground_truth, subset=args.subset or "auto"),
        )
        strip = None
    if len(annotations) == 0:
        raise _Refused(
            f"{args.ground_truth}: the ground truth has no action instance to evaluate against"
        )
    predictions: Predictions = _stage(
        "results",
        pred_path,
        lambda: load_predictions(pred_path, format=args.format, strip_suffix=strip),
    )
    if isinstance(annotations, Thumos14Annotations):
        ann = annotations
        result = _stage(
            "evaluation",
            pred_path,
            lambda: evaluate_thumos14(
                ann,
                predictions,
                thr,
                ignore_unknown_labels=args.ignore_unknown_labels,
                strict=args.strict,
            ),
        )
        header = (
            f"Official THUMOS'14 protocol: {pred_path} vs {args.ground_truth} "
            f"(subset {ann.subset!r})\n"
            f"  {len(ann)} instances, {len(ann.ambiguous_segments)} ambiguous segments, "
            f"{len(result.class_names)} classes; {result.num_predictions} predictions"
        )
    else:
        gt = annotations
        result = _stage(
            "evaluation",
            pred_path,
            lambda: evaluate_detection(
                gt,
                predictions,
                thr,
                ignore_unknown_labels=args.ignore_unknown_labels,
                strict=args.strict,
            ),
        )
        header = (
            f"ActivityNet detection protocol: {pred_path} vs {args.ground_truth} "
            f"(subset {gt.subset!r})\n"
            f"  {len(gt.video_ids)} videos, {len(gt)} instances, "
            f"{len(result.class_names)} classes; {result.num_predictions} predictions"
        )
    return result, header, (annotations, predictions)


def _evaluate_wtalc(args: argparse.Namespace, thr: np.ndarray) -> tuple[DetectionResult, str, Any]:
    feature_type: FeatureType = "UNT" if args.feature_type == "UNT" else "I3D"
    ann = _stage(
        "annotations", args.ground_truth, lambda: load_wtalc_annotations(args.ground_truth)
    )
    scores = _stage("scores", args.predictions, lambda: load_wtalc_scores(args.predictions, ann))
    result = _stage(
        "evaluation",
        args.predictions,
        lambda: evaluate_wtalc(
            ann,
            scores,
            feature_type=feature_type,
            tiou_thresholds=thr,
            empty_class=args.empty_class or "zero_map",
        ),
    )
    header = (
        f"W-TALC protocol (detectionMAP): {args.predictions} vs {args.ground_truth}\n"
        f"  {result.num_ground_truth} instances, {len(result.class_names)} classes; "
        f"{result.num_predictions} proposals ({feature_type} features, "
        f"{result.num_ambiguous_removed} deleted by ambiguous intervals)"
    )
    side = None
    if args.side_by_side:
        side = _stage(
            "evaluation",
            args.predictions,
            lambda: evaluate_detection(
                wtalc_ground_truth(ann),
                wtalc_proposals(ann, scores, feature_type=feature_type),
                thr,
            ),
        )
    return result, header, side


def _emit(
    result: DetectionResult, header: str, side: DetectionResult | None, json_out: bool, out: TextIO
) -> None:
    if json_out:
        doc = result.to_dict()
        if side is not None:
            doc["activitynet"] = side.to_dict()
        out.write(json.dumps(doc) + "\n")
        return
    out.write(header + "\n")
    if side is None:
        out.write(result.format_table() + "\n")
        return
    out.write("  the same scores, W-TALC's proposals scored with the ActivityNet algorithm:\n")
    out.write(f"  {'tIoU':<5}  {'W-TALC':>8}  {'ActivityNet':>11}\n")
    for t, a, b in zip(result.tiou_thresholds.tolist(), result.mAP, side.mAP, strict=True):
        out.write(f"  {t:<5g}  {100 * a:8.2f}  {100 * b:11.2f}\n")
    out.write(f"  {'avg':<5}  {100 * result.average_mAP:8.2f}  {100 * side.average_mAP:11.2f}\n")


def _plots(result: DetectionResult, inputs: Any, directory: str) -> int:
    """Write the ``--plots`` PNGs; messages go to stderr so that ``--json`` stays one object."""
    try:  # matplotlib is optional: imported only when plots are asked for
        from ..viz import write_evaluation_plots
    except ImportError as exc:
        print(f"{PROG}: error: --plots: {exc}", file=sys.stderr)
        return 2
    ground_truth, predictions = inputs
    try:
        paths = write_evaluation_plots(result, ground_truth, predictions, directory)
    except (OSError, ValueError) as exc:
        print(f"{PROG}: error: --plots {directory}: {exc}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {len(paths)} plots to {directory}", file=sys.stderr)
    return 0


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


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
        thr = _thresholds(args)
        _check_options(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnmatchedVideosWarning)
            warnings.simplefilter("always", WtalcEmptyClassWarning)
            result, header, extra = _evaluate(args, thr)
    except _Refused as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    for w in caught:
        if issubclass(w.category, (UnmatchedVideosWarning, WtalcEmptyClassWarning)):
            print(f"{PROG}: warning: {_one_line(w.message)}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if args.protocol != "wtalc":
        if result.num_predictions == 0 and not result.num_skipped:
            print(
                f"{PROG}: note: {args.predictions} holds no prediction: every AP is 0",
                file=sys.stderr,
            )
        if result.num_skipped:
            print(
                f"{PROG}: skipped {result.num_skipped} prediction(s) whose label is not a "
                "ground-truth class",
                file=sys.stderr,
            )
    side = extra if args.protocol == "wtalc" else None
    _emit(result, header, side, args.json, sys.stdout)
    if args.plots:
        return _plots(result, extra, args.plots)
    return 0


entry_point = console_entry(main)

if __name__ == "__main__":
    entry_point()

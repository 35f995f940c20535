"""``wtal-convert``: convert a dataset between the UM/BaS-Net/CoLA layout and W-TALC's.

Usage::

    wtal-convert --to wtalc SRC_DIR DST_DIR     # gt.json + features/ -> Thumos14reduced-*
    wtal-convert --to um SRC_DIR DST_DIR        # Thumos14reduced-* -> gt.json + features/

Prints what was written and every loss the target format forces (see
:mod:`wtal_blocks.data.convert`). Errors print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._common import console_entry, run_command

__all__ = ["build_parser", "entry_point", "main"]

PROG = "wtal-convert"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Convert a WTAL feature dataset between the UM/BaS-Net/CoLA layout "
        "(gt.json, split_*.txt, features/{train,test}/{rgb,flow}/) and W-TALC's layout "
        "(DATASET-FEATURE-JOINTFeatures.npy and DATASET-Annotations/).",
    )
    parser.add_argument("source", metavar="SRC_DIR")
    parser.add_argument("destination", metavar="DST_DIR", help="a new folder (see --overwrite)")
    parser.add_argument("--to", required=True, choices=("wtalc", "um"), help="the target layout")
    parser.add_argument("--dataset-name", default="Thumos14reduced", help="W-TALC file prefix")
    parser.add_argument("--feature-type", default="I3D", choices=("I3D", "UNT"))
    parser.add_argument("--overwrite", action="store_true", help="replace DST_DIR if it exists")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wtal-convert``; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        from ..data.convert import um_to_wtalc, wtalc_to_um

        convert = um_to_wtalc if args.to == "wtalc" else wtalc_to_um
        report = convert(
            args.source,
            args.destination,
            dataset_name=args.dataset_name,
            feature_type=args.feature_type,
            overwrite=args.overwrite,
        )
        print(report)
        return 0

    return run_command(PROG, body)


entry_point = console_entry(main)

if __name__ == "__main__":
    entry_point()

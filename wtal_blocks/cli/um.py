"""``wtal-um``: the UM shortcut of ``wtal`` (train, evaluate, demo, ablation of UM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from ._common import exit_process
from .wtal import build_parser as _build_parser
from .wtal import main as _main

__all__ = ["build_parser", "entry_point", "main"]


def build_parser():  # type: ignore[no-untyped-def]
    """The parser of ``wtal-um`` (``wtal`` with the method fixed to UM)."""
    return _build_parser("um", prog="wtal-um", fixed=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wtal-um``; returns the exit status (0 ok, 2 bad input)."""
    return _main(argv, method="um", prog="wtal-um")


def entry_point() -> NoReturn:
    """The console script: :func:`main` on ``sys.argv``, then exit with its status."""
    exit_process(main())


if __name__ == "__main__":
    entry_point()

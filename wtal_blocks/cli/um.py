"""``wtal-um``: the UM shortcut of ``wtal`` (train, evaluate, demo, ablation of UM)."""

from __future__ import annotations

from collections.abc import Sequence

from ._common import console_entry
from .wtal import build_parser as _build_parser
from .wtal import main as _main

__all__ = ["build_parser", "entry_point", "main"]


def build_parser():  # type: ignore[no-untyped-def]
    """The parser of ``wtal-um`` (``wtal`` with the method fixed to UM)."""
    return _build_parser("um", prog="wtal-um", fixed=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wtal-um``; returns the exit status (0 ok, 2 bad input)."""
    return _main(argv, method="um", prog="wtal-um")


entry_point = console_entry(main)

if __name__ == "__main__":
    entry_point()

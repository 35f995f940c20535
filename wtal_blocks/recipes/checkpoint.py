"""Atomic file writes and training checkpoints (nothing is lost on an interrupted run)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["atomic_save", "atomic_write_text", "load_checkpoint"]


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    _atomic(Path(path), lambda h: h.write(text.encode()))


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file, then rename over ``path``."""
    _atomic(Path(path), lambda h: torch.save(obj, h))


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` (no code execution)."""
    from ..models.um import _load_weights

    state = _load_weights(path, map_location)
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise ValueError(
            f"{path}: not a wtal_blocks training checkpoint (expected 'model' and 'step')"
        )
    return state

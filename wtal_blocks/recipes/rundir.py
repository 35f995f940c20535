"""A run's output folder: atomic writes, checkpoints, the refusal to clobber, and the logs.

Nothing is lost on an interrupted run: every file is written to a temporary file in the same
folder and renamed over its target, and a temporary file left by a killed process is removed
when the folder is next used.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "OUTPUTS",
    "Log",
    "RunRefused",
    "TrainLogger",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_checkpoint",
    "prepare_output",
    "truncate_log",
]

Log = Callable[[str], None]

OUTPUTS = (
    "config.json", "train_log.csv", "eval_log.csv", "checkpoint_last.pt", "metrics.json",
    "model_final.pkl", "model_best.pkl", "results_final.json",
)  # fmt: skip
"""The files a training run writes in its output folder (``--overwrite`` removes them all)."""


class RunRefused(RuntimeError):
    """The output directory already holds a run (and neither resume nor overwrite was asked)."""


def _atomic(path: Path, write: Callable[[Any], object]) -> None:
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename."""
    _atomic(Path(path), lambda h: h.write(data))


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file, then rename over ``path``."""
    _atomic(Path(path), lambda h: torch.save(obj, h))


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` (no code execution)."""
    from ..models.checkpoint import load_weights

    state = load_weights(path, map_location)
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise ValueError(
            f"{path}: not a wtal_blocks training checkpoint (expected 'model' and 'step' entries)"
        )
    return state


def _remove_stray_temporaries(out: Path) -> list[str]:
    """Temporary files of our atomic writes left by a killed process (never a finished file)."""
    removed = []
    for name in OUTPUTS:
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
    return removed


def prepare_output(out: Path, resume: bool, overwrite: bool, log: Log = print) -> None:
    """Create ``out`` for a run, refusing to mix two runs in one folder.

    Raises:
        RunRefused: ``out`` holds a run and neither ``resume`` nor ``overwrite`` is set, or
            ``out`` exists and is not a folder.
    """
    if out.exists() and not out.is_dir():
        raise RunRefused(f"{out}: the output directory is a file; give a folder")
    markers = [out / "config.json", out / "checkpoint_last.pt", out / "metrics.json"]
    existing = [m for m in markers if m.exists()]
    if existing and not (resume or overwrite):
        raise RunRefused(
            f"{out}: already holds a run ({', '.join(m.name for m in existing)}); pass --resume to "
            "continue it or --overwrite to replace it"
        )
    if overwrite and not resume:
        for name in OUTPUTS:
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "tensorboard", ignore_errors=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RunRefused(
            f"{out}: cannot create the output directory (a file is in the way)"
        ) from None
    if not os.access(out, os.W_OK):
        raise RunRefused(f"{out}: the output directory is not writable")
    stray = _remove_stray_temporaries(out)
    if stray:
        log(f"removed {len(stray)} temporary file(s) of an interrupted write: {', '.join(stray)}")


def truncate_log(path: Path, last_step: int) -> None:
    """Drop rows logged after the checkpoint a run resumes from (they will be logged again)."""
    if not path.exists():
        return
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= last_step]
    atomic_write_text(path, "".join(",".join(r) + "\n" for r in kept))


class TrainLogger:
    """CSV logs always; TensorBoard when installed; progress bar (tqdm) or plain lines."""

    def __init__(
        self, out: Path, enabled: bool, total: int, start: int, log: Log, progress: bool
    ) -> None:
        self.enabled = enabled
        self.log = log
        self.train_csv = out / "train_log.csv"
        self.eval_csv = out / "eval_log.csv"
        self.tb: Any = None
        self.bar: Any = None
        self.start_time = time.perf_counter()
        self.start = start
        self.total = total
        self.last_print = 0.0
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except Exception:  # tensorboard is optional
            self.tb = None
        if progress and sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=start, dynamic_ncols=True, desc="train")
            except ImportError:
                self.bar = None

    def _append(self, path: Path, row: dict[str, Any]) -> None:
        new = not path.exists()
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def step(self, step: int, terms: dict[str, float]) -> None:
        """Log one training step's loss terms."""
        if not self.enabled:
            return
        self._append(self.train_csv, {"step": step, **{k: f"{v:.6g}" for k, v in terms.items()}})
        if self.tb is not None:
            for k, v in terms.items():
                self.tb.add_scalar(f"train/{k}", v, step)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k.replace("loss_", ""): f"{v:.4f}" for k, v in terms.items()})
            return
        now = time.perf_counter()
        if now - self.last_print >= 10.0 or step == self.total:
            self.last_print = now
            done = step - self.start
            eta = (now - self.start_time) / max(done, 1) * (self.total - step)
            losses = " ".join(f"{k}={v:.4f}" for k, v in terms.items())
            self.log(f"step {step}/{self.total}  {losses}  ETA {eta:.0f}s")

    def evaluation(
        self, step: int, average_mAP: float, accuracy: float, row: dict[str, str]
    ) -> None:
        """Log one evaluation: the average mAP, the accuracy and the per-threshold columns."""
        if not self.enabled:
            return
        base = {
            "step": str(step),
            "average_mAP": f"{average_mAP:.6f}",
            "accuracy": f"{accuracy:.6f}",
        }
        self._append(self.eval_csv, base | row)
        if self.tb is not None:
            self.tb.add_scalar("test/average_mAP", average_mAP, step)
            self.tb.add_scalar("test/accuracy", accuracy, step)
        msg = (
            f"eval @ step {step}: average mAP {100 * average_mAP:.2f}%, "
            f"accuracy {100 * accuracy:.2f}%"
        )
        if self.bar is not None:
            self.bar.write(msg)
        else:
            self.log(msg)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()

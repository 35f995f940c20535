"""What every command shares: one-line errors with exit status 2, and safe output paths."""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

__all__ = [
    "CommandError",
    "check_output_file",
    "console_entry",
    "exit_process",
    "one_line",
    "run_command",
    "teardown_needed",
]


class CommandError(ValueError):
    """A bad command line: printed as one line, exit status 2."""


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line.

    An error raised in a data-loader worker process arrives wrapped in a message that holds
    the worker's whole traceback; its last line is the original message.
    """
    text = str(exc).strip()
    if "DataLoader worker process" in text and "Original Traceback" in text:
        last = [line for line in text.splitlines() if line.strip()][-1].strip()
        head, sep, rest = last.partition(": ")
        text = rest if sep and "." in head and " " not in head else last
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) if lines else type(exc).__name__


def run_command(prog: str, body: Callable[[], int]) -> int:
    """Run ``body``; a bad input prints ``PROG: error: MESSAGE`` on one line and returns 2."""
    from ..recipes.memory import reuse_freed_memory

    # the objects made by the imports (torch's alone are ~170k) live as long as the process:
    # frozen for the run, they are not scanned by each of its full garbage collections
    # (unfrozen after it, so that the interpreter's shutdown releases them as usual)
    gc.freeze()
    reuse_freed_memory()  # batches of large CPU tensors are not page-faulted in every time
    try:
        return _run_body(prog, body)
    finally:
        gc.unfreeze()


def _run_body(prog: str, body: Callable[[], int]) -> int:
    from ..data.base import DataError
    from ..evaluation.errors import EvaluationInputError
    from ..models.checkpoint import CheckpointError
    from ..recipes.rundir import RunRefused

    try:
        return body()
    except (
        CommandError,
        DataError,
        EvaluationInputError,
        CheckpointError,
        RunRefused,
        FileNotFoundError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
        ValueError,
    ) as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:  # training diverged
        print(f"{prog}: error: {one_line(exc)}; try a lower --lr", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; continue with --resume", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            f"{prog}: error: out of memory (a setting asks for more than the machine has)",
            file=sys.stderr,
        )
        return 2
    except RuntimeError as exc:  # errors raised in a data-loader worker, or allocations
        text = str(exc)
        if "DataLoader worker process" in text:
            print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
            return 2
        if "can't allocate memory" in text or "out of memory" in text.lower():
            print(f"{prog}: error: out of memory: {one_line(exc)[:200]}", file=sys.stderr)
            return 2
        raise


def teardown_needed() -> bool:
    """Whether this process must exit through the interpreter's shutdown.

    True while something outside the main thread is still running: a child process (data-loader
    workers), a non-daemon thread (a writer flushing in the background), or a distributed
    process group, each of which the shutdown joins, flushes or closes.
    """
    processes = sys.modules.get("multiprocessing")  # never imported: no children
    if processes is not None and processes.active_children():
        return True
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return True
    dist = sys.modules.get("torch.distributed")
    return bool(dist is not None and dist.is_available() and dist.is_initialized())


def exit_process(status: int) -> NoReturn:
    """End a command-line process with ``status``, skipping the interpreter's shutdown.

    When a command returns, every file it wrote is closed (results, checkpoints and logs are
    written atomically or with ``with`` blocks), so what the shutdown still does is free the
    objects of torch and of every imported module one by one: 0.5-1 s of a ``wtal evaluate``
    that takes 5 s on two CPU cores. The standard streams and logging are flushed first. When
    :func:`teardown_needed` says so, the process exits the normal way instead. Only for the
    console entry points: a caller of ``main()`` in its own process gets the status back.
    """
    if teardown_needed():
        sys.exit(status)
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``) or a closed stream
            pass
    os._exit(status)


def console_entry(main: Callable[[], int]) -> Callable[[], NoReturn]:
    """The console script of a command: ``main()`` on ``sys.argv``, then :func:`exit_process`."""

    def entry_point() -> NoReturn:
        exit_process(main())

    return entry_point


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(
    output: str | os.PathLike[str],
    flag: str,
    *,
    inputs: Mapping[str, str | os.PathLike[str] | None],
) -> Path:
    """Refuse an output path that is one of the inputs or cannot be written, before any work.

    Raises:
        CommandError: the output is an input, a folder, under a file, or in a folder that is
            not writable.
    """
    out = Path(output)
    for name, value in inputs.items():
        if value is None:
            continue
        src = Path(value)
        if out.resolve() == src.resolve() or _same_file(out, src):
            raise CommandError(
                f"{flag} {out} is the same file as {name}; it would overwrite an input"
            )
    if out.is_dir():
        raise CommandError(f"{flag} {out} is a folder; give a file path")
    parent = out.parent if str(out.parent) else Path(".")
    probe = parent
    while not probe.exists():  # the first existing ancestor must be a writable folder
        probe = probe.parent
    if not probe.is_dir():
        raise CommandError(f"{flag} {out}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK):
        raise CommandError(f"{flag} {out}: the folder {probe} is not writable")
    return out

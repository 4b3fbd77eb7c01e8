"""SIGINT and SIGTERM during training: stop at the next step boundary, checkpoint, and say how to resume.

A scheduler sends SIGTERM before it preempts a job, a user presses Ctrl-C (SIGINT). While
:class:`StopOnSignal` is active, the first such signal only asks the loop to stop after the current step; the
run then checkpoints its state and raises :class:`TrainingInterrupted`, whose message says how to resume and
whose ``exit_code`` is the shell convention (128 + signal number: 130 for SIGINT, 143 for SIGTERM). A second
signal while stopping raises :class:`TrainingInterrupted` at once from wherever the main thread is (checkpoint
writes are atomic, so the last complete checkpoint stays valid).

Handlers are installed only over the default dispositions and only in the main thread, and the previous ones
are restored on exit: a program that set its own SIGINT or SIGTERM handler, or ignores the signal, keeps it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by a signal (a ``KeyboardInterrupt``, so ``except Exception`` does not swallow it).

    Args:
        signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
        run_dirs: the run directories to resume (empty when no run had started).
        aborted: a second signal cut the stop short: the runs resume from their last complete checkpoint.
        note: extra text for the message (e.g. seeds that never started).
    """

    def __init__(self, signum: int, run_dirs: Sequence[str | Path] = (), *, aborted: bool = False,
                 note: str = "") -> None:
        self.signum = int(signum)
        self.run_dirs = [Path(p) for p in run_dirs]
        self.aborted = aborted
        self.note = note
        super().__init__(self.message())

    @property
    def exit_code(self) -> int:
        """The shell convention for a process ended by this signal: 128 + its number."""
        return 128 + self.signum

    def message(self) -> str:
        """One line per run: what stopped it and the command that continues it."""
        name = signal.Signals(self.signum).name
        how = (f"aborted by a second {name}; the last complete checkpoint is kept" if self.aborted
               else f"stopped by {name}; checkpoint saved")
        lines = [f"{how}; continue with: porcini resume {path}" for path in self.run_dirs]
        if not lines:
            lines = [f"{how.split(';')[0]} before training started"]
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled from a seed's worker process to the parent
        return (_rebuild, (self.signum, [str(p) for p in self.run_dirs], self.aborted, self.note))


def _rebuild(signum: int, run_dirs: list[str], aborted: bool, note: str) -> TrainingInterrupted:
    return TrainingInterrupted(signum, run_dirs, aborted=aborted, note=note)


def _is_default(handler: Any, signum: int) -> bool:
    return handler is signal.SIG_DFL or (signum == signal.SIGINT and handler is signal.default_int_handler)


class StopOnSignal:
    """Context manager: the first SIGINT/SIGTERM calls ``on_first``; a second one calls ``on_second``.

    Args:
        on_first: called with the signal number from the signal handler (keep it short: set a flag).
        on_second: called with the signal number on every later signal; it may raise to abort.

    Attributes:
        signum: the first signal received, or None.
    """

    def __init__(self, on_first: Callable[[int], None], on_second: Callable[[int], None]) -> None:
        self.on_first = on_first
        self.on_second = on_second
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is not threading.main_thread():
            return self  # Python delivers signals to the main thread only; its owner decides
        for signum in HANDLED_SIGNALS:
            current = signal.getsignal(signum)
            if _is_default(current, signum):
                self._previous[signum] = current
                signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.on_first(signum)
        else:
            self.on_second(signum)


def interrupt_at_once() -> StopOnSignal:
    """Handlers for while a run is being built: SIGTERM, like SIGINT, raises TrainingInterrupted at once.

    Under the default SIGTERM disposition the process would die there, leaving a run directory without a
    checkpoint that ``porcini resume`` cannot continue; the exception lets the run remove it, as on SIGINT.
    """

    def interrupt(signum: int) -> None:
        raise TrainingInterrupted(signum)

    return StopOnSignal(interrupt, interrupt)


def stop_training(core: Any, run_dir: Path) -> StopOnSignal:
    """The handlers of one training run: stop ``core`` at the next step, abort on a second signal."""

    def stop(signum: int) -> None:
        core.stop_requested = True

    def abort(signum: int) -> None:
        raise TrainingInterrupted(signum, [run_dir], aborted=True)

    return StopOnSignal(stop, abort)

"""Several seeds in parallel processes that stop together: SIGINT/SIGTERM to the parent reaches every worker.

Each seed trains in its own spawned process (spawn, not fork: a forked child would inherit torch's thread pools
and any open loggers), in its own process group so that a terminal's Ctrl-C reaches it once, through the
parent, and not twice (a second signal aborts a stopping run). The parent forwards SIGINT and SIGTERM to the
running workers, starts no new seed, waits for every worker to checkpoint and exit, then raises
:class:`~porcini.experiment.interrupt.TrainingInterrupted`. A worker whose parent died stops as on SIGTERM, so
no orphan keeps training.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Literal

from porcini.errors import ConfigError, PorciniError
from porcini.experiment.config import RunConfig
from porcini.experiment.interrupt import StopOnSignal, TrainingInterrupted
from porcini.experiment.launch import ResumeRun, StartRun

_PARENT_POLL_S = 1.0


def train_in_processes(configs: Sequence[RunConfig | StartRun | ResumeRun], max_parallel: int,
                       errors: Literal["raise", "return"] = "raise", labels: Sequence[str] | None = None) -> list[Any]:
    """Train each config in a worker process, at most ``max_parallel`` at once; return the summaries in order.

    Args:
        configs: one run each: a config trains a new run, a :class:`~porcini.experiment.launch.ResumeRun`
            continues one.
        max_parallel: workers at once.
        errors: ``"raise"`` the first error of a worker (after the others finished), or ``"return"`` each
            failed run's exception in its place in the list (``porcini bench``: a failed run is reported).
        labels: what starts each run's console lines; default its seed (``[s0] ``).

    Raises:
        TrainingInterrupted: the parent or a worker got SIGINT/SIGTERM; the workers checkpointed and exited.
        Exception: with ``errors="raise"``, the first error of a worker.
    """
    context = multiprocessing.get_context("spawn")
    pending = list(range(len(configs)))
    running: dict[int, tuple[Any, Connection]] = {}
    outcomes: dict[int, tuple[str, Any]] = {}

    def forward(signum: int) -> None:
        for process, _ in running.values():
            try:
                os.kill(process.pid, signum)
            except ProcessLookupError:  # it just exited
                pass

    with StopOnSignal(forward, forward) as stop:
        while running or (pending and stop.signum is None):
            while pending and len(running) < max_parallel and stop.signum is None:
                index = pending.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                label = labels[index] if labels is not None else f"[s{configs[index].seed}] "
                process = context.Process(target=_worker, args=(configs[index], sender, os.getpid(), label),
                                          name=f"porcini-seed-{configs[index].seed}")
                process.start()
                sender.close()
                running[index] = (process, receiver)
                if stop.signum is not None:  # the signal came while it started: forward() did not see it
                    forward(stop.signum)
            ready = wait([process.sentinel for process, _ in running.values()])
            for index, (process, receiver) in list(running.items()):
                if process.sentinel in ready:
                    outcomes[index] = _outcome(process, receiver, stop.signum)
                    del running[index]
    return _results(configs, outcomes, pending, stop.signum, errors)


def _outcome(process: Any, receiver: Connection, parent_signal: int | None) -> tuple[str, Any]:
    """What a finished worker reported, or why it died without reporting."""
    try:
        outcome: tuple[str, Any] = receiver.recv() if receiver.poll() else ("", None)
    except (EOFError, OSError):
        outcome = ("", None)
    receiver.close()
    process.join()
    if outcome[0]:
        return outcome
    code = process.exitcode
    if parent_signal is not None and code == -parent_signal:  # stopped by the forwarded signal before training
        return "interrupted", TrainingInterrupted(parent_signal)
    return "error", PorciniError(
        f"the worker of {process.name} ended with exit code {code} without a result (its error is above, on stderr; "
        "from a script, start runs in processes under `if __name__ == \"__main__\":`, as spawned workers import it)")


def _results(configs: Sequence[RunConfig | StartRun | ResumeRun], outcomes: dict[int, tuple[str, Any]],
             not_started: list[int], parent_signal: int | None, errors_mode: str) -> list[Any]:
    interrupted = [v for _, (kind, v) in sorted(outcomes.items()) if kind == "interrupted"]
    errors = [v for _, (kind, v) in sorted(outcomes.items()) if kind == "error"]
    if parent_signal is None and not interrupted:
        if errors and errors_mode == "raise":
            raise errors[0]
        return [outcomes[i][1] for i in range(len(configs))]
    signum = parent_signal if parent_signal is not None else interrupted[0].signum
    notes = [f"seeds not started: {', '.join(str(configs[i].seed) for i in not_started)}"] if not_started else []
    notes += [f"a seed failed: {error}" for error in errors]
    raise TrainingInterrupted(signum, [path for stop in interrupted for path in stop.run_dirs],
                              aborted=any(stop.aborted for stop in interrupted), note="\n".join(notes))


def _worker(config: RunConfig | StartRun | ResumeRun, sender: Connection, parent_pid: int, label: str) -> None:
    """Train one run and send ``(kind, value)`` to the parent: a summary, an interruption or an error."""
    from porcini.experiment.launch import run_job

    try:
        os.setpgid(0, 0)  # see the module docstring: signals come through the parent only
    except OSError:  # not allowed here: a terminal's Ctrl-C then reaches the worker directly as well
        pass
    threading.Thread(target=_stop_when_orphaned, args=(parent_pid,), daemon=True).start()
    outcome: tuple[str, Any]
    try:
        outcome = ("summary", run_job(config, progress=False, label=label))
    except TrainingInterrupted as stop:
        outcome = ("interrupted", stop)
    except KeyboardInterrupt:  # SIGINT before training installed its handlers: nothing to save yet
        outcome = ("interrupted", TrainingInterrupted(signal.SIGINT))
    except BaseException as error:  # noqa: BLE001 - every failure goes to the parent, which re-raises it
        if not isinstance(error, (PorciniError, ConfigError, KeyError)):
            traceback.print_exc()
        outcome = ("error", _picklable(error))
    try:
        sender.send(outcome)
    except OSError:  # the parent is gone
        pass


def _picklable(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any exception that does not survive pickling is sent as its text
        return PorciniError(f"{type(error).__name__}: {error}")


def _stop_when_orphaned(parent_pid: int) -> None:
    """Send this process SIGTERM once its parent has died (it then checkpoints and stops)."""
    while os.getppid() == parent_pid:
        time.sleep(_PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)

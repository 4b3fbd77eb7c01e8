"""Calls to a remote logging sink on a background thread: the training thread never waits for the network.

An optional sink (an MLflow server) may be slow or gone for a while. Its calls are queued in order and run by
one daemon thread; a call that fails for a transient reason is retried with backoff, one the sink refuses is
dropped; the first failure prints one warning on stderr. ``close`` waits a bounded time, then gives up and says
what was not logged.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

_FIRST_RETRY_S = 1.0
_MAX_RETRY_S = 30.0


class BackgroundCalls:
    """Run calls in submission order on one daemon thread, retrying transient failures; never block the caller.

    Args:
        sink: the sink's name in messages (``MLflow at http://host:5000``).
        is_transient: whether a failed call is worth retrying (a lost connection) or refused for good.
        max_pending: calls buffered while the sink is down; later ones are dropped (and reported at close).
    """

    def __init__(self, sink: str, is_transient: Callable[[Exception], bool], *, max_pending: int = 10_000) -> None:
        self.sink = sink
        self.is_transient = is_transient
        self._queue: queue.Queue[tuple[str, Callable[[], Any]]] = queue.Queue(max_pending)
        self._lock = threading.Lock()
        self._pending: list[str] = []  # submitted and not finished, in order
        self._lost: list[str] = []  # dropped: buffer full, or refused by the sink
        self._warned = False
        self._closing = threading.Event()
        self._give_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="porcini-logging", daemon=True)
        self._thread.start()

    def submit(self, description: str, call: Callable[[], Any]) -> None:
        """Queue ``call`` (``description`` names it in messages); returns at once."""
        with self._lock:
            self._pending.append(description)
            try:
                self._queue.put_nowait((description, call))
            except queue.Full:
                self._pending.pop()
                self._lost.append(description)

    def close(self, timeout: float) -> list[str]:
        """Finish the queued calls within ``timeout`` seconds; return the descriptions of those not done."""
        self._closing.set()
        self._thread.join(timeout)
        with self._lock:
            if self._thread.is_alive():
                self._give_up.set()
                return self._lost + self._pending
            return list(self._lost)

    def _run(self) -> None:
        while not self._give_up.is_set():
            try:
                description, call = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            done = self._call(description, call)
            with self._lock:
                if self._give_up.is_set():
                    return  # close() already reported this call as not done
                self._pending.pop(0)
                if not done:
                    self._lost.append(description)

    def _call(self, description: str, call: Callable[[], Any]) -> bool:
        delay = _FIRST_RETRY_S
        while not self._give_up.is_set():
            try:
                call()
                return True
            except Exception as error:  # noqa: BLE001 - a logging sink must never stop training
                self._warn_once(error)
                if not self.is_transient(error):
                    return False
            self._give_up.wait(delay)
            delay = min(2 * delay, _MAX_RETRY_S)
        return False

    def _warn_once(self, error: Exception) -> None:
        if self._warned:
            return
        self._warned = True
        text = " ".join(str(error).split())[:300]
        print(f"porcini: warning: {self.sink} failed ({type(error).__name__}: {text}); training, metrics.csv and "
              "checkpoints go on, the calls are kept and retried in the background", file=sys.stderr, flush=True)


def describe_lost(descriptions: list[str]) -> str:
    """A short list of calls not logged: metric rows collapsed to a count and a step range."""
    steps = [d.removeprefix("metrics at step ") for d in descriptions if d.startswith("metrics at step ")]
    others = [d for d in descriptions if not d.startswith("metrics at step ")]
    parts = []
    if steps:
        parts.append(f"metrics at {len(steps)} step(s) ({steps[0]} to {steps[-1]})" if len(steps) > 1
                     else f"metrics at step {steps[0]}")
    return ", ".join(parts + others)

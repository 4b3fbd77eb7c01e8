"""A tqdm progress bar over steps or episodes for ``Core.learn``, updated in chunks so it costs nothing per step."""

from __future__ import annotations

import sys
from collections import deque

import numpy as np

from porcini.core.schedule import LoopSchedule


class ProgressBar:
    """A tqdm bar over steps or episodes, updated in chunks so it costs nothing per step."""

    def __init__(self, total: int, unit: str) -> None:
        from tqdm.auto import tqdm

        self.by_steps = unit == "step"
        self._bar = tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
        self._done = 0
        self._next_check = 0

    def advance(self, steps: int, episodes: int, recent: deque[float]) -> None:
        """Move the bar to ``steps`` (or ``episodes``, for a bar over episodes), showing the recent mean return."""
        done = steps if self.by_steps else episodes
        if done < self._next_check:  # cheap integer test on most steps; the clock is read every ~1000
            return
        self._next_check = done + 1000
        self._bar.update(done - self._done)
        self._done = done
        if recent:
            self._bar.set_postfix(ret=f"{np.mean(recent):.1f}", refresh=False)

    def close(self, steps: int, episodes: int) -> None:
        """Show the final count of steps (or episodes) and close the bar."""
        self._bar.update((steps if self.by_steps else episodes) - self._done)
        self._bar.close()


def progress_bar(schedule: LoopSchedule, show: bool | None) -> ProgressBar | None:
    """A bar over the schedule's steps or episodes, or None when not shown (``show=None``: when stderr is a tty)."""
    if not (show if show is not None else sys.stderr.isatty()):
        return None
    if schedule.steps is not None:
        return ProgressBar(schedule.steps, "step")
    return ProgressBar(schedule.episodes or 0, "episode")

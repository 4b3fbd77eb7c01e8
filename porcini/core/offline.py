"""Offline learning: gradient steps on the agent's data, counted as the loop's steps, with no env step.

``Core.learn_offline`` runs :func:`run_offline` between the same learn hooks as ``Core.learn``. Each
``agent.update(n)`` call counts as a fit for the hooks; ``LoopState.offline_steps`` counts the gradient steps and
``LoopState.steps_since_epoch`` those of the current epoch, so epochs, stop requests, the progress bar and
checkpoints work as they do for env steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from porcini.core.progress import ProgressBar
from porcini.core.records import EpisodeRecord
from porcini.core.schedule import LoopSchedule

if TYPE_CHECKING:
    from porcini.core.loop import Core


def agent_update(agent: Any) -> Callable[[int], dict[str, float]]:
    """The agent's ``update(n)``, which takes ``n`` gradient steps on its replay content and returns metrics.

    Raises:
        TypeError: the agent has no ``update`` method.
    """
    update = getattr(agent, "update", None)
    if update is None:
        raise TypeError(f"{type(agent).__name__} cannot learn offline: it has no update(n) method that "
                        "takes gradient steps on a dataset")
    return update


def run_offline(core: Core, schedule: LoopSchedule, update: Callable[[int], dict[str, float]],
                bar: ProgressBar | None) -> tuple[int, EpisodeRecord]:
    """Call ``update`` until ``schedule.steps`` gradient steps are taken or ``core.stop_requested`` is set.

    Each call takes at most ``schedule.fit_every_steps`` steps, cut on a grid that starts at the epoch's start, and
    an epoch closes every ``schedule.steps_per_epoch`` steps.

    Returns:
        The gradient steps taken and an empty episode record.
    """
    state, chunk = core.state, schedule.fit_every_steps
    assert chunk is not None and schedule.steps is not None  # learn_offline sets both
    at_start = state.offline_steps
    while schedule.keep_going(state.offline_steps - at_start, 0):
        if core.stop_requested:
            break
        n = min(chunk - state.steps_since_epoch % chunk, schedule.steps - (state.offline_steps - at_start))
        if schedule.steps_per_epoch is not None:
            n = min(n, schedule.steps_per_epoch - state.steps_since_epoch)
        metrics = update(n)
        state.offline_steps += n
        state.steps_since_epoch += n
        core._fitted(metrics)
        if bar is not None:
            bar.advance(state.offline_steps - at_start, 0, state.recent_returns)
        if schedule.epoch_due(state.steps_since_epoch):
            core.close_epoch()
    if bar is not None:
        bar.close(state.offline_steps - at_start, 0)
    return state.offline_steps - at_start, EpisodeRecord()

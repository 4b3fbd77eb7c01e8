"""Hyperparameter tuning, ``porcini tune`` (docs/tuning.md): grid, random and Optuna search with local runs.

:func:`tune` runs trials (a configuration from the search space, trained on a few selection seeds; objective: the
mean final evaluation return), keeps everything in a resumable tune directory, and re-evaluates the best
configurations on fresh seeds. Optuna is the optional extra ``porcini[optuna]``, imported only when used.
"""

from porcini.experiment.tune.space import Distribution, SearchSpace, grid_points, load_space, parse_space, random_points
from porcini.experiment.tune.study import TuneResult, tune

__all__ = ["Distribution", "SearchSpace", "TuneResult", "grid_points", "load_space", "parse_space", "random_points",
           "tune"]

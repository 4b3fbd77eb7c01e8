"""porcini.experiment: runs from configs (CLI, run directories, loggers, checkpoints), and the configs of record.

Example:
    >>> from porcini.experiment import config_of_record
    >>> config_of_record("dqn", "CartPole-v1").exploration_fraction
    0.16
"""

from porcini.experiment.hyperparameters import config_of_record, envs_with_record, run_config_of_record

__all__ = ["config_of_record", "envs_with_record", "run_config_of_record"]

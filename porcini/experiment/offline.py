"""A run's dataset: opened from its source, given to the agent, learned from offline, checked again on resume.

A run with ``data.dataset`` learns in two phases through the one Core (docs/offline.md):

1. offline: ``data.offline_steps`` gradient steps on the dataset alone (``Core.learn_offline``), an epoch every
   ``data.offline_steps_per_epoch`` of them; the phase's last epoch closes at the switch, even a partial one;
2. online: ``steps`` env steps as in any run, with every minibatch mixing the dataset and the new transitions at
   ``data.dataset_ratio`` (:meth:`~porcini.algorithms.actor_critic.common.OffPolicyAgent.add_dataset`,
   :meth:`~porcini.algorithms.value_based.dqn.DQN.add_dataset`).

A log row's step is the run's training step: offline gradient steps, then (past the switch) those plus the env
steps. Rows also carry ``data/offline_steps`` and ``data/online`` (0 before the switch, 1 after), so the switch is
in ``metrics.csv``. Checkpoints hold the dataset's source and content fingerprint; a resumed run re-opens the source
and refuses other data. The sampling generator is the agent's and is checkpointed with it.
"""

from __future__ import annotations

from typing import Any

from porcini.core import Core
from porcini.core.agent import BaseAgent
from porcini.data.dataset import Dataset
from porcini.data.fingerprint import dataset_fingerprint
from porcini.errors import CheckpointError, ConfigError
from porcini.experiment.config import DataConfig


def training_step(core: Core) -> int:
    """The run's progress as logged: offline gradient steps plus env steps."""
    return core.offline_steps + core.env_steps


def open_run_dataset(config: DataConfig, env_info: Any) -> Dataset:
    """The dataset ``config.dataset`` names, opened for an env of ``env_info``'s spaces.

    Raises:
        ConfigError: there is no file at the source.
        DataFileError: the file is not a readable dataset.
    """
    from porcini.data.sources import open_dataset

    assert config.dataset is not None
    try:
        return open_dataset(config.dataset, env_info)
    except FileNotFoundError as err:
        raise ConfigError(f"data.dataset = {config.dataset!r}: no such file; pass the path of a dataset "
                          "(porcini.data.save_dataset writes one)") from err


def check_learns_from_data(agent_cls: Any, algo_name: str, offline_steps: int = 0) -> None:
    """Raise ConfigError unless ``agent_cls`` takes a dataset (``add_dataset``), and ``update`` if it goes offline.

    An agent that learns offline only (no ``fit`` of its own: BC) also needs ``offline_steps`` > 0.
    """
    if not hasattr(agent_cls, "add_dataset"):
        raise ConfigError(f"{algo_name} does not learn from a dataset; use an offline algorithm (bc, td3_bc, iql, cql, "
                          "discrete_cql), an off-policy actor-critic (td3, sac, ddpg, discrete_sac), mbpo, the DQN "
                          "family (dqn, qr_dqn) or an imitation one (gail, airl)")
    if offline_steps > 0 and not hasattr(agent_cls, "update"):
        raise ConfigError(f"{algo_name} learns from its demonstrations while it acts, not offline: set "
                          "data.offline_steps=0 (drop --offline-steps)")
    if offline_steps == 0 and getattr(agent_cls, "fit", None) is BaseAgent.fit:  # nothing it does online trains it
        raise ConfigError(f"{algo_name} learns from a dataset offline only, and data.offline_steps is 0: it would "
                          "never train; give --offline-steps N (data.offline_steps), e.g. --offline-steps 20000 "
                          "--steps 0")


def normalizes_observations(wrappers: Any) -> bool:
    """True when the env wrappers ``wrappers`` (a config's ``env.wrappers``) normalize observations."""
    return any("NormalizeObservation" in str(entry) for entry in wrappers)


def check_dataset_observations(config: Any) -> None:
    """Raise ConfigError when a run with a dataset normalizes its env's observations.

    The dataset's observations are as recorded, and the run's would be normalized with statistics of its own: the
    agent would learn from, and its discriminator compare, observations on two scales.
    """
    if config.data.dataset is not None and normalizes_observations(config.env.wrappers):
        raise ConfigError(f"data.dataset = {config.data.dataset!r} holds observations as recorded, but this run's "
                          f"env.wrappers {list(config.env.wrappers)} normalize its observations with statistics of "
                          "its own: drop NormalizeObservation")


def check_has_demonstrations(agent_cls: Any, algo_name: str, dataset: str | None) -> None:
    """Raise ConfigError when ``agent_cls`` learns from demonstrations and the run names no dataset."""
    if getattr(agent_cls, "learns_from_demonstrations", False) and dataset is None:
        raise ConfigError(f"{algo_name} learns from an expert's demonstrations: give --dataset SOURCE (data.dataset), "
                          "e.g. recorded with porcini collect RUN_DIR --episodes 10 --to demos.npz, or --expert "
                          "RUN_DIR to record them from a trained run")


class RunData:
    """The dataset of a run, given to its agent (``add_dataset``) and fingerprinted for resume.

    Args:
        config: the run's ``data`` section (with a ``dataset``).
        agent: the run's agent.
        env_info: the training env's spaces, to check the data against.
    """

    def __init__(self, config: DataConfig, agent: Any, env_info: Any) -> None:
        self.config = config
        self.dataset = open_run_dataset(config, env_info)
        self.fingerprint = dataset_fingerprint(self.dataset)
        try:
            agent.add_dataset(self.dataset, config.dataset_ratio)
        except ValueError as err:  # an empty dataset, a replay that cannot take one
            raise ConfigError(f"data.dataset = {config.dataset!r} cannot be learned from: {err}") from err

    def learn_offline(self, core: Core) -> None:
        """Take the offline phase's remaining gradient steps; at the switch close the epoch (evaluate, log, save)."""
        remaining = self.config.offline_steps - core.offline_steps
        if remaining <= 0:
            return
        core.learn_offline(remaining, steps_per_epoch=self.config.offline_steps_per_epoch)
        if not core.stop_requested and core.state.steps_since_epoch > 0:
            core.close_epoch()

    def metrics(self, core: Core) -> dict[str, float]:
        """The columns that place a log row in the phases: gradient steps done offline, online or not."""
        online = core.offline_steps >= self.config.offline_steps and core.env_steps > 0
        rate = core.offline_steps / max(core.elapsed_train_time_s(), 1e-9)
        return {"data/offline_steps": float(core.offline_steps), "data/online": float(online),
                "time/gradient_steps_per_second": rate}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint records of the data: its source, its fingerprint and its size."""
        return {"source": self.config.dataset, "fingerprint": self.fingerprint, "transitions": len(self.dataset)}

    def check(self, saved: dict[str, Any] | None) -> None:
        """Refuse a checkpoint trained on other data than this run's dataset.

        Raises:
            CheckpointError: the checkpoint holds no dataset, or another dataset's fingerprint.
        """
        if saved is None:
            raise CheckpointError("the checkpoint was written by a run without a dataset, but this run's config "
                                  f"names {self.config.dataset!r}; resume it from its own run directory")
        if saved["fingerprint"] != self.fingerprint:
            raise CheckpointError(
                f"dataset {self.config.dataset!r} ({len(self.dataset)} transitions, fingerprint "
                f"{self.fingerprint[:12]}) is not the dataset this run was trained on ({saved['source']!r}, "
                f"{saved['transitions']} transitions, fingerprint {saved['fingerprint'][:12]}); put the original "
                "dataset back at that path to resume")

"""MBPO with a dataset: the model is fit on the dataset and rolled out from its states, offline and online, and
the minibatches hold model transitions at ``real_ratio`` as they do online without a dataset."""

from __future__ import annotations

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.model_based.mbpo import MBPO
from porcini.data import Dataset, collect_dataset

TINY = {"net_arch": (16,), "model_hidden": (16,), "model_epochs": 2, "batch_size": 20, "learning_starts": 1000,
        "model_train_freq": 40, "rollout_batch_size": 30, "rollout_length": 2, "rollout_retain": 2,
        "gradient_steps": 2, "real_ratio": 0.25}


def random_data(steps: int = 200) -> Dataset:
    rng = np.random.default_rng(0)
    return collect_dataset(make_env("Pendulum-v1", seed=1), lambda o: rng.uniform(-2, 2, (len(o), 1)), steps=steps,
                           seed=1)


def real_share(agent: MBPO, real_rewards: set[float], n_updates: int = 3) -> list[int]:
    drawn = agent.draw(n_updates)
    from_real = np.array([r in real_rewards for r in drawn.reward.ravel().tolist()])
    return from_real.reshape(n_updates, agent.config.batch_size).sum(axis=1).tolist()


def test_offline_mbpo_fits_its_model_on_the_dataset_and_trains_on_rollouts_from_its_states():
    data = random_data()
    agent = MBPO(make_env("Pendulum-v1").info, **TINY)
    agent.add_dataset(data)
    core = Core(agent, make_env("Pendulum-v1", seed=0), progress=False)
    core.learn_offline(10, updates_per_fit=10)
    assert agent.model_fits == 1 and len(agent.model_buffer) == 30 * 2
    rollouts = agent.model_buffer.gather(np.arange(len(agent.model_buffer)))
    dataset_obs = {tuple(o) for o in data.batch.obs.reshape(-1, 3).tolist()}
    first_steps = rollouts.obs.reshape(2, 30, 3)[0]  # the rows of the first model step
    assert all(tuple(o) in dataset_obs for o in first_steps.tolist())
    assert real_share(agent, set(data.batch.reward.ravel().astype(np.float32).tolist())) == [5, 5, 5]
    core.learn_offline(70, updates_per_fit=10)  # a round every 40 gradient steps; the dataset does not change
    assert agent.model_fits == 1 and len(agent.model_buffer) == 30 * 2 * 2


def test_online_mbpo_with_a_dataset_fits_on_both_and_draws_model_transitions():
    data = random_data()
    agent = MBPO(make_env("Pendulum-v1").info, **TINY)
    agent.add_dataset(data)
    Core(agent, make_env("Pendulum-v1", seed=0), progress=False).learn(steps=10)  # learning_starts does not apply
    assert agent.model_fits == 1 and len(agent.model_buffer) == 30 * 2
    assert agent.real_transitions().n_transitions == len(data) + 10
    online = agent.buffer.gather(np.arange(len(agent.buffer))).reward.ravel().tolist()
    real = set(data.batch.reward.ravel().astype(np.float32).tolist()) | set(online)
    assert real_share(agent, real) == [5, 5, 5]


def test_a_dataset_that_terminates_is_refused_at_the_first_offline_update():
    data = random_data(20)
    data.batch.terminated[-1, 0] = True
    agent = MBPO(make_env("Pendulum-v1").info, **TINY)
    agent.add_dataset(data)
    with pytest.raises(ValueError, match="ended by termination.*never terminate"):
        agent.update(1)


def test_offline_mbpo_resumes_exactly():
    data = random_data()
    agent = MBPO(make_env("Pendulum-v1").info, **TINY)
    agent.add_dataset(data)
    agent.update(30)
    restored = MBPO(make_env("Pendulum-v1").info, **TINY)
    restored.add_dataset(data)
    restored.load_state_dict(agent.state_dict())
    for a in (agent, restored):
        a.update(10)
        a.update(10)  # the second round is due at 40 gradient steps, before this call's
    assert agent.model_fits == restored.model_fits == 1 and len(restored.model_buffer) == 30 * 2 * 2
    obs = data.batch.obs[:4, 0]
    np.testing.assert_array_equal(restored.act(obs, explore=True), agent.act(obs, explore=True))

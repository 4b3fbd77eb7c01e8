"""Learning tests (slow): PPO solves the built-in tasks whose actions have several components, MatchCues
(MultiDiscrete([3, 3])) and MatchBits (MultiBinary(4)), where the reward needs every component right.

A uniformly random policy scores 20/9 and 20/16 per 20-step episode; the best score is 20.
Run with ``pytest -m slow tests/algorithms/policy_gradient/test_learning_multi_actions.py -s`` to see the numbers.
"""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.policy_gradient.ppo import PPO

PPO_SMALL = dict(n_steps=128, batch_size=128, n_epochs=4, learning_rate=3e-3, net_arch=(64, 64))


@pytest.mark.slow
@pytest.mark.parametrize("env_id, budget", [("porcini/MatchCues-v0", 16_384), ("porcini/MatchBits-v0", 24_576)])
def test_ppo_gets_every_component_right(env_id, budget):
    env = make_env(env_id, n_envs=4, seed=0)
    core = Core(PPO(env.info, seed=0, **PPO_SMALL), env, eval_env=make_env(env_id, seed=100), progress=False,
                eval_seed=100)
    untrained = float(np.mean(core.evaluate(20, explore=True).returns))
    core.learn(steps=budget)
    greedy = float(np.mean(core.evaluate(20).returns))
    sampled = float(np.mean(core.evaluate(20, explore=True).returns))
    print(f"{env_id}: untrained {untrained:.2f}, greedy {greedy:.2f}, sampled {sampled:.2f}, {core.train_time_s:.0f} s")
    assert untrained < 5.0
    assert greedy >= 19.5 and sampled >= 17.0

"""PPO learns MiniGrid from its Dict observations (image CNN + one-hot direction; the text mission filtered out)."""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms import PPO
from porcini.envs.wrappers import FilterObservation

WRAPPERS = [(FilterObservation, {"filter_keys": ["image", "direction"]})]


@pytest.mark.slow
def test_ppo_solves_minigrid_empty_5x5_from_dict_observations():
    pytest.importorskip("minigrid", reason='MiniGrid is not installed: pip install "porcini[minigrid]"')
    import minigrid  # noqa: F401  (importing it registers the MiniGrid envs)

    env = make_env("MiniGrid-Empty-5x5-v0", n_envs=8, seed=0, wrappers=WRAPPERS, vectorization="sync")
    eval_env = make_env("MiniGrid-Empty-5x5-v0", n_envs=4, seed=1, wrappers=WRAPPERS, vectorization="sync")
    assert set(env.single_observation_space.spaces) == {"image", "direction"}
    agent = PPO(env.info, n_steps=128, batch_size=256, n_epochs=4, learning_rate=5e-4, ent_coef=0.01, seed=0)
    core = Core(agent, env, eval_env=eval_env, progress=False)
    returns = []
    while core.env_steps < 100_000:
        core.learn(steps=20_000)
        returns.append(float(np.mean(core.evaluate(20).returns)))
        if returns[-1] >= 0.9:  # the optimum is about 0.96 (1 - 0.9 * 4 steps / 100)
            break
    assert returns[-1] >= 0.9, f"mean evaluation returns every 20k steps: {returns}"

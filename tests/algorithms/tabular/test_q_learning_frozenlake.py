import numpy as np

from porcini import Core, make_env
from porcini.algorithms.tabular.q_learning import QLearning


def test_q_learning_solves_deterministic_frozenlake():
    env = make_env("FrozenLake-v1", seed=0, env_kwargs={"is_slippery": False})
    eval_env = env.spawn(1, 1000)
    agent = QLearning(env.info, learning_rate=0.5, gamma=0.95, epsilon=0.2, seed=0)
    core = Core(agent, env, eval_env=eval_env, progress=False)
    core.learn(steps=5000)
    record = core.evaluate(5)
    # the greedy policy reaches the goal (return 1) along a shortest path (6 steps on the 4x4 map)
    assert record.returns == [1.0] * 5
    assert record.lengths == [6] * 5


def test_q_learning_terminal_transitions_do_not_bootstrap():
    env = make_env("FrozenLake-v1", seed=0, env_kwargs={"is_slippery": False})
    agent = QLearning(env.info, learning_rate=1.0, gamma=0.9, initial_value=5.0)
    from porcini.core import TransitionBatch

    batch = TransitionBatch(
        obs=np.array([[14], [13]]), action=np.array([[2], [2]]), reward=np.array([[1.0], [0.0]]),
        next_obs=np.array([[15], [14]]), terminated=np.array([[True], [False]]),
        truncated=np.array([[False], [True]]),
    )
    agent.fit(batch)
    assert agent.q.table[14, 2] == 1.0  # terminal: r only, the optimistic 5.0 of state 15 is ignored
    assert agent.q.table[13, 2] == 0.0 + 0.9 * 5.0  # truncated: bootstraps from the successor (max Q[14] = 5.0)

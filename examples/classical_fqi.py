"""Fitted Q-Iteration on a random-policy dataset of the chain (Strens, 2000), compared with value iteration.

    python examples/classical_fqi.py [--smoke]

``--smoke`` fits 5 iterations on 300 transitions: it checks the script runs and learns nothing.
"""

import argparse

import numpy as np

from porcini import make_env
from porcini.algorithms.model_based.dynamic_programming import value_iteration
from porcini.algorithms.offline.fqi import FQI
from porcini.algorithms.random import RandomAgent
from porcini.data import collect_dataset


def main(gamma: float = 0.9, n_transitions: int = 2000, n_iterations: int = 50) -> None:
    env = make_env("porcini/Chain-v0", seed=0, max_episode_steps=100)
    random_policy = RandomAgent(env.info, seed=0)
    dataset = collect_dataset(env, lambda obs: random_policy.act(obs, explore=True), steps=n_transitions, seed=0)
    # extra trees if sklearn is installed
    agent = FQI(env.info, gamma=gamma, n_iterations=n_iterations, n_estimators=10)
    print(f"regressor: {agent.regressor}; metrics: {agent.fit(dataset)}")
    P, R, terminal = env.envs[0].unwrapped.transition_model()
    optimal = value_iteration(P, R, gamma, terminal)
    q = agent.q_values(np.arange(5))
    print("FQI greedy policy:    ", np.argmax(q, axis=1).tolist(), "(0 = forward, 1 = back)")
    print("optimal (value iter.):", optimal.policy.tolist())
    # FQI converges to the Q of the data's empirical MDP: with 2000 random transitions it differs from the exact Q
    # by sampling noise (here the rare visits to the end of the chain), not by bias
    print("FQI Q:\n", np.round(q, 1), "\nexact Q:\n", np.round(optimal.q_values, 1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="5 iterations, 300 transitions: checks it runs")
    main(**({"n_transitions": 300, "n_iterations": 5} if parser.parse_args().smoke else {}))

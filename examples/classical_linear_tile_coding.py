"""Linear SARSA(λ) with tile coding on MountainCar-v0 (Sutton & Barto 2018, §10.1 and §12.7).

8 tilings of 8x8 tiles over (position, velocity), replacing traces, λ = 0.9, greedy with optimistic Q = 0.
The car learns to rock back and forth within ~100 episodes; runs in well under a minute:

    python examples/classical_linear_tile_coding.py [--smoke]

``--smoke`` runs 3 episodes: it checks the script runs and learns nothing.
"""

import argparse

import numpy as np

from porcini import Core, make_env
from porcini.algorithms.tabular.sarsa_lambda import SarsaLambda


def main(n_episodes: int = 150, seed: int = 0) -> None:
    env = make_env("MountainCar-v0", seed=seed)
    agent = SarsaLambda(env.info, features="tile", n_tilings=8, tiles_per_dim=8, learning_rate=0.5,
                        epsilon=0.0, gamma=1.0, trace_decay=0.9, trace_type="replacing", seed=seed)
    core = Core(agent, env, eval_env=make_env("MountainCar-v0", seed=seed + 100), progress=False)
    returns = np.array(core.learn(episodes=n_episodes).episodes.returns)
    for start in range(0, n_episodes, 25):
        print(f"episodes {start:3d}-{start + 24:3d}: mean return {returns[start:start + 25].mean():7.1f}")
    print(f"greedy evaluation over 10 episodes: {core.evaluate(episodes=10).mean_return():.1f}")
    print(f"{agent.features.n_features} tiles, {agent.features.n_active} active per observation")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="3 episodes: checks that the script runs")
    main(**({"n_episodes": 3} if parser.parse_args().smoke else {}))

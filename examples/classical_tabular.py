"""Tabular TD control on cliff walking (Sutton & Barto 2018, Example 6.6): Q-learning vs SARSA and friends.

Q-learning learns the optimal path along the cliff edge (greedy return -13) but falls in while exploring;
SARSA learns the safer path and collects more reward online. A greedy policy may loop (return -100 at the
evaluation time limit): with constant step sizes and Q = 0 at the start (optimistic, rewards are -1), rarely
visited entries stay too high, and only exploring updates them. Runs in a few seconds:

    python examples/classical_tabular.py [--smoke]

``--smoke`` runs 20 episodes per agent: it checks the script runs and learns nothing.
"""

import argparse

import numpy as np

from porcini import Core, make_env
from porcini.algorithms import get_algorithm


def main(n_episodes: int = 400, seed: int = 0) -> None:
    online = f"online return (last {n_episodes - n_episodes // 4})"
    print(f"{'agent':26s} {online:>26s} {'greedy return':>14s}")
    agents = {}
    for name in ("q_learning", "sarsa", "expected_sarsa", "double_q_learning", "sarsa_lambda"):
        env = make_env("porcini/CliffWalking-v0", n_envs=4, seed=seed)
        eval_env = make_env("porcini/CliffWalking-v0", seed=seed + 100, max_episode_steps=100)
        # traces spread each TD error over many steps: SARSA(lambda) needs a smaller step size
        config = {"learning_rate": 0.1, "trace_type": "replacing"} if name == "sarsa_lambda" else {}
        config = {"learning_rate": 0.5, "epsilon": 0.1, "seed": seed, **config}
        agent = agents[name] = get_algorithm(name)(env.info, **config)
        core = Core(agent, env, eval_env=eval_env, progress=False)
        returns = core.learn(episodes=n_episodes).episodes.returns
        greedy = core.evaluate(episodes=1).returns[0]
        print(f"{name:26s} {np.mean(returns[n_episodes // 4:]):26.1f} {greedy:14.1f}")
    for name in ("q_learning", "sarsa"):
        arrows = np.array(list("^>v<"))[np.argmax(agents[name].q.table, axis=1)].reshape(4, 12)
        arrows[3, 1:11], arrows[3, 11] = "C", "G"
        print(f"\ngreedy actions of {name} (the cliff C and goal G on the bottom row):")
        print("\n".join("".join(row) for row in arrows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="20 episodes per agent: checks that the script runs")
    main(**({"n_episodes": 20} if parser.parse_args().smoke else {}))

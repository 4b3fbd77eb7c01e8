"""Multi-armed bandits: cumulative regret of ε-greedy, UCB1 and Thompson sampling, saved as a PNG plot.

The 10-armed Gaussian testbed (Sutton & Barto 2018, §2.3), 10 seeds; the regret comes from the env's
``info["regret"]``, which Core copies into the batches (``info_keys=("regret",)``). Needs matplotlib
(``pip install porcini[plot]``):

    python examples/classical_bandits.py [bandit_regret.png] [--smoke]

``--smoke`` runs 100 pulls of 2 seeds: it checks the script runs and shows nothing about the agents.
"""

import argparse

import numpy as np

from porcini import Core, make_env
from porcini.algorithms.bandits.epsilon_greedy import EpsilonGreedyBandit
from porcini.algorithms.bandits.thompson import ThompsonSampling
from porcini.algorithms.bandits.ucb import UCB
from porcini.core import Callback


class RegretLog(Callback):
    """Records the regret the bandit env reports at every pull."""

    def __init__(self) -> None:
        self.regret: list[float] = []

    def on_step(self, core, action, reward, terminated, truncated, info) -> None:  # noqa: D102
        self.regret.extend(np.asarray(info["final_info"]["regret"]).tolist())


def regret_curve(agent_cls, n_pulls: int, seeds: range, **config) -> np.ndarray:
    curves = []
    for seed in seeds:
        env = make_env("porcini/GaussianBandit-v0", seed=seed)
        log = RegretLog()
        agent = agent_cls(env.info, seed=seed, **config)
        result = Core(agent, env, callbacks=[log], info_keys=("regret",), progress=False).learn(steps=n_pulls)
        assert np.isclose(result.last_metrics["regret_cumulative"], np.sum(log.regret))
        curves.append(np.cumsum(log.regret))
    return np.mean(curves, axis=0)


def main(path: str = "bandit_regret.png", n_pulls: int = 1000, n_seeds: int = 10) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("this example plots with matplotlib: pip install porcini[plot]") from err
    agents = {"ε-greedy (ε = 0.1)": (EpsilonGreedyBandit, {"epsilon": 0.1}), "UCB1": (UCB, {}),
              "Thompson (Gaussian)": (ThompsonSampling, {"prior": "gaussian"})}
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (cls, config) in agents.items():
        curve = regret_curve(cls, n_pulls, range(n_seeds), **config)
        ax.plot(np.arange(1, n_pulls + 1), curve, label=label)
        print(f"{label:22s} regret after {n_pulls} pulls: {curve[-1]:6.1f} (after {n_pulls // 2}: "
              f"{curve[n_pulls // 2 - 1]:6.1f})")
    ax.set(xlabel="pulls", ylabel=f"cumulative regret (mean of {n_seeds} seeds)", title="10-armed Gaussian testbed")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="bandit_regret.png")
    parser.add_argument("--smoke", action="store_true", help="100 pulls of 2 seeds: checks that the script runs")
    args = parser.parse_args()
    main(args.path, **({"n_pulls": 100, "n_seeds": 2} if args.smoke else {}))

"""One SAC agent training on two different environments at once: Pendulum-v1 with g = 10 and with g = 4.

``porcini.envs.make_mixed_env`` builds one vector env whose indices come from different sources (here the default
pendulum and a lighter-gravity one), labelled per index. The loop steps both in lockstep, every fit batch holds
transitions from both (``batch.extras["source"]`` says which, thanks to ``info_keys=("source",)``), and the agent's
replay buffer mixes them. At the end the one policy is evaluated on each source separately.

    python examples/two_envs_one_agent.py [--steps 20000] [--seed 0] [--smoke]

``--smoke`` trains 400 steps with small networks: it checks the script runs and learns nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import torch

from porcini import Core, make_env
from porcini.algorithms.actor_critic.sac import SAC
from porcini.envs.mixed import make_mixed_env

GRAVITIES = {"g=10": 10.0, "g=4": 4.0}


def pendulum(g: float) -> Any:
    """A factory of Pendulum-v1 with gravity ``g`` (the registered 200-step time limit included)."""
    return lambda: gym.make("Pendulum-v1", g=g, disable_env_checker=True)


def run(steps: int = 20_000, seed: int = 0, sac_kwargs: dict[str, Any] | None = None,
        eval_episodes: int = 10) -> tuple[SAC, Any, dict[str, float]]:
    """Train one SAC on both gravities at once; return it, the mixed env and its evaluation per source."""
    env = make_mixed_env({label: (pendulum(g), 1) for label, g in GRAVITIES.items()}, seed=seed)
    # one update per transition, as SAC on a single env (train_freq counts vector steps of 2 transitions)
    agent = SAC(env.info, **{"learning_rate": 1e-3, "gradient_steps": 2, "seed": seed, **(sac_kwargs or {})})
    Core(agent, env, info_keys=("source",), progress=False).learn(steps=steps)
    scores = {}
    for label, g in GRAVITIES.items():
        eval_env = make_env(pendulum(g), seed=10_000 + seed)
        record = Core(agent, env, eval_env=eval_env, progress=False).evaluate(episodes=eval_episodes)
        scores[label] = sum(record.returns) / len(record.returns)
    return agent, env, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a few hundred steps, small nets: checks that it runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        args.steps = 400
        _, _, scores = run(args.steps, args.seed, sac_kwargs={"net_arch": (16, 16), "batch_size": 16}, eval_episodes=1)
    else:
        _, _, scores = run(args.steps, args.seed)
    print(f"one SAC after {args.steps} env steps on both gravities, mean evaluation return: "
          + ", ".join(f"{label} {score:.1f}" for label, score in scores.items()))


if __name__ == "__main__":
    main()

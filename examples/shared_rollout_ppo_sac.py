"""PPO and SAC learning from one shared rollout on Pendulum-v1: an on-policy and an off-policy agent, one batch.

PPO acts: its clipped objective assumes the rollout came from its own policy. Every transition the loop collects
goes to both learners through :class:`porcini.algorithms.combinators.SharedRollout`: PPO fits on each full
rollout of ``n_steps`` per env, SAC stores every transition in its replay buffer and updates at every vector step,
learning off-policy from PPO's behaviour. At the end both policies are evaluated deterministically, each acting
on its own. (SAC typically scores far better than the PPO that collected its data.)

    python examples/shared_rollout_ppo_sac.py [--steps 20000] [--seed 0] [--smoke]

``--smoke`` trains 256 steps with small networks: it checks the script runs and learns nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from porcini import Core, make_env
from porcini.algorithms.actor_critic.sac import SAC
from porcini.algorithms.combinators import SharedRollout
from porcini.algorithms.policy_gradient.ppo import PPO

N_ENVS = 4


def run(steps: int = 20_000, seed: int = 0, ppo_kwargs: dict[str, Any] | None = None,
        sac_kwargs: dict[str, Any] | None = None, eval_episodes: int = 10) -> dict[str, float]:
    """Train both learners on the shared rollout; return each one's mean deterministic evaluation return."""
    env = make_env("Pendulum-v1", n_envs=N_ENVS, seed=seed)
    # RL Zoo PPO Pendulum settings (without gSDE), shorter rollouts; the Zoo's SAC learning rate
    ppo = PPO(env.info, **{"n_steps": 256, "batch_size": 64, "n_epochs": 10, "gamma": 0.9, "gae_lambda": 0.95,
                           "learning_rate": 1e-3, "seed": seed, **(ppo_kwargs or {})})
    sac = SAC(env.info, **{"learning_rate": 1e-3, "seed": seed, **(sac_kwargs or {})})
    both = SharedRollout({"ppo": ppo, "sac": sac}, actor="ppo")
    Core(both, env, progress=False).learn(steps=steps)
    scores = {}
    for name, agent in (("ppo", ppo), ("sac", sac)):
        eval_env = env.spawn(1, 10_000 + seed)
        record = Core(agent, env, eval_env=eval_env, progress=False).evaluate(episodes=eval_episodes)
        scores[name] = sum(record.returns) / len(record.returns)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a few hundred steps, small nets: checks that it runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        args.steps = 256
        scores = run(args.steps, args.seed, ppo_kwargs={"n_steps": 32, "n_epochs": 1},
                     sac_kwargs={"net_arch": (16, 16), "batch_size": 16}, eval_episodes=1)
    else:
        scores = run(args.steps, args.seed)
    print(f"after {args.steps} shared env steps, mean evaluation return: "
          + ", ".join(f"{name} {score:.1f}" for name, score in scores.items()))


if __name__ == "__main__":
    main()

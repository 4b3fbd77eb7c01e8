"""The peer side of a PETS benchmark: Facebook's mbrl-lib (``mbrl`` 0.2.0) trains PETS on Pendulum-v1.

Run by the python of mbrl-lib's own virtual environment (it pins Gymnasium 0.26), not by porcini's; it prints one
JSON line (the last line of stdout)::

    {"library": "mbrl-lib", "version": "0.2.0", "seed": 0,
     "curve": [[env_steps, episode_return], ...],       # every training episode, the random first one included
     "eval_curve": [[env_steps, mean_return], ...],     # with --eval-every N: evaluation episodes every N episodes
     "env_steps": ..., "stopped_early": false, "wall_time_s": ..., "train_wall_s": ..., "cpu_time_s": ...,
     "train_cpu_s": ..., "timing": {...}, "fits": [...], "settings": {...}}

``wall_time_s`` is the whole run (imports, set-up, training and evaluations), ``train_wall_s`` the same less the
evaluations; ``cpu_time_s`` and ``train_cpu_s`` are the process CPU times of the same (steadier on a loaded
machine). ``timing`` splits them (model fits, planning episodes, per planned env step) and ``fits`` lists each fit
(its data, epochs, seconds, last training loss, best validation MSE) and the episode played after it. With
``--max-wall-s`` the run stops before an episode that would end past that time (judged by the last fit and
episode) and says ``"stopped_early": true``; ``env_steps`` is the steps done.

It uses mbrl-lib's own API the way its PETS notebook (notebooks/pets_example.ipynb, the library's worked example)
does, with the notebook's settings unless an argument changes them:

* model: ``mbrl.util.common.create_one_dim_tr_model`` of an ``mbrl.models.GaussianMLP`` ensemble of 5
  (``--hidden`` 200 wide, ``--layers`` 3 in mbrl's sense: in->h, then layers-1 h->h, then the mean/log-variance
  head; LeakyReLU(0.01)), normalized inputs, the change of observation as target, no learned reward;
  ``propagation_method="fixed_model"`` (TS-inf: each particle keeps its ensemble member for the whole rollout);
* fitting: before every episode after the first, ``update_normalizer`` on all the data, then
  ``ModelTrainer(optim_lr=1e-3, weight_decay=5e-5).train`` for ``--epochs`` 50 epochs (patience 50) in batches of
  ``--batch-size`` 32 on bootstrapped data (``get_basic_buffer_iterators``: 5% held out for validation, each
  member sampling its own data with replacement), keeping the weights with the best validation score;
* planning: ``mbrl.models.ModelEnv`` + ``mbrl.planning.create_trajectory_optim_agent_for_model`` with a
  ``TrajectoryOptimizerAgent`` (replan every step, the last plan shifted as the next warm start) and a
  ``CEMOptimizer`` (``--iterations`` 5, ``--population`` 500, elite ratio 0.1, alpha 0.1, truncated-normal
  sampling, the mean of the elites as the answer) over ``--planning-horizon`` 15 steps, each sequence scored
  by the mean over ``--particles`` 20 trajectory-sampling rollouts;
* data: the first episode with uniform random actions (``mbrl.planning.RandomAgent`` through
  ``rollout_agent_trajectories``), then PETS (``step_env_and_add_to_buffer``); 200-step episodes (Pendulum-v1's
  time limit), ``--steps`` env steps in all (whole episodes).

The reward for planning: mbrl.env.reward_fns has none for Pendulum, so :func:`pendulum_reward` writes out
Gymnasium's formula ``-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)`` (theta = atan2(sin, cos) in [-pi, pi], u clipped
to [-2, 2]). mbrl-lib's ``ModelEnv`` calls a reward function with ``(action, next_obs)`` only, so the state term
scores the predicted state *after* each step; Gymnasium scores the state before it. Over a planning horizon that
swaps the first state's cost (the same for every candidate) for the last predicted state's. Pendulum never
terminates: ``mbrl.env.termination_fns.no_termination``. The returns reported are the env's own rewards.

The environment: mbrl 0.2.0 pins hydra-core 1.0.3 and omegaconf 2.0.x, which cannot be imported on Python 3.11
(hydra 1.0's dataclasses have mutable defaults, which 3.11 refuses), so the venv has hydra-core 1.3.2 and
omegaconf 2.3.0 instead. mbrl-lib uses hydra only for ``hydra.utils.instantiate``, which became recursive in hydra
1.1: both configs here say ``_recursive_: False``, hydra 1.0's behaviour, so that ``GaussianMLP`` gets its
activation and ``TrajectoryOptimizerAgent`` its optimizer as configs, as mbrl-lib expects. Gymnasium 0.26.3 needs
numpy < 2 (its env checker uses ``np.bool8``).

Deviations from the notebook (which runs a continuous cart-pole on a GPU when there is one): the env
(Gymnasium's Pendulum-v1 and the reward function above), the device (CPU), and the seeding: numpy and torch's
global generators, the replay buffer's generator, ModelEnv's generator, the env and its action space all from
``--seed``; the env is reset with the seed once, later resets continue its generator.

usage: <venv>/bin/python benchmarks/peers/mbrl_pets.py [--steps 3000] [--seed 0] [--threads 1]
       [--planning-horizon 15] [--population 500] [--iterations 5] [--particles 20] [--hidden 200]
       [--layers 3] [--epochs 50] [--batch-size 32] [--eval-every 0] [--eval-episodes 1] [--max-wall-s 0]
       [--progress]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

ENV_ID = "Pendulum-v1"
EPISODE_STEPS = 200  # Pendulum-v1's time limit
ENSEMBLE_SIZE = 5
EVAL_SEED = 20_000  # env seeds of the evaluation episodes: EVAL_SEED, EVAL_SEED + 1, ... (porcini's benchmarks)
MAX_TORQUE = 2.0


def pendulum_reward(act: Any, next_obs: Any) -> Any:
    """Gymnasium's Pendulum reward ``[N, 1]`` on observations ``(cos, sin, theta_dot)`` ``[N, 3]``, torques ``[N, 1]``.

    mbrl-lib's reward-function signature ``(act, next_obs)``: the state term is taken at ``next_obs``.
    """
    import torch

    theta = torch.atan2(next_obs[:, 1], next_obs[:, 0])  # in [-pi, pi], as angle_normalize
    u = torch.clamp(act[:, 0], -MAX_TORQUE, MAX_TORQUE)
    return -(theta**2 + 0.1 * next_obs[:, 2] ** 2 + 0.001 * u**2).view(-1, 1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="env steps in all, in whole 200-step episodes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--planning-horizon", type=int, default=15)
    parser.add_argument("--population", type=int, default=500, help="CEM population per iteration")
    parser.add_argument("--iterations", type=int, default=5, help="CEM iterations per env step")
    parser.add_argument("--particles", type=int, default=20, help="TS rollouts per candidate sequence")
    parser.add_argument("--hidden", type=int, default=200, help="width of the model's hidden layers")
    parser.add_argument("--layers", type=int, default=3, help="GaussianMLP num_layers (hidden layers)")
    parser.add_argument("--epochs", type=int, default=50, help="model training epochs per fit")
    parser.add_argument("--batch-size", type=int, default=32, help="model training batch size")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="evaluation episodes after every N training episodes (0: none)")
    parser.add_argument("--eval-episodes", type=int, default=1, help="episodes per evaluation")
    parser.add_argument("--max-wall-s", type=float, default=0.0,
                        help="stop before an episode that would end past this many seconds (0: no limit)")
    parser.add_argument("--progress", action="store_true", help="one line per episode on stderr")
    args = parser.parse_args(argv)
    if args.steps < EPISODE_STEPS or args.steps % EPISODE_STEPS:
        parser.error(f"--steps must be a positive multiple of {EPISODE_STEPS} (whole episodes)")
    for name in ("threads", "planning_horizon", "population", "iterations", "particles", "hidden", "layers",
                 "epochs", "batch_size", "eval_episodes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.eval_every < 0 or args.max_wall_s < 0:
        parser.error("--eval-every and --max-wall-s must be >= 0")
    return args


def configs(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model/trainer config and the agent config, as mbrl-lib's PETS notebook writes them."""
    import omegaconf

    cfg = omegaconf.OmegaConf.create({
        "dynamics_model": {
            "_target_": "mbrl.models.GaussianMLP",
            "_recursive_": False,  # hydra 1.0's instantiate (see the module docstring)
            "device": "cpu",
            "num_layers": args.layers,
            "ensemble_size": ENSEMBLE_SIZE,
            "hid_size": args.hidden,
            "in_size": "???",
            "out_size": "???",
            "deterministic": False,
            "propagation_method": "fixed_model",
            "activation_fn_cfg": {"_target_": "torch.nn.LeakyReLU", "negative_slope": 0.01},
        },
        "algorithm": {"learned_rewards": False, "target_is_delta": True, "normalize": True},
        "overrides": {"trial_length": EPISODE_STEPS, "num_steps": args.steps,
                      "model_batch_size": args.batch_size, "validation_ratio": 0.05},
    })
    agent_cfg = omegaconf.OmegaConf.create({
        "_target_": "mbrl.planning.TrajectoryOptimizerAgent",
        "_recursive_": False,  # hydra 1.0's instantiate: the agent instantiates its optimizer itself
        "planning_horizon": args.planning_horizon,
        "replan_freq": 1,
        "verbose": False,
        "action_lb": "???",
        "action_ub": "???",
        "optimizer_cfg": {
            "_target_": "mbrl.planning.CEMOptimizer",
            "num_iterations": args.iterations,
            "elite_ratio": 0.1,
            "population_size": args.population,
            "alpha": 0.1,
            "device": "cpu",
            "lower_bound": "???",
            "upper_bound": "???",
            "return_mean_elites": True,
            "clipped_normal": False,
        },
    })
    return cfg, agent_cfg


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train PETS with mbrl-lib; its JSON record."""
    start, cpu_start = time.perf_counter(), time.process_time()
    import gymnasium as gym
    import mbrl
    import mbrl.env.termination_fns as termination_fns
    import mbrl.models as models
    import mbrl.planning as planning
    import mbrl.util.common as common_util
    import numpy as np
    import omegaconf
    import torch

    warnings.filterwarnings("ignore", message=".*np.bool8.*")  # Gymnasium 0.26's env checker on numpy 1.24+

    torch.set_num_threads(args.threads)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(args.seed)

    env = gym.make(ENV_ID)
    env.reset(seed=args.seed)
    env.action_space.seed(args.seed)
    obs_shape, act_shape = env.observation_space.shape, env.action_space.shape

    cfg, agent_cfg = configs(args)
    dynamics_model = common_util.create_one_dim_tr_model(cfg, obs_shape, act_shape)
    model_env = models.ModelEnv(env, dynamics_model, termination_fns.no_termination, pendulum_reward,
                                generator=generator)
    replay_buffer = common_util.create_replay_buffer(cfg, obs_shape, act_shape, rng=rng)
    agent = planning.create_trajectory_optim_agent_for_model(model_env, agent_cfg, num_particles=args.particles)
    model_trainer = models.ModelTrainer(dynamics_model, optim_lr=1e-3, weight_decay=5e-5)

    def log(message: str) -> None:
        if args.progress:
            print(f"[{time.perf_counter() - start:7.1f} s] {message}", file=sys.stderr, flush=True)

    eval_env = gym.make(ENV_ID)

    def evaluate() -> float:
        """Mean return of ``--eval-episodes`` planner episodes from env seeds EVAL_SEED, ... (not stored)."""
        returns = []
        for episode in range(args.eval_episodes):
            obs, _ = eval_env.reset(seed=EVAL_SEED + episode)
            agent.reset()
            ended, total = False, 0.0
            while not ended:
                obs, reward, terminated, truncated, _ = eval_env.step(agent.act(obs))
                total += float(reward)
                ended = terminated or truncated
            returns.append(total)
        return float(np.mean(returns))

    curve: list[list[float]] = []
    eval_curve: list[list[float]] = []
    timing = {"setup_s": time.perf_counter() - start, "random_episode_s": 0.0, "model_fit_s": 0.0,
              "planning_steps_s": 0.0, "planning_steps_cpu_s": 0.0, "eval_s": 0.0, "eval_cpu_s": 0.0}
    stopped_early, episode_s = False, 0.0
    fits: list[dict[str, Any]] = []

    # the first episode: uniform random actions
    tick = time.perf_counter()
    first = common_util.rollout_agent_trajectories(env, EPISODE_STEPS, planning.RandomAgent(env), {},
                                                   replay_buffer=replay_buffer, trial_length=EPISODE_STEPS)
    timing["random_episode_s"] = time.perf_counter() - tick
    env_steps = replay_buffer.num_stored
    assert env_steps == EPISODE_STEPS and len(first) == 1, (env_steps, first)
    curve.append([env_steps, round(float(first[0]), 3)])
    log(f"episode 1 (random): return {first[0]:.1f}")

    episode = 1
    while env_steps < args.steps:
        if args.max_wall_s and episode > 1:  # would the next fit and episode, as long as the last, end too late?
            if time.perf_counter() - start + fits[-1]["seconds"] + episode_s > args.max_wall_s:
                stopped_early = True
                log(f"stopping at {env_steps} env steps: the next episode would end past --max-wall-s")
                break
        # fit the model on everything so far (the notebook's steps_trial == 0 branch)
        tick = time.perf_counter()
        dynamics_model.update_normalizer(replay_buffer.get_all())
        dataset_train, dataset_val = common_util.get_basic_buffer_iterators(
            replay_buffer, batch_size=cfg.overrides.model_batch_size, val_ratio=cfg.overrides.validation_ratio,
            ensemble_size=ENSEMBLE_SIZE, shuffle_each_epoch=True, bootstrap_permutes=False)
        train_losses, val_scores = model_trainer.train(dataset_train, dataset_val=dataset_val,
                                                       num_epochs=args.epochs, patience=50, silent=True)
        fit_s = time.perf_counter() - tick
        timing["model_fit_s"] += fit_s
        fits.append({"data": int(replay_buffer.num_stored), "epochs": len(train_losses), "seconds": round(fit_s, 2),
                     "train_loss": round(float(train_losses[-1]), 4),
                     "val_mse": round(float(np.min(val_scores)), 6) if val_scores else None})

        # one episode with the planner
        tick, cpu_tick = time.perf_counter(), time.process_time()
        obs, _ = env.reset()
        agent.reset()
        terminated = truncated = False
        total, steps = 0.0, 0
        while not (terminated or truncated):
            next_obs, reward, terminated, truncated, _ = common_util.step_env_and_add_to_buffer(
                env, obs, agent, {}, replay_buffer)
            obs = next_obs
            total += float(reward)
            steps += 1
        episode_s = time.perf_counter() - tick
        timing["planning_steps_s"] += episode_s
        timing["planning_steps_cpu_s"] += time.process_time() - cpu_tick
        fits[-1]["episode_s"] = round(episode_s, 2)  # the episode played with this fit's model
        assert steps == EPISODE_STEPS, steps
        env_steps += steps
        episode += 1
        curve.append([env_steps, round(total, 3)])
        log(f"episode {episode}: return {total:.1f} (fit {fit_s:.1f} s on {fits[-1]['data']} transitions, "
            f"episode {episode_s:.1f} s = {episode_s / steps:.3f} s/step)")

        if args.eval_every and episode % args.eval_every == 0:
            tick, cpu_tick = time.perf_counter(), time.process_time()
            mean = evaluate()
            timing["eval_s"] += time.perf_counter() - tick
            timing["eval_cpu_s"] += time.process_time() - cpu_tick
            eval_curve.append([env_steps, round(mean, 3)])
            log(f"evaluation at {env_steps} steps: {mean:.1f}")

    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    planned_steps = env_steps - EPISODE_STEPS
    timing = {k: round(v, 2) for k, v in timing.items()}
    timing["planning_s_per_env_step"] = round(timing["planning_steps_s"] / max(planned_steps, 1), 4)
    timing["planning_cpu_s_per_env_step"] = round(timing["planning_steps_cpu_s"] / max(planned_steps, 1), 4)
    timing["train_s_per_env_step"] = round((wall - timing["eval_s"]) / env_steps, 4)
    settings = {
        "env": ENV_ID, "gymnasium": gym.__version__, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "steps": args.steps, "episode_steps": EPISODE_STEPS, "random_episodes": 1,
        "model": omegaconf.OmegaConf.to_container(cfg.dynamics_model),
        "algorithm": omegaconf.OmegaConf.to_container(cfg.algorithm),
        "model_training": {"optim_lr": 1e-3, "weight_decay": 5e-5, "epochs": args.epochs, "patience": 50,
                           "batch_size": args.batch_size, "validation_ratio": 0.05, "bootstrap": True,
                           "when": "before every episode after the first, on all data"},
        "agent": omegaconf.OmegaConf.to_container(agent_cfg), "num_particles": args.particles,
        "reward_fn": "written out (mbrl.env.reward_fns has no pendulum): -(atan2(s,c)^2 + 0.1 thdot^2 + "
                     "0.001 clip(u,-2,2)^2) on the predicted next observation",
        "termination_fn": "mbrl.env.termination_fns.no_termination",
        "eval_every_episodes": args.eval_every, "eval_episodes": args.eval_episodes, "eval_seed": EVAL_SEED,
    }
    return {"library": "mbrl-lib", "version": mbrl.__version__, "seed": args.seed, "curve": curve,
            "eval_curve": eval_curve, "env_steps": env_steps, "stopped_early": stopped_early,
            "wall_time_s": round(wall, 2), "train_wall_s": round(wall - timing["eval_s"], 2),
            "cpu_time_s": round(cpu, 2), "train_cpu_s": round(cpu - timing["eval_cpu_s"], 2), "timing": timing,
            "fits": fits, "settings": settings}


def main(argv: list[str] | None = None) -> None:
    """Parse, run, print the JSON record as the last line."""
    args = parse_args(argv)
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()

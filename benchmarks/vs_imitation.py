"""porcini against HumanCompatibleAI's imitation: BC, DAgger, GAIL, AIRL and preference comparisons on CartPole.

The task is CartPole-v1. The expert is porcini's PPO trained with its config of record (``porcini train ppo
CartPole-v1``, about a minute), trained once per benchmark run in a temporary folder; it records
``DEMO_EPISODES`` episodes (``collect_policy``, seed 0) written as a plain ``.npz`` of flat ``obs``, ``action``,
``reward``, ``next_obs``, ``terminated``, ``truncated`` arrays in episode order. Each side reads that one file:
porcini as a ``Dataset``, imitation as ``Trajectory`` objects split at episode ends. DAgger asks the same expert
network on both sides: porcini loads the run (``agent_expert``), imitation gets an SB3 ``ActorCriticPolicy``
holding the expert's exported weights, checked to pick the expert's actions on every demonstrated state.
Preference comparisons need no expert: both sides ask a synthetic oracle on the env's reward about pairs of
16-step pieces of their own PPO learner's behaviour (the expert is trained only when another method is run).

Per method and seed it times the training alone (not the expert, not the evaluation), in wall time and process
CPU time, and scores the final policy over ``--eval-episodes`` episodes (``common.evaluate``: the same
deterministic loop and env seeds ``EVAL_SEED, EVAL_SEED + 1, ...`` for both libraries). Each library learns
through its usual entry point: porcini's ``Core.learn_offline`` (BC) and ``Core.learn`` (DAgger, GAIL,
AIRL, preferences); imitation's ``BC.train``, ``SimpleDAggerTrainer.train``, ``GAIL.train``, ``AIRL.train`` and
``PreferenceComparisons.train``, with its logger writing nowhere and no progress bars. Speed ratio = imitation's
time / porcini's time.

imitation 1.0.1 pins gymnasium 0.29 and stable-baselines3 2.2, so it runs in its own virtual environment, made
once under ``benchmarks/.venvs/`` (or ``--venv DIR``): the torch version of this interpreter first (a CPU build;
a bare torch requirement could pull a CUDA build), then ``imitation==1.0.1``. Both libraries run one after the
other in fresh subprocesses with ``--threads`` torch threads. porcini flushes subnormal floats while fitting;
``--peer-flush-denormals`` turns the same CPU mode on for imitation.

The shared settings (``SETTINGS``, printed at the start) are porcini's defaults and configs of record; where
imitation's defaults differ, porcini's value is set on both sides (``SETTINGS_NOTES``). Differences that no
setting removes are listed in ``IMPLEMENTATION_NOTES``. ``METHODS`` is the table of compared methods, each with
a runner ``imitation_<kind>``.

usage: python benchmarks/vs_imitation.py [--methods bc,dagger,gail,airl,preferences] [--seeds 0] [--eval-episodes 10]
       [--threads 1] [--venv DIR] [--peer-flush-denormals] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ENV_ID = "CartPole-v1"
IMITATION_VERSION = "1.0.1"
DEMO_EPISODES, DEMO_SEED = 10, 0
EVAL_SEED = 20_000  # env seeds of the final evaluation: EVAL_SEED, EVAL_SEED + 1, ...
FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


@dataclasses.dataclass(frozen=True)
class Method:
    """One compared method (its key in :data:`METHODS` is porcini's algorithm name) and imitation's trainer."""

    kind: str  # "clone", "dagger", "adversarial" or "preferences": how porcini trains it, the runner imitation_<kind>
    peer: str  # imitation's trainer, "module:Class"
    reward_net: str = ""  # adversarial, preferences: the class in imitation.rewards.reward_nets
    reward_net_kwargs: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # its arguments, from SETTINGS


METHODS: dict[str, Method] = {
    "bc": Method("clone", "imitation.algorithms.bc:BC"),
    "dagger": Method("dagger", "imitation.algorithms.dagger:SimpleDAggerTrainer"),
    "gail": Method("adversarial", "imitation.algorithms.adversarial.gail:GAIL", "BasicRewardNet",
                   lambda s: {"hid_sizes": s["discriminator_arch"]}),
    "airl": Method("adversarial", "imitation.algorithms.adversarial.airl:AIRL", "BasicShapedRewardNet",
                   lambda s: {"reward_hid_sizes": s["discriminator_arch"], "use_action": not s["state_only_reward"],
                              "potential_hid_sizes": s["discriminator_arch"], "discount_factor": s["gamma"]}),
    "preferences": Method("preferences", "imitation.algorithms.preference_comparisons:PreferenceComparisons",
                          "BasicRewardNet", lambda s: {"hid_sizes": s["reward_arch"]}),
}

CLONE = {"net_arch": [256, 256], "activation": "relu", "init": "pytorch", "learning_rate": 1e-3,
         "batch_size": 256, "adam_eps": 1e-8, "entropy_weight": 0.0, "l2_weight": 0.0}
PPO_OF_RECORD = {"n_envs": 8, "n_steps": 32, "batch_size": 256, "n_epochs": 20, "gae_lambda": 0.8, "gamma": 0.98,
                 "ent_coef": 0.0, "vf_coef": 0.5, "max_grad_norm": 0.5, "learning_rate": 1e-3,
                 "learning_rate_schedule": "linear", "clip_range": 0.2, "clip_range_schedule": "linear",
                 "net_arch": [64, 64], "activation": "tanh", "ortho_init": True, "adam_eps": 1e-5}
SETTINGS: dict[str, dict[str, Any]] = {
    "bc": {**CLONE, "gradient_steps": 2000},
    "dagger": {**CLONE, "env_steps": 4000, "n_envs": 1, "round_steps": 1000, "updates_per_round": 500,
               "beta_decay": 0.5},
    "gail": {**PPO_OF_RECORD, "env_steps": 256 * 390,  # the record's 100,000 in whole rollouts of 8 x 32
             "discriminator_arch": [64, 64], "discriminator_activation": "tanh", "discriminator_learning_rate": 3e-4,
             "discriminator_batch_size": 256, "discriminator_epochs": 1},
}
SETTINGS["airl"] = {**SETTINGS["gail"], "state_only_reward": True, "learner_reward": "softplus",  # the record
                    "discriminator_replay": 100_000}
SETTINGS["preferences"] = {**PPO_OF_RECORD, "env_steps": 256 * 390,  # the record's 100,000 as for gail
                           "preference_pairs": 500, "query_rounds": 10, "query_interval": 5, "segment_length": 16,
                           "segment_pool": 400, "reward_arch": [64, 64], "reward_activation": "tanh",
                           "reward_ensemble": 1, "reward_learning_rate": 1e-3, "reward_epochs": 20,
                           "reward_batch_size": 64, "oracle_temperature": 0.0, "oracle_error_rate": 0.1}
SETTINGS_NOTES = [
    "bc/dagger: imitation's defaults (32-32 tanh policy, batch 32, entropy bonus 1e-3, orthogonal init) are set to "
    "porcini's BC (256-256 ReLU, batch 256, no entropy term, PyTorch's init); lr 1e-3, Adam eps 1e-8 on both",
    "dagger: beta_i = 0.5 ** i on both (imitation: ExponentialBetaSchedule; its default is linear over 15 rounds); "
    "imitation's rounds need 1 episode (default 3) and round_steps steps; updates_per_round BC steps per round "
    "on both (imitation: n_batches, its default is 4 epochs)",
    "gail/airl: PPO is porcini's configs of record on CartPole-v1 (the RL Zoo's tuned PPO) on both, for "
    "390 rollouts of 256 steps (imitation runs whole rounds: the record's 100,000 steps rounded down)",
    "gail/airl: imitation calls PPO.learn once per round, which restarts SB3's progress (its lin_ schedules would be 0 "
    "at every update): the SB3 learner gets schedules over the run's env steps (RunSchedule), as porcini's",
    "gail/airl: discriminator 64-64 tanh, Adam lr 3e-4 (imitation's defaults: 32-32 ReLU, lr 1e-3), one step per "
    "rollout of 256 learner and 256 expert pairs (imitation: n_disc_updates_per_round=1, demo_batch_size=256)",
    "gail/airl: imitation refuses episodes of varying length by default; CartPole's vary: allow_variable_horizon=True",
    "airl: porcini's config of record (gail's PPO, reward g(s) of the state alone, learner reward softplus(l), the "
    "discriminator replaying the run's learner transitions: per rollout one step on it and one on as many replayed); "
    "imitation: gen_replay_buffer_capacity=100,000, n_disc_updates_per_round=2 (each draws 256 from its replay); "
    "imitation's shaped net gets g and h 64-64 tanh (defaults 32 and 32-32 ReLU), use_action=False, discount 0.98",
    "preferences: porcini's config of record (gail's PPO for 99,840 env steps, 500 pairs of 16-step segments in 10 "
    "rounds of 50); imitation: query_schedule='constant' (default 'hyperbolic'), initial_comparison_frac 0.1 (0.101: "
    "int(500 x 0.101) = 50; default 0.1) and num_iterations=9, i.e. a first round of 50 pairs from the untrained "
    "agent then 9 of 50, PPO trained after each of the 10 rounds for 9,984 steps (train(total_timesteps=89,856) "
    "trains the agent total_timesteps // num_iterations steps after each of its num_iterations + 1 rounds)",
    "preferences: reward net r(s, a) 64-64 tanh on the observation and the one-hot action on both (imitation's "
    "BasicRewardNet: default 32-32 ReLU), PyTorch's init; after each round 20 epochs over all answers so far in "
    "batches of 64 pairs, lr 1e-3 (imitation: epochs=20, batch_size=64, initial_epoch_multiplier=1, default 200; its "
    "AdamW gets weight_decay 0, default 0.01, i.e. Adam), no cap on the kept answers (comparison_queue_size=None)",
    "preferences: the oracle answers by the larger undiscounted env return, 0.5 on ties (imitation: "
    "SyntheticGatherer(temperature=0, discount_factor=1); default temperature 1), then 10% of the answers are "
    "replaced by coin flips (SyntheticGatherer 1.0.1 has no such setting: a subclass of it does so with its rng)",
    "preferences: pairs come from the latest 6,400 steps on both (porcini: segment_pool=400 segments of 16, "
    "fewer in its first 5 rounds; imitation: transition_oversampling=4, default 1: the latest finished episodes "
    "of at least 4 x 2 x 50 x 16 steps per round); "
    "allow_variable_horizon=True (CartPole's episodes vary)",
]
IMPLEMENTATION_NOTES = [
    "dagger: porcini's rounds are exactly round_steps env steps (episodes carry over); imitation's end with the "
    "first whole episode past round_steps and reset the env, so the expert labels can differ (both counted)",
    "dagger: where the learner acts, imitation samples its policy (predict's default), porcini takes the "
    "clone's deterministic action; imitation also writes every round's episodes to .npz files (timed)",
    "gail/airl: porcini fits the discriminator on the rollout, relabels the rollout with it, then PPO; imitation "
    "rewards each step with the discriminator of that moment, then PPO, then the discriminator step",
    "airl: imitation rewards the learner with f = g(s) + gamma h(s') - h(s), porcini (its record) with "
    "softplus(f - log pi), and adds a learned absorbing state at terminations; imitation zeroes h(s') at "
    "truncations too",
    "bc: porcini draws minibatches uniformly with replacement, imitation shuffles epochs (drop_last)",
    "preferences: porcini asks its 10 rounds every 5 fits, over the first 12,800 env steps, then PPO learns on a "
    "fixed r; imitation trains the agent for total_timesteps / num_iterations steps between rounds, so its rounds "
    "span the run (one every 9,984 steps) and its first round samples >= 6,400 extra env steps with the untrained "
    "agent (env_steps_all counts them); a round whose episodes are all shorter than 16 steps stops imitation's "
    "run (RandomFragmenter: 'No trajectories are long enough'): recorded as stopped, its policy evaluated",
    "preferences: porcini cuts each env's rollout into aligned 16-step segments that may cross an episode end: the "
    "steps after a termination are masked (reward 0, the absorbing state), segments a truncation cuts are dropped; "
    "imitation's RandomFragmenter draws fragments at random starts inside finished episodes of >= 16 steps "
    "(shorter ones are discarded), ending at most at the episode's end, so on CartPole (reward 1 per step) both "
    "fragments of a pair have return 16 and the oracle's answer is a tie unless the 10% coin flip answers",
    "preferences: imitation scores pairs one at a time in Python (PreferenceModel.forward), clips return "
    "differences at 50 and scales a last partial batch's loss by its share; porcini scores a batch at once",
]


# ---------------------------------------------------------------------------------------------- expert and data
def train_expert(folder: Path, overrides: tuple[str, ...] = ()) -> tuple[str, float]:
    """Train porcini's PPO on CartPole with its config of record under ``folder``; its run dir and return."""
    from porcini.experiment.experiment import Experiment
    from porcini.experiment.launch import resolve

    config = resolve("ppo", ENV_ID, None, [f"out={folder}", "log.sinks=[csv]", *overrides])
    run = Experiment.start(config, progress=False)
    summary = run.train()
    return str(run.run_dir.path), float(summary.eval_return_mean)


def write_demos(run_dir: str, folder: Path, episodes: int = DEMO_EPISODES) -> tuple[Path, dict[str, Any]]:
    """Record ``episodes`` expert episodes with porcini and write the flat ``.npz``; its path and statistics."""
    from porcini.data import load_dataset
    from porcini.experiment.collect import collect_policy

    recorded = folder / "demos-porcini.npz"
    collect_policy(run_dir, episodes, str(recorded), seed=DEMO_SEED)
    parts = list(load_dataset(recorded).episodes())  # [L, 1, ...] each, in order
    flat = {name: np.concatenate([getattr(e, name)[:, 0] for e in parts]) for name in FIELDS}
    path = folder / "demos-flat.npz"
    np.savez(path, **flat)
    returns = [float(e.reward.sum()) for e in parts]
    return path, {"episodes": len(parts), "transitions": len(flat["reward"]),
                  "return_mean": round(float(np.mean(returns)), 1), "return_min": round(float(np.min(returns)), 1)}


def read_flat(path: str | Path) -> dict[str, np.ndarray]:
    """The flat arrays of :func:`write_demos`' file."""
    with np.load(path) as file:
        return {name: file[name] for name in file.files}


def export_expert(run_dir: str, demos: Path, path: Path) -> None:
    """Write the expert's policy network (weights per linear layer, activation) and its actions on the demos."""
    from porcini.experiment.evaluation import load_policy

    config, agent, train_env, eval_env = load_policy(run_dir, "best")
    train_env.close()
    eval_env.close()
    if config.env.wrappers:  # e.g. observation normalization: the rebuilt network would need its statistics
        raise SystemExit(f"the expert was trained with env.wrappers {list(config.env.wrappers)}: not exported")
    model = agent.model
    layers = [*model.pi_trunk.layers, model.pi_head.linear]
    arrays = {f"{kind}_{i}": getattr(layer, kind).detach().cpu().numpy()
              for i, layer in enumerate(layers) for kind in ("weight", "bias")}
    obs = read_flat(demos)["obs"]
    np.savez(path, activation=np.array(model.pi_trunk.activation_name), check_obs=obs,
             check_actions=agent.act(obs, explore=False), **arrays)


def prepare(folder: Path, overrides: tuple[str, ...] = (), episodes: int = DEMO_EPISODES) -> dict[str, Any]:
    """Train the expert, record and write the demonstrations, export the expert: paths and statistics."""
    run_dir, expert_return = train_expert(folder / "expert", overrides)
    demos, stats = write_demos(run_dir, folder, episodes)
    export_expert(run_dir, demos, folder / "expert-weights.npz")
    return {"expert_run": run_dir, "demos": str(demos), "expert_weights": str(folder / "expert-weights.npz"),
            "expert_eval_return": expert_return, "demos_stats": stats}


# ---------------------------------------------------------------------------------------------- one run
def timed(train: Callable[[], Any]) -> tuple[float, float]:
    """Wall and process CPU seconds of ``train()``."""
    start, cpu = time.perf_counter(), time.process_time()
    train()
    return time.perf_counter() - start, time.process_time() - cpu


def _record(lib: str, version: str, method: str, seed: int, wall: float, cpu: float, returns: tuple[float, float],
            eval_episodes: int, counts: dict[str, Any]) -> dict[str, Any]:
    """The JSON record of one run."""
    import torch

    return {"lib": lib, "version": version, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "method": method, "seed": seed, "train_wall_s": round(wall, 3), "train_cpu_s": round(cpu, 3),
            "eval_return_mean": round(returns[0], 2), "eval_return_std": round(returns[1], 2),
            "eval_episodes": eval_episodes, **counts}


def porcini_dataset(flat: dict[str, np.ndarray]) -> Any:
    """The flat arrays as a porcini ``Dataset`` of one env column, in order."""
    from porcini.core.batch import TransitionBatch
    from porcini.data import Dataset

    return Dataset(TransitionBatch(**{name: flat[name][:, None] for name in FIELDS}), {"env_id": ENV_ID})


def porcini_agent(method: str, s: dict[str, Any], paths: dict[str, str], info: Any, seed: int) -> Any:
    """The porcini agent of ``method`` with the :data:`SETTINGS` its config has (DAgger's expert: the run's agent)."""
    from porcini.algorithms.imitation import agent_expert
    from porcini.algorithms.registry import get_algorithm
    from porcini.experiment.evaluation import load_policy

    cls = get_algorithm(method)
    fields = {field.name for field in dataclasses.fields(cls.Config)}  # SETTINGS use porcini's names
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in s.items() if k in fields}
    if METHODS[method].kind == "dagger":
        _, expert, train_env, eval_env = load_policy(paths["expert_run"], "best")
        train_env.close()
        eval_env.close()
        kwargs["expert"] = agent_expert(expert)
    return cls(info, **kwargs, seed=seed)


def run_porcini(method: str, paths: dict[str, str], eval_episodes: int, seed: int) -> dict[str, Any]:
    """Train ``method`` with porcini (``Core.learn_offline`` for BC, else ``Core.learn``); time it; score it."""
    import common
    import torch

    import porcini
    from porcini import Core, make_env

    s = SETTINGS[method]
    env = make_env(ENV_ID, n_envs=s.get("n_envs", 1), seed=seed)
    agent = porcini_agent(method, s, paths, env.info, seed)
    if METHODS[method].kind != "preferences":  # preferences learn from the oracle's answers alone
        agent.add_dataset(porcini_dataset(read_flat(paths["demos"])))
    core = Core(agent, env, progress=False)
    if METHODS[method].kind == "clone":
        wall, cpu = timed(lambda: core.learn_offline(s["gradient_steps"]))
    else:
        wall, cpu = timed(lambda: core.learn(steps=s["env_steps"]))
    names = (("gradient_steps", "n_updates"), ("rounds", "rounds"), ("rounds", "fits"), ("expert_labels", "labels"),
             ("env_steps", "steps_seen"), ("query_rounds", "rounds_done"), ("pairs", "pairs_asked"))
    counts = {name: int(getattr(agent, attr)) for name, attr in names if hasattr(agent, attr)}
    if METHODS[method].kind == "preferences":
        counts["tie_share"] = round(float(np.mean(agent.asked.all()[2] == 0.5)), 3)

    def act(obs: np.ndarray) -> np.ndarray:
        """The trained policy's deterministic action for one observation."""
        return agent.act(obs[None], explore=False)[0]

    with torch.inference_mode():
        returns = common.evaluate(act, ENV_ID, eval_episodes, EVAL_SEED)
    return _record("porcini", porcini.__version__, method, seed, wall, cpu, returns, eval_episodes, counts)


# ---------------------------------------------------------------------------------------------- imitation's side
def imitation_trajectories(flat: dict[str, np.ndarray]) -> list[Any]:
    """The flat arrays as imitation ``Trajectory`` objects, one per episode (obs has the final observation)."""
    from imitation.data.types import Trajectory

    ends = np.flatnonzero(flat["terminated"] | flat["truncated"]) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return [Trajectory(obs=np.concatenate([flat["obs"][a:b], flat["next_obs"][b - 1:b]]), acts=flat["action"][a:b],
                       infos=None, terminal=bool(flat["terminated"][b - 1])) for a, b in zip(starts, ends)]


def sb3_policy(venv: Any, hidden: list[int], activation: str, ortho_init: bool, lr: float) -> Any:
    """An SB3 ``ActorCriticPolicy`` whose policy network is ``hidden`` wide (no value layers)."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from torch import nn

    return ActorCriticPolicy(venv.observation_space, venv.action_space, lambda _: lr,
                             net_arch={"pi": list(hidden), "vf": []},
                             activation_fn={"relu": nn.ReLU, "tanh": nn.Tanh}[activation], ortho_init=ortho_init)


def imitation_expert(path: str, venv: Any) -> tuple[Any, float]:
    """The exported expert as an SB3 policy, and the share of demonstrated states where it picks the expert's action."""
    import torch

    with np.load(path) as file:
        arrays = {name: file[name] for name in file.files}
    n_layers = sum(name.startswith("weight_") for name in arrays)
    hidden = [arrays[f"weight_{i}"].shape[0] for i in range(n_layers - 1)]
    policy = sb3_policy(venv, hidden, str(arrays["activation"]), False, 0.0)
    linears = [m for m in policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)] + [policy.action_net]
    with torch.no_grad():
        for i, layer in enumerate(linears):
            layer.weight.copy_(torch.as_tensor(arrays[f"weight_{i}"]))
            layer.bias.copy_(torch.as_tensor(arrays[f"bias_{i}"]))
    actions, _ = policy.predict(arrays["check_obs"], deterministic=True)
    return policy, float(np.mean(actions == arrays["check_actions"]))


def imitation_bc(s: dict[str, Any], venv: Any, rng: np.random.Generator, logger: Any, demos: Any = None) -> Any:
    """imitation's ``BC`` trainer with :data:`SETTINGS`' network, batch and optimizer."""
    from imitation.algorithms.bc import BC

    policy = sb3_policy(venv, s["net_arch"], s["activation"], False, s["learning_rate"])
    return BC(observation_space=venv.observation_space, action_space=venv.action_space, rng=rng, policy=policy,
              demonstrations=demos, batch_size=s["batch_size"],
              optimizer_kwargs={"lr": s["learning_rate"], "eps": s["adam_eps"]}, ent_weight=s["entropy_weight"],
              l2_weight=s["l2_weight"], device="cpu", custom_logger=logger)


def imitation_clone(method: str, s: dict[str, Any], paths: dict[str, str], seed: int, folder: Path,
                    logger: Any) -> tuple[Any, float, float, dict]:
    """BC through ``BC.train``: the policy, the training's wall and CPU time and its counts."""
    from imitation.util.util import make_vec_env

    rng = np.random.default_rng(seed)
    venv = make_vec_env(ENV_ID, rng=rng, n_envs=1)
    trainer = imitation_bc(s, venv, rng, logger, imitation_trajectories(read_flat(paths["demos"])))
    wall, cpu = timed(lambda: trainer.train(n_batches=s["gradient_steps"], progress_bar=False))
    return trainer.policy, wall, cpu, {"gradient_steps": s["gradient_steps"]}


def imitation_dagger(method: str, s: dict[str, Any], paths: dict[str, str], seed: int, folder: Path,
                     logger: Any) -> tuple[Any, float, float, dict]:
    """DAgger through ``SimpleDAggerTrainer.train`` with the rebuilt expert; the policy, times and counts."""
    from imitation.algorithms.dagger import ExponentialBetaSchedule, SimpleDAggerTrainer
    from imitation.data import serialize
    from imitation.util.util import make_vec_env

    rng = np.random.default_rng(seed)
    venv = make_vec_env(ENV_ID, rng=rng, n_envs=s["n_envs"])
    expert, agreement = imitation_expert(paths["expert_weights"], venv)
    if agreement < 0.99:
        raise RuntimeError(f"the rebuilt expert agrees with porcini's on {agreement:.1%} of the demonstrated states")
    trainer = SimpleDAggerTrainer(venv=venv, scratch_dir=folder / "dagger", expert_policy=expert, rng=rng,
                                  expert_trajs=imitation_trajectories(read_flat(paths["demos"])),
                                  beta_schedule=ExponentialBetaSchedule(s["beta_decay"]),
                                  bc_trainer=imitation_bc(s, venv, rng, logger), custom_logger=logger)
    train_kwargs = {"n_batches": s["updates_per_round"], "progress_bar": False, "log_rollouts_venv": None}
    wall, cpu = timed(lambda: trainer.train(s["env_steps"], rollout_round_min_episodes=1,
                                            rollout_round_min_timesteps=s["round_steps"],
                                            bc_train_kwargs=train_kwargs))
    labelled = sorted((folder / "dagger" / "demos").glob("round-*/dagger-demo-*.npz"))  # not the initial demos
    labels = sum(len(t) for p in labelled for t in serialize.load(p))
    return trainer.policy, wall, cpu, {"rounds": trainer.round_num, "expert_labels": labels,
                                       "gradient_steps": trainer.round_num * s["updates_per_round"],
                                       "expert_agreement": agreement}


class RunSchedule:
    """An SB3 schedule decaying linearly to 0 over the run's env steps, read from the learner's step count.

    imitation's adversarial trainers call ``learn`` once per round, and SB3 computes its progress per call.
    """

    def __init__(self, initial: float, total_steps: int) -> None:
        """Start at ``initial``; reach 0 after ``total_steps`` env steps (the learner is set as ``model`` later)."""
        self.initial, self.total_steps, self.model = initial, total_steps, None

    def __call__(self, _progress_remaining: float) -> float:
        """The value at the learner's current env step (its initial value before the learner exists)."""
        steps = 0 if self.model is None else self.model.num_timesteps
        return self.initial * max(0.0, 1.0 - steps / self.total_steps)


def sb3_ppo(s: dict[str, Any], venv: Any, seed: int) -> Any:
    """SB3's PPO with :data:`SETTINGS`' PPO (porcini's config of record), schedules over the run's env steps."""
    from stable_baselines3 import PPO
    from torch import nn

    lr, clip = RunSchedule(s["learning_rate"], s["env_steps"]), RunSchedule(s["clip_range"], s["env_steps"])
    activation = {"relu": nn.ReLU, "tanh": nn.Tanh}
    learner = PPO("MlpPolicy", venv, learning_rate=lr, clip_range=clip, seed=seed, device="cpu", verbose=0,
                  **{k: s[k] for k in ("n_steps", "batch_size", "n_epochs", "gae_lambda", "gamma", "ent_coef",
                                       "vf_coef", "max_grad_norm")},
                  policy_kwargs={"net_arch": {"pi": s["net_arch"], "vf": s["net_arch"]}, "ortho_init": s["ortho_init"],
                                 "activation_fn": activation[s["activation"]],
                                 "optimizer_kwargs": {"eps": s["adam_eps"]}})
    lr.model = clip.model = learner
    return learner


def imitation_reward_net(method: str, s: dict[str, Any], venv: Any, activation: str) -> Any:
    """The reward net of ``METHODS[method]`` (a class of imitation.rewards.reward_nets) with its arguments."""
    from imitation.rewards import reward_nets
    from torch import nn

    entry = METHODS[method]
    assert entry.reward_net_kwargs is not None
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.reward_net_kwargs(s).items()}
    return getattr(reward_nets, entry.reward_net)(venv.observation_space, venv.action_space,
                                                  activation={"relu": nn.ReLU, "tanh": nn.Tanh}[activation], **kwargs)


def imitation_adversarial(method: str, s: dict[str, Any], paths: dict[str, str], seed: int, folder: Path,
                          logger: Any) -> tuple[Any, float, float, dict]:
    """GAIL (or another adversarial trainer of ``METHODS``) on SB3's PPO; the policy, times and counts."""
    import importlib

    from imitation.util.util import make_vec_env

    entry = METHODS[method]
    venv = make_vec_env(ENV_ID, rng=np.random.default_rng(seed), n_envs=s["n_envs"])
    learner = sb3_ppo(s, venv, seed)
    reward_net = imitation_reward_net(method, s, venv, s["discriminator_activation"])
    replay = s.get("discriminator_replay", 0)
    module, name = entry.peer.split(":")
    trainer = getattr(importlib.import_module(module), name)(
        demonstrations=imitation_trajectories(read_flat(paths["demos"])), venv=venv, gen_algo=learner,
        demo_batch_size=s["discriminator_batch_size"], reward_net=reward_net, custom_logger=logger,
        n_disc_updates_per_round=s["discriminator_epochs"] * (2 if replay else 1),  # porcini: rollout + replayed
        gen_replay_buffer_capacity=replay or None, disc_opt_kwargs={"lr": s["discriminator_learning_rate"]},
        allow_variable_horizon=True, log_dir=folder)
    wall, cpu = timed(lambda: trainer.train(s["env_steps"]))
    return learner.policy, wall, cpu, {"env_steps": learner.num_timesteps,
                                       "rounds": learner.num_timesteps // (s["n_envs"] * s["n_steps"])}


def peer_schedule(s: dict[str, Any]) -> dict[str, Any]:
    """``PreferenceComparisons`` arguments giving porcini's ``query_rounds`` equal rounds and ``env_steps`` of PPO.

    imitation asks ``initial_comparison_frac`` of the pairs first, then the rest over ``num_iterations`` rounds,
    and trains the agent ``total_timesteps // num_iterations`` steps after each of these ``num_iterations + 1``
    rounds: ``query_rounds - 1`` iterations of ``env_steps / query_rounds`` steps each. ``transition_oversampling``
    makes each round's trajectories as long as porcini's segment pool.
    """
    rounds, pairs = s["query_rounds"], s["preference_pairs"]
    if pairs % rounds or s["env_steps"] % rounds:
        raise ValueError("preferences: preference_pairs and env_steps must split into query_rounds equal rounds")
    per_round = pairs // rounds
    return {"num_iterations": rounds - 1, "total_timesteps": s["env_steps"] // rounds * (rounds - 1),
            "total_comparisons": pairs, "initial_comparison_frac": (per_round + 0.5) / pairs,  # int() keeps per_round
            "transition_oversampling": s["segment_pool"] / (2 * per_round)}


def imitation_gatherer(s: dict[str, Any], rng: np.random.Generator, logger: Any) -> Any:
    """imitation's ``SyntheticGatherer`` with porcini's oracle: ``oracle_error_rate`` of its answers coin flips."""
    from imitation.algorithms.preference_comparisons import SyntheticGatherer

    class NoisyGatherer(SyntheticGatherer):
        """A ``SyntheticGatherer`` answering at random ``error_rate`` of the time (1.0.1 has no such setting)."""

        error_rate = float(s["oracle_error_rate"])

        def __call__(self, fragment_pairs: Any) -> np.ndarray:
            """The synthetic answers, each replaced by 0 or 1 at random with chance ``error_rate``."""
            answers = np.array(super().__call__(fragment_pairs), dtype=np.float32)
            wrong = self.rng.random(len(answers)) < self.error_rate
            answers[wrong] = self.rng.integers(0, 2, size=int(wrong.sum()))
            return answers

    return NoisyGatherer(temperature=s["oracle_temperature"], discount_factor=1.0, rng=rng, custom_logger=logger)


def imitation_preferences(method: str, s: dict[str, Any], paths: dict[str, str], seed: int, folder: Path,
                          logger: Any) -> tuple[Any, float, float, dict]:
    """Preference comparisons through ``PreferenceComparisons.train`` on SB3's PPO; the policy, times and counts."""
    from imitation.algorithms import preference_comparisons as pc
    from imitation.util.util import make_vec_env

    rng = np.random.default_rng(seed)
    venv = make_vec_env(ENV_ID, rng=rng, n_envs=s["n_envs"])
    learner = sb3_ppo(s, venv, seed)
    reward_net = imitation_reward_net(method, s, venv, s["reward_activation"])
    reward_trainer = pc.BasicRewardTrainer(pc.PreferenceModel(reward_net), pc.CrossEntropyRewardLoss(), rng=rng,
                                           batch_size=s["reward_batch_size"], epochs=s["reward_epochs"],
                                           lr=s["reward_learning_rate"], custom_logger=logger)
    for group in reward_trainer.optim.param_groups:  # AdamW without weight decay: porcini's Adam
        group["weight_decay"] = 0.0
    schedule = peer_schedule(s)
    trainer = pc.PreferenceComparisons(
        pc.AgentTrainer(learner, reward_net, venv, rng=rng, custom_logger=logger), reward_net,
        num_iterations=schedule["num_iterations"], fragmenter=pc.RandomFragmenter(rng=rng, custom_logger=logger),
        preference_gatherer=imitation_gatherer(s, rng, logger), reward_trainer=reward_trainer,
        fragment_length=s["segment_length"], transition_oversampling=schedule["transition_oversampling"],
        initial_comparison_frac=schedule["initial_comparison_frac"], initial_epoch_multiplier=1.0,
        custom_logger=logger, allow_variable_horizon=True, query_schedule="constant")
    stopped: list[str] = []

    def train() -> None:
        """``trainer.train``; a round that finds no episode of ``segment_length`` steps stops it (recorded)."""
        try:
            trainer.train(schedule["total_timesteps"], schedule["total_comparisons"])
        except ValueError as error:  # RandomFragmenter: every sampled episode is shorter than a fragment
            if "long enough" not in str(error):
                raise
            stopped.append(f"round {trainer._iteration + 1}: {error}")

    wall, cpu = timed(train)
    answers = np.asarray(trainer.dataset.preferences)
    counts = {"env_steps": learner.num_timesteps, "env_steps_all": int(sum(venv.env_method("get_total_steps"))),
              "rounds": learner.num_timesteps // (s["n_envs"] * s["n_steps"]), "query_rounds": trainer._iteration,
              "pairs": len(trainer.dataset), "tie_share": round(float(np.mean(answers == 0.5)), 3)}
    return learner.policy, wall, cpu, {**counts, **({"stopped": stopped[0]} if stopped else {})}


def run_imitation(method: str, paths: dict[str, str], eval_episodes: int, seed: int) -> dict[str, Any]:
    """Train ``method`` with imitation (in its venv); time the training; score the policy."""
    import common
    import imitation
    import torch
    from imitation.util import logger as imitation_logger

    torch.manual_seed(seed)
    runner = globals()[f"imitation_{METHODS[method].kind}"]
    with tempfile.TemporaryDirectory(prefix="vs-imitation-peer-") as scratch:
        logger = imitation_logger.configure(scratch, format_strs=[])  # records nowhere, as porcini's progress=False
        policy, wall, cpu, counts = runner(method, SETTINGS[method], paths, seed, Path(scratch), logger)

    def act(obs: np.ndarray) -> np.ndarray:
        """The trained policy's deterministic action for one observation."""
        return policy.predict(obs, deterministic=True)[0]

    with torch.inference_mode():
        returns = common.evaluate(act, ENV_ID, eval_episodes, EVAL_SEED)
    return _record("imitation", imitation.__version__, method, seed, wall, cpu, returns, eval_episodes, counts)


# ---------------------------------------------------------------------------------------------- the driver
def ensure_venv(venv: Path) -> Path:
    """imitation's virtual environment (made once, ``venvs.ensure_venv``): torch first, then imitation."""
    import venvs

    return venvs.ensure_venv(venv, f"imitation-{IMITATION_VERSION}", [[f"imitation=={IMITATION_VERSION}"]])


def run_side(python: str, lib: str, method: str, paths: dict[str, str], args: argparse.Namespace, seed: int,
             flush_denormals: bool = False) -> dict[str, Any]:
    """Run one library on one method and seed in a fresh subprocess of ``python``; its JSON record."""
    code = (
        f"import sys, json, torch; sys.path.insert(0, {str(HERE)!r}); torch.set_num_threads({args.threads}); "
        f"torch.set_flush_denormal({flush_denormals}); import vs_imitation as b; "
        f"print(json.dumps(b.run_{lib}({method!r}, {paths!r}, {args.eval_episodes}, {seed})))"
    )
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "TQDM_DISABLE": "1"}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{lib} {method} seed {seed} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """One line per method and seed: returns, times and speed ratios; then the goals per line (reported only)."""
    head = (f"{'method':7} {'seed':>4} | {'porcini return':>15} {'imitation return':>16} | {'porcini s':>9} "
            f"{'imitation s':>11} {'ratio':>6} | {'porcini CPU s':>13} {'imitation CPU s':>15} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for ours, peer in rows:
        returns = [f"{r['eval_return_mean']:.1f} ± {r['eval_return_std']:.1f}" for r in (ours, peer)]
        print(f"{ours['method']:7} {ours['seed']:>4} | {returns[0]:>15} {returns[1]:>16} | "
              f"{ours['train_wall_s']:>9.2f} {peer['train_wall_s']:>11.2f} "
              f"{peer['train_wall_s'] / ours['train_wall_s']:>6.2f} | {ours['train_cpu_s']:>13.2f} "
              f"{peer['train_cpu_s']:>15.2f} {peer['train_cpu_s'] / ours['train_cpu_s']:>6.2f}")
    for ours, peer in rows:
        keys = ("rounds", "expert_labels", "env_steps", "env_steps_all", "query_rounds", "pairs", "tie_share",
                "stopped")
        counts = {k: (ours.get(k), peer.get(k)) for k in keys if k in ours or k in peer}
        print(f"{ours['method']} seed {ours['seed']}: return porcini >= imitation: "
              f"{ours['eval_return_mean'] >= peer['eval_return_mean']}; wall-time speed >= 2x: "
              f"{peer['train_wall_s'] >= 2 * ours['train_wall_s']}; (porcini, imitation) {counts}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated, from " + ", ".join(METHODS))
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--venv", type=Path, default=HERE / ".venvs" / f"imitation-{IMITATION_VERSION}")
    parser.add_argument("--peer-flush-denormals", action="store_true",
                        help="run imitation with subnormals flushed to zero too (porcini's CPU mode while fitting)")
    parser.add_argument("--json", action="store_true", help="print all records as one JSON object, last line")
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown or not args.methods:
        parser.error(f"--methods: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(METHODS)}")
    if args.eval_episodes < 1 or args.threads < 1:
        parser.error("--eval-episodes and --threads must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    """Make imitation's venv, the expert and its demonstrations, run both libraries per method and seed."""
    args = parse_args(argv)
    python = str(ensure_venv(args.venv))
    with tempfile.TemporaryDirectory(prefix="vs-imitation-") as folder:
        prepared: dict[str, Any] = {}
        paths: dict[str, str] = {}
        if any(METHODS[method].kind != "preferences" for method in args.methods):  # preferences need no expert
            start = time.perf_counter()
            prepared = prepare(Path(folder))
            paths = {k: prepared[k] for k in ("expert_run", "demos", "expert_weights")}
            print(f"expert: porcini PPO, config of record on {ENV_ID} ({time.perf_counter() - start:.0f} s), "
                  f"evaluation return {prepared['expert_eval_return']:.1f}; demonstrations: {prepared['demos_stats']}")
        print(f"{args.threads} torch thread(s), final evaluation over {args.eval_episodes} episode(s) from env seed "
              f"{EVAL_SEED}")
        for method in args.methods:
            print(f"{method} settings (both libraries): {json.dumps(SETTINGS[method])}")
        for note in SETTINGS_NOTES + IMPLEMENTATION_NOTES:
            print(f"note: {note}")
        rows = []
        for method in args.methods:
            for seed in args.seeds:
                ours = run_side(sys.executable, "porcini", method, paths, args, seed)
                peer = run_side(python, "imitation", method, paths, args, seed, args.peer_flush_denormals)
                rows.append((ours, peer))
                print(json.dumps({"porcini": ours, "imitation": peer}), file=sys.stderr)
    print_table(rows)
    if args.json:
        print(json.dumps({"expert": {k: prepared[k] for k in ("expert_eval_return", "demos_stats") if k in prepared},
                          "settings": {m: SETTINGS[m] for m in args.methods},
                          "runs": [{"porcini": o, "imitation": p} for o, p in rows]}))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()

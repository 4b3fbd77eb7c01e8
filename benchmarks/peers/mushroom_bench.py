"""MushroomRL's side of ``benchmarks/vs_peers.py``: PPO, DQN or SAC with the task's settings (MushroomRL 1.10.2).

Written as MushroomRL's docs and examples build agents: torch ``nn.Module`` networks taking
``(input_shape, output_shape, n_features)``, ``TorchApproximator`` parameters, the algorithm class and a
``Core(agent, mdp).learn(n_steps=..., n_steps_per_fit=...)`` timed alone (``quiet=True``). MushroomRL 1.10.2
wraps only the old ``gym`` package, so :class:`GymnasiumEnv` is a plain ``Environment`` around ``gymnasium.make``
(termination is MushroomRL's ``absorbing``; its ``horizon`` is the env's time limit, as in its ``Gym`` class).

How the task's settings map (see ``settings.TASKS``):

* PPO: ``BoltzmannTorchPolicy`` (beta 1: a categorical on the logits) on a 64-64 tanh network and a 64-64 tanh
  value network, SB3's orthogonal init; Adam (eps 1e-5) for each; 256 steps per fit; 20 policy epochs of one
  minibatch of 256 and 20 critic epochs of one minibatch of 256 (``critic_fit_params``); the clip range a
  ``LinearParameter`` from 0.2 to 0 over the run's gradient steps; both learning rates set linearly to 0 by a
  fit callback (SB3's schedule: the value at the progress after the rollout).
* DQN: a 256-256 ReLU Q network, Huber loss (``F.smooth_l1_loss``), ``EpsGreedy`` with a ``LinearParameter`` ε
  from 1 to 0.04 over the first 16% of the run; ``initial_replay_size`` 1000; ``n_steps_per_fit=256``.
  MushroomRL's ``DQN.fit`` makes one gradient step per call, so :class:`RolloutDQN` makes 128 per fit and
  copies the target network at the start of each (what SB3's copy every 10 env steps between fits amounts to).
* SAC: 256-256 ReLU actor and twin critics, Adam 1e-3 for all and for the temperature, tau 0.005, fits from the
  101st step (``initial_replay_size`` and ``warmup_transitions`` 100), one gradient step per env step.

Deliberate differences (MushroomRL's design, not settings): one env instead of PPO's 8 (MushroomRL's ``Core``
steps one env; the rollout is 256 steps of it, the same samples and gradient steps); PPO's critic and actor are
two optimizers with two backward passes per minibatch (SB3 sums the losses: one), no gradient clipping (PPO's 0.5,
DQN's 10) and no value-loss coefficient; MushroomRL's SAC actor is two networks, one for the mean and one for the
log-std (SB3, Tianshou and porcini: one trunk with two heads), two trunks to run where the others run one;
SAC acts with its policy from the first step (SB3 takes 100 uniform random actions first).

usage: python benchmarks/peers/mushroom_bench.py TASK --seed S [--steps N] [--eval-episodes E] [--threads T]
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import harness
import numpy as np
import torch
from mushroom_rl.core import Environment, MDPInfo
from mushroom_rl.utils.spaces import Box, Discrete
from torch import nn
from torch.nn import functional as F


class GymnasiumEnv(Environment):
    """A Gymnasium env as a MushroomRL ``Environment``: termination is ``absorbing``, the time limit the horizon."""

    def __init__(self, env_id: str, gamma: float, seed: int) -> None:
        """``gym.make(env_id)``, reset with ``seed`` the first time."""
        self.env = gym.make(env_id)
        space, actions = self.env.observation_space, self.env.action_space
        self._discrete = isinstance(actions, gym.spaces.Discrete)
        action_space = Discrete(int(actions.n)) if self._discrete else Box(actions.low, actions.high)
        self._seed: int | None = seed
        super().__init__(MDPInfo(Box(space.low, space.high), action_space, gamma, self.env.spec.max_episode_steps))

    def reset(self, state: Any = None) -> np.ndarray:
        """A new episode's first observation."""
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return obs

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, dict]:
        """One env step: next observation, reward, absorbing (= terminated), info."""
        obs, reward, terminated, _, _ = self.env.step(int(action[0]) if self._discrete else action)
        return obs, float(reward), bool(terminated), {}


class MLP(nn.Module):
    """Two hidden layers of ``n_features`` units; ``action`` (optional) picks Q(s, a) or is concatenated (SAC)."""

    def __init__(self, input_shape: tuple, output_shape: tuple, n_features: int, activation: str = "relu",
                 concat_action: bool = False, **kwargs: Any) -> None:
        super().__init__()
        self.act = torch.tanh if activation == "tanh" else F.relu
        self.concat_action = concat_action
        self.h1 = nn.Linear(input_shape[-1], n_features)
        self.h2 = nn.Linear(n_features, n_features)
        self.out = nn.Linear(n_features, output_shape[0])

    def forward(self, state: torch.Tensor, action: torch.Tensor | None = None) -> torch.Tensor:
        """The output for a batch of states (and actions)."""
        x = state.float()
        if self.concat_action:
            x = torch.cat((x, action.float()), dim=1)
        y = self.out(self.act(self.h2(self.act(self.h1(x)))))
        if self.concat_action:
            return torch.squeeze(y)
        if action is not None:  # DQN: Q of the taken action
            return torch.squeeze(y.gather(1, action.long()))
        return y

    def orthogonal(self, last_gain: float) -> MLP:
        """SB3's PPO init: orthogonal, gain sqrt 2 in the trunk, ``last_gain`` on the output; zero biases."""
        for layer, gain in ((self.h1, math.sqrt(2)), (self.h2, math.sqrt(2)), (self.out, last_gain)):
            nn.init.orthogonal_(layer.weight, gain=gain)
            nn.init.zeros_(layer.bias)
        return self


def ppo(args: Any, mdp: GymnasiumEnv) -> tuple[Any, Any, Any]:
    """PPO: the agent, the Core's fit callbacks and its greedy action."""
    from mushroom_rl.algorithms.actor_critic import PPO
    from mushroom_rl.policy import BoltzmannTorchPolicy
    from mushroom_rl.utils.parameters import LinearParameter

    s, rollout = args.settings, harness.rollout(args)
    obs_shape, n_actions = mdp.info.observation_space.shape, mdp.info.action_space.n
    net = {"n_features": s["net_arch"][0], "activation": s["activation"]}
    policy = BoltzmannTorchPolicy(MLP, obs_shape, (n_actions,), beta=1.0, **net)
    policy._logits.model.network.orthogonal(0.01)
    adam = {"class": torch.optim.Adam, "params": {"lr": s["learning_rate"], "eps": s["adam_eps"]}}
    critic = {"network": MLP, "optimizer": adam, "loss": F.mse_loss, "batch_size": s["batch_size"],
              "input_shape": obs_shape, "output_shape": (1,), **net}
    fits = args.steps // rollout
    agent = PPO(mdp.info, policy, actor_optimizer=adam, critic_params=critic, n_epochs_policy=s["n_epochs"],
                batch_size=s["batch_size"], eps_ppo=LinearParameter(s["clip_range"], 0.0, fits * s["n_epochs"]),
                lam=s["gae_lambda"], ent_coeff=s["ent_coef"], critic_fit_params={"n_epochs": s["n_epochs"]})
    agent._V.model.network.orthogonal(1.0)
    optimizers = [agent._optimizer, agent._V.model._optimizer]
    done = [0]

    def learning_rate(dataset: Any = None) -> None:
        """SB3's linear rate: its value at the progress after the next rollout."""
        done[0] += 1 if dataset is not None else 0  # called after each fit, and once before the first
        progress = (done[0] + 1) * rollout / args.steps
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = harness.linear(s["learning_rate"], progress)

    learning_rate()

    def act(obs: np.ndarray) -> int:
        """The most likely action."""
        return int(np.argmax(policy._logits.predict(obs[None])))

    return agent, [learning_rate], act


def rollout_dqn(gradient_steps: int) -> Any:
    """MushroomRL's DQN with ``gradient_steps`` gradient steps per fit and the target copied at each fit's start."""
    from mushroom_rl.algorithms.value import DQN

    class RolloutDQN(DQN):
        """DQN fitting ``gradient_steps`` minibatches per call (SB3's ``train_freq`` and ``gradient_steps``)."""

        def fit(self, dataset: Any, **info: Any) -> None:
            """Store the rollout; once the memory holds ``initial_replay_size``, make the gradient steps."""
            self._replay_memory.add(dataset)
            if not self._replay_memory.initialized:
                return
            self._update_target()
            for _ in range(gradient_steps):
                state, action, reward, next_state, absorbing, _ = self._replay_memory.get(self._batch_size())
                q = reward + self.mdp_info.gamma * self._next_q(next_state, absorbing)
                self.approximator.fit(state, action, q, **self._fit_params)

    return RolloutDQN


def dqn(args: Any, mdp: GymnasiumEnv) -> tuple[Any, Any, Any]:
    """DQN: the agent, the Core's fit callbacks (none) and its greedy action."""
    from mushroom_rl.approximators.parametric import TorchApproximator
    from mushroom_rl.policy import EpsGreedy
    from mushroom_rl.utils.parameters import LinearParameter

    s = args.settings
    decay = int(s["exploration_fraction"] * args.steps)
    policy = EpsGreedy(epsilon=LinearParameter(s["exploration_initial_eps"], s["exploration_final_eps"], decay))
    q = {"network": MLP, "optimizer": {"class": torch.optim.Adam, "params": {"lr": s["learning_rate"]}},
         "loss": F.smooth_l1_loss, "input_shape": mdp.info.observation_space.shape,
         "output_shape": (mdp.info.action_space.n,), "n_actions": mdp.info.action_space.n,
         "n_features": s["net_arch"][0], "activation": s["activation"]}
    agent = rollout_dqn(s["gradient_steps"])(
        mdp.info, policy, TorchApproximator, approximator_params=q, batch_size=s["batch_size"],
        target_update_frequency=1, initial_replay_size=s["learning_starts"], max_replay_size=s["buffer_size"])

    def act(obs: np.ndarray) -> int:
        """The greedy action."""
        return int(np.argmax(agent.approximator.predict(obs[None])))

    return agent, [], act


def sac(args: Any, mdp: GymnasiumEnv) -> tuple[Any, Any, Any]:
    """SAC: the agent, the Core's fit callbacks (none) and its mean action."""
    from mushroom_rl.algorithms.actor_critic import SAC

    s = args.settings
    obs_shape, action_shape = mdp.info.observation_space.shape, mdp.info.action_space.shape
    adam = {"class": torch.optim.Adam, "params": {"lr": s["learning_rate"]}}
    actor = {"network": MLP, "n_features": s["net_arch"][0], "input_shape": obs_shape, "output_shape": action_shape}
    critic = {"network": MLP, "optimizer": adam, "loss": F.mse_loss, "n_features": s["net_arch"][0],
              "input_shape": (obs_shape[0] + action_shape[0],), "output_shape": (1,), "concat_action": True,
              "n_models": s["n_critics"]}
    agent = SAC(mdp.info, actor, dict(actor), adam, critic, batch_size=s["batch_size"],
                initial_replay_size=s["learning_starts"], max_replay_size=s["buffer_size"],
                warmup_transitions=s["learning_starts"], tau=s["tau"], lr_alpha=s["learning_rate"])
    low, high = mdp.info.action_space.low, mdp.info.action_space.high

    def act(obs: np.ndarray) -> np.ndarray:
        """The mean action, squashed into the action space."""
        mean = agent.policy._mu_approximator.predict(obs[None])[0]
        return (np.tanh(mean) * (high - low) / 2 + (high + low) / 2).astype(np.float32)

    return agent, [], act


def main() -> None:
    """Train, time and score one run; print its JSON record."""
    import mushroom_rl
    from mushroom_rl.core import Core

    args = harness.parse_args()
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    mdp = GymnasiumEnv(args.env_id, args.settings["gamma"], args.seed)
    agent, callbacks, act = {"ppo": ppo, "dqn": dqn, "sac": sac}[harness.TASKS[args.task]["algo"]](args, mdp)
    core = Core(agent, mdp, callbacks_fit=callbacks)
    wall, cpu = harness.timed(lambda: core.learn(n_steps=args.steps, n_steps_per_fit=harness.rollout(args),
                                                 quiet=True))
    harness.emit(harness.record("mushroom", mushroom_rl.__version__, args, core._total_steps_counter, wall, cpu,
                                act))


if __name__ == "__main__":
    main()

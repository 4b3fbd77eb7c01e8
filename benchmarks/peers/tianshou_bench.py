"""Tianshou's side of ``benchmarks/vs_peers.py``: PPO, DQN or SAC with the task's settings (Tianshou 2.0.1).

Written after Tianshou 2.0.1's own examples (``test/discrete/test_ppo_discrete.py``, ``test/discrete/test_dqn.py``,
``examples/mujoco/mujoco_sac.py``): ``DummyVectorEnv`` of ``gym.make`` envs, ``Net`` trunks, an algorithm
(``PPO``, ``DQN``, ``SAC``), a ``Collector`` and ``algorithm.run_training`` with one epoch of the run's env steps,
no test collector (no evaluation inside the timed call), no logger, no progress bar. What the timed call
covers: the random warm-up collection of the off-policy tasks (SB3 takes those steps inside ``learn`` too) and
``run_training``.

How the task's settings map (see ``settings.TASKS``):

* PPO: separate actor and critic ``Net``s, 64-64 tanh, SB3's orthogonal init (gain sqrt 2, 0.01 on the policy
  output, 1 on the value output); one Adam (eps 1e-5) over both with ``LRSchedulerFactoryLinear`` (the rate falls
  linearly per update); ``eps_clip`` set before each collection by ``training_fn`` to 0.2 (1 - progress after it),
  SB3's schedule; 256 env steps per collection (8 envs x 32), ``update_step_num_repetitions=20`` epochs of one
  minibatch of 256, per-minibatch advantage normalization, no value clipping, gradient norm clipped at 0.5.
* DQN: a 256-256 ReLU ``Net``, ``is_double=False`` (Tianshou's default is double DQN), Huber loss
  (``huber_loss_delta=1``); ``target_update_freq=128`` gradient steps, i.e. the target copied at the start of
  each fit, as SB3's copy every 10 env steps between fits amounts to; 768 random steps first (3 rollouts), then
  collections of 256 steps each followed by 128 gradient steps (``update_step_num_gradient_steps_per_sample``
  0.5): the same 193 fits at the same env steps as SB3 in 50,176 steps; ε falls linearly from 1 to 0.04 over
  the first 16% of the run (``training_fn``).
* SAC: actor ``Net`` 256-256 with mean and state-conditioned log-std heads, two 256-256 critics
  (``concat=True``), ``AutoAlpha`` with target entropy -dim(A), Adam 1e-3 for all, tau 0.005; 100 random steps
  first, then one env step and one gradient step at a time.

Deliberate differences (what Tianshou does not offer as a setting): DQN has no gradient-norm clipping (SB3 and
porcini clip at 10, which seldom binds here); DQN's first collection after the 768 random steps acts
ε-greedily (ε ≈ 0.92) where SB3 acts at random up to step 1000; SAC's two critics have one Adam each (SB3 one
for both). Its off-policy trainer draws a tqdm bar over each fit's gradient steps even with
``show_progress=False`` (``OffPolicyTrainer`` disables it only below 20 steps; ``TQDM_DISABLE`` does not reach
it): its cost is in the timed call, as it is for Tianshou's users.

usage: python benchmarks/peers/tianshou_bench.py TASK --seed S [--steps N] [--eval-episodes E] [--threads T]
"""

from __future__ import annotations

import math
from typing import Any

import harness


def _orthogonal(actor: Any, critic: Any) -> None:
    """SB3's PPO init: orthogonal weights, gain sqrt 2 in the trunks, 0.01 on the policy output, 1 on the value."""
    import torch

    for module, last_gain in ((actor, 0.01), (critic, 1.0)):
        linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
        for i, layer in enumerate(linears):
            torch.nn.init.orthogonal_(layer.weight, gain=last_gain if i == len(linears) - 1 else math.sqrt(2))
            torch.nn.init.zeros_(layer.bias)


def ppo(args: Any, env: Any, envs: Any) -> tuple[Any, Any, Any]:
    """PPO: its random warm-up steps (none), the policy and the function that trains (timed)."""
    import torch
    from tianshou.algorithm import PPO
    from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory, LRSchedulerFactoryLinear
    from tianshou.data import Collector, CollectStats, VectorReplayBuffer
    from tianshou.trainer import OnPolicyTrainerParams
    from tianshou.utils.net.common import Net
    from tianshou.utils.net.discrete import DiscreteActor, DiscreteCritic

    s = args.settings
    obs_shape, n_actions, rollout = env.observation_space.shape, int(env.action_space.n), harness.rollout(args)

    def trunk() -> Any:
        """A 64-64 tanh MLP."""
        return Net(state_shape=obs_shape, hidden_sizes=s["net_arch"], activation=torch.nn.Tanh)

    actor = DiscreteActor(preprocess_net=trunk(), action_shape=n_actions, softmax_output=False)
    critic = DiscreteCritic(preprocess_net=trunk())
    _orthogonal(actor, critic)
    optim = AdamOptimizerFactory(lr=s["learning_rate"], eps=s["adam_eps"]).with_lr_scheduler_factory(
        LRSchedulerFactoryLinear(max_epochs=1, epoch_num_steps=args.steps, collection_step_num_env_steps=rollout))
    policy = DiscreteActorPolicy(actor=actor, dist_fn=lambda logits: torch.distributions.Categorical(logits=logits),
                                 action_space=env.action_space, deterministic_eval=True)
    algorithm = PPO(policy=policy, critic=critic, optim=optim, eps_clip=s["clip_range"], vf_coef=s["vf_coef"],
                    ent_coef=s["ent_coef"], max_grad_norm=s["max_grad_norm"], gae_lambda=s["gae_lambda"],
                    gamma=s["gamma"], advantage_normalization=s["normalize_advantage"], value_clip=False)
    collector = Collector[CollectStats](algorithm, envs, VectorReplayBuffer(rollout, len(envs)))

    def clip_schedule(epoch: int, env_step: int) -> None:
        """SB3's linear clip range: its value at the progress after this collection."""
        algorithm.eps_clip = harness.linear(s["clip_range"], (env_step + rollout) / args.steps)

    params = OnPolicyTrainerParams(
        training_collector=collector, test_collector=None, max_epochs=1, epoch_num_steps=args.steps,
        collection_step_num_env_steps=rollout, update_step_num_repetitions=s["n_epochs"], batch_size=s["batch_size"],
        training_fn=clip_schedule, verbose=False, show_progress=False)
    return 0, policy, lambda: algorithm.run_training(params)


def dqn(args: Any, env: Any, envs: Any) -> tuple[Any, Any, Any]:
    """DQN: its random warm-up steps, the policy and the function that trains (timed)."""
    from tianshou.algorithm import DQN
    from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Collector, CollectStats, VectorReplayBuffer
    from tianshou.trainer import OffPolicyTrainerParams
    from tianshou.utils.net.common import Net

    s = args.settings
    rollout = harness.rollout(args)
    net = Net(state_shape=env.observation_space.shape, action_shape=int(env.action_space.n),
              hidden_sizes=s["net_arch"])
    policy = DiscreteQLearningPolicy(model=net, action_space=env.action_space,
                                     observation_space=env.observation_space,
                                     eps_training=s["exploration_initial_eps"], eps_inference=0.0)
    algorithm = DQN(policy=policy, optim=AdamOptimizerFactory(lr=s["learning_rate"]), gamma=s["gamma"],
                    n_step_return_horizon=1, target_update_freq=s["gradient_steps"], is_double=s["double_q"],
                    huber_loss_delta=1.0)
    collector = Collector[CollectStats](algorithm, envs, VectorReplayBuffer(s["buffer_size"], len(envs)),
                                        exploration_noise=True)
    warmup = (s["learning_starts"] // rollout) * rollout  # whole rollouts of random actions, no fit after them
    decay = s["exploration_fraction"] * args.steps

    def epsilon(epoch: int, env_step: int) -> None:
        """ε falls linearly from its initial to its final value over exploration_fraction of the run."""
        start, end = s["exploration_initial_eps"], s["exploration_final_eps"]
        policy.set_eps_training(start + (end - start) * min(1.0, (warmup + env_step) / decay))

    params = OffPolicyTrainerParams(
        training_collector=collector, test_collector=None, max_epochs=1, epoch_num_steps=args.steps - warmup,
        collection_step_num_env_steps=rollout, batch_size=s["batch_size"],
        update_step_num_gradient_steps_per_sample=s["gradient_steps"] / rollout, training_fn=epsilon,
        verbose=False, show_progress=False)

    def train() -> Any:
        """The random warm-up steps, then the trainer."""
        collector.reset()
        if warmup:
            collector.collect(n_step=warmup, random=True)
        return algorithm.run_training(params)

    return warmup, policy, train


def sac(args: Any, env: Any, envs: Any) -> tuple[Any, Any, Any]:
    """SAC: its random warm-up steps, the policy and the function that trains (timed)."""
    import numpy as np
    from tianshou.algorithm import SAC
    from tianshou.algorithm.modelfree.sac import AutoAlpha, SACPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import Collector, CollectStats, VectorReplayBuffer
    from tianshou.trainer import OffPolicyTrainerParams
    from tianshou.utils.net.common import Net
    from tianshou.utils.net.continuous import ContinuousActorProbabilistic, ContinuousCritic

    s = args.settings
    obs_shape, action_shape = env.observation_space.shape, env.action_space.shape
    actor = ContinuousActorProbabilistic(preprocess_net=Net(state_shape=obs_shape, hidden_sizes=s["net_arch"]),
                                         action_shape=action_shape, unbounded=True, conditioned_sigma=True)

    def critic() -> Any:
        """A 256-256 ReLU Q(s, a)."""
        return ContinuousCritic(preprocess_net=Net(state_shape=obs_shape, action_shape=action_shape,
                                                   hidden_sizes=s["net_arch"], concat=True))

    lr = s["learning_rate"]
    alpha = AutoAlpha(float(-np.prod(action_shape)), 0.0, AdamOptimizerFactory(lr=lr))
    policy = SACPolicy(actor=actor, action_space=env.action_space)
    algorithm = SAC(policy=policy, policy_optim=AdamOptimizerFactory(lr=lr), critic=critic(),
                    critic_optim=AdamOptimizerFactory(lr=lr), critic2=critic(),
                    critic2_optim=AdamOptimizerFactory(lr=lr),
                    tau=s["tau"], gamma=s["gamma"], alpha=alpha, n_step_return_horizon=1)
    collector = Collector[CollectStats](algorithm, envs, VectorReplayBuffer(s["buffer_size"], len(envs)),
                                        exploration_noise=True)
    warmup = s["learning_starts"]
    params = OffPolicyTrainerParams(
        training_collector=collector, test_collector=None, max_epochs=1, epoch_num_steps=args.steps - warmup,
        collection_step_num_env_steps=1, batch_size=s["batch_size"],
        update_step_num_gradient_steps_per_sample=s["gradient_steps"], verbose=False, show_progress=False)

    def train() -> Any:
        """The random warm-up steps, then the trainer."""
        collector.reset()
        collector.collect(n_step=warmup, random=True)
        return algorithm.run_training(params)

    return warmup, policy, train


def main() -> None:
    """Train, time and score one run; print its JSON record."""
    import gymnasium as gym
    import numpy as np
    import tianshou
    import torch
    from tianshou.env import DummyVectorEnv

    args = harness.parse_args()
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    env = gym.make(args.env_id)
    envs = DummyVectorEnv([lambda: gym.make(args.env_id) for _ in range(args.settings["n_envs"])])
    envs.seed(args.seed)
    build = {"ppo": ppo, "dqn": dqn, "sac": sac}[harness.TASKS[args.task]["algo"]]
    warmup, policy, train = build(args, env, envs)
    stats: list[Any] = []
    wall, cpu = harness.timed(lambda: stats.append(train()))
    policy.eval()

    def act(obs: Any) -> Any:
        """The deterministic action for one observation."""
        return policy.compute_action(obs)

    harness.emit(harness.record("tianshou", tianshou.__version__, args, warmup + stats[0].train_step, wall, cpu,
                                act, update_steps=stats[0].update_step))


if __name__ == "__main__":
    main()

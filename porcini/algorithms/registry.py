"""The algorithm registry: CLI name -> agent class, imported only when asked for."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from typing import Any

from porcini.errors import UnknownNameError

# name -> "module:Class". The name is the module's own name (`porcini train ALGO ENV`).
ALGORITHMS: dict[str, str] = {
    "random": "porcini.algorithms.random:RandomAgent",
    "q_learning": "porcini.algorithms.tabular.q_learning:QLearning",
    "sarsa": "porcini.algorithms.tabular.sarsa:Sarsa",
    "expected_sarsa": "porcini.algorithms.tabular.expected_sarsa:ExpectedSarsa",
    "double_q_learning": "porcini.algorithms.tabular.double_q_learning:DoubleQLearning",
    "sarsa_lambda": "porcini.algorithms.tabular.sarsa_lambda:SarsaLambda",
    "true_online_sarsa_lambda": "porcini.algorithms.tabular.true_online_sarsa_lambda:TrueOnlineSarsaLambda",
    "value_iteration": "porcini.algorithms.model_based.value_iteration:ValueIteration",
    "dyna_q": "porcini.algorithms.model_based.dyna:DynaQ",
    "prioritized_sweeping": "porcini.algorithms.model_based.prioritized_sweeping:PrioritizedSweeping",
    "mpc": "porcini.algorithms.model_based.mpc:MPC",
    "pets": "porcini.algorithms.model_based.pets:PETS",
    "mbpo": "porcini.algorithms.model_based.mbpo:MBPO",
    "policy_iteration": "porcini.algorithms.model_based.policy_iteration:PolicyIteration",
    "fqi": "porcini.algorithms.offline.fqi:FQI",
    "iql": "porcini.algorithms.offline.iql:IQL",
    "cql": "porcini.algorithms.offline.cql:CQL",
    "discrete_cql": "porcini.algorithms.offline.discrete_cql:DiscreteCQL",
    "bc": "porcini.algorithms.offline.bc:BC",
    "td3_bc": "porcini.algorithms.offline.td3_bc:TD3BC",
    "dagger": "porcini.algorithms.imitation.dagger:DAgger",
    "gail": "porcini.algorithms.imitation.gail:GAIL",
    "gail_trpo": "porcini.algorithms.imitation.gail:GAILTRPO",
    "airl": "porcini.algorithms.imitation.airl:AIRL",
    "preferences": "porcini.algorithms.imitation.preferences:PreferencePPO",
    "epsilon_greedy": "porcini.algorithms.bandits.epsilon_greedy:EpsilonGreedyBandit",
    "ucb": "porcini.algorithms.bandits.ucb:UCB",
    "thompson": "porcini.algorithms.bandits.thompson:ThompsonSampling",
    "dqn": "porcini.algorithms.value_based.dqn:DQN",
    "qr_dqn": "porcini.algorithms.value_based.qr_dqn:QRDQN",
    "reinforce": "porcini.algorithms.policy_gradient.reinforce:Reinforce",
    "a2c": "porcini.algorithms.policy_gradient.a2c:A2C",
    "ppo": "porcini.algorithms.policy_gradient.ppo:PPO",
    "recurrent_ppo": "porcini.algorithms.policy_gradient.recurrent_ppo:RecurrentPPO",
    "trpo": "porcini.algorithms.policy_gradient.trpo:TRPO",
    "ppo_lagrangian": "porcini.algorithms.safe.ppo_lagrangian:PPOLagrangian",
    "sac_lagrangian": "porcini.algorithms.safe.sac_lagrangian:SACLagrangian",
    "ippo": "porcini.algorithms.multi_agent.mappo:MultiAgentPPO",
    "mappo": "porcini.algorithms.multi_agent.mappo:MAPPO",
    "idqn": "porcini.algorithms.multi_agent.idqn:IndependentDQN",
    "self_play_ppo": "porcini.algorithms.multi_agent.self_play_ppo:SelfPlayPPO",
    "ddpg": "porcini.algorithms.actor_critic.ddpg:DDPG",
    "td3": "porcini.algorithms.actor_critic.td3:TD3",
    "sac": "porcini.algorithms.actor_critic.sac:SAC",
    "discrete_sac": "porcini.algorithms.actor_critic.discrete_sac:DiscreteSAC",
}


def available() -> list[str]:
    """Names of the algorithms whose module is present in this installation."""
    names = []
    for name, target in ALGORITHMS.items():
        if importlib.util.find_spec(target.split(":")[0]) is not None:
            names.append(name)
    return names


def get_algorithm(name: str) -> Any:
    """Return the agent class registered under ``name`` (e.g. ``"ppo"``).

    Raises:
        UnknownNameError: (a KeyError) ``name`` is not registered; the message lists the names that are.
    """
    if name not in ALGORITHMS:
        close = difflib.get_close_matches(name, list(ALGORITHMS), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise UnknownNameError(f"unknown algorithm {name!r}{hint} choose one of: {', '.join(available())}")
    module_name, class_name = ALGORITHMS[name].split(":")
    if importlib.util.find_spec(module_name) is None:
        raise UnknownNameError(f"algorithm {name!r} is registered but not available in this version of porcini")
    return getattr(importlib.import_module(module_name), class_name)

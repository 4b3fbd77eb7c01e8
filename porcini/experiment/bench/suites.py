"""Benchmark suites: which (algorithm, env) pairs ``porcini bench SUITE`` runs, and the scores to compare with.

A suite names its envs and algorithms; its pairs are the algorithm x env combinations whose action space the
algorithm handles and for which porcini ships a config of record (``porcini/configs/<algo>/<env>.yaml``). Every
pair runs with its config of record, unchanged except for the seed (and, in smoke mode, the budget).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from porcini.errors import ConfigError


@dataclass(frozen=True)
class Suite:
    """A named set of benchmark tasks.

    Attributes:
        name: the name ``porcini bench`` takes (``classic``).
        description: one line for ``porcini bench --help`` and the report.
        envs: Gymnasium ids, in report order.
        algos: algorithm CLI names, in report order.
        action_spaces: for each env, its action-space class name (``Discrete``, ``Box``): decides which algorithms fit.
        extras: ``pip install "porcini[...]"`` extras the suite's envs need, beyond the core install.
    """

    name: str
    description: str
    envs: tuple[str, ...]
    algos: tuple[str, ...]
    action_spaces: dict[str, str]
    extras: tuple[str, ...] = ()


_DISCRETE_CONTROL = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3")
_CONTINUOUS_CONTROL = ("MountainCarContinuous-v0", "Pendulum-v1")
_MUJOCO = ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5", "Ant-v5")
_TOY_TEXT = ("FrozenLake-v1", "CliffWalking-v1", "Taxi-v4")
_BUILT_IN_MDPS = ("porcini/CliffWalking-v0", "porcini/GridWorld-v0", "porcini/RiverSwim-v0")

SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite(
            "classic",
            "Gymnasium's classic control and LunarLander, every deep algorithm that fits the action space",
            envs=_DISCRETE_CONTROL + _CONTINUOUS_CONTROL,
            algos=("dqn", "qr_dqn", "ppo", "a2c", "trpo", "sac", "td3", "ddpg"),
            action_spaces={**dict.fromkeys(_DISCRETE_CONTROL, "Discrete"), **dict.fromkeys(_CONTINUOUS_CONTROL, "Box")},
            extras=("box2d",),
        ),
        Suite(
            "mujoco",
            "MuJoCo locomotion (v5) for SAC, TD3 and PPO: hours per run on a CPU, not run in tests",
            envs=_MUJOCO,
            algos=("sac", "td3", "ppo"),
            action_spaces=dict.fromkeys(_MUJOCO, "Box"),
            extras=("mujoco",),
        ),
        Suite(
            "classical",
            "tabular and linear TD agents on built-in MDPs and MountainCar (tile coding), DP on toy-text envs",
            envs=_TOY_TEXT + _BUILT_IN_MDPS + ("MountainCar-v0",),
            algos=("value_iteration", "policy_iteration", "q_learning", "sarsa", "expected_sarsa",
                   "double_q_learning", "sarsa_lambda", "true_online_sarsa_lambda"),
            action_spaces=dict.fromkeys(_TOY_TEXT + _BUILT_IN_MDPS + ("MountainCar-v0",), "Discrete"),
        ),
    )
}

# The RL Baselines3 Zoo's published scores (rl-baselines3-zoo, benchmark.md: one trained agent per pair, mean
# return of its deterministic policy over about 150,000 evaluation steps), as (score, std across episodes). The
# Zoo's LunarLander entries are for v2, which v3 replaced with bug fixes only.
ZOO_SCORES: dict[tuple[str, str], tuple[float, float]] = {
    ("a2c", "Acrobot-v1"): (-83.353, 17.213),
    ("a2c", "CartPole-v1"): (500.0, 0.0),
    ("a2c", "LunarLander-v3"): (155.751, 80.419),
    ("a2c", "MountainCar-v0"): (-111.263, 24.087),
    ("a2c", "MountainCarContinuous-v0"): (91.166, 0.255),
    ("a2c", "Pendulum-v1"): (-162.965, 103.210),
    ("ddpg", "MountainCarContinuous-v0"): (93.512, 0.048),
    ("ddpg", "Pendulum-v1"): (-152.099, 94.282),
    ("dqn", "Acrobot-v1"): (-76.639, 11.752),
    ("dqn", "CartPole-v1"): (500.0, 0.0),
    ("dqn", "LunarLander-v3"): (154.382, 79.241),
    ("dqn", "MountainCar-v0"): (-100.849, 9.925),
    ("ppo", "Acrobot-v1"): (-73.506, 18.201),
    ("ppo", "CartPole-v1"): (500.0, 0.0),
    ("ppo", "LunarLander-v3"): (242.119, 31.823),
    ("ppo", "MountainCar-v0"): (-110.423, 19.473),
    ("ppo", "MountainCarContinuous-v0"): (88.343, 2.572),
    ("ppo", "Pendulum-v1"): (-172.225, 104.159),
    ("qr_dqn", "Acrobot-v1"): (-69.135, 9.967),
    ("qr_dqn", "CartPole-v1"): (500.0, 0.0),
    ("qr_dqn", "LunarLander-v3"): (70.236, 225.491),
    ("qr_dqn", "MountainCar-v0"): (-106.042, 15.536),
    ("sac", "MountainCarContinuous-v0"): (94.679, 1.134),
    ("sac", "Pendulum-v1"): (-156.995, 88.714),
    ("td3", "MountainCarContinuous-v0"): (93.483, 0.075),
    ("td3", "Pendulum-v1"): (-151.855, 90.227),
    ("trpo", "Acrobot-v1"): (-83.114, 18.648),
    ("trpo", "CartPole-v1"): (500.0, 0.0),
    ("trpo", "LunarLander-v3"): (133.166, 112.173),
    ("trpo", "MountainCar-v0"): (-107.278, 13.231),
    ("trpo", "MountainCarContinuous-v0"): (92.489, 0.355),
    ("trpo", "Pendulum-v1"): (-174.631, 127.577),
}


def get_suite(name: str) -> Suite:
    """The suite called ``name``.

    Raises:
        ConfigError: no such suite; the message lists the suites.
    """
    if name not in SUITES:
        raise ConfigError(f"unknown benchmark suite {name!r}; choose one of: {', '.join(SUITES)}")
    return SUITES[name]


def suite_pairs(suite: Suite, algos: Sequence[str] | None = None,
                envs: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """The suite's (algorithm, env) pairs, env-major: fitting action space and a config of record.

    Args:
        suite: the suite.
        algos: keep only these algorithms (``--algos``); each must be one of the suite's.
        envs: keep only these envs (``--envs``); each must be one of the suite's.

    Raises:
        ConfigError: an algorithm of ``algos`` or an env of ``envs`` is not in the suite.
    """
    from porcini.algorithms.registry import available, get_algorithm
    from porcini.experiment.listing import configs_of_record

    unknown = [a for a in (algos or ()) if a not in suite.algos]
    if unknown:
        raise ConfigError(f"--algos: {', '.join(unknown)} not in the {suite.name!r} suite; "
                          f"its algorithms are: {', '.join(suite.algos)}")
    unknown_envs = [e for e in (envs or ()) if e not in suite.envs]
    if unknown_envs:
        raise ConfigError(f"--envs: {', '.join(unknown_envs)} not in the {suite.name!r} suite; "
                          f"its envs are: {', '.join(suite.envs)}")
    chosen = [a for a in suite.algos if (algos is None or a in algos) and a in available()]
    pairs = []
    for env_id in (e for e in suite.envs if envs is None or e in envs):
        for algo in chosen:
            spaces = get_algorithm(algo).action_spaces
            fits = "any" in spaces or suite.action_spaces[env_id] in spaces
            if fits and env_id in configs_of_record(algo):
                pairs.append((algo, env_id))
    return pairs

"""The final ε or temperature of the TD agents' decay is checked like the initial one, when the agent is built."""

import gymnasium as gym
import pytest

from porcini.algorithms import get_algorithm
from porcini.core import ConfigError
from porcini.envs import EnvInfo

INFO = EnvInfo("hand", gym.spaces.Discrete(3), gym.spaces.Discrete(2))


@pytest.mark.parametrize("final", [-0.1, 1.5])
def test_a_final_epsilon_outside_the_unit_interval_is_refused(final):
    # accepted, it made expected SARSA's target an expectation under negative "probabilities"
    with pytest.raises(ConfigError, match="exploration_final"):
        get_algorithm("expected_sarsa")(INFO, exploration_final=final)


def test_a_temperature_decaying_to_zero_is_refused():
    # accepted, it stopped training with an error once the decay reached 0
    with pytest.raises(ConfigError, match="exploration_final"):
        get_algorithm("q_learning")(INFO, exploration="boltzmann", exploration_final=0.0)


def test_valid_finals_are_accepted():
    get_algorithm("sarsa")(INFO, epsilon=1.0, exploration_final=0.0)
    get_algorithm("sarsa")(INFO, exploration="boltzmann", temperature=2.0, exploration_final=5.0)


@pytest.mark.parametrize("algo", ["q_learning", "sarsa", "expected_sarsa", "double_q_learning"])
@pytest.mark.parametrize("epsilon,final,field", [(0.1, 0.0, "exploration_final"), (0.0, 0.05, "epsilon")])
def test_an_exponential_epsilon_decay_through_zero_names_the_field(algo, epsilon, final, field):
    # a geometric decay can neither start from nor reach 0: it failed with a ValueError about ExponentialSchedule
    # (a traceback and exit code 1 on the CLI) instead of a config error naming the field to change
    with pytest.raises(ConfigError, match=f"{field} = .* exponential schedule"):
        get_algorithm(algo)(INFO, epsilon=epsilon, exploration_final=final, exploration_schedule="exponential")
    get_algorithm(algo)(INFO, epsilon=epsilon, exploration_final=final, exploration_schedule="linear")

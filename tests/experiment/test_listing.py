import gymnasium as gym
from click.testing import CliRunner

import porcini.envs.wrappers as wrappers
from porcini.experiment.cli import main
from porcini.experiment.envs import resolve_wrapper
from porcini.experiment.listing import algorithm_entries, configs_of_record


def rows(output):
    return {line.split()[0]: line for line in output.splitlines() if line.strip()}


def test_list_algorithms_shows_action_spaces_and_configs_of_record():
    result = CliRunner().invoke(main, ["list", "algorithms"])
    assert result.exit_code == 0, result.output
    table = rows(result.output)
    assert table["ppo"].split()[1:] == ["Discrete,", "Box,", "MultiDiscrete,", "MultiBinary", "ALE/Breakout-v5,",
                                        "ALE/Pong-v5,", "Acrobot-v1,", "Ant-v5,", "CartPole-v1,", "HalfCheetah-v5,",
                                        "Hopper-v5,", "LunarLander-v3,", "MountainCar-v0,",
                                        "MountainCarContinuous-v0,", "Pendulum-v1,", "Walker2d-v5"]
    assert table["sac"].split()[1:] == ["Box", "Ant-v5,", "HalfCheetah-v5,", "Hopper-v5,",
                                        "MountainCarContinuous-v0,", "Pendulum-v1,", "Walker2d-v5"]
    assert table["fqi"].split()[1:] == ["Discrete", "-"]
    assert table["recurrent_ppo"].endswith("porcini/CartPoleNoVel-v1, porcini/CueMemory-v0")
    assert {e.name for e in algorithm_entries()} <= set(table)


def test_configs_of_record_are_the_shipped_files():
    assert configs_of_record("td3") == ("Ant-v5", "HalfCheetah-v5", "Hopper-v5", "MountainCarContinuous-v0",
                                        "Pendulum-v1", "Walker2d-v5")
    assert configs_of_record("fqi") == ()
    assert configs_of_record("value_iteration") == ("CliffWalking-v1", "FrozenLake-v1", "Taxi-v4")


def test_list_wrappers_lists_only_wrappers():
    listed = CliRunner().invoke(main, ["list", "wrappers"]).output.split()
    assert "NormalizeObservation" in listed and "VectorRecordEpisodeStatistics" in listed
    assert not {"RunningMeanStd", "CurriculumSchedule", "TaskSwitchEnv"} & set(listed)
    for name in listed:
        assert issubclass(resolve_wrapper(name), (gym.Wrapper, gym.vector.VectorWrapper))
    exported_wrappers = [n for n in wrappers.__all__ if isinstance(getattr(wrappers, n), type)
                         and issubclass(getattr(wrappers, n), (gym.Wrapper, gym.vector.VectorWrapper))]
    assert sorted(exported_wrappers) == listed

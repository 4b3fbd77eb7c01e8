"""``dataset info``'s ending counts add up to its episodes: an unfinished tail ends truncated (the end of the data)."""

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.data import Dataset
from porcini.data.dataset_stats import describe_dataset


def hand_count(terminated: np.ndarray, truncated: np.ndarray) -> tuple[int, int, int]:
    """Episodes, terminated and truncated episodes, walking each column step by step."""
    episodes = ended_terminated = ended_truncated = 0
    for column in range(terminated.shape[1]):
        running = False
        for step in range(terminated.shape[0]):
            running = True
            if terminated[step, column] or truncated[step, column]:
                episodes += 1
                ended_terminated += int(terminated[step, column])
                ended_truncated += int(not terminated[step, column])
                running = False
        if running:  # the data ends inside an episode: truncated by the end of the data
            episodes += 1
            ended_truncated += 1
    return episodes, ended_terminated, ended_truncated


def test_terminations_and_truncations_add_up_to_the_episodes_of_a_replay_with_an_unfinished_tail():
    rng = np.random.default_rng(0)
    terminated = rng.random((40, 3)) < 0.1
    truncated = rng.random((40, 3)) < 0.1  # some steps both: terminated
    terminated[-4:, 1] = truncated[-4:, 1] = False  # column 1 ends inside an episode, as a replay buffer can
    terminated[-1, 2], truncated[-1, 2] = False, True
    ds = Dataset(TransitionBatch(obs=np.zeros((40, 3, 2), np.float32), action=np.zeros((40, 3), np.int64),
                                 reward=rng.normal(size=(40, 3)), next_obs=np.zeros((40, 3, 2), np.float32),
                                 terminated=terminated, truncated=truncated))
    s = describe_dataset(ds)
    assert (s["episodes"], s["terminated"], s["truncated"]) == hand_count(terminated, truncated)
    assert s["terminated"] + s["truncated"] == s["episodes"]

"""mixed_sample: each minibatch takes its share from the dataset; all of it while the replay is empty."""

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.data import Dataset, ReplayBuffer
from porcini.data.fingerprint import dataset_fingerprint
from porcini.data.mixed import mixed_sample


def transitions(n, reward):
    ended = np.zeros((n, 1), bool)
    return TransitionBatch(np.zeros((n, 1, 2), np.float32), np.zeros((n, 1, 1), np.float32),
                           np.full((n, 1), reward, np.float32), np.zeros((n, 1, 2), np.float32), ended, ended.copy())


def test_each_minibatch_mixes_dataset_and_replay_at_the_ratio():
    dataset, replay = Dataset(transitions(50, 1.0)), ReplayBuffer(100)
    rng = np.random.default_rng(0)
    assert mixed_sample(replay, dataset, 3, 8, 0.25, rng).reward.sum() == 24  # empty replay: all from the dataset
    replay.add(transitions(10, 0.0))
    drawn = mixed_sample(replay, dataset, 3, 8, 0.25, rng)
    assert drawn.reward.shape == (24, 1)
    assert drawn.reward[:, 0].reshape(3, 8).tolist() == [[1, 1, 0, 0, 0, 0, 0, 0]] * 3
    assert mixed_sample(replay, dataset, 2, 8, 0.0, rng).reward.sum() == 0
    assert mixed_sample(replay, dataset, 2, 8, 1.0, rng).reward.sum() == 16


def test_mixing_keeps_the_shared_extras_with_their_transitions_and_drops_the_others():
    # Online batches carry the info keys Core copies (Core(agent, env, info_keys=("cost",))); a dataset or MBPO's
    # model rollouts do not. Mixing them used to raise "batches carry different extras".
    rng = np.random.default_rng(0)

    def labelled(n, offset, extras):
        batch = transitions(n, 0.0).with_reward(np.arange(offset, offset + n, dtype=np.float32)[:, None])
        return TransitionBatch(batch.obs, batch.action, batch.reward, batch.next_obs, batch.terminated,
                               batch.truncated, extras={k: batch.reward * scale for k, scale in extras.items()})

    replay = ReplayBuffer(100)
    replay.add(labelled(10, 100, {"cost": 2.0, "source": 3.0}))
    for dataset_extras, kept in (({}, set()), ({"cost": 2.0}, {"cost"})):
        dataset = Dataset(labelled(50, 0, dataset_extras))
        drawn = mixed_sample(replay, dataset, 3, 8, 0.25, rng)
        reward = drawn.reward[:, 0].reshape(3, 8)
        assert (reward[:, :2] < 50).all() and (reward[:, 2:] >= 100).all()  # 2 dataset rows, then 6 replay rows
        assert set(drawn.extras) == kept
        for key in kept:  # each kept extra still belongs to its own transition
            np.testing.assert_array_equal(drawn.extras[key], drawn.reward * dataset_extras[key])


def test_fingerprint_follows_content_not_metadata():
    a = Dataset(transitions(5, 1.0), {"source": "x"})
    assert dataset_fingerprint(a) == dataset_fingerprint(Dataset(transitions(5, 1.0)))
    assert dataset_fingerprint(a) != dataset_fingerprint(Dataset(transitions(5, 0.5)))
    assert dataset_fingerprint(a) != dataset_fingerprint(Dataset(transitions(6, 1.0)))

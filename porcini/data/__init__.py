"""porcini.data: replay buffers (uniform, prioritized, hindsight) and offline datasets. Storage, no learning math."""

from porcini.data._npz import DataFileError
from porcini.data.dataset import Dataset, collect_dataset, load_dataset, save_dataset
from porcini.data.her import HerReplayBuffer
from porcini.data.prioritized import PrioritizedReplayBuffer, PrioritizedSample
from porcini.data.replay import ReplayBuffer
from porcini.data.sum_tree import SumTree

__all__ = [
    "DataFileError",
    "Dataset",
    "HerReplayBuffer",
    "PrioritizedReplayBuffer",
    "PrioritizedSample",
    "ReplayBuffer",
    "SumTree",
    "collect_dataset",
    "load_dataset",
    "save_dataset",
]

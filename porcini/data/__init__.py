"""porcini.data: replay buffers (uniform, prioritized, hindsight) and offline datasets (.npz, Minari). Storage only."""

from porcini.data._npz import DataFileError
from porcini.data.dataset import Dataset, collect_dataset, load_dataset, save_dataset
from porcini.data.dataset_stats import describe_dataset
from porcini.data.her import HerReplayBuffer
from porcini.data.minari_io import read_minari, write_minari
from porcini.data.prioritized import PrioritizedReplayBuffer, PrioritizedSample
from porcini.data.replay import ReplayBuffer
from porcini.data.sources import open_dataset, write_dataset
from porcini.data.sum_tree import SumTree
from porcini.data.validation import DatasetError

__all__ = [
    "DataFileError",
    "Dataset",
    "DatasetError",
    "HerReplayBuffer",
    "PrioritizedReplayBuffer",
    "PrioritizedSample",
    "ReplayBuffer",
    "SumTree",
    "collect_dataset",
    "describe_dataset",
    "load_dataset",
    "open_dataset",
    "read_minari",
    "save_dataset",
    "write_dataset",
    "write_minari",
]

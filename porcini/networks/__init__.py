"""Torch modules for deep agents: trunks (MLP, CNN, LSTM), batched ensembles, heads, distributions.

An agent composes a trunk (features) with a head (a distribution or values)::

    trunk = MLP(info.obs_shape, None, hidden=(64, 64), init="orthogonal")
    policy = CategoricalHead(trunk.out_dim, info.n_actions)
    dist = policy(trunk(obs))            # Categorical: sample(), log_prob(a), entropy(), mode()

Twin critics are one :class:`EnsembleMLP` with ``n_members=2``. This package imports torch; import it only
from code that needs networks.
"""

from porcini.networks.builders import NetArch, is_image_space, make_trunk, parse_net_arch
from porcini.networks.cnn import NatureCNN
from porcini.networks.distributions import (
    Bernoulli,
    Categorical,
    DiagGaussian,
    MultiCategorical,
    PolicyDistribution,
    TanhGaussian,
    tanh_log_det_jacobian,
)
from porcini.networks.ensemble import EnsembleMLP
from porcini.networks.heads import (
    BernoulliHead,
    CategoricalHead,
    DeterministicHead,
    DiagGaussianHead,
    DuelingQHead,
    MultiCategoricalHead,
    QHead,
    TanhGaussianHead,
    ValueHead,
    scale_action,
    unscale_action,
)
from porcini.networks.mlp import ACTIVATIONS, MLP, orthogonal_init_, parameter_dict
from porcini.networks.recurrent import LSTMCore

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "Bernoulli",
    "BernoulliHead",
    "Categorical",
    "CategoricalHead",
    "DeterministicHead",
    "DiagGaussian",
    "DiagGaussianHead",
    "DuelingQHead",
    "EnsembleMLP",
    "LSTMCore",
    "MultiCategorical",
    "MultiCategoricalHead",
    "NatureCNN",
    "NetArch",
    "PolicyDistribution",
    "QHead",
    "TanhGaussian",
    "TanhGaussianHead",
    "ValueHead",
    "is_image_space",
    "make_trunk",
    "orthogonal_init_",
    "parameter_dict",
    "parse_net_arch",
    "scale_action",
    "tanh_log_det_jacobian",
    "unscale_action",
]

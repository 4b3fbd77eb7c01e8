"""porcini.functional: the pure math of RL — returns, advantages, TD and off-policy targets, losses, updates.

Estimators take arrays laid out ``[T, B]`` (time, env), ``terminated`` (no bootstrap) and ``truncated`` or
``episode_end`` (the trace stops; bootstrap from the true next observation) separately. They accept NumPy arrays or
torch tensors and return the same kind. Losses (torch) return named terms, ``dict[str, Tensor]``.

Modules: ``returns`` (discounted, n-step, λ-returns, GAE), ``off_policy`` (V-trace, Retrace), ``td_targets``
(Q-learning, SARSA, Double Q, expected SARSA, soft targets), ``losses``, ``offline_losses`` (IQL, CQL),
``target_updates``, ``adversarial_imitation`` (GAIL's and AIRL's discriminators and rewards), ``preferences`` (the
Bradley–Terry reward model's loss), ``planning`` (CEM's and MPPI's updates, iCEM's colored noise),
``model_losses`` (learned dynamics). The estimators import no torch; the losses and target updates import it on
first access, so ``import porcini.functional`` stays fast for NumPy agents.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from porcini.functional.off_policy import VTraceOutput, retrace, vtrace
from porcini.functional.returns import (
    discounted_returns,
    gae,
    lambda_returns,
    n_step_targets,
    normalize_advantage,
)
from porcini.functional.td_targets import (
    discrete_soft_q_target,
    discrete_soft_value,
    double_q_target,
    expected_sarsa_target,
    q_learning_target,
    sarsa_target,
    soft_q_target,
)

if TYPE_CHECKING:
    from porcini.functional.adversarial_imitation import (
        airl_logits,
        airl_reward,
        discriminator_loss,
        gail_reward,
        gradient_penalty,
    )
    from porcini.functional.bc_losses import bc_regularized_actor_loss
    from porcini.functional.losses import (
        deterministic_actor_loss,
        entropy_loss,
        policy_gradient_loss,
        ppo_clip_loss,
        sac_actor_loss,
        sac_alpha_loss,
        sac_discrete_actor_loss,
        td_loss,
        value_loss,
    )
    from porcini.functional.model_losses import bounded_log_var, gaussian_nll, log_var_bounds_penalty
    from porcini.functional.offline_losses import (
        advantage_weighted_actor_loss,
        advantage_weights,
        cql_alpha_loss,
        cql_penalty,
        discrete_cql_penalty,
        expectile_loss,
    )
    from porcini.functional.planning import cem_update, colored_noise, mppi_update, mppi_weights
    from porcini.functional.preferences import preference_loss, preference_probability, segment_returns
    from porcini.functional.target_updates import hard_update, polyak_update

_LAZY = {
    **{
        name: "porcini.functional.losses"
        for name in (
            "ppo_clip_loss",
            "value_loss",
            "policy_gradient_loss",
            "entropy_loss",
            "td_loss",
            "sac_actor_loss",
            "sac_discrete_actor_loss",
            "sac_alpha_loss",
            "deterministic_actor_loss",
        )
    },
    **{name: "porcini.functional.offline_losses" for name in (
        "expectile_loss",
        "advantage_weights",
        "advantage_weighted_actor_loss",
        "cql_penalty",
        "discrete_cql_penalty",
        "cql_alpha_loss",
    )},
    "bc_regularized_actor_loss": "porcini.functional.bc_losses",
    **{name: "porcini.functional.adversarial_imitation" for name in (
        "discriminator_loss",
        "gradient_penalty",
        "gail_reward",
        "airl_reward",
        "airl_logits",
    )},
    **{name: "porcini.functional.planning" for name in (
        "cem_update",
        "mppi_weights",
        "mppi_update",
        "colored_noise",
    )},
    **{name: "porcini.functional.model_losses" for name in ("gaussian_nll", "bounded_log_var",
                                                             "log_var_bounds_penalty")},
    **{name: "porcini.functional.preferences" for name in (
        "segment_returns",
        "preference_probability",
        "preference_loss",
    )},
    "hard_update": "porcini.functional.target_updates",
    "polyak_update": "porcini.functional.target_updates",
}


def __getattr__(name: str) -> Any:
    """Import the torch-only names (losses, target updates) on first access."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'porcini.functional' has no attribute {name!r}")


__all__ = [
    "discounted_returns",
    "n_step_targets",
    "lambda_returns",
    "gae",
    "normalize_advantage",
    "VTraceOutput",
    "vtrace",
    "retrace",
    "q_learning_target",
    "sarsa_target",
    "double_q_target",
    "expected_sarsa_target",
    "soft_q_target",
    "discrete_soft_value",
    "discrete_soft_q_target",
    "ppo_clip_loss",
    "value_loss",
    "policy_gradient_loss",
    "entropy_loss",
    "td_loss",
    "sac_actor_loss",
    "sac_discrete_actor_loss",
    "sac_alpha_loss",
    "deterministic_actor_loss",
    "expectile_loss",
    "advantage_weights",
    "advantage_weighted_actor_loss",
    "cql_penalty",
    "discrete_cql_penalty",
    "cql_alpha_loss",
    "bc_regularized_actor_loss",
    "discriminator_loss",
    "gradient_penalty",
    "gail_reward",
    "airl_reward",
    "airl_logits",
    "segment_returns",
    "preference_probability",
    "preference_loss",
    "cem_update",
    "mppi_weights",
    "mppi_update",
    "colored_noise",
    "gaussian_nll",
    "bounded_log_var",
    "log_var_bounds_penalty",
    "hard_update",
    "polyak_update",
]

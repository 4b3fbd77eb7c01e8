"""Behaviour-cloning losses of offline RL (the TD3+BC actor loss), named terms as in porcini.functional.losses."""

from __future__ import annotations

from torch import Tensor

__all__ = ["bc_regularized_actor_loss"]


def bc_regularized_actor_loss(q: Tensor, action: Tensor, data_action: Tensor, alpha: float = 2.5) -> dict[str, Tensor]:
    r"""TD3+BC's actor loss (Fujimoto & Gu 2021, arXiv:2106.06860): the policy gradient plus a pull to the data.

    .. math::
        \lambda = \frac{\alpha}{\mathrm{mean}\,|Q(s, \pi(s))|}, \qquad
        L = -\lambda\, \mathrm{mean}\, Q(s, \pi(s)) + \mathrm{mean}\, (\pi(s) - a)^2

    ``λ`` is computed without gradient, so it rescales the Q term to the size of the behaviour-cloning term
    whatever the scale of the rewards; the squared error is a mean over the batch and the action dimensions (the
    paper's ``F.mse_loss``).

    Args:
        q: ``[N]`` critic values at the policy's actions (gradient flows through the action into the actor).
        action: ``[N, action_dim]`` the policy's actions ``π(s)``.
        data_action: ``[N, action_dim]`` the dataset's actions at the same states (detached here).
        alpha: ``α > 0``, the weight of the Q term (2.5 in the paper).

    Returns:
        ``{"loss_actor", "loss_bc", "lambda"}``: the loss to minimize, its squared-error term and ``λ``.

    Raises:
        ValueError: ``action`` and ``data_action`` differ in shape, or ``q`` is not ``[N]``.
    """
    if tuple(action.shape) != tuple(data_action.shape):
        raise ValueError(f"bc_regularized_actor_loss: data_action has shape {tuple(data_action.shape)}, expected "
                         f"{tuple(action.shape)} like action")
    if tuple(q.shape) != tuple(action.shape[:1]):
        raise ValueError(f"bc_regularized_actor_loss: q has shape {tuple(q.shape)}, expected ({action.shape[0]},)")
    lam = alpha / q.abs().mean().detach()
    loss_bc = (action - data_action.detach()).pow(2).mean()
    return {"loss_actor": -lam * q.mean() + loss_bc, "loss_bc": loss_bc.detach(), "lambda": lam}

"""Seeding: how one run seed becomes the independent random streams of a run. This is the one place it is defined.

A user passes one int ``seed`` to ``make_env`` and to an agent. Used directly, that int would give the env and the
agent the same stream: Gymnasium's ``reset(seed=s)`` and ``np.random.default_rng(s)`` both build
``PCG64(SeedSequence(s))``, so an env's start states would be functions of the agent's exploration draws. Instead,
every consumer draws from its own child of ``numpy.random.SeedSequence(seed)``, named by a spawn key;
``SeedSequence(seed, spawn_key=(k,))`` is the ``k``-th child of ``SeedSequence(seed).spawn(...)``. The streams:

============  ==========================  ==============================================================
spawn key     function                    consumer
============  ==========================  ==============================================================
(0, i)        :func:`env_reset_seeds`     env ``i`` of a vector env reset with ``seed`` (``make_env``, and
                                          every later ``reset(seed=seed)`` of porcini's vector envs)
(1,)          :func:`eval_seed`           the seed of the evaluation env, used as that env's ``seed``: its
                                          env ``i`` resets with ``env_reset_seeds(eval_seed(seed), n)[i]``
(2,)          :func:`action_space_seed`   the vector env's action spaces (``env.action_space.sample()``)
(3,)          :func:`torch_seed`          the agent's network initialization (torch)
(4,)          :func:`agent_rng`           the agent's NumPy draws: exploration, replay and minibatch sampling
(5,)          :func:`agent_torch_seed`    the agent's ``torch.Generator``: sampled actions, minibatch order
(6,)          :func:`agent_eval_rng`      the agent's draws while evaluating (tie-breaking), so evaluating
                                          never shifts the training draws
(7, j)        :func:`seed_everything`     Python's ``random`` (j=0), NumPy's global generator (1), torch's
                                          global RNG (2)
(8, i)        :func:`group_seed`          the agent seed of learner ``i >= 1`` of an agent made of several
                                          learners (a multi-agent agent's groups; learner 0 takes ``seed``),
                                          so no learner shares its streams with one of another run seed
(9,)          :func:`extra_networks_seed` the seed whose network stream initializes an agent's second set of
                                          networks (MBPO's dynamics ensemble), so that set is neither a
                                          copy of the agent's first set nor of another run's
============  ==========================  ==============================================================

Seeds handed to Gymnasium are 32-bit words of the child's state (``generate_state(1)``): Gymnasium accepts any
non-negative int, and envs that keep NumPy's legacy ``RandomState`` (dm_control through shimmy) need < 2**32.
torch seeds are 64-bit words. A derived word is a hash, so the reset seeds of the training and evaluation envs are
distinct with overwhelming probability rather than by arithmetic; ``tests/test_seed_streams.py`` checks it over many
seeds. The seeds of env ``i`` do not depend on the number of envs, so env 0 starts alike with 1 or 8 envs.

This module imports only NumPy (torch is seeded only if user code imported it), so envs, algorithms and
experiments all use it.
"""

from __future__ import annotations

import random
import sys
from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """The spawn key of each named child of ``SeedSequence(seed)`` (see the module docstring)."""

    ENVS = 0
    EVAL_ENV = 1
    ACTION_SPACE = 2
    NETWORKS = 3
    AGENT = 4
    AGENT_TORCH = 5
    AGENT_EVAL = 6
    GLOBAL = 7
    GROUPS = 8
    EXTRA_NETWORKS = 9


def stream(seed: int, *key: int) -> np.random.SeedSequence:
    """The child of ``SeedSequence(seed)`` with spawn key ``key`` (``stream(s, k)`` is ``spawn``'s ``k``-th child).

    Raises:
        ValueError: ``seed`` is not a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed = {seed!r} is invalid: give a non-negative int")
    return np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key))


def _word32(seed: int, *key: int) -> int:
    return int(stream(seed, *key).generate_state(1, np.uint32)[0])


def _word64(seed: int, *key: int) -> int:
    return int(stream(seed, *key).generate_state(1, np.uint64)[0])


def env_reset_seeds(seed: int, n_envs: int) -> list[int]:
    """The reset seed of each env index of a vector env reset with ``seed``.

    Example:
        >>> env_reset_seeds(0, 2) == env_reset_seeds(0, 3)[:2]
        True
    """
    return [_word32(seed, Stream.ENVS, i) for i in range(n_envs)]


def eval_seed(seed: int) -> int:
    """The seed of the evaluation env of a run with seed ``seed`` (pass it to ``make_env`` and ``Core``)."""
    return _word32(seed, Stream.EVAL_ENV)


def eval_reset_seeds(seed: int, n_envs: int) -> list[int]:
    """The reset seed of each env index of the evaluation env of a run with seed ``seed``."""
    return env_reset_seeds(eval_seed(seed), n_envs)


def action_space_seed(seed: int) -> int:
    """The seed of the action spaces of a vector env made with ``seed``."""
    return _word32(seed, Stream.ACTION_SPACE)


def torch_seed(seed: int) -> int:
    """The torch seed an agent with ``seed`` initializes its networks from."""
    return _word64(seed, Stream.NETWORKS)


def agent_rng(seed: int) -> np.random.Generator:
    """The NumPy generator of an agent with ``seed``: exploration, replay and minibatch sampling."""
    return np.random.Generator(np.random.PCG64(stream(seed, Stream.AGENT)))


def agent_torch_seed(seed: int) -> int:
    """The seed of the ``torch.Generator`` of an agent with ``seed``: sampled actions, minibatch order."""
    return _word64(seed, Stream.AGENT_TORCH)


def agent_eval_rng(seed: int) -> np.random.Generator:
    """The NumPy generator an agent with ``seed`` draws from while evaluating (greedy tie-breaking)."""
    return np.random.Generator(np.random.PCG64(stream(seed, Stream.AGENT_EVAL)))


def group_seed(seed: int, index: int) -> int:
    """The agent seed of learner ``index`` of an agent of several learners with run seed ``seed``.

    Learner 0 takes ``seed`` itself (an agent of one learner is seeded as that learner alone); learner ``i >= 1``
    a word of its own stream, not ``seed + i``, which is learner 0 of the run with seed ``seed + i``.
    """
    return int(seed) if index == 0 else _word32(seed, Stream.GROUPS, index)


def extra_networks_seed(seed: int) -> int:
    """The seed an agent with ``seed`` initializes a second set of networks from (``kit.seeded`` of it).

    Not ``seed + 1``, whose network stream initializes the agent of the run with seed ``seed + 1``.
    """
    return _word32(seed, Stream.EXTRA_NETWORKS)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (if it is imported) from ``seed``.

    porcini's own components draw from the streams above; this covers user code and libraries that use the global
    generators.
    """
    # one child each: NumPy's legacy seeding and torch's both key Mersenne Twisters by the low 32 bits of the seed
    random.seed(_word64(seed, Stream.GLOBAL, 0))
    np.random.seed(_word32(seed, Stream.GLOBAL, 1))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(_word64(seed, Stream.GLOBAL, 2))

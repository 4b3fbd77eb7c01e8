"""porcini's vector environments: same-step autoreset, the true final observation, cheap for one env.

Gymnasium's ``SyncVectorEnv`` pays per-step costs (space iteration, info merging, deep copies) that dominate a
cheap env like CartPole when there is only one of them. ``SerialVectorEnv`` here keeps Gymnasium's vector API and
same-step autoreset semantics but does the minimum: when env ``i`` ends, ``step`` returns the first observation of
the next episode in ``obs[i]`` and the final observation of the ended one in ``info["final_obs"][i]`` (stacked
array; ``info["_final_obs"]`` is the mask), with the ended step's info under ``info["final_info"]`` (mask
``info["_final_info"]``, True for every env that ended, even with an empty info, as in Gymnasium's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from porcini.envs.episode_log import EpisodeLog, check_replayed
from porcini.envs.validation import StepValidator, check_raw_obs
from porcini.errors import CheckpointError, EnvCheckError
from porcini.seeding import env_reset_seeds

EnvFactory = Callable[[], gym.Env]


def _read_only_flag(value: bool) -> np.ndarray:
    flag = np.array([value], dtype=np.bool_)
    flag.flags.writeable = False
    return flag


# A vector of one returns these shared, read-only flag arrays instead of allocating two arrays per step
_FLAG = {False: _read_only_flag(False), True: _read_only_flag(True)}


def reset_seeds(seed: int | Sequence[int | None] | None, n_envs: int) -> list[int | None]:
    """Per-index reset seeds: ``porcini.seeding.env_reset_seeds`` of an int, a list itself, all None for None."""
    if seed is None:
        return [None] * n_envs
    if isinstance(seed, (int, np.integer)):
        return list(env_reset_seeds(int(seed), n_envs))
    seeds = list(seed)
    if len(seeds) != n_envs:
        raise ValueError(f"got {len(seeds)} reset seeds for {n_envs} envs; give one per env or a single int")
    return seeds


class SerialVectorEnv(VectorEnv):
    """Steps ``n`` environments in this process, one after another, with same-step autoreset.

    Not Gymnasium's ``SyncVectorEnv``, hence another name: an int reset seed gives env ``i`` the seed
    ``porcini.seeding.env_reset_seeds(seed, n)[i]`` (not ``seed + i``), autoreset is always same-step,
    ``info["final_obs"]`` is one stacked array, steps are validated, and episodes can be rebuilt on resume.

    Args:
        env_fns: one factory per env; all envs must share observation and action spaces.
        env_id: the name used in error messages and ``EnvInfo``.
        check: validate actions, observations and rewards on every step (see ``StepValidator``).
        check_dtype: refuse a ``Box`` observation of another dtype than the space's instead of casting it (default:
            ``check``). Ray's env workers check only this, as the parent validates the batch.

    Example:
        >>> import gymnasium as gym
        >>> env = SerialVectorEnv([lambda: gym.make("CartPole-v1")] * 2, env_id="CartPole-v1")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (2, 4)
    """

    def __init__(self, env_fns: Sequence[EnvFactory], *, env_id: str = "env", check: bool = True,
                 check_dtype: bool | None = None) -> None:
        if len(env_fns) == 0:
            raise ValueError("SerialVectorEnv needs at least one env factory")
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)
        first = self.envs[0]
        self.env_id = env_id
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        for i, env in enumerate(self.envs[1:], start=1):
            if env.observation_space != first.observation_space or env.action_space != first.action_space:
                raise EnvCheckError(
                    f"env index {i} of {env_id} has spaces {env.observation_space}, {env.action_space} but env 0 has "
                    f"{first.observation_space}, {first.action_space}; all envs of a vector env must share spaces"
                )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {**first.metadata, "autoreset_mode": AutoresetMode.SAME_STEP}
        self.render_mode = first.render_mode
        self.spec = first.spec
        self.closed = False
        self._is_array_obs = isinstance(
            self.single_observation_space,
            (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary),
        )
        self._obs_dtype = self.single_observation_space.dtype
        # with the checks on, a Box observation of another dtype is refused at step as at reset, not cast
        check_dtype = check if check_dtype is None else check_dtype
        self._checked_dtype = self._obs_dtype if check_dtype and isinstance(self.single_observation_space,
                                                                              gym.spaces.Box) else None
        self._obs_shape = (self.num_envs, *(self.single_observation_space.shape or ()))
        self._validator = (
            StepValidator(env_id, self.single_observation_space, self.single_action_space, self.num_envs)
            if check
            else None
        )
        self._episode_log: EpisodeLog | None = None
        self._last_obs: Any = None

    def record_for_resume(self) -> None:
        """Keep how each current episode began and its actions, so :meth:`resume_state` can be rebuilt exactly.

        Takes effect from the next ``reset``; costs one list append per env per step.
        """
        self._episode_log = EpisodeLog(self.num_envs)

    def resume_state(self) -> dict[str, Any]:
        """The state needed to rebuild every env mid-episode (see ``porcini.envs.episode_log``)."""
        if self._episode_log is None:
            raise CheckpointError("call record_for_resume() before the first reset to make this env resumable")
        return {**self._episode_log.state_dict(), "last_obs": self._last_obs}

    def load_resume_state(self, state: dict[str, Any]) -> Any:
        """Rebuild every env's current episode; return the current observation batch.

        Raises:
            ReplayError: the replayed observations differ from the recorded ones, or an episode ended during the
                replay (the env is not reproducible from its seed).
            CheckpointError: the state does not fit this env.
        """
        batch = self._stack(EpisodeLog.replay(self.envs, state))
        check_replayed(self.env_id, state.get("last_obs"), batch)
        self._episode_log = EpisodeLog(self.num_envs)
        self._episode_log.starts = [dict(s) for s in state["starts"]]
        self._episode_log.actions = [list(a) for a in state["actions"]]
        self._last_obs = batch
        return batch

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every env; an int seed seeds env ``i`` with ``porcini.seeding.env_reset_seeds(seed, n)[i]``.

        Raises:
            ValueError: ``options`` holds Gymnasium's ``reset_mask``: this env resets all its envs (ended ones by
                itself in ``step``), and would otherwise pass the mask on and cut every episode in progress.
        """
        if options is not None and "reset_mask" in options:
            raise ValueError(f"{type(self).__name__} of {self.env_id} resets all its envs (and ended ones by itself "
                             "in step); reset without options['reset_mask']")
        seeds = reset_seeds(seed, self.num_envs)
        observations: list[Any] = []
        infos: dict[str, Any] = {}
        for i, (env, s) in enumerate(zip(self.envs, seeds)):
            if self._episode_log is not None:
                self._episode_log.before_reset(i, env, s)
            obs, info = env.reset(seed=s, options=options)
            if self._validator is not None or self._checked_dtype is not None:
                self._check_raw_obs(obs, i)
            observations.append(obs)
            if info:
                infos = self._add_info(infos, info, i)
        batch = self._stack(observations)
        if self._validator is not None:
            self._validator.check_obs(batch, what="reset observation")
        self._last_obs = batch
        return batch, infos

    def _check_raw_obs(self, obs: Any, index: int) -> None:
        check_raw_obs(obs, self.env_id, index, self.single_observation_space)

    def _raise_step_result(self, result: Any, index: int) -> NoReturn:
        """Raise EnvCheckError naming env ``index``, whose ``step`` returned ``result`` instead of five values."""
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise EnvCheckError(
            f"env {self.env_id} (env index {index}) returned {got} from step; return (obs, reward, terminated, "
            "truncated, info) (Gymnasium >= 0.26 step API: split the old done into terminated and truncated)"
        )

    def _stack(self, observations: list[Any]) -> Any:
        if self._is_array_obs:
            out = np.empty(self._obs_shape, dtype=self._obs_dtype)
            for i, obs in enumerate(observations):
                try:
                    out[i] = obs
                except (ValueError, TypeError):  # an observation of another shape: say which env returned what
                    self._check_raw_obs(obs, i)
                    raise
            return out
        # create_empty_array gives None for a custom Space, which concatenate accepts (its stub says otherwise)
        empty = create_empty_array(self.single_observation_space, self.num_envs)
        return concatenate(self.single_observation_space, observations,
                           cast("tuple[Any, ...] | dict[str, Any] | np.ndarray", empty))

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env with its action; ended envs are reset in the same call (see the module docstring)."""
        validator = self._validator
        if validator is not None:
            actions = validator.check_actions(actions)
        n = self.num_envs
        if self._episode_log is not None:
            self._episode_log.record_actions(actions)
            result = self._step_one(actions, validator) if n == 1 else self._step_many(actions, validator)
            self._last_obs = result[0]
            return result
        if n == 1:
            return self._step_one(actions, validator)
        return self._step_many(actions, validator)

    def _step_many(
        self, actions: Any, validator: StepValidator | None
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        n = self.num_envs
        rewards = np.empty(n, dtype=np.float64)
        terminated = np.empty(n, dtype=np.bool_)
        truncated = np.empty(n, dtype=np.bool_)
        observations: list[Any] = [None] * n
        infos: dict[str, Any] = {}
        final_obs: list[Any] | None = None
        checked_dtype = self._checked_dtype
        for i, env in enumerate(self.envs):
            result = env.step(actions[i])
            try:
                obs, reward, term, trunc, info = result
            except (TypeError, ValueError):  # not five values: an env of the old step API
                self._raise_step_result(result, i)
            if validator is not None:
                validator.check_flags(i, term, trunc)
                validator.check_reward_type(i, reward)
            if checked_dtype is not None and getattr(obs, "dtype", None) != checked_dtype:
                self._check_raw_obs(obs, i)
            rewards[i] = reward
            terminated[i] = term
            truncated[i] = trunc
            if term or trunc:
                if final_obs is None:
                    final_obs = [None] * n
                final_obs[i] = obs
                infos = self._add_info(infos, {"final_info": info}, i)  # empty too: _final_info marks every end
                if self._episode_log is not None:
                    self._episode_log.before_reset(i, env, None)
                obs, info = env.reset()
                if checked_dtype is not None and getattr(obs, "dtype", None) != checked_dtype:
                    self._check_raw_obs(obs, i)
            observations[i] = obs
            if info:
                infos = self._add_info(infos, info, i)
        batch = self._stack(observations)
        if final_obs is not None:
            mask = terminated | truncated
            filler = observations[int(np.flatnonzero(mask)[0])]
            infos["final_obs"] = self._stack([o if o is not None else filler for o in final_obs])
            infos["_final_obs"] = mask
        if validator is not None:
            validator.check_step(batch, rewards, infos if final_obs is not None else None)
        return batch, rewards, terminated, truncated, infos

    def _step_one(
        self, actions: Any, validator: StepValidator | None
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """``step`` for a vector of one: the same results with a fraction of the per-step overhead."""
        env = self.envs[0]
        # a NumPy scalar, as Gymnasium's own vector envs pass: Discrete.contains (CartPole asserts it on every step)
        # takes a Python int through np.iinfo, which costs more than the whole rest of this method
        result = env.step(actions[0])
        try:
            obs, reward, term, trunc, info = result
        except (TypeError, ValueError):  # not five values: an env of the old step API
            self._raise_step_result(result, 0)
        checked_dtype = self._checked_dtype
        if validator is not None:
            validator.check_flags(0, term, trunc)
        if checked_dtype is not None and getattr(obs, "dtype", None) != checked_dtype:
            self._check_raw_obs(obs, 0)
        infos: dict[str, Any] = {}
        final = None
        if term or trunc:
            final = infos["final_obs"] = self._stack([obs])
            infos["_final_obs"] = np.ones(1, dtype=np.bool_)
            infos = self._add_info(infos, {"final_info": info}, 0)  # empty too: _final_info marks every end
            if self._episode_log is not None:
                self._episode_log.before_reset(0, env, None)
            obs, info = env.reset()
            if checked_dtype is not None and getattr(obs, "dtype", None) != checked_dtype:
                self._check_raw_obs(obs, 0)
        if info:
            infos = self._add_info(infos, info, 0)
        if self._is_array_obs:  # _stack's work without its list and loop
            batch = np.empty(self._obs_shape, dtype=self._obs_dtype)
            try:
                batch[0] = obs
            except (ValueError, TypeError):
                self._check_raw_obs(obs, 0)
                raise
        else:
            batch = self._stack([obs])
        if validator is not None:
            validator.check_one_step(batch, reward, term, trunc, final)
        return batch, np.array((reward,), dtype=np.float64), _FLAG[bool(term)], _FLAG[bool(trunc)], infos

    def render(self) -> Any:
        """Render the first env (video recording uses one env)."""
        return self.envs[0].render()

    def close_extras(self, **kwargs: Any) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()


class CheckedVectorEnv(gym.vector.VectorWrapper):
    """Adds porcini's run-time checks and reset seeds to any Gymnasium vector env with same-step autoreset.

    Args:
        env: e.g. an ``AsyncVectorEnv`` or a natively vectorized env.
        env_id: the name used in error messages.
        check: validate actions, observations and rewards on every step; without it only the seeds change.
    """

    def __init__(self, env: VectorEnv, env_id: str, check: bool = True) -> None:
        super().__init__(env)
        self._validator = (
            StepValidator(env_id, env.single_observation_space, env.single_action_space, env.num_envs)
            if check
            else None
        )
        # Gymnasium's own vector envs take one seed per index; a native one seeds a single generator
        self._per_index = isinstance(env.unwrapped, (gym.vector.AsyncVectorEnv, gym.vector.SyncVectorEnv))

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Validate actions, step, validate the results."""
        if self._validator is None:
            return self.env.step(actions)
        actions = self._validator.check_actions(actions)
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self._validator.check_step(obs, reward, info)
        return obs, reward, terminated, truncated, info

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset (an int seed as in :class:`SerialVectorEnv`, not Gymnasium's ``seed + i``); validate the result."""
        if isinstance(seed, (int, np.integer)):
            seeds = reset_seeds(seed, self.num_envs if self._per_index else 1)
            seed = seeds if self._per_index else seeds[0]
        # Gymnasium's vector envs take a list of seeds too, though their annotation says int
        obs, info = self.env.reset(seed=cast(Any, seed), options=options)
        if self._validator is not None:
            self._validator.check_obs(obs, what="reset observation")
        return obs, info

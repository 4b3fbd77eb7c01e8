"""Atari preprocessing (Mnih et al. 2015, "Human-level control through deep RL"), one wrapper per step.

:class:`NatureAtari` is the whole recipe, innermost first: :class:`NoopReset` (up to 30 no-ops after a reset),
:class:`MaxAndSkip` (repeat each action 4 frames, max over the last two), :class:`EpisodicLife` (training only),
:class:`FireReset` (games that wait for FIRE), :class:`GrayscaleResize` (84x84 grayscale, OpenCV) and
:class:`SignReward` (training only), then porcini's :class:`FrameStackObservation` (4 frames, channels-first
``[4, 84, 84]`` uint8 for the Nature CNN). The order is OpenAI Baselines' and Stable-Baselines3's ``AtariWrapper``,
whose numbers the RL Baselines3 Zoo reports.

The wrappers read the game through ``env.unwrapped``: ``get_action_meanings()`` and ``ale.lives()`` of ale_py's
``AtariEnv``. Training-only wrappers define ``evaluation_kwargs``: porcini's experiment runner builds its
evaluation env through :func:`porcini.envs.make.evaluation_wrappers`, so evaluation returns are game scores.
"""

from __future__ import annotations

import importlib
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers._common import make_box, require_box, require_env
from porcini.envs.wrappers.frames import FrameStackObservation
from porcini.errors import ConfigError, missing_extra

NOOP, FIRE = 0, 1


def action_meanings(owner: str, env: gym.Env) -> list[str]:
    """The Atari action names of ``env`` (``["NOOP", "FIRE", ...]``), or a TypeError naming what ``owner`` needs."""
    meanings = getattr(env.unwrapped, "get_action_meanings", None)
    if not callable(meanings):
        raise TypeError(f"{owner} needs an Atari env (ale_py's AtariEnv, e.g. gymnasium.make('ALE/Pong-v5')), got "
                        f"{type(env.unwrapped).__name__}, which has no get_action_meanings()")
    return list(meanings())


def ale_lives(owner: str, env: gym.Env) -> int:
    """The lives left in the game (``env.unwrapped.ale.lives()``), or a TypeError naming what ``owner`` needs."""
    ale = getattr(env.unwrapped, "ale", None)
    if ale is None or not callable(getattr(ale, "lives", None)):
        raise TypeError(f"{owner} needs an Atari env (ale_py's AtariEnv) whose unwrapped env has ale.lives(), got "
                        f"{type(env.unwrapped).__name__}")
    return int(ale.lives())


def _check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {name} = {value!r} is invalid: must be an int >= {minimum}")
    return int(value)


class NoopReset(gym.Wrapper):
    """After every reset, takes a random number of no-ops, uniform in ``1..noop_max``, so starts differ.

    The count is drawn from the env's own generator (``env.unwrapped.np_random``), so ``reset(seed=s)`` repeats
    it. Rewards of the no-ops are dropped; an episode that ends during them is reset again.

    Args:
        env: a single Atari env whose action 0 is NOOP.
        noop_max: the most no-ops (>= 1; 30 in the Nature paper).

    Example:
        >>> env = NoopReset(gym.make("ALE/Pong-v5", frameskip=1), noop_max=30)  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env, noop_max: int = 30) -> None:
        require_env("NoopReset", env, vector=False)
        meanings = action_meanings("NoopReset", env)
        if meanings[0] != "NOOP":
            raise ValueError(f"NoopReset needs action 0 to be NOOP, got {meanings[0]!r}")
        super().__init__(env)
        self.noop_max = _check_int("NoopReset", "noop_max", noop_max, 1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset, then step NOOP a random number of times; return the last observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        for _ in range(int(self.np_random.integers(1, self.noop_max + 1))):
            obs, _, terminated, truncated, info = self.env.step(NOOP)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        return obs, info


class FireReset(gym.Wrapper):
    """Presses FIRE (then action 2) after every reset, for games that wait for FIRE to start (Breakout).

    Action 2 after FIRE is OpenAI Baselines' (and Stable-Baselines3's): the RL Zoo's numbers were made with it.
    With ``fire_on_life_loss`` the same two actions follow every lost life too, inside the step that lost it
    (their rewards are added): an evaluation env has no :class:`EpisodicLife`, and a policy trained with one never
    had to press FIRE after losing a life, since the training env's reset did.

    Args:
        env: a single Atari env whose action 1 is FIRE (and that has at least 3 actions).
        fire_on_life_loss: also fire after each lost life (evaluation).

    Example:
        >>> env = FireReset(gym.make("ALE/Breakout-v5", frameskip=1))  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env, fire_on_life_loss: bool = False) -> None:
        require_env("FireReset", env, vector=False)
        meanings = action_meanings("FireReset", env)
        if len(meanings) < 3 or meanings[FIRE] != "FIRE":
            raise ValueError(f"FireReset needs action 1 to be FIRE and at least 3 actions, got {meanings}; use it "
                             "only for games that have FIRE")
        super().__init__(env)
        self.fire_on_life_loss = bool(fire_on_life_loss)
        self.lives = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset, then press FIRE and action 2; return the observation after them."""
        obs, info = self.env.reset(seed=seed, options=options)
        for action in (FIRE, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        self.lives = ale_lives("FireReset", self.env)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; with ``fire_on_life_loss``, press FIRE and action 2 right after a lost life."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        total = float(reward)
        lives = ale_lives("FireReset", self.env)
        if self.fire_on_life_loss and 0 < lives < self.lives and not (terminated or truncated):
            for follow in (FIRE, 2):
                obs, reward, terminated, truncated, info = self.env.step(follow)
                total += float(reward)
                if terminated or truncated:
                    break
            lives = ale_lives("FireReset", self.env)
        self.lives = lives
        return obs, total, terminated, truncated, info


class EpisodicLife(gym.Wrapper):
    """Training only: a lost life ends the episode for the learner (``terminated``); the game goes on.

    Losing a life is a terminal state for value estimation (Mnih et al. 2015), yet the game is reset only when it
    is over: ``reset()`` after a lost life takes one NOOP step and returns its observation. A seeded reset, a game
    over and a time limit (``truncated``, left as it is) reset the game for real. Evaluation envs leave it out
    (``evaluation_kwargs`` returns None), so an evaluation episode is a whole game.

    Args:
        env: a single Atari env (``env.unwrapped.ale.lives()``).

    Example:
        >>> env = EpisodicLife(gym.make("ALE/Breakout-v5", frameskip=1))  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env) -> None:
        require_env("EpisodicLife", env, vector=False)
        ale_lives("EpisodicLife", env)
        super().__init__(env)
        self.lives = 0
        self.game_over = True

    @classmethod
    def evaluation_kwargs(cls, kwargs: dict[str, Any]) -> None:
        """None: an evaluation env has no EpisodicLife (see :func:`porcini.envs.make.evaluation_wrappers`)."""
        return None

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; a life lost (while lives remain) sets ``terminated``."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = bool(terminated or truncated)
        lives = ale_lives("EpisodicLife", self.env)
        # lives > 0: some games (Qbert) sit at 0 lives for a few frames before the game ends; end only once
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the game if it is over (or ``seed`` is given); else one NOOP step continues it."""
        if self.game_over or seed is not None:
            obs, info = self.env.reset(seed=seed, options=options)
        else:
            obs, _, terminated, truncated, info = self.env.step(NOOP)
            if terminated or truncated:  # the NOOP itself can end the game
                obs, info = self.env.reset(options=options)
        self.game_over = False
        self.lives = ale_lives("EpisodicLife", self.env)
        return obs, info


class SignReward(gym.RewardWrapper):
    """Training only: every reward becomes its sign, -1, 0 or 1, so one learning rate suits every game.

    Evaluation envs leave it out (``evaluation_kwargs`` returns None): their returns are game scores. To clip to
    bounds instead, use :class:`~porcini.envs.wrappers.ClipReward`.

    Args:
        env: a single env.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", seed=0, wrappers=[SignReward])
        >>> _ = env.reset(seed=0)
        >>> float(env.step(np.array([0]))[1][0])
        1.0
    """

    def __init__(self, env: gym.Env) -> None:
        require_env("SignReward", env, vector=False)
        super().__init__(env)

    @classmethod
    def evaluation_kwargs(cls, kwargs: dict[str, Any]) -> None:
        """None: an evaluation env has no SignReward (see :func:`porcini.envs.make.evaluation_wrappers`)."""
        return None

    def reward(self, reward: SupportsFloat) -> float:
        """The sign of ``reward``."""
        return float(np.sign(float(reward)))


class MaxAndSkip(gym.Wrapper):
    """Repeats each action ``skip`` frames; returns the summed reward and the pixel-wise max of the last two frames.

    Atari sprites flicker (some are drawn only on odd or even frames); the max of two frames shows them all. An
    episode that ends within the skip stops there: the max is over the last two frames stepped (the one frame, if
    it ended on the first), so the final observation is a real one, which bootstrapping after a time limit uses.

    Args:
        env: a single env with a Box observation space (for Atari: made with ``frameskip=1``).
        skip: frames per action (>= 1; 4 in the Nature paper).

    Example:
        >>> env = MaxAndSkip(gym.make("ALE/Pong-v5", frameskip=1), skip=4)  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env, skip: int = 4) -> None:
        require_env("MaxAndSkip", env, vector=False)
        require_box("MaxAndSkip", env.observation_space, "observation", "it takes the max of image frames")
        super().__init__(env)
        self.skip = _check_int("MaxAndSkip", "skip", skip, 1)

    @property
    def inner_steps(self) -> int:
        """The most steps of the wrapped env one step takes: ``env.info.horizon`` counts steps of this wrapper."""
        return self.skip

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Step ``skip`` times (fewer if the episode ends) with ``action``."""
        total = 0.0
        previous: np.ndarray | None = None
        last: np.ndarray | None = None
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            # a copy: an env may hand out the same buffer every step
            previous, last = last, np.array(obs, copy=True)
            if terminated or truncated:
                break
        assert last is not None  # skip >= 1
        frame = last if previous is None else np.maximum(previous, last)
        return frame, total, terminated, truncated, info


class GrayscaleResize(gym.ObservationWrapper):
    """RGB frames ``[H, W, 3]`` uint8 to grayscale ``[height, width]`` uint8 with OpenCV (extra ``atari``).

    OpenCV's ``RGB2GRAY`` (BT.601 luma) then ``resize`` with ``INTER_AREA``, as Stable-Baselines3's ``WarpFrame``:
    the Nature-DQN frame. porcini's NumPy :class:`GrayscaleObservation` (Gymnasium's weights, not BT.601) and
    :class:`NumpyResizeObservation` compute a similar image without OpenCV, slower on Atari frames.

    Args:
        env: a single env with a ``Box(0, 255, (H, W, 3), uint8)`` observation space.
        shape: ``(height, width)`` of the output (84x84 in the Nature paper).

    Raises:
        MissingExtraError: OpenCV is not installed (names ``pip install "porcini[atari]"``).

    Example:
        >>> env = GrayscaleResize(gym.make("ALE/Pong-v5"), (84, 84))  # doctest: +SKIP
    """

    def __init__(self, env: gym.Env, shape: tuple[int, int] = (84, 84)) -> None:
        require_env("GrayscaleResize", env, vector=False)
        space = require_box("GrayscaleResize", env.observation_space, "observation", "it converts RGB frames")
        if space.dtype != np.uint8 or len(space.shape) != 3 or space.shape[-1] != 3:
            raise ValueError(f"GrayscaleResize needs uint8 RGB frames of shape [H, W, 3], got {space}")
        size = tuple(shape)
        if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
            raise ValueError(f"GrayscaleResize: shape = {shape!r} is invalid: give (height, width), positive ints")
        self._cv2 = import_cv2("GrayscaleResize")
        super().__init__(env)
        self.shape = (int(size[0]), int(size[1]))
        self.observation_space = make_box(0, 255, np.uint8, shape=self.shape)

    def observation(self, observation: Any) -> np.ndarray:
        """The grayscale, resized frame."""
        cv2 = self._cv2
        gray = cv2.cvtColor(np.asarray(observation), cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_AREA)


def import_cv2(what: str) -> Any:
    """Import OpenCV, or raise MissingExtraError naming ``pip install "porcini[atari]"``."""
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError as err:
        raise missing_extra(f"{what} (OpenCV)", "atari", err) from err
    cv2.ocl.setUseOpenCL(False)  # OpenCL start-up costs more than it saves on 210x160 frames
    return cv2


class NatureAtari(gym.Wrapper):
    """The Nature-DQN Atari preprocessing in one wrapper: ``[stack_size, 84, 84]`` uint8 observations.

    Innermost first: :class:`NoopReset`, :class:`MaxAndSkip`, :class:`EpisodicLife` (training),
    :class:`FireReset` (games with FIRE), :class:`GrayscaleResize`, :class:`SignReward` (training),
    :class:`FrameStackObservation`. With ``training=False`` (what ``evaluation_kwargs`` gives the evaluation env)
    episodes are whole games with their real scores, and FIRE follows every lost life as it follows a reset.

    The env must step one frame per action (``gymnasium.make("ALE/Pong-v5", frameskip=1)``) so that
    :class:`MaxAndSkip` does the skipping; see docs/environments.md, "Atari".

    Args:
        env: a single ale_py ``AtariEnv`` made with ``frameskip=1``.
        training: the training variant (episodic life, sign rewards) or the evaluation one.
        noop_max: the most no-ops after a reset (0: none).
        frame_skip: frames per action.
        screen_size: height and width of the frames.
        stack_size: frames stacked (1: no stacking, observations ``[84, 84]``).

    Raises:
        ConfigError: the env skips frames itself (a usage error: the command line exits with code 2).

    Example:
        >>> from porcini import make_env
        >>> env = make_env("ALE/Pong-v5", env_kwargs={"frameskip": 1}, wrappers=[NatureAtari])  # doctest: +SKIP
        >>> env.single_observation_space.shape  # doctest: +SKIP
        (4, 84, 84)
    """

    def __init__(self, env: gym.Env, *, training: bool = True, noop_max: int = 30, frame_skip: int = 4,
                 screen_size: int = 84, stack_size: int = 4) -> None:
        require_env("NatureAtari", env, vector=False)
        meanings = action_meanings("NatureAtari", env)
        frameskip = getattr(env.unwrapped, "_frameskip", 1)
        if frameskip != 1:
            raise ConfigError(f"NatureAtari needs an env that steps one frame per action, got frameskip={frameskip}; "
                             "make it with frameskip=1 (make_env(..., env_kwargs={'frameskip': 1}), in a run config "
                             "env.kwargs: {frameskip: 1}) so that its MaxAndSkip does the skipping")
        _check_int("NatureAtari", "noop_max", noop_max, 0)
        for name, value in (("frame_skip", frame_skip), ("screen_size", screen_size), ("stack_size", stack_size)):
            _check_int("NatureAtari", name, value, 1)
        chain = NoopReset(env, noop_max) if noop_max > 0 else env
        chain = MaxAndSkip(chain, frame_skip) if frame_skip > 1 else chain
        chain = EpisodicLife(chain) if training else chain
        chain = FireReset(chain, fire_on_life_loss=not training) if "FIRE" in meanings else chain
        chain = GrayscaleResize(chain, (screen_size, screen_size))
        chain = SignReward(chain) if training else chain
        chain = FrameStackObservation(chain, stack_size) if stack_size > 1 else chain
        super().__init__(chain)
        self.training = bool(training)

    @classmethod
    def evaluation_kwargs(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The evaluation env's arguments: these, with ``training=False``."""
        return {**kwargs, "training": False}

"""The Atari recipe on real ale_py games: make_atari_env, DQN and PPO through Core, the CLI's configs of record,
evaluation envs without the training-only wrappers, and the one-line error when the atari extra is missing."""

import json
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from porcini import Core
from porcini.algorithms import DQN, PPO
from porcini.envs.adapters import make_atari_env
from porcini.errors import MissingExtraError
from porcini.experiment import run_config_of_record
from porcini.experiment.cli import main
from porcini.experiment.envs import build_envs

pytest.importorskip("ale_py", reason='ale_py is not installed: pip install "porcini[atari]"')
pytest.importorskip("cv2", reason='OpenCV is not installed: pip install "porcini[atari]"')


def wrapper_types(vector_env):
    env, out = vector_env.envs[0], []
    while isinstance(env, gym.Wrapper):
        out.append(type(env).__name__)
        env = env.env
    return out


def test_pong_recipe_trains_dqn_through_core():
    env = make_atari_env("ALE/Pong-v5", seed=0)
    assert env.single_observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert env.single_action_space == gym.spaces.Discrete(6)
    agent = DQN(env.info, buffer_size=500, learning_starts=200, train_freq=4, target_update_interval=50,
                net_arch=(), seed=0)
    before = [p.detach().clone() for p in agent.q_net.parameters()]
    result = Core(agent, env, progress=False).learn(steps=300)
    assert result.steps == 300 and agent.n_updates == (300 - 200) // 4
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.q_net.parameters()))  # it learned from frames
    env.close()


def test_pong_recipe_trains_ppo_through_core():
    env = make_atari_env("ALE/Pong-v5", n_envs=2, seed=0, vectorization="sync")
    agent = PPO(env.info, n_steps=64, batch_size=64, n_epochs=1, net_arch=(), ent_coef=0.01, seed=0)
    result = Core(agent, env, progress=False).learn(steps=256)
    assert result.steps == 256 and np.isfinite(result.last_metrics["loss_value"])
    env.close()


def test_breakout_evaluation_variant_plays_one_whole_game_firing_after_each_lost_life():
    env = make_atari_env("ALE/Breakout-v5", seed=0, training=False)
    env.reset(seed=0)
    ale = env.envs[0].unwrapped.ale
    lives_seen = {ale.lives()}
    for _ in range(5000):
        _, _, terminated, truncated, _ = env.step(np.array([0]))  # NOOP only: the recipe must relaunch the ball
        lives_seen.add(ale.lives())
        if terminated[0] or truncated[0]:
            break
    # the episode ended once, at game over (same-step autoreset has already put 5 lives back): no lost life ended
    # it, and without FIRE after each the game would sit still until the time limit truncated it
    assert terminated[0] and not truncated[0] and lives_seen == {5, 4, 3, 2, 1}
    env.close()


def test_the_cli_runs_the_config_of_record_and_evaluates_without_training_only_wrappers(tmp_path):
    run = run_config_of_record("dqn", "ALE/Pong-v5", {"eval_episodes": 1})
    assert run.env.wrappers == ("NatureAtari",) and run.env.kwargs["frameskip"] == 1
    train_env, eval_env = build_envs(run)
    assert {"EpisodicLife", "SignReward", "FireReset"} <= set(wrapper_types(train_env))
    assert "EpisodicLife" not in wrapper_types(eval_env) and "SignReward" not in wrapper_types(eval_env)
    assert eval_env.envs[0].training is False and eval_env.single_observation_space.shape == (4, 84, 84)
    train_env.close()
    eval_env.close()
    result = CliRunner().invoke(main, [
        "train", "dqn", "ALE/Pong-v5", "--steps", "200", "--json", "--no-progress", "--out", str(tmp_path),
        "--set", "eval_episodes=1", "--set", "env.max_episode_steps=400", "--set", "algo.buffer_size=300",
        "--set", "algo.learning_starts=100", "--set", "log.sinks=[csv]"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["env_steps"] == 200 and summary["eval_episodes"] == 1
    # Pong's score: -21..21, here over a game cut at 400 frames (a few points), never a per-life or signed return
    assert -21 <= summary["eval_return_mean"] <= 21


def test_make_env_imports_ale_py_for_an_ale_id_in_a_fresh_process():
    code = ("import sys; from porcini.envs import make_env; assert 'ale_py' not in sys.modules; "
            "print(make_env('ALE/Pong-v5', env_kwargs={'frameskip': 1}).single_observation_space.shape)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "(210, 160, 3)"


def test_the_recipe_on_an_env_that_skips_frames_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["train", "dqn", "ALE/Seaquest-v5", "--set", "env.wrappers=[NatureAtari]",
                                       "--steps", "100", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "frameskip=4" in result.output and "env.kwargs: {frameskip: 1}" in result.output


@pytest.fixture
def without_ale_py(monkeypatch):
    """ale_py not installed: its import fails and no ALE id is registered."""
    monkeypatch.setitem(sys.modules, "ale_py", None)
    for env_id in [k for k in gym.registry if k.startswith("ALE/")]:
        monkeypatch.delitem(gym.registry, env_id)


def test_missing_ale_py_is_a_one_line_error_naming_the_atari_extra(without_ale_py, tmp_path):
    with pytest.raises(MissingExtraError, match=r'pip install "porcini\[atari\]"'):
        make_atari_env("ALE/Pong-v5")
    result = CliRunner().invoke(main, ["train", "dqn", "ALE/Pong-v5", "--steps", "100", "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and 'pip install "porcini[atari]"' in lines[0], result.output


def test_missing_opencv_is_an_error_naming_the_atari_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MissingExtraError, match=r'OpenCV.*pip install "porcini\[atari\]"'):
        make_atari_env("ALE/Pong-v5")


def test_make_atari_env_refuses_other_envs():
    with pytest.raises(ValueError, match="not an ale_py Atari game"):
        make_atari_env("CartPole-v1")

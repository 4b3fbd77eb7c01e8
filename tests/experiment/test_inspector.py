"""The inspector draws what explain() gives: value, action probabilities, Q-values, policy mean ± std."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from porcini import make_env
from porcini.algorithms.policy_gradient.recurrent_ppo import RecurrentPPO
from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.inspector import PANEL_TITLES, episode_figure, record_episode_trace
from porcini.experiment.launch import resolve

pytest.importorskip("matplotlib")


def run(tmp_path, algo, env, *overrides):
    config = resolve(algo, env, None, ["steps=300", "steps_per_epoch=300", "log.sinks=[csv]", f"out={tmp_path}",
                                       "eval_episodes=1", "env.n_envs=1", *overrides])
    return Experiment.start(config, progress=False).train().extra["run_dir"]


def titles(fig):
    import matplotlib.pyplot as plt

    try:
        return [ax.get_title(loc="left") for ax in fig.axes]
    finally:
        plt.close(fig)


@pytest.mark.parametrize(("algo", "env", "overrides", "panels"), [
    ("ppo", "CartPole-v1", ["n_steps=64", "batch_size=64"], ["action", "reward", "value", "action_probs"]),
    ("ppo", "Pendulum-v1", ["n_steps=64", "batch_size=64"], ["action", "reward", "value", "action_mean"]),
    ("ppo", "porcini/MatchCues-v0", ["n_steps=64", "batch_size=64"], ["action", "reward", "value", "component_probs"]),
    ("a2c", "porcini/MatchBits-v0", ["n_steps=8"], ["action", "reward", "value", "bit_probs"]),
    ("dqn", "CartPole-v1", ["learning_starts=50", "net_arch=[16]"], ["action", "reward", "value", "q_values"]),
    ("sac", "Pendulum-v1", ["learning_starts=250", "batch_size=16", "net_arch=[16,16]"],
     ["action", "reward", "value", "pre_tanh_mean"]),
])
def test_the_picture_has_a_panel_for_each_quantity_the_agent_explains(tmp_path, algo, env, overrides, panels):
    fig = episode_figure(run(tmp_path, algo, env, *overrides))
    assert titles(fig) == [PANEL_TITLES[key] for key in panels]


def test_inspect_command_writes_the_picture(tmp_path):
    run_dir = run(tmp_path, "dqn", "CartPole-v1", "learning_starts=50", "net_arch=[16]")
    out = tmp_path / "inspect.png"
    result = CliRunner().invoke(main, ["inspect", run_dir, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000


def test_a_recurrent_agent_is_traced_from_a_fresh_state_and_gets_its_own_back():
    train_env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = RecurrentPPO(train_env.info, n_steps=8, batch_size=16, n_epochs=1, lstm_hidden_size=8)
    obs, _ = train_env.reset(seed=0)
    agent.act(obs, explore=True)
    (h, c), _ = agent.recurrent_state()
    saved = h.clone()
    trace = record_episode_trace(agent, make_env("CartPole-v1", n_envs=1, seed=5), seed=5)
    assert trace["value"].shape == trace["reward"].shape and trace["action_probs"].shape == (len(trace["reward"]), 2)
    np.testing.assert_allclose(trace["action_probs"].sum(-1), 1.0, rtol=1e-6)
    assert torch.equal(agent.recurrent_state()[0][0], saved)


def test_a_recurrent_agent_without_a_state_gets_none_back_not_the_traces_state():
    # set_recurrent_state(None): a fresh state at the next act; the trace's last LSTM state must not be left behind
    agent = RecurrentPPO(make_env("CartPole-v1", n_envs=1, seed=0).info, n_steps=8, batch_size=8, lstm_hidden_size=8)
    agent.set_recurrent_state(None)
    record_episode_trace(agent, make_env("CartPole-v1", n_envs=1, seed=5), seed=5)
    assert agent.recurrent_state() is None

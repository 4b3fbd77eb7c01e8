import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.core import BaseAgent, Callback, TransitionBatch
from porcini.envs.testing import CountingEnv


class RecordingAgent(BaseAgent):
    """Acts 0, keeps every batch it is given, counts resets."""

    def __init__(self, info, fit_every_steps=None, fit_every_episodes=None):
        self.info = info
        self.fit_every_steps = fit_every_steps
        self.fit_every_episodes = fit_every_episodes
        self.batches: list[TransitionBatch] = []
        self.resets: list[np.ndarray] = []

    def act(self, obs, *, explore):
        return np.zeros(len(obs), dtype=np.int64)

    def fit(self, batch):
        self.batches.append(batch)
        return {"n": float(batch.n_rows)}

    def reset(self, ended):
        self.resets.append(np.asarray(ended).copy())


def counting_env(n_envs, vectorization="sync", **kwargs):
    return make_env(lambda: CountingEnv(**kwargs), n_envs=n_envs, seed=0, vectorization=vectorization)


def all_transitions(agent):
    return TransitionBatch.concatenate(agent.batches, axis=0)


@pytest.mark.parametrize("n_envs,vectorization", [(1, "sync"), (3, "sync"), (2, "async")])
@pytest.mark.parametrize("kind", ["truncate", "terminate"])
def test_flags_and_final_observations(n_envs, vectorization, kind):
    kwargs = {"truncate_at": 5} if kind == "truncate" else {"terminate_at": 3}
    length = 5 if kind == "truncate" else 3
    env = counting_env(n_envs, vectorization, **kwargs)
    agent = RecordingAgent(env.info, fit_every_steps=4 * n_envs)
    result = Core(agent, env, progress=False).learn(steps=24 * n_envs)
    b = all_transitions(agent)
    assert b.obs.shape == (24, n_envs, 2)
    # no transition crosses an episode boundary: same episode, t advances by exactly one
    np.testing.assert_array_equal(b.next_obs[..., 0], b.obs[..., 0])
    np.testing.assert_array_equal(b.next_obs[..., 1], b.obs[..., 1] + 1)
    ends_at_length = b.next_obs[..., 1] == length
    flag = b.truncated if kind == "truncate" else b.terminated
    other = b.terminated if kind == "truncate" else b.truncated
    np.testing.assert_array_equal(flag, ends_at_length)
    assert not other.any()
    # the observation after an ended episode is the first of the next episode
    after = b.obs[1:][flag[:-1]]
    assert (after[:, 1] == 0).all()
    assert result.episodes.n_episodes == n_envs * (24 // length)
    assert set(result.episodes.lengths) == {length}
    assert set(result.episodes.returns) == {float(length)}


def test_learn_twice_equals_learn_once():
    env_a, env_b = counting_env(2, truncate_at=5), counting_env(2, truncate_at=5)
    a, b = RecordingAgent(env_a.info, 6), RecordingAgent(env_b.info, 6)
    core_a = Core(a, env_a, progress=False)
    core_a.learn(steps=20)
    core_a.learn(steps=20)
    Core(b, env_b, progress=False).learn(steps=40)
    x, y = all_transitions(a), all_transitions(b)
    np.testing.assert_array_equal(x.obs, y.obs)
    np.testing.assert_array_equal(x.truncated, y.truncated)
    assert core_a.env_steps == 40


def test_fit_every_episodes_and_resets():
    env = counting_env(2, terminate_at=3)
    agent = RecordingAgent(env.info, fit_every_episodes=4)
    core = Core(agent, env, progress=False)
    core.learn(episodes=8)
    # two envs end together every 3 steps: 4 episodes per 6 steps, one fit per 2 endings
    assert [bt.n_rows for bt in agent.batches] == [6, 6]
    assert core.episodes == 8
    ended = [r for r in agent.resets[1:]]  # the first reset is the initial one (all envs)
    assert all(r.all() for r in ended)
    assert agent.resets[0].all()


def test_fit_every_steps_rounds_up_to_vector_steps():
    env = counting_env(4, truncate_at=50)
    agent = RecordingAgent(env.info, fit_every_steps=10)
    Core(agent, env, progress=False).learn(steps=24)
    assert [bt.n_rows for bt in agent.batches] == [3, 3]


def test_callbacks_and_epochs():
    calls = {"step": 0, "fit": 0, "epoch": [], "episodes": 0, "start": 0, "end": 0}

    class Hooks(Callback):
        def on_learn_start(self, core):
            calls["start"] += 1

        def on_step(self, core, action, reward, terminated, truncated, info):
            calls["step"] += 1

        def on_fit(self, core, metrics):
            calls["fit"] += 1

        def on_episode_end(self, core, returns, lengths):
            calls["episodes"] += len(returns)

        def on_epoch_end(self, core):
            calls["epoch"].append(core.env_steps)

        def on_learn_end(self, core):
            calls["end"] += 1

    env = counting_env(2, truncate_at=4)
    core = Core(RecordingAgent(env.info, fit_every_steps=4), env, callbacks=[Hooks()], progress=False)
    core.learn(steps=40, steps_per_epoch=10)
    assert calls["step"] == 20
    assert calls["fit"] == 10
    assert calls["epoch"] == [10, 20, 30, 40]
    assert calls["episodes"] == 10
    assert calls["start"] == calls["end"] == 1


@pytest.mark.parametrize("with_step_hook", [False, True])
def test_core_obs_at_hooks_is_what_the_agent_acts_on_next(with_step_hook):
    # A checkpoint written at a fit or an epoch end saves core.obs; resuming acts on it. It must be the observation
    # the agent is handed next (the reset observation where an episode just ended), never a stale one.
    seen_at_hooks, acted_on = [], []

    class Acting(RecordingAgent):
        def act(self, obs, *, explore):
            acted_on.append(obs.copy())
            return super().act(obs, explore=explore)

    class Hooks(Callback):
        def on_fit(self, core, metrics):
            seen_at_hooks.append((len(acted_on), core.obs.copy()))

        def on_epoch_end(self, core):
            seen_at_hooks.append((len(acted_on), core.obs.copy()))

    class StepHook(Callback):
        def on_step(self, core, action, reward, terminated, truncated, info):
            seen_at_hooks.append((len(acted_on), core.obs.copy()))

    env = counting_env(2, truncate_at=5)
    callbacks = [Hooks(), StepHook()] if with_step_hook else [Hooks()]
    core = Core(Acting(env.info, fit_every_steps=6), env, callbacks=callbacks, progress=False)
    core.learn(steps=60, steps_per_epoch=10)  # fits and epochs fall on steps where episodes end, and elsewhere
    assert len(seen_at_hooks) >= 16
    for n_acts, obs in seen_at_hooks:
        if n_acts < len(acted_on):
            np.testing.assert_array_equal(obs, acted_on[n_acts])
    np.testing.assert_array_equal(core.obs, seen_at_hooks[-1][1])


def test_stop_requested_ends_learning():
    class StopAfterFirstEpisode(Callback):
        def on_episode_end(self, core, returns, lengths):
            core.stop_requested = True

    env = counting_env(1, terminate_at=3)
    core = Core(RecordingAgent(env.info), env, callbacks=[StopAfterFirstEpisode()], progress=False)
    result = core.learn(steps=100)
    assert result.steps == 3


def test_evaluate_per_env_quotas_and_separate_env():
    env = counting_env(1, truncate_at=5)
    core = Core(RecordingAgent(env.info), env, progress=False)
    with pytest.raises(ValueError, match="separate env"):
        core.evaluate(3)
    eval_env = make_env(lambda: CountingEnv(truncate_at=2), n_envs=3, seed=1)
    record = Core(RecordingAgent(env.info), env, eval_env=eval_env, progress=False).evaluate(7)
    assert record.n_episodes == 7
    assert record.lengths == [2] * 7


def test_core_rejects_next_step_autoreset():
    import gymnasium as gym

    env = gym.vector.SyncVectorEnv([lambda: CountingEnv(truncate_at=3)])
    with pytest.raises(Exception, match="same-step"):
        Core(RecordingAgent(None), env)


def test_random_agent_on_cartpole_records_episodes():
    env = make_env("CartPole-v1", n_envs=4, seed=0)
    result = Core(RandomAgent(env.info), env, progress=False).learn(steps=2000)
    assert result.episodes.n_episodes > 40
    assert 10 < np.mean(result.episodes.returns) < 40  # a random policy balances ~22 steps on average


def test_a_stop_requested_before_learn_is_honoured_and_does_not_block_the_next_call():
    env = counting_env(1, terminate_at=3)
    core = Core(RecordingAgent(env.info), env, progress=False)
    core.stop_requested = True  # e.g. a signal handler ran while the run was being set up
    assert core.learn(steps=100).steps == 0
    assert core.stop_requested  # still visible after the learn it stopped (the caller checkpoints on it)
    assert core.learn(steps=10).steps == 10


def test_the_loop_follows_its_schedule(monkeypatch):
    from porcini.core.schedule import LoopSchedule

    calls = []
    real_keep_going = LoopSchedule.keep_going

    def keep_going(self, steps, episodes):
        calls.append((steps, episodes))
        return real_keep_going(self, steps, episodes)

    monkeypatch.setattr(LoopSchedule, "keep_going", keep_going)
    monkeypatch.setattr(LoopSchedule, "epoch_due", lambda self, steps_since_epoch: steps_since_epoch >= 3)
    env = counting_env(1, terminate_at=3)
    core = Core(RecordingAgent(env.info), env, progress=False)
    core.learn(steps=7, steps_per_epoch=100)
    assert calls == [(i, i // 3) for i in range(8)]  # steps and episodes of this call, before every step
    assert core.epochs == 2  # the epochs end where LoopSchedule.epoch_due says, not where the loop would compute


def test_evaluation_dataset_and_inspector_step_through_env_step(monkeypatch):
    import porcini.core.stepper as stepper
    from porcini.core.evaluation import run_episodes
    from porcini.data.dataset import collect_dataset
    from porcini.experiment.inspector import record_episode_trace

    steps = []
    real = stepper.env_step

    def counted(env, state, action):
        steps.append(len(action))
        return real(env, state, action)

    for module in ("porcini.core.loop", "porcini.core.evaluation", "porcini.data.dataset",
                   "porcini.experiment.inspector"):
        monkeypatch.setattr(f"{module}.env_step", counted)
    env = counting_env(2, terminate_at=3)
    agent = RecordingAgent(env.info)
    assert len(run_episodes(agent, env, 2).returns) == 2 and len(steps) == 3
    assert len(collect_dataset(env, lambda obs: agent.act(obs, explore=True), steps=8)) == 8 and len(steps) == 7
    assert len(record_episode_trace(agent, env, seed=0)["reward"]) == 3 and len(steps) == 10
    Core(agent, counting_env(1, terminate_at=3), progress=False).learn(steps=5)
    assert len(steps) == 15

"""Unit tests of the tabular/linear TD agents: update rules by hand and against slow reference loops, the on-policy
next-action cache, trace cuts through Core, determinism and checkpoint round trips."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms import get_algorithm
from porcini.algorithms.tabular.base import TDAgent
from porcini.algorithms.tabular.q_learning import QLearning
from porcini.algorithms.tabular.sarsa import Sarsa
from porcini.algorithms.tabular.sarsa_lambda import SarsaLambda
from porcini.algorithms.tabular.true_online_sarsa_lambda import TrueOnlineSarsaLambda
from porcini.approximators import Features, TileCoding
from porcini.core import Callback, ConfigError, TransitionBatch
from porcini.envs import EnvInfo
from porcini.envs.testing import CountingEnv
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint

TD_AGENTS = ["q_learning", "sarsa", "expected_sarsa", "double_q_learning", "sarsa_lambda", "true_online_sarsa_lambda"]


def discrete_info(n_states=3, n_actions=2, n_envs=1):
    return EnvInfo("hand", gym.spaces.Discrete(n_states), gym.spaces.Discrete(n_actions), n_envs=n_envs)


def column(obs, action, reward, next_obs, terminated, truncated=None):
    """A [T, 1] batch from per-step lists."""
    t = len(obs)
    truncated = [False] * t if truncated is None else truncated
    return TransitionBatch(np.array(obs)[:, None], np.array(action)[:, None], np.array(reward, float)[:, None],
                           np.array(next_obs)[:, None], np.array(terminated)[:, None], np.array(truncated)[:, None])


# s0 -a0-> s1 -a0-> s0 -a0-> s2 (terminated, reward 1); (s0, a0) is visited twice, so the trace types differ.
EPISODE = column(obs=[0, 1, 0], action=[0, 0, 0], reward=[0, 0, 1], next_obs=[1, 0, 2], terminated=[0, 0, 1])


@pytest.mark.parametrize("trace_type,q00", [("accumulating", 0.7592), ("replacing", 0.5)])
def test_sarsa_lambda_traces_by_hand(trace_type, q00):
    # alpha 0.5, gamma 0.9, lambda 0.8, Q = 0: the TD errors are 0, 0, then 1 at the last step.
    # Traces at the last step: z(0,0) decayed twice (0.72^2 = 0.5184) then +1 (accumulating: 1.5184) or = 1
    # (replacing); z(1,0) = 0.72. Update alpha * delta * z: Q(0,0) = 0.7592 or 0.5, Q(1,0) = 0.36.
    agent = SarsaLambda(discrete_info(), learning_rate=0.5, gamma=0.9, trace_decay=0.8, trace_type=trace_type)
    agent.fit(EPISODE)
    expected = np.zeros((3, 2))
    expected[0, 0], expected[1, 0] = q00, 0.36
    np.testing.assert_allclose(agent.q.table, expected, atol=1e-12)
    assert not agent.traces.any()  # cut after the terminating transition


def test_one_step_updates_by_hand():
    # Q-learning and SARSA on (s0, a1, r=2, s1) with Q(s1) = [4, -4]: alpha 0.5, gamma 0.5.
    batch = column(obs=[0], action=[1], reward=[2], next_obs=[1], terminated=[False])
    q_agent = QLearning(discrete_info(), learning_rate=0.5, gamma=0.5)
    q_agent.q.table[1] = [4.0, -4.0]
    q_agent.fit(batch)
    assert q_agent.q.table[0, 1] == pytest.approx(0.5 * (2 + 0.5 * 4))
    # expected SARSA with epsilon = 0.5 over 2 actions: pi = [0.75, 0.25], E Q = 2
    es = get_algorithm("expected_sarsa")(discrete_info(), learning_rate=0.5, gamma=0.5, epsilon=0.5)
    es.q.table[1] = [4.0, -4.0]
    es.fit(batch)
    assert es.q.table[0, 1] == pytest.approx(0.5 * (2 + 0.5 * 2))
    # terminated: no bootstrap; truncated: bootstrap
    for terminated, truncated, expected in ((True, False, 1.0), (False, True, 2.0)):
        agent = QLearning(discrete_info(), learning_rate=0.5, gamma=0.5)
        agent.q.table[1] = [4.0, -4.0]
        agent.fit(column([0], [1], [2], [1], [terminated], [truncated]))
        assert agent.q.table[0, 1] == pytest.approx(expected)


def test_double_q_updates_one_table_with_the_other_evaluating():
    agent = get_algorithm("double_q_learning")(discrete_info(n_envs=1), learning_rate=1.0, gamma=1.0)
    agent.q.table[1] = [1.0, 0.0]  # Q_A picks action 0 in s1 ...
    agent.q_b.table[1] = [5.0, 9.0]  # ... and Q_B evaluates it at 5 (not its own max 9)
    agent.fit(column([0], [0], [0], [1], [False]))
    updated_a = agent.q.table[0, 0] != 0
    if updated_a:
        assert agent.q.table[0, 0] == 5.0 and agent.q_b.table[0, 0] == 0.0
    else:  # Q_B picks action 1 and Q_A evaluates it at 0
        assert agent.q_b.table[0, 0] == 0.0 and agent.q.table[0, 0] == 0.0
    # over many updates both tables get updated about equally often
    hits = np.zeros(2)
    for k in range(400):
        before_a, before_b = agent.q.table.copy(), agent.q_b.table.copy()
        agent.fit(column([2], [1], [k + 1.0], [2], [True]))  # alpha = 1: the updated table takes the new reward
        hits += [not np.array_equal(before_a, agent.q.table), not np.array_equal(before_b, agent.q_b.table)]
    assert hits.sum() == 400 and 150 < hits[0] < 250  # Binomial(400, 0.5): 200 +- 10


def reference_sarsa_lambda(features, episodes_rows, n_actions, alpha, gamma, lam, kind):
    """Slow loop: one env, dense feature vectors, the book's Sarsa(lambda) (binary features)."""
    w = np.zeros((features.n_features, n_actions))
    z = np.zeros_like(w)
    for obs, a, r, next_obs, next_a, terminated, ended in episodes_rows:
        x = features(obs[None])[0]
        q_next = 0.0 if terminated else features(next_obs[None])[0] @ w[:, next_a]
        delta = r + gamma * q_next - x @ w[:, a]
        z *= gamma * lam
        if kind == "accumulating":
            z[:, a] += x
        else:
            z[:, a] = np.where(x > 0, x, z[:, a])
        w += alpha * delta * z
        if ended:
            z[:] = 0.0
    return w


def reference_true_online(features, rows, n_actions, alpha, gamma, lam):
    """Slow loop of Sutton & Barto (2018) p. 307, dense vectors, x(s, a) = phi(s) in the block of action a."""
    n = features.n_features * n_actions

    def x_of(obs, a):
        x = np.zeros(n)
        x[a * features.n_features:(a + 1) * features.n_features] = features(obs[None])[0]
        return x

    w, z, q_old = np.zeros(n), np.zeros(n), 0.0
    for obs, a, r, next_obs, next_a, terminated, ended in rows:
        x, x_next = x_of(obs, a), x_of(next_obs, next_a)
        q, q_next = w @ x, (0.0 if terminated else w @ x_next)
        delta = r + gamma * q_next - q
        z = gamma * lam * z + (1 - alpha * gamma * lam * (z @ x)) * x
        w = w + alpha * (delta + q - q_old) * z - alpha * (q - q_old) * x
        q_old = q_next
        if ended:
            z, q_old = np.zeros(n), 0.0
    return w.reshape(n_actions, features.n_features).T


def random_trajectory(rng, n_steps, obs_dim):
    """Episodes of random length with random obs/actions/rewards; ends mixed terminated/truncated."""
    obs = rng.random((n_steps, obs_dim))
    next_obs = np.roll(obs, -1, axis=0)
    end = rng.random(n_steps) < 0.15
    end[-1] = True
    terminated = end & (rng.random(n_steps) < 0.5)
    truncated = end & ~terminated
    next_obs[end] = rng.random((int(end.sum()), obs_dim))  # the final observation of an ended episode
    return obs, rng.integers(0, 3, n_steps), rng.normal(size=n_steps), next_obs, terminated, truncated


class RecordNextActions:
    """Wraps an agent's _update to record the on-policy next action of every transition, in the order applied."""

    def __init__(self, agent):
        self.next_actions = []
        update = agent._update

        def recorded(step):
            self.next_actions.append(step.next_action)
            return update(step)

        agent._update = recorded

    def rows(self, n_envs):
        """The recorded next actions as ``[T, B]`` (fit applies a row's transitions in env order)."""
        return np.array(self.next_actions).reshape(-1, n_envs)


@pytest.mark.parametrize("agent_name", ["sarsa_lambda_accumulating", "sarsa_lambda_replacing", "true_online"])
def test_trace_agents_match_slow_reference_on_random_trajectories(agent_name):
    rng = np.random.default_rng(7)
    tiles = TileCoding(low=[0, 0], high=[1, 1], n_tilings=4, tiles_per_dim=3)
    info = EnvInfo("random", gym.spaces.Box(0, 1, (2,)), gym.spaces.Discrete(3))
    obs, action, reward, next_obs, terminated, truncated = random_trajectory(rng, 120, 2)
    alpha, gamma, lam = 0.3, 0.9, 0.7
    if agent_name == "true_online":
        agent = TrueOnlineSarsaLambda(info, feature_map=tiles, learning_rate=alpha, gamma=gamma, trace_decay=lam)
    else:
        kind = agent_name.split("_")[-1]
        agent = SarsaLambda(info, feature_map=tiles, learning_rate=alpha, gamma=gamma, trace_decay=lam, trace_type=kind)
    recorder = RecordNextActions(agent)
    agent.fit(TransitionBatch(obs[:, None], action[:, None], reward[:, None], next_obs[:, None],
                              terminated[:, None], truncated[:, None]))
    next_actions = recorder.rows(1)[:, 0]
    ended = terminated | truncated
    # within an episode the next action is the one taken next; after a truncation it was sampled (we reuse it)
    np.testing.assert_array_equal(next_actions[:-1][~ended[:-1]], action[1:][~ended[:-1]])
    rows = list(zip(obs, action, reward, next_obs, next_actions, terminated, ended))
    step = alpha / tiles.n_active  # binary features: learning_rate is per unit of ||x||^2
    if agent_name == "true_online":
        expected = reference_true_online(tiles, rows, 3, step, gamma, lam)
    else:
        expected = reference_sarsa_lambda(tiles, rows, 3, step, gamma, lam, agent_name.split("_")[-1])
    np.testing.assert_allclose(agent.q.weights, expected, atol=1e-10)


class OneHotStep(Features):
    """One-hot of the step counter of CountingEnv's observation [episode, t]."""

    binary = True
    n_features = 8
    n_active = 1

    def sparse(self, obs):
        t = np.asarray(obs)[:, 1].astype(np.int64)
        return t[:, None], np.ones((len(t), 1))


@pytest.mark.parametrize("end", ["terminate", "truncate"])
def test_traces_through_core_span_the_whole_episode(end):
    # Core calls reset(ended) before the fit that holds the ending transition; the trace must still carry the
    # last TD error back to the earlier states. One action, reward 1 per step, episodes of 3 steps.
    kwargs = {"terminate_at": 3} if end == "terminate" else {"truncate_at": 3}
    env = make_env(lambda: CountingEnv(n_actions=1, **kwargs), seed=0)
    alpha, gamma, lam = 0.5, 0.9, 0.8
    agent = SarsaLambda(env.info, feature_map=OneHotStep(), learning_rate=alpha, gamma=gamma, trace_decay=lam)
    Core(agent, env, progress=False).learn(steps=6)  # two episodes
    # reference: the same two episodes through the obvious loop
    w, z = np.zeros(8), np.zeros(8)
    for _ in range(2):
        for t in range(3):
            last = t == 2
            bootstrap = 0.0 if (last and end == "terminate") else w[t + 1]
            delta = 1.0 + gamma * bootstrap - w[t]
            z *= gamma * lam
            z[t] += 1.0
            w += alpha * delta * z
        z[:] = 0.0
    np.testing.assert_allclose(agent.q.weights[:, 0], w, atol=1e-12)
    assert agent.q.weights[0, 0] != pytest.approx(alpha)  # the final rewards did reach state 0 through the trace


class ActionLog(Callback):
    def __init__(self):
        self.actions, self.ended = [], []

    def on_step(self, core, action, reward, terminated, truncated, info):
        self.actions.append(np.array(action))
        self.ended.append(np.asarray(terminated) | np.asarray(truncated))


def test_sarsa_bootstraps_from_the_action_it_then_takes():
    env = make_env("porcini/CliffWalking-v0", n_envs=2, seed=0, max_episode_steps=30)
    agent = Sarsa(env.info, epsilon=0.5)  # much exploration: a resampled a' would often differ
    recorder, log = RecordNextActions(agent), ActionLog()
    Core(agent, env, callbacks=[log], progress=False).learn(steps=400)
    taken, ended = np.stack(log.actions), np.stack(log.ended)  # [T, B]
    bootstrapped = recorder.rows(2)  # [T, B]: a' of row t, one row per fit
    goes_on = ~ended[:-1]
    assert ended.any() and goes_on.sum() > 300
    np.testing.assert_array_equal(bootstrapped[:-1][goes_on], taken[1:][goes_on])


def test_cached_action_is_dropped_when_obs_differs_or_episode_reset():
    agent = Sarsa(discrete_info(n_states=4, n_actions=4), epsilon=1.0, seed=0)
    agent.fit(column([0], [0], [0], [3], [False]))
    cached = agent._cached["action"][0]
    assert agent.act(np.array([3]), explore=True)[0] == cached
    agent.fit(column([0], [0], [0], [3], [False]))
    agent.reset(np.array([True]))
    assert not agent._cached["valid"].any()
    agent.fit(column([0], [0], [0], [3], [False]))
    assert agent.act(np.array([1]), explore=False).shape == (1,)  # greedy eval does not consume the cache
    assert agent._cached is not None


@pytest.mark.parametrize("name", TD_AGENTS)
def test_same_seed_twice_gives_identical_q_tables(name):
    tables = []
    for _ in range(2):
        env = make_env("porcini/CliffWalking-v0", n_envs=2, seed=3)
        agent = get_algorithm(name)(env.info, learning_rate=0.5, seed=5)
        Core(agent, env, progress=False).learn(steps=600)
        tables.append(agent.q.weights.copy())
    np.testing.assert_array_equal(tables[0], tables[1])
    assert np.abs(tables[0]).sum() > 0


@pytest.mark.parametrize("name", TD_AGENTS)
def test_state_dict_round_trip_through_a_checkpoint(name, tmp_path):
    cls = get_algorithm(name)
    env = make_env("MountainCar-v0", seed=0)
    agent = cls(env.info, n_tilings=4, tiles_per_dim=4, epsilon=0.3, seed=1)
    Core(agent, env, progress=False).learn(steps=300)
    save_checkpoint(tmp_path / "a.pt", agent.state_dict(), {"algo": name})
    clone = cls(env.info, n_tilings=4, tiles_per_dim=4, epsilon=0.3, seed=99)
    clone.load_state_dict(load_checkpoint(tmp_path / "a.pt", {"algo": name}))
    obs = np.random.default_rng(0).uniform([-1.2, -0.07], [0.6, 0.07], size=(5, 2))
    np.testing.assert_array_equal(agent.act(obs, explore=True), clone.act(obs, explore=True))
    batch = column([[-0.5, 0.0]], [1], [-1.0], [[-0.49, 0.01]], [False])
    agent.fit(batch)
    clone.fit(batch)
    np.testing.assert_array_equal(agent.q.weights, clone.q.weights)
    with pytest.raises(ValueError, match="do not fit"):
        cls(env.info, n_tilings=2).load_state_dict(agent.state_dict())


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="trace_decay"):
        SarsaLambda(discrete_info(), trace_decay=1.5)
    with pytest.raises(ConfigError, match="exploration"):
        QLearning(discrete_info(), exploration="thompson")
    with pytest.raises(ConfigError, match="no field"):
        QLearning(discrete_info(), lr=0.1)
    with pytest.raises(ValueError, match="Discrete actions"):
        QLearning(EnvInfo("c", gym.spaces.Discrete(2), gym.spaces.Box(-1, 1, (1,))))


def test_schedules_drive_epsilon_and_learning_rate():
    agent = QLearning(discrete_info(), epsilon=1.0, exploration_final=0.0, learning_rate=0.5,
                      learning_rate_final=0.1, decay_steps=4)
    metrics = [agent.fit(column([0], [0], [0.0], [1], [False])) for _ in range(5)]
    assert [m["exploration"] for m in metrics] == pytest.approx([0.75, 0.5, 0.25, 0.0, 0.0])
    assert metrics[-1]["learning_rate"] == pytest.approx(0.1)
    boltz = QLearning(discrete_info(), exploration="boltzmann", temperature=0.01)
    boltz.q.table[0] = [0.0, 1.0]
    assert (boltz.act(np.zeros(50, dtype=np.int64), explore=True) == 1).all()


def test_td_agent_base_is_abstract():
    with pytest.raises(NotImplementedError):
        TDAgent(discrete_info()).fit(EPISODE)


@pytest.mark.parametrize("kind,n_features", [("rbf", 9), ("fourier", 4), ("polynomial", 3), ("tile", 2 * 9)])
def test_feature_kinds_from_config(kind, n_features):
    env = make_env("MountainCar-v0", seed=0)
    agent = QLearning(env.info, features=kind, rbf_centers_per_dim=3, fourier_order=1, poly_degree=1, n_tilings=2,
                      tiles_per_dim=2, learning_rate=0.01)
    assert agent.features.n_features == n_features and agent.q.weights.shape == (n_features, 3)
    Core(agent, env, progress=False).learn(steps=50)
    assert np.isfinite(agent.q.weights).all() and np.abs(agent.q.weights).sum() > 0


def test_divergence_raises_a_named_error():
    agent = SarsaLambda(discrete_info(), learning_rate=1.0, gamma=1.0, trace_decay=1.0)
    agent.q.table[:] = 1e308
    with pytest.raises(FloatingPointError, match="lower learning_rate"), np.errstate(over="ignore", invalid="ignore"):
        agent.fit(column([0, 1], [0, 0], [1e308, 1e308], [1, 0], [False, False]))

"""porcini's native vector envs against Gymnasium's single envs, stepped in a plain loop: bit for bit, step by step.

The reference is the obviously-correct loop: one ``gym.make`` env per index, reset with
``porcini.seeding.env_reset_seeds(seed, n)[i]``, stepped with the same actions and reset (unseeded) when its
episode ends, as ``make_env(..., vectorization="sync")`` does.
"""

import pickle

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent
from porcini.envs.vectorized import NATIVE_ENVS, NativeCartPole, scalar_square
from porcini.errors import CheckpointError, ConfigError, EnvCheckError
from porcini.seeding import env_reset_seeds

IDS = ["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0"]


def policy(env_id, obs, rng, t):
    """Actions that reach every kind of ending: a heuristic that often ends episodes early (terminated), mixed with
    random actions, and stretches of random actions only (Acrobot's and MountainCar's then run to the time limit)."""
    n = len(obs)
    if env_id.startswith("Pendulum"):
        return rng.uniform(-2.0, 2.0, size=(n, 1)).astype(np.float32)
    family = env_id.split("-")[0]
    if family == "CartPole":
        heuristic = (obs[:, 2] + 0.3 * obs[:, 3] > 0).astype(np.int64)
    elif family == "MountainCar":
        heuristic = np.where(obs[:, 1] >= 0, 2, 0)  # push along the velocity: reaches the goal
    else:
        heuristic = np.where(obs[:, 4] >= 0, 0, 2)  # Acrobot: against the first link's velocity swings it up
    explore = 0.2 if (t // 1000) % 2 == 0 else 1.0
    return np.where(rng.random(n) < explore, rng.integers(0, 2 if family == "CartPole" else 3, n), heuristic)


class Reference:
    """Gymnasium's single envs in a plain loop, reset as porcini's sync vector env resets them."""

    def __init__(self, env_id, n_envs, seed, **make_kwargs):
        self.envs = [gym.make(env_id, **make_kwargs) for _ in range(n_envs)]
        self.obs = np.stack([e.reset(seed=s)[0] for e, s in zip(self.envs, env_reset_seeds(seed, n_envs))])

    def step(self, actions):
        """``(obs, reward, terminated, truncated, final_obs)``; final_obs holds None where no episode ended."""
        out, rewards, terms, truncs, finals = [], [], [], [], []
        for env, action in zip(self.envs, actions):
            obs, reward, terminated, truncated, _ = env.step(action)
            finals.append(obs if terminated or truncated else None)
            if terminated or truncated:
                obs, _ = env.reset()
            out.append(obs)
            rewards.append(reward)
            terms.append(terminated)
            truncs.append(truncated)
        return np.stack(out), np.array(rewards, dtype=np.float64), np.array(terms), np.array(truncs), finals


def bits(x):
    """The bytes of a float array as unsigned ints: equal bits, not just equal values (0.0 and -0.0 differ)."""
    x = np.asarray(x)
    return x.view(np.uint32 if x.dtype == np.float32 else np.uint64)


def assert_same_step(env_id, t, native, reference):
    obs, reward, terminated, truncated, info = native
    ref_obs, ref_reward, ref_terminated, ref_truncated, ref_finals = reference
    where = f"{env_id} at step {t}"
    assert obs.dtype == ref_obs.dtype == np.float32 and reward.dtype == np.float64, where
    np.testing.assert_array_equal(bits(obs), bits(ref_obs), err_msg=where)
    np.testing.assert_array_equal(bits(reward), bits(ref_reward), err_msg=where)
    np.testing.assert_array_equal(terminated, ref_terminated, err_msg=where)
    np.testing.assert_array_equal(truncated, ref_truncated, err_msg=where)
    ended = np.array([f is not None for f in ref_finals])
    if not ended.any():
        assert "_final_obs" not in info and "final_obs" not in info, where
        return
    np.testing.assert_array_equal(info["_final_obs"], ended, err_msg=where)
    for i in np.flatnonzero(ended):
        np.testing.assert_array_equal(bits(info["final_obs"][i]), bits(ref_finals[i]),
                                      err_msg=f"final obs of env {i} {where}")


def run_lockstep(env_id, n_envs, steps, seed=3, max_episode_steps=None, check=True, actions=None, env_kwargs=None):
    """Step the native env and the reference with the same actions; return the counts of each kind of ending."""
    env = make_env(env_id, n_envs, seed=seed, vectorization="native", check=check, max_episode_steps=max_episode_steps,
                   env_kwargs=env_kwargs)
    reference = Reference(env_id, n_envs, seed, max_episode_steps=max_episode_steps, **(env_kwargs or {}))
    obs, _ = env.reset(seed=seed)
    np.testing.assert_array_equal(obs, reference.obs)
    rng = np.random.default_rng(seed)
    counts = {"terminated": 0, "truncated": 0}
    for t in range(steps):
        action = (actions or policy)(env_id, obs, rng, t)
        native = env.step(action)
        ref = reference.step(action)
        assert_same_step(env_id, t, native, ref)
        obs = native[0]
        counts["terminated"] += int(native[2].sum())
        counts["truncated"] += int(native[3].sum())
    return counts


@pytest.mark.parametrize("n_envs", [1, 7])
@pytest.mark.parametrize("env_id", IDS)
def test_native_envs_step_as_gymnasiums_single_envs_bit_for_bit(env_id, n_envs):
    counts = run_lockstep(env_id, n_envs, steps=3000)
    assert counts["truncated"] > 0  # the time limit, across autoresets
    if env_id != "Pendulum-v1":  # Pendulum never terminates
        assert counts["terminated"] > 0


@pytest.mark.filterwarnings("ignore:.*CartPole-v0 is out of date")
def test_a_shorter_time_limit_truncates_and_a_v0_id_has_its_own():
    counts = run_lockstep("CartPole-v1", 5, steps=400, max_episode_steps=30)
    assert counts["truncated"] > 20
    env = make_env("CartPole-v0", 3, seed=0, vectorization="native")
    assert env.info.horizon == 200 and env.spec.max_episode_steps == 200
    assert make_env("CartPole-v1", 3, seed=0, vectorization="native", max_episode_steps=30).info.horizon == 30
    run_lockstep("CartPole-v0", 3, steps=800)


@pytest.mark.parametrize(("env_id", "env_kwargs"), [("CartPole-v1", {"sutton_barto_reward": True}),
                                                    ("Pendulum-v1", {"g": 9.81}),
                                                    ("MountainCar-v0", {"goal_velocity": 0.01})])
def test_the_single_envs_options_change_the_native_envs_alike(env_id, env_kwargs):
    counts = run_lockstep(env_id, 4, steps=700, env_kwargs=env_kwargs)
    assert counts["terminated"] + counts["truncated"] > 0


def test_pendulum_clips_unchecked_float64_actions_as_gymnasium_does():
    def wild(env_id, obs, rng, t):
        return rng.uniform(-3.0, 3.0, size=(len(obs), 1))  # float64, beyond the torque limit

    run_lockstep("Pendulum-v1", 4, steps=500, check=False, actions=wild)


def test_native_and_sync_make_env_agree_with_checks_on():
    for env_id in IDS:
        native = make_env(env_id, 3, seed=11, vectorization="native")
        sync = make_env(env_id, 3, seed=11, vectorization="sync")
        sync.action_space.seed(0)
        for t in range(300):
            action = sync.action_space.sample()
            a, b = native.step(action), sync.step(action)
            for x, y in zip(a[:4], b[:4]):
                np.testing.assert_array_equal(x, y, err_msg=f"{env_id} at step {t}")
            if "_final_obs" in b[4]:
                mask = b[4]["_final_obs"]
                np.testing.assert_array_equal(a[4]["_final_obs"], mask)
                np.testing.assert_array_equal(a[4]["final_obs"][mask], b[4]["final_obs"][mask])


def test_scalar_square_is_numpys_scalar_power_element_by_element():
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1.0, 30.0, 1e6):
        x = rng.uniform(-scale, scale, 50_000)
        for values in (x, x.astype(np.float32)):
            expected = np.array([v**2 for v in values], dtype=values.dtype)
            np.testing.assert_array_equal(scalar_square(values), expected)
            assert scalar_square(values).dtype == values.dtype
            grid = values.reshape(100, 500).T[::2]  # two dimensions, not contiguous
            np.testing.assert_array_equal(scalar_square(grid), expected.reshape(100, 500).T[::2])


@pytest.mark.parametrize("max_episode_steps", [0, -5])
def test_a_time_limit_below_one_is_refused_as_the_sync_env_refuses_it(max_episode_steps):
    # 0 used to fall back silently to the registered limit (500 steps), -5 to claim the env has no limit
    with pytest.raises(ValueError, match=r"max_episode_steps"):
        make_env("CartPole-v1", 2, seed=0, vectorization="sync", max_episode_steps=max_episode_steps)
    with pytest.raises(ValueError, match=rf"max_episode_steps = {max_episode_steps} is invalid for CartPole-v1"):
        make_env("CartPole-v1", 2, seed=0, vectorization="native", max_episode_steps=max_episode_steps)


@pytest.mark.parametrize("env_id", IDS)
def test_state_dict_resumes_mid_episode_exactly(env_id):
    env = make_env(env_id, 5, seed=1, vectorization="native")
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=1)
    for t in range(137):
        obs = env.step(policy(env_id, obs, rng, t))[0]
    # through pickle, as into a checkpoint file
    state = pickle.loads(pickle.dumps(env.state_dict()))
    fresh = make_env(env_id, 5, seed=99, vectorization="native")
    np.testing.assert_array_equal(fresh.load_state_dict(state), obs)
    actions_rng = np.random.default_rng(5)
    ended = 0
    for t in range(600):  # long enough for every env to end its episode and start new ones
        action = policy(env_id, obs, actions_rng, t)
        a, b = env.step(action), fresh.step(action)
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t} after loading")
        assert a[4].keys() == b[4].keys()
        if "final_obs" in a[4]:
            ended += 1
            np.testing.assert_array_equal(a[4]["final_obs"], b[4]["final_obs"])
        obs = a[0]
    assert ended > 0


def test_a_state_of_another_env_is_refused():
    state = make_env("CartPole-v1", 2, seed=0, vectorization="native").state_dict()
    with pytest.raises(CheckpointError, match="2 native CartPole-v1 envs, this env has 3"):
        make_env("CartPole-v1", 3, seed=0, vectorization="native").load_state_dict(state)
    with pytest.raises(CheckpointError, match="Pendulum-v1"):
        make_env("Pendulum-v1", 2, seed=0, vectorization="native").load_state_dict(state)


def test_core_with_a_random_agent_records_the_same_episodes_on_native_and_sync_envs():
    runs = []
    for vectorization in ("native", "sync"):
        env = make_env("CartPole-v1", 4, seed=5, vectorization=vectorization)
        core = Core(RandomAgent(env.info, seed=2), env)
        episodes = core.learn(steps=4000).episodes
        eval_env = env.spawn(2, 7)  # as a run builds its eval env
        assert eval_env.num_envs == 2 and type(eval_env) is type(env)
        evaluation = core.evaluate(episodes=4, env=eval_env)
        runs.append((episodes.returns, episodes.lengths, evaluation.returns, evaluation.lengths))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) > 50


def test_run_time_checks_name_the_env_index_and_step():
    env = make_env("CartPole-v1", 4, seed=0, vectorization="native")
    env.step(np.zeros(4, dtype=np.int64))
    with pytest.raises(EnvCheckError, match=r"action 2 is outside Discrete\(2\) for env CartPole-v1 \(env index 3\) "
                                            r"at step 1"):
        env.step(np.array([0, 1, 0, 2]))
    with pytest.raises(EnvCheckError, match="integers"):
        env.step(np.zeros(4))
    unchecked = make_env("CartPole-v1", 4, seed=0, vectorization="native", check=False)
    unchecked.step([0, 1, 0, 1])  # a list is taken as it is


def test_final_observations_are_checked_at_once_and_the_error_names_the_env_index():
    from porcini.envs.validation import StepValidator

    space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    validator = StepValidator("Toy-v0", space, gym.spaces.Discrete(2), 6)
    obs = np.zeros((6, 2), np.float32)
    final = obs.copy()
    final[4] = 7.0
    mask = np.array([0, 1, 0, 0, 1, 0], dtype=bool)
    with pytest.raises(EnvCheckError, match=r"final observation \[7.0, 7.0\] .*env index 4"):
        validator.check_step(obs, np.zeros(6), {"final_obs": final, "_final_obs": mask})
    mask[4] = False  # a row that did not end is not checked
    validator.check_step(obs, np.zeros(6), {"final_obs": final, "_final_obs": mask})


def test_make_env_modes_and_their_errors():
    assert isinstance(make_env("CartPole-v1", 3, vectorization="native").unwrapped, NativeCartPole)
    assert set(NATIVE_ENVS) == {"CartPole-v0", "CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0"}
    with pytest.raises(ConfigError, match="no native vector env for 'LunarLander-v3'.*'sync'"):
        make_env("LunarLander-v3", 2, vectorization="native")
    with pytest.raises(ConfigError, match="does not take render_mode.*'sync'"):
        make_env("CartPole-v1", 2, vectorization="native", env_kwargs={"render_mode": "rgb_array"})
    with pytest.raises(ConfigError, match="per-env wrappers.*VectorWrapper"):
        make_env("CartPole-v1", 2, vectorization="native", wrappers=[gym.wrappers.ClipReward])
    with pytest.raises(ConfigError, match="needs a Gymnasium id"):
        make_env(lambda: gym.make("CartPole-v1"), 2, vectorization="native")
    # Gymnasium's own vector CartPole autoresets at the next step: refused, naming the fix
    with pytest.raises(EnvCheckError, match="NEXT_STEP.*vectorization 'native'"):
        make_env("CartPole-v1", 2, vectorization="vector_entry_point")
    # Gymnasium's option, on both paths
    barto = make_env("CartPole-v1", 2, seed=0, vectorization="native", env_kwargs={"sutton_barto_reward": True})
    assert barto.step(np.zeros(2, dtype=np.int64))[1].tolist() == [0.0, 0.0]
    wrapped = make_env("CartPole-v1", 2, seed=0, vectorization="native",
                       wrappers=[gym.wrappers.vector.RecordEpisodeStatistics])
    assert wrapped.info.n_envs == 2 and wrapped.step(np.zeros(2, dtype=np.int64))[0].shape == (2, 4)


def test_reset_options_and_seeds_as_the_single_envs_take_them():
    env = make_env("CartPole-v1", 3, vectorization="native")
    obs, _ = env.reset(seed=[1, 2, 3], options={"low": -0.2, "high": 0.2})
    expected = [gym.make("CartPole-v1").reset(seed=s, options={"low": -0.2, "high": 0.2})[0] for s in (1, 2, 3)]
    np.testing.assert_array_equal(obs, np.stack(expected))
    pendulum = make_env("Pendulum-v1", 2, vectorization="native")
    obs, _ = pendulum.reset(seed=[4, 5], options={"x_init": 0.5, "y_init": 0.1})
    expected = [gym.make("Pendulum-v1").reset(seed=s, options={"x_init": 0.5, "y_init": 0.1})[0] for s in (4, 5)]
    np.testing.assert_array_equal(obs, np.stack(expected))
    with pytest.raises(gym.error.ResetNeeded):
        NativeCartPole(2).step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([True, False, False])})


def test_acrobot_derivatives_and_first_observations_match_gymnasiums_on_many_states():
    # the lockstep runs above rarely meet the cases that need care (a square C's pow rounds the other way, a float32
    # cosine that differs from the float64 one): many random states meet them
    from porcini.envs.vectorized import NativeAcrobot

    single = gym.make("Acrobot-v1").unwrapped
    rng = np.random.default_rng(0)
    n = 20_000
    high = np.array([np.pi, np.pi, 4 * np.pi, 9 * np.pi])  # angles, velocities up to their bounds
    states = np.concatenate((rng.uniform(-high, high, (n, 4)).T, rng.choice([-1.0, 0.0, 1.0], (1, n))))
    native = NativeAcrobot(1).dsdt(states)
    expected = np.array([single._dsdt(states[:, j]) for j in range(n)]).T
    np.testing.assert_array_equal(native, expected)
    seeds = list(range(3000))
    obs, _ = NativeAcrobot(len(seeds)).reset(seed=seeds)
    np.testing.assert_array_equal(obs, np.stack([single.reset(seed=s)[0] for s in seeds]))


def test_a_checkpoint_of_another_vectorization_resumes_at_episode_boundaries():
    from porcini.experiment.envs import ResumeWarning, env_resume_state, restore_envs

    native = make_env("CartPole-v1", 2, seed=0, vectorization="native")
    sync = make_env("CartPole-v1", 2, seed=0, vectorization="sync")
    sync.unwrapped.record_for_resume()
    sync.reset(seed=0)
    for saved, other in ((env_resume_state(native), sync), (env_resume_state(sync), native)):
        with pytest.warns(ResumeWarning, match="resuming at episode boundaries"):
            obs = restore_envs(other, {"env": saved, "wrappers": [], "core": {"env_steps": 10}}, seed=0)
        assert obs.shape == (2, 4)


def test_gymnasiums_own_vector_cartpole_cannot_reset_single_envs():
    # why vector_entry_point refuses it rather than adapting it to same-step autoreset: resetting only the envs
    # that ended would need reset(options={"reset_mask": ...}), which Gymnasium 1.4's CartPoleVectorEnv ignores
    # (it resets every env); if this starts failing, Gymnasium learnt partial resets and an adapter becomes possible
    env = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="vector_entry_point")
    before, _ = env.reset(seed=0)
    after, _ = env.reset(options={"reset_mask": np.array([True, False, False])})
    assert not np.array_equal(after[1:], before[1:])

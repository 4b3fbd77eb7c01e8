"""Multi-agent learners: groups of agents share parameters or not, MAPPO's critic reads the global state only,
idle rows are left out, bad input is refused in one line, runs resume exactly."""

import functools

import gymnasium as gym
import numpy as np
import pytest
import torch
from pettingzoo import ParallelEnv

from porcini import Core, make_env
from porcini.algorithms.multi_agent.groups import AgentGroups, agent_groups, group_columns, group_info
from porcini.algorithms.multi_agent.idqn import IndependentDQN
from porcini.algorithms.multi_agent.mappo import MAPPO, GroupPPO, MultiAgentPPO, MultiAgentPPOConfig
from porcini.core.agent import BaseAgent
from porcini.core.batch import TransitionBatch
from porcini.envs.info import EnvInfo
from porcini.envs.multi_agent import make_multi_agent_env
from porcini.errors import CheckpointError, ConfigError
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

SPREAD = "mpe2.simple_spread_v3:parallel_env"
SPREAD_KWARGS = "env.kwargs={N: 3, max_cycles: 25, continuous_actions: false}"


class Pick(ParallelEnv):
    """Each agent earns 1 for action ``k mod 2`` (its own target) and leaves after ``2 + k`` steps."""

    metadata = {"name": "pick_v0"}

    def __init__(self, n=3):
        self.possible_agents = [f"adversary_{k}" if k == 0 else f"agent_{k}" for k in range(n)]
        self.state_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)

    def observation_space(self, agent):
        return gym.spaces.Box(0.0, 10.0, (2,), np.float32)

    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def state(self):
        return np.array([self.t], dtype=np.float32)

    def reset(self, seed=None, options=None):
        self.np_random = np.random.default_rng(seed)
        self.t, self.agents = 0, list(self.possible_agents)
        return {a: np.array([0.0, 1.0], np.float32) for a in self.agents}, {}

    def step(self, actions):
        self.t += 1
        index = self.possible_agents.index
        rewards = {a: float(actions[a] == index(a) % 2) for a in self.agents}
        terms = {a: self.t >= 2 + index(a) for a in self.agents}
        obs = {a: np.array([self.t, 1.0], np.float32) for a in self.agents}
        self.agents = [a for a in self.agents if not terms[a]]
        return obs, rewards, terms, {a: False for a in obs}, {}


def pick_env(n_envs=4, seed=0):
    return make_multi_agent_env(Pick, n_envs, seed)


def test_agent_groups_all_none_prefix_and_an_explicit_mapping():
    agents = ("adversary_0", "agent_1", "agent_2")
    assert agent_groups(agents, "all") == {"shared": list(agents)}
    assert agent_groups(agents, "none") == {a: [a] for a in agents}
    assert agent_groups(agents, "prefix") == {"adversary": ["adversary_0"], "agent": ["agent_1", "agent_2"]}
    assert agent_groups(agents, {"x": ["agent_2", "adversary_0"], "y": ["agent_1"]}) == {
        "x": ["adversary_0", "agent_2"], "y": ["agent_1"]}
    with pytest.raises(ConfigError, match="missing \\['agent_2'\\]"):
        agent_groups(agents, {"x": ["agent_1", "adversary_0"]})
    with pytest.raises(ConfigError, match="repeated"):
        agent_groups(agents, {"x": ["agent_1", "adversary_0"], "y": ["agent_1", "agent_2"]})
    with pytest.raises(ConfigError, match="share"):
        agent_groups(agents, "some")


def test_group_columns_pick_each_agents_rows_copy_by_copy():
    info = EnvInfo("toy", gym.spaces.Box(0, 1, (1,)), gym.spaces.Discrete(2), n_envs=6, agents=("a", "b", "c"))
    assert group_columns(info, ["a", "c"]).tolist() == [0, 2, 3, 5]


class Recorder(BaseAgent):
    """Acts with its own constant and remembers the columns it was given."""

    def __init__(self, constant):
        self.constant, self.seen, self.fit_every_steps = constant, [], 2

    def act(self, obs, *, explore):
        return np.full(len(obs), self.constant)

    def fit(self, batch):
        self.seen.append(batch.reward.copy())
        return {"n": float(batch.reward.size)}


def test_agent_groups_act_and_fit_each_learner_on_its_own_rows_only():
    info = EnvInfo("toy", gym.spaces.Box(0, 1, (1,)), gym.spaces.Discrete(9), n_envs=4, agents=("a", "b"))
    learners = {"a": Recorder(7), "b": Recorder(8)}
    groups = AgentGroups(info, learners, {"a": ["a"], "b": ["b"]})
    assert groups.act(np.zeros((4, 1)), explore=True).tolist() == [7, 8, 7, 8]
    reward = np.arange(12.0).reshape(3, 4)
    z = np.zeros((3, 4))
    metrics = groups.fit(TransitionBatch(z, z, reward, z, z.astype(bool), z.astype(bool), {}))
    np.testing.assert_array_equal(learners["a"].seen[0], reward[:, [0, 2]])
    np.testing.assert_array_equal(learners["b"].seen[0], reward[:, [1, 3]])
    assert metrics == {"a/n": 6.0, "b/n": 6.0}
    assert groups.fit_every_steps == 4  # one vector step per learner's 2 rows, over all 4 rows


def test_independent_learners_hold_separate_networks_and_shared_ones_one():
    env = pick_env()
    independent = MultiAgentPPO(env.info, seed=0)
    shared = MultiAgentPPO(env.info, seed=0, share="all")
    by_kind = MultiAgentPPO(env.info, seed=0, share="prefix")
    assert sorted(independent.learners) == sorted(env.info.agents) and list(shared.learners) == ["shared"]
    assert sorted(by_kind.learners) == ["adversary", "agent"]
    nets = [learner.model for learner in independent.learners.values()]
    assert len({id(n) for n in nets}) == 3
    assert not torch.equal(next(nets[0].parameters()), next(nets[1].parameters()))  # own seeds, own weights


def test_mappo_critic_reads_the_state_and_agent_id_and_the_policy_never_the_state():
    env = pick_env(n_envs=2)
    model = MAPPO(env.info, seed=0).learners["shared"].model
    obs = {"observation": torch.rand(6, 2), "agent": torch.eye(3).repeat(2, 1), "state": torch.rand(6, 1)}
    changed_obs = {**obs, "observation": torch.rand(6, 2)}
    changed_state = {**obs, "state": obs["state"] + 1.0}
    with torch.no_grad():
        assert torch.equal(model.value(obs), model.value(changed_obs))
        assert not torch.equal(model.value(obs), model.value(changed_state))
        assert torch.equal(model.policy(obs).logits, model.policy(changed_state).logits)
        assert not torch.equal(model.policy(obs).logits, model.policy(changed_obs).logits)


def test_idle_rows_are_left_out_of_the_ppo_epochs():
    env = pick_env(n_envs=2)
    agent = MultiAgentPPO(env.info, seed=0, share="all", n_steps=6, batch_size=36, n_epochs=1)
    learner = agent.learners["shared"]
    seen = []
    original = learner._learning_rows

    def spy(data, batch):
        kept = original(data, batch)
        seen.append((len(data), len(kept), int(batch.extras["active"].sum())))
        return kept

    learner._learning_rows = spy
    Core(agent, env, progress=False).learn(steps=36)
    (total, kept, active), = seen
    assert total == 36 and kept == active < total  # agents 0 and 1 leave before agent 2: idle rows exist


def test_independent_ppo_learns_each_agents_own_target_action():
    env = pick_env(n_envs=4)
    agent = MultiAgentPPO(env.info, seed=0, n_steps=16, batch_size=64, n_epochs=4, learning_rate=3e-3)
    Core(agent, env, progress=False).learn(steps=8000)
    obs, _ = env.reset(seed=1)
    actions = agent.act(obs, explore=False)
    assert actions.tolist() == [0, 1, 0] * 4  # adversary_0 wants 0, agent_1 wants 1, agent_2 wants 0


def test_idle_rows_stay_out_of_independent_dqns_replay():
    env = pick_env(n_envs=1)
    agent = IndependentDQN(env.info, seed=0, learning_starts=1000, train_freq=8)
    Core(agent, env, progress=False).learn(steps=24)  # 8 vector steps: two 4-step episodes
    buffer = agent.learners["adversary_0"].buffer
    data = buffer.gather(np.arange(len(buffer)))
    # adversary_0 plays 2 steps of each 4-step episode (steps 3-4 are idle): its 2 steps per episode, no more
    assert buffer.n_envs == 1 and len(buffer) == 4 and data.extras["active"].all()
    assert data.terminated.reshape(2, 2)[:, 1].all() and not data.terminated.reshape(2, 2)[:, 0].any()


def test_independent_dqn_marks_the_cut_episodes_in_every_learners_replay():
    env = pick_env(n_envs=1)
    agent = IndependentDQN(env.info, seed=0, learning_starts=1000, train_freq=6)
    Core(agent, env, progress=False).learn(steps=18)  # 6 vector steps: the 4-step episodes are cut mid-way
    def newest_ended(buffer):
        state = buffer.state_dict()
        newest = (int(state["position"]) - 1) % len(state["data.truncated"])
        return state["data.truncated"][newest] | state["data.terminated"][newest]

    assert not all(newest_ended(learner.buffer).all() for learner in agent.learners.values())
    agent.episodes_cut()
    assert all(newest_ended(learner.buffer).all() for learner in agent.learners.values())


def test_bad_input_is_refused_in_one_line():
    single = make_env("CartPole-v1").info
    for cls in (MultiAgentPPO, MAPPO, IndependentDQN):
        with pytest.raises(ConfigError, match="multi-agent env") as caught:
            cls(single)
        assert "\n" not in str(caught.value)

    class Stateless(Pick):
        def __init__(self):
            super().__init__()
            del self.state_space

    with pytest.raises(ConfigError, match="critic: local"):
        MAPPO(make_multi_agent_env(Stateless, 1, 0).info)
    with pytest.raises(ValueError, match="share"):
        MultiAgentPPO(pick_env().info, share="sometimes")


@pytest.mark.parametrize("algo, extra", [("mappo", ["n_steps=16", "batch_size=96"]),
                                         ("ippo", ["n_steps=16", "batch_size=32"]),
                                         ("idqn", ["learning_starts=60", "train_freq=12", "batch_size=16"])])
def test_multi_agent_runs_log_each_agent_and_resume_exactly(tmp_path, algo, extra, eval_columns):
    pytest.importorskip("mpe2")

    def cfg(out, steps):
        overrides = [f"steps={steps}", "steps_per_epoch=192", "log.sinks=[csv]", f"out={out}", "eval_episodes=3",
                     "env.n_envs=2", SPREAD_KWARGS, "net_arch=[16]", *extra]
        return resolve(algo, SPREAD, None, overrides)

    straight = Experiment.start(cfg(tmp_path / "a", 576)).train()
    first = Experiment.start(cfg(tmp_path / "b", 384))
    first.train()
    resumed = Experiment.resume(first.run_dir.path, steps=576).train()
    assert resumed.env_steps == straight.env_steps == 576
    a, b = eval_columns(first.run_dir.path), eval_columns(straight.extra["run_dir"])
    assert a == b
    header = a[0]
    assert {"eval_team_return_mean", "eval_return_mean/agent_0", "eval_return_mean/agent_2"} <= set(header)
    per_agent = [float(straight.extra[f"eval_return_mean/agent_{k}"]) for k in range(3)]
    assert straight.extra["eval_team_return_mean"] == pytest.approx(sum(per_agent))


def test_the_multi_agent_env_accepts_a_functools_partial_factory():
    env = make_env(functools.partial(Pick, n=2), n_envs=1, seed=0)
    assert env.info.agents == ("adversary_0", "agent_1")


def test_a_checkpoint_of_other_groups_is_refused_in_one_line():
    env = pick_env()
    saved = MultiAgentPPO(env.info, seed=0, share="none").state_dict()
    with pytest.raises(CheckpointError, match="share setting") as caught:
        MultiAgentPPO(env.info, seed=0, share="all").load_state_dict(saved)
    assert "\n" not in str(caught.value)
    other = MultiAgentPPO(env.info, seed=1, share="none")
    other.load_state_dict(saved)
    for name, learner in other.learners.items():
        theirs = dict(MultiAgentPPO(env.info, seed=0, share="none").learners[name].model.named_parameters())
        for key, value in learner.model.named_parameters():
            assert torch.equal(value, theirs[key])


def test_independent_learners_act_on_an_evaluation_env_with_fewer_copies():
    env = pick_env(n_envs=4)
    agent = MultiAgentPPO(env.info, seed=0)
    small = pick_env(n_envs=1)
    obs, _ = small.reset(seed=0)
    assert agent.act(obs, explore=False).shape == (3,)
    record = Core(agent, env, eval_env=small, progress=False).evaluate(3)
    assert sorted(np.asarray(record.env_indices) % 3) == [0, 1, 2]


def test_independent_dqn_learns_each_agents_own_target_action():
    env = pick_env(n_envs=4)
    agent = IndependentDQN(env.info, seed=0, learning_starts=200, train_freq=12, gradient_steps=4, batch_size=32,
                           exploration_fraction=0.3, learning_rate=3e-3, target_update_interval=200,
                           net_arch=(32,))
    Core(agent, env, progress=False).learn(steps=4000)
    obs, _ = env.reset(seed=1)
    assert agent.act(obs, explore=False).tolist() == [0, 1, 0] * 4


def test_no_learner_of_one_run_seed_starts_or_draws_as_a_learner_of_another():
    # group i was seeded seed + i: run seed 0's agent_1 had run seed 1's agent_0's initial weights and streams
    runs = [MultiAgentPPO(pick_env().info, seed=seed, n_steps=8, batch_size=8) for seed in range(3)]
    starts = {}
    for seed, agent in enumerate(runs):
        for name, learner in agent.learners.items():
            key = tuple(torch.cat([p.detach().flatten() for p in learner.model.parameters()]).tolist()[:16])
            assert key not in starts, f"seed {seed} {name} starts as seed/group {starts.get(key)}"
            starts[key] = (seed, name)
    info = pick_env().info
    solo = GroupPPO(group_info(info, ["adversary_0"]), MultiAgentPPOConfig(n_steps=8, batch_size=8), seed=5)
    first = MultiAgentPPO(info, seed=5, n_steps=8, batch_size=8).learners["adversary_0"]
    for a, b in zip(solo.model.parameters(), first.model.parameters()):  # group 0 keeps the run seed
        assert torch.equal(a, b)


def test_porcini_eval_of_a_multi_agent_run_reports_each_agent_and_the_team(tmp_path):
    pytest.importorskip("mpe2")
    from click.testing import CliRunner

    from porcini.experiment.cli import main

    overrides = ["steps=192", "steps_per_epoch=192", "log.sinks=[csv]", f"out={tmp_path}", "eval_episodes=3",
                 "env.n_envs=2", SPREAD_KWARGS, "net_arch=[16]", "n_steps=16", "batch_size=32"]
    run_dir = Experiment.start(resolve("ippo", SPREAD, None, overrides)).train().extra["run_dir"]
    result = CliRunner().invoke(main, ["eval", run_dir, "--episodes", "3", "--checkpoint", "last", "--json"])
    assert result.exit_code == 0, result.output
    out = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    per_agent = [out[f"eval_return_mean/agent_{k}"] for k in range(3)]
    assert out["eval_team_return_mean"] == pytest.approx(sum(per_agent))
    shown = CliRunner().invoke(main, ["eval", run_dir, "--episodes", "3", "--checkpoint", "last"])
    assert "eval_team_return_mean" in shown.stdout and "eval_return_mean/agent_2" in shown.stdout

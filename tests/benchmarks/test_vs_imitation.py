"""benchmarks/vs_imitation.py: its expert files, its settings and its porcini side on a tiny budget.

The imitation side needs its own virtual environment (imitation pins another Gymnasium), so it is not run here;
the arithmetic that gives imitation porcini's preference rounds is checked against imitation's own formulas.
"""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its sibling `common`
    try:
        yield importlib.import_module("vs_imitation")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def prepared(bench, tmp_path_factory):
    # a short PPO run: the files' layout is checked, not the expert's skill
    return bench.prepare(tmp_path_factory.mktemp("vs-imitation"), overrides=("steps=2048",), episodes=2)


def test_the_demonstrations_are_flat_episodes(bench, prepared):
    flat = bench.read_flat(prepared["demos"])
    assert sorted(flat) == sorted(bench.FIELDS)
    ends = np.flatnonzero(flat["terminated"] | flat["truncated"])
    assert len(ends) == prepared["demos_stats"]["episodes"] == 2 and ends[-1] == len(flat["reward"]) - 1
    assert flat["obs"].shape == (len(flat["reward"]), 4) and flat["action"].dtype.kind == "i"
    # within an episode the next observation is the following row's observation
    assert np.array_equal(flat["next_obs"][: ends[0]], flat["obs"][1 : ends[0] + 1])


def test_the_exported_expert_network_picks_the_experts_actions(prepared):
    with np.load(prepared["expert_weights"]) as file:
        arrays = {name: file[name] for name in file.files}
    assert str(arrays["activation"]) == "tanh"
    x = arrays["check_obs"].astype(np.float32)
    layers = sum(name.startswith("weight_") for name in arrays)
    assert layers == 3 and arrays["weight_0"].shape == (64, 4) and arrays["weight_2"].shape == (2, 64)
    for i in range(layers):  # the same MLP in numpy: tanh hidden layers, logits out
        x = x @ arrays[f"weight_{i}"].T + arrays[f"bias_{i}"]
        x = np.tanh(x) if i < layers - 1 else x
    assert np.mean(x.argmax(axis=1) == arrays["check_actions"]) > 0.99


METHODS = ["bc", "dagger", "gail", "airl", "preferences"]


@pytest.mark.parametrize("method", METHODS)
def test_the_porcini_side_returns_a_well_formed_record(bench, prepared, method, monkeypatch):
    tiny = {"bc": {"gradient_steps": 20}, "dagger": {"env_steps": 200, "round_steps": 100, "updates_per_round": 5},
            "gail": {"env_steps": 512}, "airl": {"env_steps": 512},
            "preferences": {"env_steps": 512, "preference_pairs": 20, "query_rounds": 2, "query_interval": 1}}[method]
    monkeypatch.setitem(bench.SETTINGS, method, {**bench.SETTINGS[method], **tiny})
    paths = {k: prepared[k] for k in ("expert_run", "demos", "expert_weights")}
    record = bench.run_porcini(method, paths, eval_episodes=1, seed=0)
    assert record["lib"] == "porcini" and record["method"] == method and record["seed"] == 0
    assert record["train_wall_s"] > 0 and record["train_cpu_s"] > 0 and record["eval_episodes"] == 1
    assert 0 < record["eval_return_mean"] <= 500
    expected = {"bc": {"gradient_steps": 20}, "dagger": {"rounds": 2, "expert_labels": 200, "gradient_steps": 10},
                "gail": {"env_steps": 512, "rounds": 2}, "airl": {"env_steps": 512, "rounds": 2},
                "preferences": {"env_steps": 512, "rounds": 2, "query_rounds": 2, "pairs": 20}}[method]
    assert {k: record[k] for k in expected} == expected
    if method == "preferences":
        assert 0 <= record["tie_share"] <= 1


@pytest.mark.parametrize("method", ["gail", "airl", "preferences"])
def test_ppo_based_settings_are_the_config_of_record(bench, method):
    record = yaml.safe_load((ROOT / "porcini" / "configs" / method / "CartPole-v1.yaml").read_text())
    settings = bench.SETTINGS[method]
    assert settings["n_envs"] == record["env"]["n_envs"]
    assert {k: settings[k] for k in record["algo"]} == record["algo"]
    rollout = settings["n_envs"] * settings["n_steps"]
    assert settings["env_steps"] % rollout == 0  # whole rounds on both sides
    assert 0 <= record["steps"] - settings["env_steps"] < rollout  # the record's steps in whole rollouts


def test_imitation_gets_porcinis_preference_rounds(bench):
    """imitation's arguments give 10 rounds of 50 pairs, 99,840 PPO steps in whole rollouts and porcini's pool."""
    s = bench.SETTINGS["preferences"]
    schedule = bench.peer_schedule(s)
    # PreferenceComparisons.train (imitation 1.0.1) with query_schedule="constant": an initial round of
    # int(total * initial_comparison_frac) pairs, the rest split evenly over num_iterations rounds, and the agent
    # trained total_timesteps // num_iterations steps after every round (the remainder after round num_iterations)
    total, iterations = schedule["total_comparisons"], schedule["num_iterations"]
    initial = int(total * schedule["initial_comparison_frac"])
    assert [initial] + [(total - initial) / iterations] * iterations == [50.0] * s["query_rounds"]
    per_phase, extra = divmod(schedule["total_timesteps"], iterations)
    assert extra == 0 and per_phase * (iterations + 1) == s["env_steps"]
    assert per_phase % (s["n_envs"] * s["n_steps"]) == 0  # SB3's learn runs whole rollouts: no overshoot
    # each round's trajectories: transition_oversampling * 2 * pairs * length steps, porcini's pool of segments
    assert schedule["transition_oversampling"] * 2 * initial * s["segment_length"] == (
        s["segment_pool"] * s["segment_length"])
    with pytest.raises(ValueError, match="equal rounds"):
        bench.peer_schedule({**s, "preference_pairs": 505})


CLONE_KEYS = {"net_arch", "activation", "learning_rate", "batch_size"}
PPO_KEYS = {"n_steps", "batch_size", "n_epochs", "gae_lambda", "gamma", "ent_coef", "vf_coef", "max_grad_norm",
            "learning_rate", "learning_rate_schedule", "clip_range", "clip_range_schedule", "net_arch", "activation",
            "ortho_init", "adam_eps", "discriminator_arch", "discriminator_learning_rate", "discriminator_batch_size",
            "discriminator_epochs"}
PREFERENCE_KEYS = {k for k in PPO_KEYS if not k.startswith("discriminator")} | {
    "preference_pairs", "query_rounds", "query_interval", "segment_length", "segment_pool", "reward_arch",
    "reward_ensemble", "reward_learning_rate", "reward_epochs", "reward_batch_size", "oracle_temperature",
    "oracle_error_rate"}
PORCINI_KEYS = {"bc": CLONE_KEYS, "dagger": CLONE_KEYS | {"round_steps", "updates_per_round", "beta_decay"},
                "gail": PPO_KEYS, "airl": PPO_KEYS | {"state_only_reward", "learner_reward", "discriminator_replay"},
                "preferences": PREFERENCE_KEYS}


@pytest.mark.parametrize("method", METHODS)
def test_the_porcini_agent_gets_every_shared_setting(bench, prepared, method):
    from porcini import make_env
    from porcini.algorithms.registry import get_algorithm

    assert get_algorithm(method).name == method
    paths = {k: prepared[k] for k in ("expert_run", "demos", "expert_weights")}
    config = bench.porcini_agent(method, bench.SETTINGS[method], paths, make_env("CartPole-v1").info, seed=3).config
    settings = bench.SETTINGS[method]
    assert config.seed == 3
    # porcini takes the settings under these names: a renamed config field must not drop one silently
    for key in PORCINI_KEYS[method]:
        value = settings[key]
        assert getattr(config, key) == (tuple(value) if isinstance(value, list) else value), key


def test_bad_methods_are_refused_with_the_choices(bench, capsys):
    with pytest.raises(SystemExit) as error:
        bench.parse_args(["--methods", "bc,sac"])
    assert error.value.code == 2
    assert "unknown sac; choose from bc, dagger, gail, airl, preferences" in capsys.readouterr().err


def test_preferences_alone_train_no_expert(bench, monkeypatch, capsys, tmp_path):
    """``--methods preferences`` trains no expert and gives both sides no paths (the runs are stubbed)."""

    def no_expert(*args, **kwargs):
        """Fail: no expert is needed."""
        raise AssertionError("preferences need no expert")

    def side(python, lib, method, paths, args, seed, flush_denormals=False):
        """A stub record of one side."""
        assert paths == {} and method == "preferences"
        return {"lib": lib, "method": method, "seed": seed, "train_wall_s": 1.0, "train_cpu_s": 1.0,
                "eval_return_mean": 500.0, "eval_return_std": 0.0, "env_steps": 99_840, "pairs": 500}

    monkeypatch.setattr(bench, "ensure_venv", lambda venv: tmp_path / "python")  # never creates the venv
    monkeypatch.setattr(bench, "prepare", no_expert)
    monkeypatch.setattr(bench, "run_side", side)
    bench.main(["--methods", "preferences", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["expert"] == {} and list(out["settings"]) == ["preferences"] and len(out["runs"]) == 1

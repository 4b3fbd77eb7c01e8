from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from porcini.core.config import require
from porcini.errors import ConfigError
from porcini.experiment.config import (
    EnvConfig,
    RunConfig,
    apply_overrides,
    config_help,
    dump_yaml,
    field_docs,
    from_dict,
    load_config_of_record,
    load_run_config,
    load_yaml,
    make_algo_config,
    parse_override,
    resolve_run_config,
    to_dict,
)


@dataclass(frozen=True)
class NetConfig:
    """A nested section."""

    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Activation function."""


@dataclass(frozen=True)
class ToyConfig:
    """A stand-in for an algorithm's Config, with every supported kind of annotation."""

    learning_rate: float = 3e-4
    """Adam step size."""
    n_epochs: int = 10
    """Passes over each rollout."""
    normalize_advantage: bool = True
    """Standardize advantages per minibatch."""
    device: str = "cpu"
    """Torch device."""
    target_kl: Optional[float] = None  # noqa: UP045 - the typing.Optional spelling must work too
    """Early-stopping KL threshold; null disables it."""
    clip_range_vf: float | None = None
    undocumented_pair: tuple[int, float] = (1, 0.5)
    layers: list[int] = field(default_factory=lambda: [32])
    """A list field."""
    net: NetConfig = field(default_factory=NetConfig)
    """The network section."""
    seed: int = 0
    """Seed."""

    def __post_init__(self) -> None:
        require(self.learning_rate > 0, "ToyConfig", "learning_rate", self.learning_rate, "> 0")
        require(self.n_epochs >= 1, "ToyConfig", "n_epochs", self.n_epochs, ">= 1")


@dataclass(frozen=True)
class ChildConfig(ToyConfig):
    extra: int = 1
    """A field added by a subclass."""


def test_parse_override_reads_yaml_scalars_and_flow_collections() -> None:
    assert parse_override("learning_rate=3e-4") == (("learning_rate",), 3e-4)
    assert isinstance(parse_override("learning_rate=3e-4")[1], float)
    assert parse_override("steps=1e6") == (("steps",), 1e6)
    assert parse_override("env.n_envs=16") == (("env", "n_envs"), 16)
    assert parse_override("device=cpu") == (("device",), "cpu")
    assert parse_override("layers=[64, 64]") == (("layers",), [64, 64])
    assert parse_override("target_kl=null") == (("target_kl",), None)
    assert parse_override("flag=true") == (("flag",), True)
    assert parse_override("env.id=porcini/DiceGame-v0") == (("env", "id"), "porcini/DiceGame-v0")
    assert parse_override("expr=a=b") == (("expr",), "a=b")  # only the first '=' splits
    assert parse_override("x=-2.5E+3") == (("x",), -2500.0)


@pytest.mark.parametrize("bad", ["learning_rate", "=3", "a..b=1", ".a=1"])
def test_parse_override_rejects_malformed_text(bad: str) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_override(bad)


def test_load_yaml_reads_exponents_without_dot_as_floats_unlike_plain_safe_load() -> None:
    text = "learning_rate: 3e-4\nsteps: 1e6\nname: 1e6x\nversion: 1.0\n"
    assert yaml.safe_load(text)["learning_rate"] == "3e-4"  # the YAML 1.1 behaviour we correct
    data = load_yaml(text)
    assert data == {"learning_rate": 3e-4, "steps": 1e6, "name": "1e6x", "version": 1.0}


def test_from_dict_converts_to_declared_types() -> None:
    config = from_dict(
        ToyConfig,
        {
            "learning_rate": "3e-4",  # YAML 1.1 readers hand this over as a string
            "n_epochs": 1e1,
            "normalize_advantage": False,
            "target_kl": 2,
            "clip_range_vf": None,
            "undocumented_pair": [3, 4],
            "layers": (8, 8),
            "net": {"hidden": [16], "activation": "relu"},
        },
    )
    assert config.learning_rate == 3e-4 and isinstance(config.learning_rate, float)
    assert config.n_epochs == 10 and isinstance(config.n_epochs, int)
    assert config.target_kl == 2.0 and isinstance(config.target_kl, float)
    assert config.undocumented_pair == (3, 4.0) and isinstance(config.undocumented_pair[1], float)
    assert config.layers == [8, 8]
    assert config.net == NetConfig(hidden=(16,), activation="relu")
    assert from_dict(ToyConfig, None) == ToyConfig()


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        ({"n_epochs": 1.5}, ["n_epochs", "1.5", "int"]),
        ({"n_epochs": True}, ["n_epochs", "True", "int"]),
        ({"normalize_advantage": 1}, ["normalize_advantage", "1", "bool"]),
        ({"learning_rate": "fast"}, ["learning_rate", "'fast'", "float"]),
        ({"device": 3}, ["device", "3", "string"]),
        ({"target_kl": "x"}, ["target_kl", "'x'", "float | None"]),
        ({"undocumented_pair": [1]}, ["undocumented_pair", "[1]", "tuple[int, float]"]),
        ({"layers": 5}, ["layers", "5", "list[int]"]),
        ({"layers": [1, "a"]}, ["layers[1]", "'a'", "int"]),
        ({"net": {"activation": "gelu"}}, ["net.activation", "'gelu'", "'tanh', 'relu'"]),
        ({"net": 3}, ["net", "3", "NetConfig"]),
    ],
)
def test_wrong_types_are_rejected_naming_field_value_and_allowed(data: dict, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        from_dict(ToyConfig, data)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


@dataclass(frozen=True)
class UnionConfig:
    """Union fields as algorithm configs declare them (``net_arch``, ``obs_low``) and an optional section."""

    net_arch: tuple[int, ...] | dict[str, tuple[int, ...]] = (64, 64)
    obs_low: tuple[float, ...] | None = None
    net: NetConfig | None = None


def test_union_fields_convert_lists_and_mappings_to_the_member_that_fits() -> None:
    config = from_dict(UnionConfig, {"net_arch": {"pi": [8]}, "obs_low": [0, 1], "net": {"hidden": [2]}})
    assert config == UnionConfig(net_arch={"pi": (8,)}, obs_low=(0.0, 1.0), net=NetConfig(hidden=(2,)))
    assert from_dict(UnionConfig, {"net_arch": [4, 4], "net": None}).net_arch == (4, 4)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"net_arch": [64, "x"]}, "net_arch[1] = 'x' is invalid: expected int, got str"),
        ({"net_arch": {"pi": [64, "x"]}}, "net_arch.pi[1] = 'x' is invalid: expected int, got str"),
        ({"obs_low": [0, "a"]}, "obs_low[1] = 'a' is invalid: expected float, got str"),
        ({"net": {"activaton": "relu"}}, "unknown config key 'net.activaton'; did you mean 'net.activation'?"),
        ({"net_arch": 3}, "net_arch = 3 is invalid: expected tuple[int, ...] | dict[str, tuple[int, ...]], got int"),
        ({"obs_low": "low"}, "obs_low = 'low' is invalid: expected tuple[float, ...] | None, got str"),
    ],
)
def test_union_error_names_the_bad_item_when_one_member_fits_the_value_shape(data: dict, message: str) -> None:
    # a list for a tuple field is fine: the error must point at the bad item, not say "got list"
    with pytest.raises(ConfigError) as info:
        from_dict(UnionConfig, data)
    assert str(info.value).startswith(message), str(info.value)


def test_out_of_range_value_is_rejected_by_post_init_with_section_path() -> None:
    with pytest.raises(ConfigError, match=r"ToyConfig.n_epochs = 0 is invalid: must be >= 1"):
        from_dict(ToyConfig, {"n_epochs": 0})
    with pytest.raises(ConfigError, match=r"^env: EnvConfig.n_envs = 0 is invalid: must be >= 1"):
        from_dict(RunConfig, {"algo_name": "ppo", "env": {"id": "CartPole-v1", "n_envs": 0}})


def test_unknown_key_names_the_closest_valid_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rte'; did you mean 'learning_rate'\?"):
        from_dict(ToyConfig, {"learning_rte": 1e-3})
    with pytest.raises(ConfigError, match=r"'env.n_env'; did you mean 'env.n_envs'\?"):
        from_dict(RunConfig, {"algo_name": "ppo", "env": {"id": "x", "n_env": 2}})
    with pytest.raises(ConfigError, match=r"'zzz'\. Valid keys of ToyConfig: learning_rate, n_epochs"):
        from_dict(ToyConfig, {"zzz": 1})


def test_missing_required_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'env' is required"):
        from_dict(RunConfig, {"algo_name": "ppo"})
    with pytest.raises(ConfigError, match=r"'env.id' is required"):
        from_dict(RunConfig, {"algo_name": "ppo", "env": {}})


def test_apply_overrides_sets_nested_keys_without_touching_the_input() -> None:
    data = {"env": {"id": "CartPole-v1"}, "steps": 5}
    out = apply_overrides(data, ["env.n_envs=16", "steps=7", "log.sinks=[csv]"])
    assert out == {"env": {"id": "CartPole-v1", "n_envs": 16}, "steps": 7, "log": {"sinks": ["csv"]}}
    assert data == {"env": {"id": "CartPole-v1"}, "steps": 5}
    assert apply_overrides(data, {"env.n_envs": 2})["env"]["n_envs"] == 2
    with pytest.raises(ConfigError, match="steps = 5 is not a section"):
        apply_overrides(data, ["steps.x=1"])


def test_dump_then_load_gives_an_equal_config() -> None:
    config = from_dict(ToyConfig, {"target_kl": 0.02, "net": {"hidden": [1, 2, 3]}, "layers": [4]})
    text = dump_yaml(config)
    assert from_dict(ToyConfig, load_yaml(text)) == config
    run = resolve_run_config(
        "toy", "porcini/DiceGame-v0", algo_config_cls=ToyConfig, use_record=False,
        overrides=["env.wrappers=[ClipAction, {TimeLimit: {max_episode_steps: 9}}]", "learning_rate=1e-10"],
    )
    assert from_dict(RunConfig, load_yaml(dump_yaml(run))) == run


@pytest.mark.parametrize("text", ["0E0", "1e5", "-2E+3", "3e-4", "1.5", "null", "true", "\x85", "a\u2028b", "\u2029 "])
def test_strings_that_look_like_numbers_round_trip(text) -> None:
    # the loader reads 1e5 as a float (YAML 1.2), so the dumper must quote such strings (found by hypothesis)
    config = ToyConfig(device=text)
    assert from_dict(ToyConfig, load_yaml(dump_yaml(config))) == config


@settings(max_examples=40, deadline=None)
@given(
    learning_rate=st.floats(min_value=1e-12, max_value=1e12, allow_nan=False),
    n_epochs=st.integers(1, 10**12),
    device=st.text(max_size=12),
    target_kl=st.none() | st.floats(allow_nan=False),
    hidden=st.lists(st.integers(-(10**6), 10**6), max_size=4),
)
def test_yaml_round_trip_property(learning_rate, n_epochs, device, target_kl, hidden) -> None:
    config = ToyConfig(
        learning_rate=learning_rate, n_epochs=n_epochs, device=device, target_kl=target_kl,
        net=NetConfig(hidden=tuple(hidden)),
    )
    assert from_dict(ToyConfig, load_yaml(dump_yaml(config))) == config


def test_field_docs_reads_attribute_docstrings_including_inherited_fields() -> None:
    docs = field_docs(ChildConfig)
    assert docs["learning_rate"] == "Adam step size."
    assert docs["target_kl"] == "Early-stopping KL threshold; null disables it."
    assert docs["clip_range_vf"] == ""  # no docstring under it
    assert docs["undocumented_pair"] == ""
    assert docs["extra"] == "A field added by a subclass."
    assert list(docs) == [f.name for f in dataclasses.fields(ChildConfig)]
    assert field_docs(EnvConfig)["wrappers"].startswith("Wrappers applied in order")
    assert "\n" in field_docs(EnvConfig)["wrappers"]  # multi-line docstrings keep their lines, dedented
    assert "    " not in field_docs(EnvConfig)["wrappers"]


def test_config_help_lists_type_default_and_doc() -> None:
    text = config_help(ToyConfig)
    assert "learning_rate: float = 0.0003\n    Adam step size." in text
    assert "target_kl: float | None = None" in text
    assert "net: NetConfig = NetConfig(hidden=(64, 64), activation='tanh')" in text
    assert "algo_name: str (required)" in config_help(RunConfig)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_layering_defaults_record_file_set(tmp_path: Path) -> None:
    records = tmp_path / "configs"
    _write(
        records / "toy" / "porcini__DiceGame-v0.yaml",
        "# values of record: from a test\nsteps: 2000\nenv: {n_envs: 4}\nalgo: {learning_rate: 1e-3, n_epochs: 3}\n",
    )
    config_file = _write(tmp_path / "mine.yaml", "algo: {n_epochs: 5}\nsteps_per_epoch: 100\nenv: {n_envs: 8}\n")
    run = resolve_run_config(
        "toy", "porcini/DiceGame-v0", config_file=config_file, overrides=["n_epochs=7", "seed=3"],
        algo_config_cls=ToyConfig, record_root=records,
    )
    assert run.steps == 2000  # record over default
    assert run.env.n_envs == 8  # file over record
    assert run.steps_per_epoch == 100  # file over default
    assert run.algo["learning_rate"] == 1e-3  # record, untouched by the file
    assert run.algo["n_epochs"] == 7  # --set over file over record
    assert run.algo["device"] == "cpu"  # filled from ToyConfig's defaults
    assert "seed" not in run.algo and run.seed == 3
    assert run.eval_episodes == RunConfig.__dataclass_fields__["eval_episodes"].default
    without_record = resolve_run_config("toy", "porcini/DiceGame-v0", use_record=False, algo_config_cls=ToyConfig)
    assert without_record.steps == 100_000 and without_record.algo["learning_rate"] == 3e-4


def test_config_of_record_loader(tmp_path: Path) -> None:
    assert load_config_of_record("no_such_algo", "CartPole-v1") is None  # the package's own directory
    assert load_config_of_record("toy", "CartPole-v1", root=tmp_path) is None
    _write(tmp_path / "toy" / "CartPole-v1.yaml", "# only a comment\n")
    assert load_config_of_record("toy", "CartPole-v1", root=tmp_path) == {}
    _write(tmp_path / "toy" / "CartPole-v1.yaml", "- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config_of_record("toy", "CartPole-v1", root=tmp_path)


def test_bare_override_keys_go_to_the_algorithm_and_typos_get_a_suggestion() -> None:
    run = resolve_run_config("toy", "E-v0", overrides=["learning_rate=3e-3", "steps=1e6"], use_record=False)
    assert run.algo == {"learning_rate": 3e-3} and run.steps == 1_000_000
    with pytest.raises(ConfigError, match=r"'lerning_rate'; did you mean 'learning_rate'\?.*ToyConfig"):
        resolve_run_config("toy", "E-v0", overrides=["lerning_rate=1"], algo_config_cls=ToyConfig, use_record=False)
    with pytest.raises(ConfigError, match=r"'stpes'; did you mean 'steps'\?"):
        resolve_run_config("toy", "E-v0", overrides=["stpes=1"], algo_config_cls=ToyConfig, use_record=False)
    with pytest.raises(ConfigError, match=r"algo: ToyConfig.learning_rate = -1.0 is invalid: must be > 0"):
        resolve_run_config("toy", "E-v0", overrides=["learning_rate=-1"], algo_config_cls=ToyConfig, use_record=False)
    with pytest.raises(ConfigError, match=r"algo.n_epochs = 2.5 is invalid: expected int"):
        resolve_run_config("toy", "E-v0", overrides={"n_epochs": 2.5}, algo_config_cls=ToyConfig, use_record=False)


def test_algorithm_seed_is_the_run_seed() -> None:
    run = resolve_run_config("toy", "E-v0", overrides=["seed=11"], algo_config_cls=ToyConfig, use_record=False)
    assert make_algo_config(run, ToyConfig).seed == 11
    with pytest.raises(ConfigError, match=r"algo.seed.*set that instead"):
        resolve_run_config("toy", "E-v0", overrides=["algo.seed=1"], use_record=False)


def test_config_file_of_another_run_is_rejected(tmp_path: Path) -> None:
    other = _write(tmp_path / "c.yaml", "algo_name: dqn\nenv: {id: CartPole-v1}\n")
    with pytest.raises(ConfigError, match=r"algo_name='dqn'.*asks for 'ppo'"):
        resolve_run_config("ppo", "CartPole-v1", config_file=other, use_record=False)


@pytest.mark.parametrize("override,needle", [
    ("env.id=Acrobot-v1", r"env.id=Acrobot-v1 contradicts the command's ENV 'CartPole-v1'"),
    ("env={id: Acrobot-v1}", r"env.id=Acrobot-v1 contradicts the command's ENV 'CartPole-v1'"),
    ("algo_name=dqn", r"algo_name=dqn contradicts the command's ALGO 'ppo'"),
])
def test_an_override_of_another_algorithm_or_env_is_rejected(override: str, needle: str) -> None:
    # as a config file of another run is: the run would keep ppo's CartPole-v1 record on another env or algorithm
    record = load_config_of_record("ppo", "CartPole-v1")
    assert record is not None and record != load_config_of_record("ppo", "Acrobot-v1")
    with pytest.raises(ConfigError, match=needle):
        resolve_run_config("ppo", "CartPole-v1", overrides=[override])
    same = resolve_run_config("ppo", "CartPole-v1", overrides=["env.id=CartPole-v1", "algo_name=ppo"])
    assert (same.algo_name, same.env.id) == ("ppo", "CartPole-v1")

def test_saved_config_reproduces_the_run(tmp_path: Path) -> None:
    from porcini.algorithms.tabular.q_learning import QLearningConfig

    run = resolve_run_config(
        "q_learning", "porcini/CliffWalking-v0", algo_config_cls=QLearningConfig, use_record=False,
        overrides=["epsilon=0.2", "env.n_envs=2", "log.sinks=[csv]", "seed=4"],
    )
    defaults = {f.name: getattr(QLearningConfig(), f.name) for f in dataclasses.fields(QLearningConfig)}
    assert run.algo == {k: to_dict(v) for k, v in defaults.items() if k != "seed"} | {"epsilon": 0.2}
    docs = field_docs(QLearningConfig)  # fields inherited from the shared TD config keep their docstrings
    assert docs["epsilon"] and docs["learning_rate"]
    path = tmp_path / "config.yaml"
    dump_yaml(run, path)
    assert load_run_config(path, QLearningConfig) == run
    again = resolve_run_config(
        "q_learning", "porcini/CliffWalking-v0", config_file=path, algo_config_cls=QLearningConfig, use_record=False
    )
    assert again == run
    assert make_algo_config(again, QLearningConfig) == QLearningConfig(epsilon=0.2, seed=4)
    with pytest.raises(ConfigError, match=r"QLearningConfig.epsilon = 1.5 is invalid: must be in \[0, 1\]"):
        resolve_run_config("q_learning", "x", overrides=["epsilon=1.5"], algo_config_cls=QLearningConfig)


def test_config_of_record_file_names_round_trip_env_ids_with_slashes_and_colons():
    from porcini.experiment.config import record_env_id, record_path

    for env_id in ("CartPole-v1", "porcini/DiceGame-v0", "mpe2.simple_spread_v3:parallel_env"):
        assert record_env_id(record_path("ppo", env_id).name) == env_id
    assert record_path("mappo", "mpe2.simple_spread_v3:parallel_env").is_file()

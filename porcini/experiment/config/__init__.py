"""Run configuration: typed, documented frozen dataclasses, loaded from YAML and overridden from the CLI.

- :mod:`~porcini.experiment.config.dataclass_io`: generic machinery for any frozen dataclass (``from_dict``
  with type conversion and errors that name the field, the value and what is allowed; dotted overrides; YAML
  round trip).
- :mod:`~porcini.experiment.config.field_help`: per-field docstrings, types and defaults (help text, docs tables).
- :mod:`~porcini.experiment.config.run`: :class:`RunConfig` and its resolution, lowest first: dataclass
  defaults < config of record (``porcini/configs/<algo>/<env>.yaml``) < ``--config FILE.yaml`` < ``--set``.

Example:
    >>> overrides = ["env.n_envs=16", "steps=1e6"]
    >>> run = resolve_run_config("ppo", "CartPole-v1", overrides=overrides, use_record=False)
    >>> run.env.n_envs, run.steps
    (16, 1000000)
"""

from porcini.experiment.config.dataclass_io import (
    apply_overrides,
    convert,
    deep_merge,
    dump_yaml,
    from_dict,
    load_yaml,
    parse_override,
    to_dict,
    type_name,
)
from porcini.experiment.config.field_help import FieldHelp, config_fields, config_help, field_docs
from porcini.experiment.config.run import (
    DataConfig,
    EnvConfig,
    LogConfig,
    RunConfig,
    load_config_of_record,
    load_run_config,
    make_algo_config,
    record_env_id,
    record_path,
    resolve_run_config,
)

__all__ = [
    "DataConfig",
    "EnvConfig",
    "FieldHelp",
    "LogConfig",
    "RunConfig",
    "apply_overrides",
    "config_fields",
    "config_help",
    "convert",
    "deep_merge",
    "dump_yaml",
    "field_docs",
    "from_dict",
    "load_config_of_record",
    "load_run_config",
    "load_yaml",
    "make_algo_config",
    "parse_override",
    "record_env_id",
    "record_path",
    "resolve_run_config",
    "to_dict",
    "type_name",
]

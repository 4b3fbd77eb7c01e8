import sys

import pytest

from porcini.envs.adapters import make_dm_control_env, make_mujoco_env, make_pettingzoo_env, require_extra


def test_require_extra_names_the_pip_command():
    with pytest.raises(ImportError, match=r'pip install "porcini\[fancy\]"'):
        require_extra("porcini_no_such_module", "fancy")


@pytest.mark.parametrize(
    "module,extra,call",
    [
        ("mujoco", "mujoco", lambda: make_mujoco_env("InvertedPendulum-v5")),
        ("shimmy", "dm_control", lambda: make_dm_control_env("cartpole", "balance")),
        ("pettingzoo", "pettingzoo", lambda: make_pettingzoo_env(lambda: None, "player_0")),
    ],
)
def test_missing_package_raises_import_error_with_the_extra(monkeypatch, module, extra, call):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail as if it were not installed
    with pytest.raises(ImportError, match=rf'pip install "porcini\[{extra}\]"'):
        call()


def test_importing_porcini_envs_imports_no_optional_package():
    import subprocess

    code = ("import sys, porcini, porcini.envs.adapters, porcini.envs.mixed, "
            "porcini.envs.wrappers.multitask, porcini.envs.wrappers.curriculum; "
            "print([m for m in ('mujoco', 'shimmy', 'dm_control', 'pettingzoo', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_extras_name_the_install_for_a_package_and_for_a_clone():
    from porcini.errors import MissingExtraError

    with pytest.raises(MissingExtraError) as caught:
        require_extra("porcini_no_such_module", "fancy")
    assert 'pip install "porcini[fancy]"' in str(caught.value)
    assert 'pip install -e ".[fancy]"' in str(caught.value)

import csv
import json
import sys

import pytest

from porcini.errors import MissingExtraError
from porcini.experiment.tune import tune

ALGO, ENV = "q_learning", "porcini/RiverSwim-v0"
# no optimism: the greedy policy soon stays left and earns 5 a step, so an episode's return is ~5 x its length
FAST = ("steps_per_epoch=100", "eval_episodes=2", "log.sinks=[csv]", "initial_value=0", "epsilon=0.1")
# half the trials are terrible: an episode of 3 steps earns 5, one of 100 steps ~490, whatever the learning rate
SPACE = {"learning_rate": {"loguniform": [0.01, 0.5]}, "env.max_episode_steps": {"choice": [3, 100]}}


def statuses(tune_dir):
    with open(tune_dir / "results.csv") as f:
        return [row["status"] for row in csv.DictReader(f)]


def test_missing_optuna_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingExtraError, match=r"porcini\[optuna\]"):
        tune(ALGO, ENV, SPACE, method="optuna", out=tmp_path / "t", overrides=FAST)
    assert not (tmp_path / "t").exists()


def test_optuna_prunes_bad_trials_and_resumes_from_its_study(tmp_path):
    optuna = pytest.importorskip("optuna")
    kwargs = dict(method="optuna", trials=4, steps=400, out=tmp_path / "t", overrides=FAST, report_seeds=0, seed=0)
    result = tune(ALGO, ENV, SPACE, **kwargs)
    assert (tmp_path / "t" / "study.db").is_file()
    assert "pruned" in statuses(tmp_path / "t") and "complete" in statuses(tmp_path / "t")
    pruned = next(r for r in result.records if r.status == "pruned")
    assert pruned.objective is not None and len(pruned.run_dirs) == 1
    study = optuna.load_study(study_name="porcini-tune", storage=f"sqlite:///{tmp_path / 't' / 'study.db'}")
    assert len(study.trials) == 4
    # a kill while trial 3 ran: its Optuna trial is still RUNNING and its record says running
    record = json.loads((tmp_path / "t" / "trials" / "3" / "trial.json").read_text())
    study.enqueue_trial(record["params"])
    stale = study.ask()
    stale.suggest_float("learning_rate", 0.01, 0.5, log=True)
    stale.suggest_categorical("env.max_episode_steps", [3, 100])
    (tmp_path / "t" / "trials" / "3" / "trial.json").write_text(
        json.dumps({**record, "status": "running", "objective": None, "optuna_number": stale.number}))
    again = tune(ALGO, ENV, SPACE, **{**kwargs, "trials": 5})
    assert [r.number for r in again.records] == [0, 1, 2, 3, 4] and all(r.finished for r in again.records)
    assert again.records[3].params == record["params"]  # the killed trial ran again with its parameters
    study = optuna.load_study(study_name="porcini-tune", storage=f"sqlite:///{tmp_path / 't' / 'study.db'}")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.RUNNING) == 0 and len(states) == 7  # 4 + the stale one + 2 new


def test_a_resumed_optuna_tune_draws_new_points_not_the_first_trials_again(tmp_path):
    pytest.importorskip("optuna")
    space = {"learning_rate": {"loguniform": [0.01, 0.5]}}  # continuous: two trials can only match by a repeat
    kwargs = dict(method="optuna", steps=200, out=tmp_path / "t", overrides=FAST, report_seeds=0, pruner="none")
    first = tune(ALGO, ENV, space, trials=3, **kwargs)
    resumed = tune(ALGO, ENV, space, trials=6, **kwargs)  # more trials extend the search
    assert [r.params for r in resumed.records[:3]] == [r.params for r in first.records]
    rates = [r.params["learning_rate"] for r in resumed.records]
    assert len(set(rates)) == 6, rates  # TPE's startup trials are random draws: none may repeat an earlier one


def test_a_trial_whose_last_evaluation_a_pruner_rejects_is_complete_not_pruned(tmp_path):
    optuna = pytest.importorskip("optuna")

    class PruneAtTheEnd(optuna.pruners.BasePruner):
        """Prunes every trial at its last evaluation (200 env steps), never before."""

        def prune(self, study, trial):
            return trial.last_step is not None and trial.last_step >= 200

    result = tune(ALGO, ENV, {"learning_rate": {"loguniform": [0.01, 0.5]}}, method="optuna", trials=2, steps=200,
                  out=tmp_path / "t", overrides=FAST, report_seeds=0, pruner=PruneAtTheEnd())
    assert [r.status for r in result.records] == ["complete", "complete"]
    summaries = [json.loads((tmp_path / "t" / r.run_dirs[0] / "summary.json").read_text()) for r in result.records]
    assert [r.objective for r in result.records] == [s["eval_return_mean"] for s in summaries]
    study = optuna.load_study(study_name="porcini-tune", storage=f"sqlite:///{tmp_path / 't' / 'study.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


def test_an_offline_trial_may_be_pruned_on_its_offline_epochs_but_never_at_its_last():
    from types import SimpleNamespace as Namespace

    from porcini.experiment.tune.trials import training_done

    def done(env_steps, offline_steps, steps, planned_offline):
        config = Namespace(steps=steps, data=Namespace(offline_steps=planned_offline))
        return training_done(Namespace(env_steps=env_steps, offline_steps=offline_steps), config)

    assert [done(0, n, 0, 300) for n in (100, 200, 300)] == [False, False, True]  # offline only
    assert [done(n, 0, 200, 0) for n in (100, 200)] == [False, True]  # online only
    assert [done(0, 300, 200, 300), done(200, 300, 200, 300)] == [False, True]  # offline, then online

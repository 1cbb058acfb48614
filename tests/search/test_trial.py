"""pipeline.search.trial: a trial stops at an epoch, keeps a checkpoint, continues bit-identically."""
from __future__ import annotations

import numpy as np

from pipeline.errors import PipelineError
from pipeline.search.trial import Trial, TrialTask, best_trial, run_task
from pipeline.training import train
from support import same_trials, search_params, small_data


def _task(config, until, checkpoint=None):
    return TrialTask(0, config, {"hidden_dim": config.hidden_dim}, until, checkpoint)


def test_a_full_trial_is_the_training_stage_run():
    config = search_params({"hidden_dim": [8]}, {"num_epochs": 3}).trials()[0]
    data = small_data()
    trial = run_task(_task(config, 3), data)
    result = train(config, data, verbose=False, progress=False)
    assert trial.best_val_acc == result.solver.best_val_acc and trial.best_epoch == result.solver.best_epoch
    assert trial.val_acc == list(result.solver.val_acc_history) and trial.epochs_trained == 3
    assert all(np.array_equal(trial.params[k], result.model.params[k]) for k in trial.params)


def test_paused_trial_continues_from_its_checkpoint_bit_identically(tmp_path):
    config = search_params({"hidden_dim": [8]}, {"num_epochs": 4, "update_rule": "momentum"}).trials()[0]
    data = small_data()
    ckpt = str(tmp_path / "t.ckpt.npz")
    partial = run_task(_task(config, 2, ckpt), data)
    assert partial.epochs == 2 and partial.params is None and len(partial.val_acc) == 3
    assert (tmp_path / "t.ckpt.npz").is_file()
    resumed = run_task(_task(config, 4, ckpt), data)
    assert resumed.epochs_trained == 2
    assert same_trials([resumed], [run_task(_task(config, 4), data)])
    # A checkpoint past the target answers from its histories without training.
    early = run_task(_task(config, 1, ckpt), data)
    assert early.epochs_trained == 0 and early.epochs == 1 and early.val_acc == resumed.val_acc[:2]


def test_damaged_checkpoint_means_start_over(tmp_path):
    config = search_params({"hidden_dim": [8]}).trials()[0]
    ckpt = tmp_path / "t.ckpt.npz"
    ckpt.write_bytes(b"garbage")
    trial = run_task(_task(config, 2, str(ckpt)), small_data())
    assert trial.epochs_trained == 2 and trial.status == "ok"


def test_at_epoch_reads_the_histories():
    t = Trial(3, {}, "ok", 0.9, 2, 0.8, 3, 1.0, train_acc=[0.1, 0.5, 0.8, 0.8], val_acc=[0.2, 0.6, 0.9, 0.9])
    early = t.at_epoch(1)
    assert (early.best_val_acc, early.best_epoch, early.final_train_acc, early.epochs) == (0.6, 1, 0.5, 1)
    assert t.at_epoch(3).best_epoch == 2  # the first epoch reaching the maximum, as the Solver keeps it


def test_best_trial_highest_accuracy_first_on_ties_and_says_what_to_do_when_none():
    def trial(i, acc):
        return Trial(i, {}, "ok" if acc is not None else "diverged", acc, 1, 0.5, 2, 0.0,
                     params={} if acc is not None else None)

    assert best_trial([trial(0, 0.5), trial(1, 0.9), trial(2, None)]).index == 1
    assert best_trial([trial(0, 0.9), trial(1, 0.9)]).index == 0
    try:
        best_trial([trial(0, None)])
    except PipelineError as exc:
        assert "every trial of the search diverged" in str(exc)
    else:
        raise AssertionError("no error")


def test_a_trial_runs_with_one_blas_thread_whatever_the_process_has(monkeypatch):
    """The thread count changes the GEMMs' summation order: every executor's trial must get the same one."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import pipeline.search.trial as trial_module

    seen = []
    monkeypatch.setattr(trial_module, "_run_task",
                        lambda task, data: seen.append([p["num_threads"] for p in threadpool_info()
                                                        if p["user_api"] == "blas"]))
    with threadpool_limits(limits=2, user_api="blas"):
        run_task(None, {})
    assert seen and seen[0] and set(seen[0]) == {1}

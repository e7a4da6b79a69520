"""Budget accounting, determinism, resume, and the run directory's guarantees."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import schedsim
from schedsim.runner import RunConfig, RunStore, StoreError, run_all, run_unit

TINY = dict(env="bandit:n_train=200,n_test=100", seeds=2, budget=4000, batch=16, group=4, eval_every=1000)


def tiny(*schedulers: str, **over) -> RunConfig:
    return RunConfig(schedulers=schedulers or ("uniform", "paced", "sec"), **(TINY | over))


def test_budget_counts_every_rollout_and_is_never_exceeded() -> None:
    table = run_unit(tiny(), "paced", 0)
    per_step = 16 * 4
    assert table["rollouts"].iloc[-1] == (4000 // per_step) * per_step <= 4000
    assert table["rollouts"].iloc[0] == 0 and table["rollouts"].is_monotonic_increasing
    assert (np.diff(table["rollouts"].iloc[1:-1]) >= 1000 - per_step).all()
    assert table["step"].iloc[-1] == 4000 // per_step
    for col in (
        "heldout_acc",
        "train_acc",
        "zero_var_frac",
        "effective_ratio",
        "calib_abs_err",
        "sel_p0",
        "heldout_acc_c4",
    ):
        assert col in table.columns
    sel = table[[f"sel_p{b}" for b in range(10)]].iloc[1:].to_numpy()
    np.testing.assert_allclose(sel.sum(axis=1), 1.0)


def test_same_seed_same_table() -> None:
    a, b = run_unit(tiny(), "sec", 1), run_unit(tiny(), "sec", 1)
    pd.testing.assert_frame_equal(a.drop(columns="time_sched_share"), b.drop(columns="time_sched_share"))


def test_budget_smaller_than_a_batch_is_refused() -> None:
    with pytest.raises(schedsim.ParameterError, match=r"budget=50 is smaller than one batch \(batch x group = 64"):
        tiny(budget=50)
    with pytest.raises(schedsim.SpecError, match="a scheduler is listed twice"):
        tiny("uniform", "uniform")
    with pytest.raises(schedsim.SpecError, match="unknown scheduler 'unifrom'"):
        tiny("unifrom")
    with pytest.raises(schedsim.SpecError, match="baseline 'beta' is not among the schedulers"):
        tiny("uniform", baseline="beta")


def test_resume_skips_finished_units_and_reproduces_the_rest(tmp_path) -> None:
    config = tiny("uniform", "sec")
    store = RunStore(tmp_path / "run")
    assert run_all(config, store) == 4
    first = store.read_units()
    kept = store.unit_path(config, "uniform", 0)
    stamp = kept.stat().st_mtime_ns
    store.unit_path(config, "sec", 1).unlink()  # as if interrupted before this unit finished
    seen = []
    assert run_all(config, store, progress=lambda s, k, status: seen.append((s, k, status))) == 1
    assert ("sec", 1, "done") in seen and ("uniform", 0, "skipped") in seen
    assert kept.stat().st_mtime_ns == stamp  # finished work untouched
    again = store.read_units()
    cols = [c for c in first.columns if c != "time_sched_share"]
    pd.testing.assert_frame_equal(first[cols], again[cols])


def test_parallel_workers_give_the_same_tables(tmp_path) -> None:
    config = tiny("uniform", "gaussian")
    serial, parallel = RunStore(tmp_path / "a"), RunStore(tmp_path / "b")
    run_all(config, serial, workers=1)
    run_all(config, parallel, workers=2)
    cols = [c for c in serial.read_units().columns if c != "time_sched_share"]
    pd.testing.assert_frame_equal(serial.read_units()[cols], parallel.read_units()[cols])


def test_units_are_fingerprinted_reused_when_they_match_and_never_otherwise(tmp_path) -> None:
    store = RunStore(tmp_path / "run")
    small = tiny("uniform")
    assert run_all(small, store) == 2
    (tmp_path / "run" / "config.json").unlink()  # config.json lost: the unit files still say what they are
    bigger = tiny("uniform", budget=8000)
    assert run_all(bigger, store) == 2  # another budget: every unit recomputed, none reused
    assert store.read_units()["rollouts"].max() == 8000
    assert run_all(tiny("uniform", "sec", budget=8000, seeds=3), store) == 4  # only the missing units
    assert run_all(small, store) == 0  # the first configuration's units are still there and still match
    foreign = store.unit_path(bigger, "uniform", 0)
    foreign.write_bytes(store.unit_path(small, "uniform", 0).read_bytes())  # a file under the wrong name
    assert not store.is_done(bigger, "uniform", 0)
    assert set(store.read_units(bigger)["seed"]) == {1}  # the foreign file is never used
    assert run_all(bigger, store) == 1 and store.is_done(bigger, "uniform", 0)


def test_store_reports_corruption_and_a_held_lock(tmp_path) -> None:
    store = RunStore(tmp_path / "run")
    config = tiny("uniform")
    run_all(config, store)
    store.unit_path(config, "uniform", 0).write_bytes(b"not parquet")
    with pytest.raises(StoreError, match=r"corrupt unit file .*uniform__seed0__[0-9a-f]{16}\.parquet"):
        store.read_units()
    assert run_all(config, store) == 1  # a damaged unit is redone on the next run
    (tmp_path / "run" / "config.json").write_text("{broken")
    with pytest.raises(StoreError, match=r"corrupt .*config\.json .*delete config\.json and re-run"):
        store.read_config()
    with pytest.raises(StoreError, match="is not a run directory"):
        RunStore(tmp_path / "nothing").read_config()
    held = store.lock()
    try:
        with pytest.raises(StoreError, match="is in use by another schedsim process"):
            run_all(config, store)
    finally:
        held.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory(tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(StoreError, match="cannot write to run directory"):
        RunStore(locked / "run").open_for(tiny("uniform"))


def test_a_failing_unit_does_not_lose_the_others(tmp_path, monkeypatch) -> None:
    import schedsim.runner.execute as execute

    real = execute.run_unit

    def flaky(config, spec, seed):
        if spec == "sec" and seed == 1:
            raise schedsim.SchedsimError("boom")
        return real(config, spec, seed)

    monkeypatch.setattr(execute, "run_unit", flaky)
    store = RunStore(tmp_path / "run")
    with pytest.raises(
        schedsim.SchedsimError, match=r"1 unit\(s\) failed \(finished units are saved\): sec seed 1: boom"
    ):
        run_all(tiny("uniform", "sec"), store)
    config = tiny("uniform", "sec")
    assert store.is_done(config, "uniform", 0) and store.is_done(config, "uniform", 1)
    assert store.is_done(config, "sec", 0) and not store.is_done(config, "sec", 1)


def test_selection_rollouts_are_charged_and_lilo_trains_on_its_probes() -> None:
    # LILO probes 4B = 64 candidates x G = 4 rollouts = 256 per step and trains the 16 chosen on their probed
    # groups: nothing else is rolled out, so 4000 // 256 = 15 steps fit and the 16th probe is never spent
    table = run_unit(tiny("lilo:probe_group=4"), "lilo:probe_group=4", 0)
    assert int(table["step"].iloc[-1]) == 15
    assert table["rollouts"].iloc[-1] == table["selection_rollouts"].iloc[-1] == 15 * 256
    # discarding the probes: each step costs 256 + 16 x 4 = 320 rollouts; 12 steps = 3840, the 13th probe
    # would leave 160 < 64 for training, so the step is not taken (its probe, 256 > 160 left, is not spent)
    spec = "lilo:probe_group=4,train_on_probes=False"
    table = run_unit(tiny(spec), spec, 0)
    assert int(table["step"].iloc[-1]) == 12
    assert table["rollouts"].iloc[-1] == 12 * 320 and table["selection_rollouts"].iloc[-1] == 12 * 256


def test_probe_group_must_match_the_group_when_training_on_probes() -> None:
    with pytest.raises(schedsim.ParameterError, match=r"'lilo' trains on its probed groups of 8 rollouts, but group=4"):
        tiny("lilo")


def test_budget_at_an_exact_multiple_is_spent_to_the_last_step() -> None:
    table = run_unit(tiny("uniform", budget=16 * 4 * 10), "uniform", 0)  # exactly ten steps
    assert int(table["step"].iloc[-1]) == 10 and table["rollouts"].iloc[-1] == 640


def test_beta_weight_mode_weights_each_group_by_its_own_rollouts() -> None:
    from schedsim.envs import make_env
    from schedsim.runner.loop import build_scheduler

    env = make_env("bandit:n_train=200,n_test=50", seed=0)
    sched, _ = build_scheduler("beta:mode=weight,alpha=2,beta=1,floor=0,weight_norm=none", env, 0)
    ids = sched.select(16)
    fb = env.rollout(ids, 8)
    p = fb.means()
    np.testing.assert_allclose(sched.loss_weights(fb), p**2 * (1 - p))  # w(p̂) of the group itself, asymmetric
    stale = schedsim.make_scheduler(
        "beta:mode=weight,alpha=2,beta=1,floor=0,weight_norm=none,weight_source=estimate", pool=env.pool, seed=0
    )
    with pytest.raises(schedsim.FeedbackError, match="needs the Feedback being trained on"):
        sched.loss_weights(ids)
    np.testing.assert_allclose(stale.loss_weights(ids), 0.5**2 * 0.5)  # never observed: the estimator's init


@pytest.mark.skipif(not os.path.exists("/proc"), reason="Linux process table needed")
def test_workers_die_with_a_killed_parent(tmp_path) -> None:
    import signal
    import subprocess
    import sys
    import time

    code = (
        "from schedsim.runner import RunConfig, RunStore, run_all;"
        "run_all(RunConfig(schedulers=('uniform', 'sec'), seeds=4, env='bandit'), RunStore(r'%s'), workers=2)"
        % (tmp_path / "run")
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    children: list[int] = []
    for _ in range(300):  # wait until both workers run
        out = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout
        children = [int(p) for p in out.split()]
        if len(children) >= 2:
            break
        time.sleep(0.1)
    assert len(children) >= 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        alive = [c for c in children if os.path.exists(f"/proc/{c}") and "Z" not in _state(c)]
        if not alive:
            break
        time.sleep(0.1)
    assert alive == []


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"batch": 300}, r"batch=300 exceeds the pool of 200 train prompts; accepted: batch <= 200"),
        ({"env": "llm", "batch": 2}, r"--env llm needs --model; accepted: a local path"),
        ({"env": "llm:model=/nonexistent/m,data=/nonexistent/d"}, r"--model '/nonexistent/m' does not exist"),
    ],
)
def test_configuration_errors_come_before_anything_is_written(tmp_path, over, message) -> None:
    with pytest.raises(schedsim.ParameterError, match=message):
        tiny("uniform", **over)
    assert not (tmp_path / "run").exists()


def test_ctrl_c_says_how_many_units_are_saved_and_the_rerun_resumes(tmp_path) -> None:
    import re
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "schedsim.cli", "compare", "--schedulers", "sec,uniform", "--seeds", "20"]
    cmd += ["--env", "bandit:n_train=200,n_test=50", "--budget", "20000", "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if (out / "units").exists() and any((out / "units").glob("[!.]*.parquet")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    found = re.search(r"interrupted: (\d+) of 40 unit\(s\) saved in .*; run the same command again to resume", err)
    assert found and "Traceback" not in err, err
    saved = int(found.group(1))
    assert saved == len(list((out / "units").glob("[!.]*.parquet"))) >= 1
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert f"{40 - saved} unit(s) run, {saved} resumed" in again.stdout
    assert not list((out / "units").glob(".tmp-*"))  # a write cut short by the interrupt is cleaned up

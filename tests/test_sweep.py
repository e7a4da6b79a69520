"""schedsim sweep: `|` alternatives, one run directory per world, resume, and identical results on every backend."""

from __future__ import annotations

import glob
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

import schedsim
from schedsim.cli import app
from schedsim.runner import RunStore, SweepConfig, SweepStore, expand_alternatives, result_columns, run_many

TINY = dict(seeds=2, budget=3072, batch=16, group=4, eval_every=1024)
SPECS = ("gaussian:sigma=0.2|0.45", "uniform")
WORLDS = ("bandit:n_train=200,n_test=100,offset_spread=0.5|2.0",)


def test_alternatives_expand_to_their_product_in_order() -> None:
    assert expand_alternatives("gaussian:sigma=0.2|0.35|0.5") == [
        "gaussian:sigma=0.2",
        "gaussian:sigma=0.35",
        "gaussian:sigma=0.5",
    ]
    assert expand_alternatives("beta|gaussian:floor=0|0.1,mu=0.3") == [
        "beta:floor=0,mu=0.3",
        "beta:floor=0.1,mu=0.3",
        "gaussian:floor=0,mu=0.3",
        "gaussian:floor=0.1,mu=0.3",
    ]
    assert expand_alternatives("bandit:default|hard-tail,optimizer=sgd") == [
        "bandit:default,optimizer=sgd",
        "bandit:hard-tail,optimizer=sgd",
    ]
    assert expand_alternatives("uniform") == ["uniform"]
    with pytest.raises(schedsim.SpecError, match=r"empty alternative; accepted: values separated by '\|'"):
        expand_alternatives("gaussian:sigma=0.2||0.5")


def test_every_world_is_validated_before_anything_is_written(tmp_path) -> None:
    with pytest.raises(schedsim.SchedsimError, match="batch=500 exceeds the pool of 200 train prompts"):
        SweepConfig(schedulers=SPECS, envs=("bandit:n_train=200,n_test=100|default",), **(TINY | {"batch": 500}))
    with pytest.raises(schedsim.SpecError, match="a world is listed twice"):
        SweepConfig(schedulers=SPECS, envs=("bandit:default|default",), **TINY)
    assert not os.listdir(tmp_path)


def sweep_tables(root) -> dict[str, pd.DataFrame]:
    """Every unit file of a sweep directory (relative path -> result columns)."""
    files = sorted(glob.glob(str(root / "worlds" / "*" / "units" / "*.parquet")))
    return {os.path.relpath(f, root): result_columns(pd.read_parquet(f)) for f in files}


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_process_and_ray_backends_write_identical_results(tmp_path, local_ray) -> None:
    config = SweepConfig(schedulers=SPECS, envs=WORLDS, **TINY)  # 2 variants (+ uniform) x 2 worlds x 2 seeds
    assert [r.env for r in config.runs] == [
        "bandit:n_train=200,n_test=100,offset_spread=0.5",
        "bandit:n_train=200,n_test=100,offset_spread=2.0",
    ]
    a, b = SweepStore(tmp_path / "process"), SweepStore(tmp_path / "ray")
    assert run_many(a.plan(config), workers=2, backend="process") == 12
    assert run_many(b.plan(config), workers=2, backend="ray") == 12
    ta, tb = sweep_tables(a.root), sweep_tables(b.root)
    assert len(ta) == 12 and list(ta) == list(tb)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True)
    worlds = {frame["heldout_acc"].iloc[-1] for name, frame in ta.items() if "uniform__seed0" in name}
    assert len(worlds) == 2  # the two worlds differ


def test_cli_sweep_resumes_and_report_and_aggregate_read_it(tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "sw"
    args = ["sweep", "--schedulers", ",".join(SPECS), "--env", WORLDS[0], "--seeds", "2", "--budget", "3072"]
    args += ["--batch", "16", "--group", "4", "--eval-every", "1024", "--workers", "1", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "12 unit(s) run, 0 resumed, 2 world(s)" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "0 unit(s) run, 12 resumed" in again.output
    more = runner.invoke(app, [*args[:6], "3", *args[7:]])  # a third seed: only its 6 units run
    assert more.exit_code == 0 and "6 unit(s) run, 12 resumed" in more.output
    summary = pd.read_csv(out / "summary.csv")
    assert summary.columns[0] == "env" and sorted(set(summary["env"])) == [
        "bandit:n_train=200,n_test=100,offset_spread=0.5",
        "bandit:n_train=200,n_test=100,offset_spread=2.0",
    ]
    assert set(summary["scheduler"]) == {"gaussian:sigma=0.2", "gaussian:sigma=0.45", "uniform"}
    assert (summary["seeds"] == 3).all()
    report = runner.invoke(app, ["report", str(out), "--ci", "bca"])
    assert report.exit_code == 0 and "world bandit:n_train=200,n_test=100,offset_spread=2.0" in report.output
    agg = runner.invoke(app, ["aggregate", str(out), "--out", str(tmp_path / "agg")])
    assert agg.exit_code == 0, agg.output
    assert set(pd.read_csv(tmp_path / "agg" / "aggregate.csv")["scheduler"]) == set(summary["scheduler"])
    for _, store in SweepStore(out).worlds():  # each world is an ordinary run directory
        assert isinstance(store, RunStore) and store.read_config().seeds == 3


def test_backend_options_are_checked_before_anything_is_written(tmp_path) -> None:
    runner = CliRunner()
    base = ["sweep", "--schedulers", "uniform", "--seeds", "1", "--out", str(tmp_path / "x")]
    bad = runner.invoke(app, [*base, "--backend", "slurm"])
    assert bad.exit_code != 0 and "backend='slurm'" in bad.output and "process" in bad.output
    bad = runner.invoke(app, [*base, "--address", "10.0.0.1:6379"])
    assert bad.exit_code != 0 and "--address '10.0.0.1:6379' is for the Ray backend" in bad.output
    assert not (tmp_path / "x").exists()

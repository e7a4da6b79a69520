"""compare, report and snr through typer's CliRunner with tiny budgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from schedsim.analysis.stats import mean_interval
from schedsim.cli import app

runner = CliRunner()
TINY = [
    "--env",
    "bandit:n_train=200,n_test=100",
    "--seeds",
    "2",
    "--budget",
    "3000",
    "--batch",
    "16",
    "--group",
    "4",
    "--eval-every",
    "1000",
    "--workers",
    "1",
]


def test_compare_writes_run_directory_then_resumes_and_report_regenerates(tmp_path) -> None:
    out = tmp_path / "run"
    first = runner.invoke(app, ["compare", "--schedulers", "paced,sec,uniform", *TINY, "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "6 unit(s) run, 0 resumed" in first.output and "paced" in first.output
    for name in (
        "config.json",
        "summary.csv",
        "report.md",
        "sample_efficiency.png",
        "zero_variance.png",
        "selections.png",
        "calibration.png",
    ):
        assert (out / name).exists(), name
    assert len(list((out / "units").glob("*.parquet"))) == 6
    second = runner.invoke(app, ["compare", "--schedulers", "paced,sec,uniform", *TINY, "--out", str(out)])
    assert "0 unit(s) run, 6 resumed" in second.output
    (out / "summary.csv").unlink()
    rep = runner.invoke(app, ["report", str(out)])
    assert rep.exit_code == 0 and (out / "summary.csv").exists() and "uniform" in rep.output


def test_compare_bad_input_is_one_line(tmp_path) -> None:
    cases = [
        (["--schedulers", "pace,uniform"], "error: unknown scheduler 'pace'"),
        (["--schedulers", "paced:tau=3"], "error: paced: tau=3.0 is out of range"),
        (["--budget", "10"], "error: budget=10 is smaller than one batch"),
        (["--env", "bandit:nope"], "error: unknown bandit preset 'nope'"),
        (["--ci", "percentile"], "error: ci='percentile' is not an interval method here; accepted: 't', 'bca'"),
    ]
    for extra, message in cases:
        args = ["compare", *TINY, "--out", str(tmp_path / "x"), *extra]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines()[-1].startswith(message), result.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(app, ["compare", *TINY, "--out", str(blocker / "run")])
    assert result.exit_code == 2 and "cannot write to run directory" in result.output
    missing = runner.invoke(app, ["report", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "is not a run directory" in missing.output


def test_snr_command(tmp_path) -> None:
    result = runner.invoke(app, ["snr", "--prompts", "100", "--samples", "200", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "boundary exponents" in result.output and (tmp_path / "snr.png").exists()
    import pandas as pd

    bins = pd.read_csv(tmp_path / "snr.csv")
    assert (bins["snr_lo"] <= bins["snr"]).all() and (bins["snr"] <= bins["snr_hi"]).all()
    near = (bins["snr"] - bins["snr_analytic"]).abs() <= 3 * (bins["snr_hi"] - bins["snr_lo"])
    assert near.mean() >= 0.8  # measured SNR follows the exact curve
    bad = runner.invoke(app, ["snr", "--group", "1", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "group=1 gives no group-relative signal" in bad.output


def test_compare_and_snr_on_arith_tiny(tmp_path) -> None:
    import pytest

    pytest.importorskip("torch")
    env = f"arith:tiny,cache_dir={tmp_path / 'cache'}"
    args = [
        "compare",
        "--env",
        env,
        "--schedulers",
        "paced,uniform",
        "--seeds",
        "1",
        "--budget",
        "640",
        "--batch",
        "16",
        "--group",
        "4",
        "--eval-every",
        "320",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "run"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 unit(s) run" in result.output and (tmp_path / "run" / "sample_efficiency.png").exists()
    import pandas as pd

    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert summary["scheduler"].tolist() == ["paced", "uniform"] and summary["final"].between(0, 1).all()
    snr = runner.invoke(app, ["snr", "--env", env, "--prompts", "20", "--samples", "3", "--out", str(tmp_path / "snr")])
    assert snr.exit_code == 0, snr.output
    bad = runner.invoke(app, ["compare", "--device", "cuda", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--device cuda applies to the arith and llm environments only" in bad.output


SMALL = ["--budget", "20480", "--seeds", "2", "--workers", "1", "--schedulers", "paced,uniform"]
WORLDS = ("bandit:n_train=400,n_test=200", "bandit:few-categories,n_train=400,n_test=200")


@pytest.fixture(scope="module")
def two_worlds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two small finished compare runs (paced, uniform; 2 seeds), one per bandit world; seconds each."""
    root = tmp_path_factory.mktemp("worlds")
    dirs = []
    for i, env in enumerate(WORLDS):
        result = runner.invoke(app, ["compare", *SMALL, "--env", env, "--ci", "bca", "--out", str(root / f"w{i}")])
        assert result.exit_code == 0, result.output
        dirs.append(root / f"w{i}")
    return dirs


def finals(run_dir: Path) -> pd.DataFrame:
    """Final held-out accuracy per (scheduler, seed), read straight from the unit files."""
    table = pd.concat(pd.read_parquet(p) for p in sorted((run_dir / "units").glob("*.parquet")))
    last = table.sort_values("rollouts").groupby(["scheduler", "seed"]).tail(1)
    return last.set_index(["scheduler", "seed"])["heldout_acc"].unstack("scheduler")


def test_report_reanalyses_a_finished_run(two_worlds: list[Path]) -> None:
    run = two_worlds[0]
    assert pd.read_csv(run / "summary.csv")["ci"].eq("bca").all()  # compare --ci bca
    units_before = sorted(p.stat().st_mtime_ns for p in (run / "units").glob("*.parquet"))
    rep = runner.invoke(app, ["report", str(run)])
    assert rep.exit_code == 0, rep.output
    assert "wide and unreliable" in rep.output  # 2 seeds
    f = finals(run)
    d = (f["paced"] - f["uniform"]).to_numpy()
    half = 12.706205 * d.std(ddof=1) / np.sqrt(2)  # t_{0.975,1}
    t_row = pd.read_csv(run / "summary.csv").set_index("scheduler").loc["paced"]
    assert t_row["ci"] == "t" and t_row["final_vs_base"] == pytest.approx(d.mean())
    assert (t_row["final_vs_base_lo"], t_row["final_vs_base_hi"]) == pytest.approx((d.mean() - half, d.mean() + half))
    md = (run / "report.md").read_text()
    for token in ("Student-t", '"budget": 20480', "| scipy |", "| numpy |", "Seeds: 0, 1", "wide and unreliable"):
        assert token in md, token

    assert runner.invoke(app, ["report", str(run), "--ci", "bca"]).exit_code == 0
    bca = pd.read_csv(run / "summary.csv").set_index("scheduler").loc["paced"]
    expected = mean_interval(d, method="bca")
    assert (bca["final_vs_base_lo"], bca["final_vs_base_hi"]) == pytest.approx((expected.lo, expected.hi))
    assert bca["final_vs_base_hi"] - bca["final_vs_base_lo"] < 2 * half and "BCa" in (run / "report.md").read_text()

    assert runner.invoke(app, ["report", str(run), "--baseline", "paced"]).exit_code == 0
    flipped = pd.read_csv(run / "summary.csv").set_index("scheduler")
    assert flipped.loc["uniform", "final_vs_base"] == pytest.approx(-d.mean())
    assert flipped.loc["paced", "final_vs_base"] == 0.0 and "Δ vs paced" in (run / "report.md").read_text()
    assert sorted(p.stat().st_mtime_ns for p in (run / "units").glob("*.parquet")) == units_before  # nothing re-run

    for extra, message in (
        (["--ci", "x"], "error: ci='x' is not an interval method here; accepted: 't', 'bca'"),
        (
            ["--baseline", "sec"],
            "error: baseline 'sec' is not among the run's schedulers; accepted: 'paced', 'uniform'",
        ),
        (["--target", "2"], "error: target=2.0 is out of range; accepted: a number in [0, 1]"),
    ):
        bad = runner.invoke(app, ["report", str(run), *extra])
        assert bad.exit_code == 2 and bad.output.strip().splitlines() == [message], bad.output


def test_aggregate_over_two_worlds(two_worlds: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "agg"
    result = runner.invoke(app, ["aggregate", *map(str, two_worlds), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert all((out / name).exists() for name in ("aggregate.csv", "aggregate.md", "aggregate.png", "profile.csv"))
    table = pd.read_csv(out / "aggregate.csv").set_index("scheduler")
    worlds = [finals(d) for d in two_worlds]
    pooled = np.sort(np.concatenate([w["paced"].to_numpy() for w in worlds]))
    assert table.loc["paced", "iqm"] == pytest.approx(pooled[1:3].mean())  # 4 runs: the middle two
    per_world = [
        np.mean([1.0 if x > y else 0.5 if x == y else 0.0 for x in w["paced"] for y in w["uniform"]]) for w in worlds
    ]
    assert table.loc["paced", "p_improve"] == pytest.approx(np.mean(per_world))
    assert table.loc["uniform", "p_improve"] == pytest.approx(0.5) and table.loc["paced", "worlds"] == 2
    assert "arXiv 2108.13264" in (out / "aggregate.md").read_text()

    other = tmp_path / "sec-only"
    assert runner.invoke(app, ["compare", *TINY, "--schedulers", "sec", "--out", str(other)]).exit_code == 0
    for args, message in (
        ([str(two_worlds[0]), str(tmp_path)], "is not a run directory: no config.json"),
        ([str(two_worlds[0]), str(other)], "the run directories share no scheduler"),
        (
            [*map(str, two_worlds), "--baseline", "sec"],
            "baseline 'sec' was not run in every world; accepted: 'paced', 'uniform'",
        ),
        ([str(two_worlds[0]), str(two_worlds[0])], "both ran world"),
        ([*map(str, two_worlds), "--ci", "t"], "ci='t' is not an interval method here; accepted: 'percentile', 'bca'"),
    ):
        bad = runner.invoke(app, ["aggregate", *args, "--out", str(out)])
        assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1 and message in bad.output, bad.output

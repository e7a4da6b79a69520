"""compare, report and snr through typer's CliRunner with tiny budgets."""

from __future__ import annotations

from typer.testing import CliRunner

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
    snr = runner.invoke(app, ["snr", "--env", env, "--prompts", "6", "--samples", "3", "--out", str(tmp_path / "snr")])
    assert snr.exit_code == 0, snr.output
    bad = runner.invoke(app, ["compare", "--device", "cuda", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--device cuda applies to the arith and llm environments only" in bad.output

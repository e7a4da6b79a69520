from __future__ import annotations

from typer.testing import CliRunner

import schedsim
from schedsim.cli import _specs, app
from schedsim.core.errors import accepted

runner = CliRunner()


def test_list_shows_every_scheduler_with_paper_and_defaults() -> None:
    out = runner.invoke(app, ["list"])
    assert out.exit_code == 0
    for token in (
        "paced",
        "arXiv 2602.12642",
        "tau=0.5",
        "sec",
        "alpha=0.5",
        "gaussian",
        "sigma=0.35",
        "uniform",
        "uniform-mixed",
        "bandit",
        "hard-tail",
        "few-categories",
        "independent",
        "drift",
        "score_noise=1.0",
    ):
        assert token in out.output


def test_check_passes_and_bad_spec_is_one_line() -> None:
    ok = runner.invoke(app, ["check", "paced:tau=0.4"])
    assert ok.exit_code == 0 and "passed 9 checks" in ok.output
    bad = runner.invoke(app, ["check", "pacd"])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == [
        "error: unknown scheduler 'pacd'; accepted: " + accepted(schedsim.available())
    ]


def test_demo_frontier_schedulers_pick_fewer_zero_variance_groups() -> None:
    out = runner.invoke(app, ["demo", "--schedulers", "uniform,paced:tau=0.3,explore=0.5,beta,lilo"])
    assert out.exit_code == 0, out.output
    table = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in out.output.strip().splitlines()[1:]}
    assert list(table) == ["uniform", "paced:tau=0.3,explore=0.5", "beta", "lilo"]
    zero_var = {name: row[2] for name, row in table.items()}
    assert zero_var["beta"] < zero_var["uniform"] and zero_var["lilo"] < zero_var["uniform"]
    assert all(0.0 <= row[0] <= 1.0 and 0.0 <= row[1] <= 0.25 for row in table.values())


def test_scheduler_list_splitting() -> None:
    assert _specs("paced:tau=0.4,explore=0.1,sec,beta:alpha=2") == ["paced:tau=0.4,explore=0.1", "sec", "beta:alpha=2"]

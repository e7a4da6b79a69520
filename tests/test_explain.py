"""schedsim explain: the ladder's specs, its validation, and its numbers against the paired statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import schedsim
from schedsim.analysis.stats import paired_delta
from schedsim.cli import app
from schedsim.explain import Variant, analyse, explainable, finals, ladder, plan, run_explain

SMALL = "bandit:n_train=300,n_test=150"
RUN = dict(seeds=3, budget=12_800, batch=16, group=8, eval_every=3200)


def test_ladder_rungs_strip_extras_and_swap_the_estimator() -> None:
    rungs = ladder("paced:explore=0.1,tau=0.4")
    assert rungs == {
        "uniform": "uniform",
        "step": "uniform-mixed",
        "oracle": "paced:estimator=oracle,tau=0.4",
        "estimator": "paced:tau=0.4",
        "shipped": "paced:explore=0.1,tau=0.4",
    }
    assert ladder("beta:alpha=2")["oracle"] == "beta:alpha=2.0,estimator=oracle"
    assert set(explainable()) >= {"paced", "beta", "gaussian"} and "uniform" not in explainable()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuch",), "unknown scheduler 'nosuch'; accepted:"),
        (
            ("uniform",),
            "explain needs a scheduler with an estimator it can swap for the oracle; 'uniform' has none; accepted: ",
        ),
        (("paced", "--env", "arith:tiny"), "environment 'arith' does not have; accepted: 'bandit'"),
        (("paced", "--sensitivity", "colour=1|2"), "--sensitivity key 'colour' is neither a parameter of 'paced'"),
        (("paced", "--sensitivity", "explore"), "is not key=a|b|c"),
        (("paced", "--ci", "percentile"), "percentile"),
        (("paced:estimator=oracle",), "explain takes the scheduler as trained"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message) -> None:
    out = tmp_path / "x"
    result = CliRunner().invoke(app, ["explain", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_sensitivity_over_a_scheduler_and_an_environment_key() -> None:
    variants = plan("paced", "bandit", "explore=0|0.25")
    assert [v.label for v in variants] == ["explore=0", "explore=0.25"]
    assert (
        variants[1].rungs["oracle"] == "paced:estimator=oracle,explore=0.25"
        and variants[1].rungs["uniform"] == "uniform"
    )
    envs = plan("paced", "bandit:hard-tail", "embed_visibility=0.2|1")
    assert [v.env for v in envs] == ["bandit:hard-tail,embed_visibility=0.2", "bandit:hard-tail,embed_visibility=1"]


def test_analyse_matches_the_paired_statistics_by_hand() -> None:
    variant = Variant("", "bandit", ladder("gaussian"))
    rows = []
    finals_by_spec = {  # three seeds, hand-made final accuracies
        "uniform": [0.50, 0.60, 0.55],
        "uniform-mixed": [0.52, 0.61, 0.56],
        "gaussian:estimator=oracle": [0.60, 0.64, 0.62],
        "gaussian": [0.53, 0.62, 0.58],
    }
    for spec, values in finals_by_spec.items():
        for seed, v in enumerate(values):
            rows.append({"scheduler": spec, "seed": seed, "rollouts": 100, "heldout_acc": v, "heldout_acc_c0": v})
    table = analyse(variant, pd.DataFrame(rows))
    assert list(table["rung"]) == ["uniform", "step", "oracle", "estimator"]  # no extras: rung 5 is rung 4
    own = table.set_index("rung").loc["estimator"]
    d = np.array([0.03, 0.02, 0.03])  # gaussian − uniform per seed
    half = 4.302652729911275 * d.std(ddof=1) / np.sqrt(3)  # t_{0.975, 2}
    assert own["delta"] == pytest.approx(d.mean()) and own["delta_lo"] == pytest.approx(d.mean() - half)
    e = np.array([-0.07, -0.02, -0.04])  # estimator − oracle: the estimator's cost
    assert own["step_delta"] == pytest.approx(e.mean())
    assert own["step_hi"] == pytest.approx(e.mean() + 4.302652729911275 * e.std(ddof=1) / np.sqrt(3))
    assert own["wins"] == "3/3"


def test_explain_runs_the_ladder_and_writes_its_report(tmp_path) -> None:
    out = tmp_path / "ex"
    result = run_explain("paced:explore=0.1", env=SMALL, out=out, **RUN)
    assert list(result.table["rung"]) == ["uniform", "step", "oracle", "estimator", "shipped"]
    units = schedsim.runner.RunStore(out).read_units()
    assert set(units["scheduler"]) == {
        "uniform",
        "uniform-mixed",
        "paced:estimator=oracle",
        "paced",
        "paced:explore=0.1",
    }
    assert units.loc[units["scheduler"] == "paced:estimator=oracle", "oracle"].all()
    assert not units.loc[units["scheduler"] == "paced", "oracle"].any()
    per = finals(units)
    expected = paired_delta(per, "paced", "paced:estimator=oracle")
    got = result.table.set_index("rung").loc["estimator"]
    assert got["step_delta"] == pytest.approx(expected.point) and got["step_lo"] == pytest.approx(expected.lo)
    text = (out / "report.md").read_text()
    assert "## Explain" in text and f"{got['delta']:+.3f}" in text and "wide and unreliable" in text
    assert (out / "explain.png").stat().st_size > 10_000
    again = run_explain("paced:explore=0.1", env=SMALL, out=out, **RUN)  # resumes: identical numbers
    pd.testing.assert_frame_equal(again.table, result.table)


def test_plr_ladder_reports_its_staleness_share(tmp_path) -> None:
    result = run_explain("plr", env=SMALL, out=tmp_path / "plr", **RUN)
    own = result.table.set_index("rung").loc["estimator"]
    units = schedsim.runner.RunStore(tmp_path / "plr").read_units()
    expected = units.loc[units["scheduler"] == "plr", "sched/staleness_share"].mean()
    assert own["staleness_share"] == pytest.approx(expected) and 0.0 < expected <= 1.0
    assert f"The staleness term made {expected:.0%} of its batches." in result.paragraph
    assert np.isnan(result.table.set_index("rung").loc["uniform", "staleness_share"])

"""Table of bad inputs (issue 11): each is refused with ONE line naming the value and what is accepted.

CLI cases run through typer's CliRunner (one through ``python -m schedsim``): exit code 2, exactly one line on
stderr, no traceback, and nothing written: the ``--out`` directory of a refused command is never created, and a
directory holding finished units of an earlier good run is left byte for byte as it was. The API cases (the
SchedsimError subclass, one line and the message) live in tests/test_bad_inputs_api.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_bad_inputs_api import API_CASES, GROUP, NAMES, _config, _one_line
from typer.testing import CliRunner

import schedsim
from schedsim.cli import app
from schedsim.runner import RunStore, run_all

runner = CliRunner()

#: the tiny comparison every compare/explain case starts from (the good run uses exactly this)
TINY = ["--seeds", "1", "--budget", "2048", "--batch", "16", "--group", "4", "--eval-every", "1024", "--workers", "1"]
OUT, RUN, FILE = "{out}", "{run}", "{file}"  # placeholders: a fresh --out, the good run, an existing regular file


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (the good run must come out of a refused command unchanged)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished tiny comparison (1 unit, a fraction of a second of simulation)."""
    root = tmp_path_factory.mktemp("good") / "run"
    result = runner.invoke(app, ["compare", "--schedulers", "uniform", *TINY, "--out", str(root)])
    assert result.exit_code == 0, result.output
    assert len(list((root / "units").glob("*.parquet"))) == 1
    return root


def _compare(*extra: str, schedulers: str = "uniform") -> list[str]:
    return ["compare", "--schedulers", schedulers, *TINY, *extra, "--out", OUT]


def _explain(spec: str, *extra: str) -> list[str]:
    return ["explain", spec, *TINY, *extra, "--out", OUT]


def _snr(*extra: str) -> list[str]:
    return ["snr", *extra] if "--out" in extra else ["snr", *extra, "--out", OUT]


CLI_CASES = [
    # compare: specs
    pytest.param(_compare(schedulers="pacd"), r"^unknown scheduler 'pacd'; " + NAMES, id="compare-unknown-name"),
    pytest.param(
        _compare(schedulers="paced:tua=0.4"),
        r"^unknown parameter 'tua' for scheduler 'paced'; accepted: 'kl_coef', 'tau', ",
        id="compare-unknown-param",
    ),
    pytest.param(
        _compare(schedulers="paced:tau=-0.37"),
        r"^paced: tau=-0\.37 is out of range; accepted: a number in \[0, 1\]$",
        id="compare-tau-negative",
    ),
    pytest.param(
        _compare(schedulers="sec:alpha=abc"),
        r"^sec: alpha='abc' is not accepted; accepted: a value of type float$",
        id="compare-param-type",
    ),
    pytest.param(
        _compare(schedulers="paced:tau"), r"^paced: 'tau' is not key=value; accepted: ", id="compare-not-key-value"
    ),
    pytest.param(
        _compare(schedulers=","),
        r"^--schedulers ',' names no scheduler; accepted: " + re.escape(", ".join(schedsim.available())) + "$",
        id="compare-empty",
    ),
    pytest.param(
        _compare(schedulers="paced,paced:tau=0.5"),
        r"^a scheduler is listed twice: 'paced' and 'paced:tau=0\.5' are both 'paced' .*; accepted: each scheduler once$",
        id="compare-duplicate-default-spelling",
    ),
    pytest.param(
        _compare(schedulers="beta:alpha=1.0,uniform,beta"),
        r"^a scheduler is listed twice: 'beta:alpha=1\.0' and 'beta' are both 'beta'",
        id="compare-duplicate-alpha-default",
    ),
    pytest.param(
        _compare(schedulers="uniform,uniform"),
        r"^a scheduler is listed twice: 'uniform' and 'uniform' are both 'uniform'",
        id="compare-duplicate-same",
    ),
    pytest.param(
        _compare(schedulers="lilo"),
        r"^'lilo' trains on its probed groups of 8 rollouts, but group=4; accepted: probe_group=4, or train_on_probes",
        id="compare-lilo-probe-group",
    ),
    # compare: run options
    pytest.param(_compare("--group", "1"), GROUP, id="compare-group-1"),
    pytest.param(_compare("--group", "0"), r"^group=0 gives no group-relative signal", id="compare-group-0"),
    pytest.param(
        _compare("--workers", "0"),
        r"^workers=0 is out of range; accepted: an integer in \[1, inf\)$",
        id="compare-workers-0",
    ),
    pytest.param(
        _compare("--workers", "-1"),
        r"^workers=-1 is out of range; accepted: an integer in \[1, inf\)$",
        id="compare-workers-negative",
    ),
    pytest.param(
        _compare("--seeds", "0"), r"^seeds=0 is out of range; accepted: an integer in \[1, inf\)$", id="compare-seeds-0"
    ),
    pytest.param(
        _compare("--budget", "50"),
        r"^budget=50 is smaller than one batch \(batch x group = 64 rollouts\); accepted: budget >= 64$",
        id="compare-budget-below-batch",
    ),
    pytest.param(
        _compare("--batch", "3000", "--budget", "200000"),
        r"^batch=3000 exceeds the pool of \d+ train prompts; accepted: batch <= \d+$",
        id="compare-batch-exceeds-pool",
    ),
    pytest.param(
        _compare("--eval-every", "0"),
        r"^eval_every=0 is out of range; accepted: an integer in \[1, inf\)$",
        id="compare-eval-0",
    ),
    pytest.param(
        _compare("--target", "1.5"),
        r"^target=1\.5 is out of range; accepted: a number in \[0, 1\] or None$",
        id="compare-target",
    ),
    pytest.param(
        _compare("--baseline", "sec"),
        r"^baseline 'sec' is not among the schedulers; accepted: \['uniform'\]$",
        id="compare-baseline-absent",
    ),
    pytest.param(
        _compare("--ci", "xyz"), r"^ci='xyz' is not an interval method here; accepted: 't', 'bca'$", id="compare-ci"
    ),
    pytest.param(
        _compare("--env", "nope"), r"^unknown environment 'nope'; accepted: 'bandit', 'arith', 'llm'$", id="compare-env"
    ),
    pytest.param(
        _compare("--env", "bandit:nope"),
        r"^unknown bandit preset 'nope'; accepted: 'default', ",
        id="compare-env-preset",
    ),
    pytest.param(
        _compare("--env", "bandit:lr=-1.5"),
        r"^lr=-1\.5 is out of range; accepted: a number in \(0, inf\)$",
        id="compare-env-value",
    ),
    pytest.param(
        _compare("--device", "cuda"),
        r"^--device cuda applies to the arith and llm environments only; 'bandit' runs on numpy$",
        id="compare-device-bandit",
    ),
    pytest.param(
        _compare("--model", "m"), r"^--model applies to --env llm only; got --env 'bandit'$", id="compare-model-bandit"
    ),
    # explain
    pytest.param(
        _explain("uniform"),
        r"^explain needs a scheduler with an estimator it can swap for the oracle; 'uniform' has none; accepted: 'beta'",
        id="explain-uniform",
    ),
    pytest.param(
        _explain("paced:estimator=oracle"),
        r"^explain takes the scheduler as trained, not 'paced:estimator=oracle'; accepted: an estimator other than oracle$",
        id="explain-oracle",
    ),
    pytest.param(_explain("paced", "--group", "1"), GROUP, id="explain-group-1"),
    pytest.param(
        _explain("paced", "--workers", "0"),
        r"^workers=0 is out of range; accepted: an integer in \[1, inf\)$",
        id="explain-workers-0",
    ),
    pytest.param(
        _explain("paced", "--sensitivity", "bogus=1|2"),
        r"^--sensitivity key 'bogus' is neither a parameter of 'paced' nor of environment 'bandit'; accepted: 'kl_coef'",
        id="explain-sensitivity-key",
    ),
    pytest.param(
        _explain("paced", "--sensitivity", "explore"),
        r"^--sensitivity 'explore' is not key=a\|b\|c; accepted: e\.g\. ",
        id="explain-sensitivity-form",
    ),
    pytest.param(
        _explain("paced", "--env", "arith"),
        r"^explain's oracle rung needs true pass rates, which environment 'arith' does not have; accepted: 'bandit'$",
        id="explain-env",
    ),
    pytest.param(
        _explain("paced", "--ci", "nope"),
        r"^ci='nope' is not an interval method here; accepted: 't', 'bca'$",
        id="explain-ci",
    ),
    # snr
    pytest.param(
        _snr("--samples", "-5"),
        r"^--samples -5 is not accepted \(.*\); accepted: an integer >= 2, or leave --samples out for the default$",
        id="snr-samples-negative",
    ),
    pytest.param(
        _snr("--samples", "0"),
        r"^--samples 0 is not accepted .*accepted: an integer >= 2",
        id="snr-samples-0-not-default",
    ),
    pytest.param(_snr("--samples", "1"), r"^--samples 1 is not accepted \(a gradient variance", id="snr-samples-1"),
    pytest.param(
        _snr("--prompts", "-3"),
        r"^--prompts -3 is not accepted \(.*\); accepted: an integer >= 2, or leave --prompts out for the default$",
        id="snr-prompts-negative",
    ),
    pytest.param(
        _snr("--prompts", "0"),
        r"^--prompts 0 is not accepted .*accepted: an integer >= 2",
        id="snr-prompts-0-not-default",
    ),
    pytest.param(_snr("--group", "1"), GROUP, id="snr-group-1"),
    pytest.param(
        _snr("--out", FILE),
        r"^--out '.*afile' is an existing file; accepted: a directory, or a path to create$",
        id="snr-out-is-file",
    ),
    pytest.param(
        _snr("--out", FILE + "/sub"),
        r"^--out '.*afile/sub' lies under the file '.*afile'; accepted: ",
        id="snr-out-under-file",
    ),
    pytest.param(
        _snr("--device", "cuda"),
        r"^--device cuda applies to the arith and llm environments only",
        id="snr-device-bandit",
    ),
    pytest.param(_snr("--seed", "-1"), r"^seed=-1 is not accepted; accepted: a non-negative integer", id="snr-seed"),
    pytest.param(
        _snr("--env", "bandit:nope"), r"^unknown bandit preset 'nope'; accepted: 'default'", id="snr-env-preset"
    ),
    # report and aggregate
    pytest.param(["report", "{out}"], r"^'.*out' is not a run directory: no config\.json$", id="report-no-run"),
    pytest.param(
        ["report", RUN, "--ci", "nope"],
        r"^ci='nope' is not an interval method here; accepted: 't', 'bca'$",
        id="report-ci",
    ),
    pytest.param(
        ["report", RUN, "--baseline", "pacd"], r"^unknown scheduler 'pacd'; " + NAMES, id="report-baseline-unknown"
    ),
    pytest.param(
        ["report", RUN, "--baseline", "sec"],
        r"^baseline 'sec' is not among the run's schedulers; accepted: .*'uniform'",
        id="report-baseline-absent",
    ),
    pytest.param(
        ["aggregate", "{out}/nowhere", "--out", OUT], r"is not a run directory: no config\.json$", id="agg-no-run"
    ),
    pytest.param(
        ["aggregate", RUN, "--ci", "t", "--out", OUT],
        r"^ci='t' is not an interval method here; accepted: 'percentile', 'bca'$",
        id="agg-ci",
    ),
    pytest.param(
        ["aggregate", RUN, "--baseline", "sec", "--out", OUT], r"'sec'.*accepted: .*'uniform'", id="agg-baseline-absent"
    ),
    # check and demo
    pytest.param(["check", "pacd"], r"^unknown scheduler 'pacd'; " + NAMES, id="check-unknown"),
    pytest.param(
        ["check", "beta:alpha=-2.5"],
        r"^beta: alpha=-2\.5 is out of range; accepted: a number in \(0, inf\)$",
        id="check-alpha",
    ),
    pytest.param(
        ["check", "sec:tau=inf"],
        r"^sec: tau=inf is out of range; accepted: a number in \(0, inf\)$",
        id="check-inf-refused",
    ),
    pytest.param(
        ["check", "paced:tau=1.7"],
        r"^paced: tau=1\.7 is out of range; accepted: a number in \[0, 1\]$",
        id="check-tau-high",
    ),
    pytest.param(
        ["check", "beta:mode=greedy"],
        r"^beta: mode='greedy' is not accepted; accepted: 'sample', 'weight'$",
        id="check-choice",
    ),
    pytest.param(["demo", "--group", "1"], GROUP, id="demo-group-1"),
    pytest.param(
        ["demo", "--steps", "1"], r"^steps=1 is out of range; accepted: an integer in \[2, inf\)$", id="demo-steps"
    ),
    pytest.param(
        ["demo", "--batch", "0"], r"^batch=0 is out of range; accepted: an integer in \[1, inf\)$", id="demo-batch"
    ),
    pytest.param(
        ["demo", "--seed", "-2"], r"^seed=-2 is out of range; accepted: an integer in \[0, inf\)$", id="demo-seed"
    ),
    pytest.param(["demo", "--schedulers", "nope"], r"^unknown scheduler 'nope'; " + NAMES, id="demo-unknown"),
]


def _fill(args: list[str], tmp_path: Path, good_run: Path) -> list[str]:
    (tmp_path / "afile").write_text("not a directory\n")
    subs = {OUT: str(tmp_path / "out"), RUN: str(good_run), FILE: str(tmp_path / "afile")}
    return [re.sub(r"\{(out|run|file)\}", lambda m: subs["{" + m.group(1) + "}"], a) for a in args]


@pytest.mark.parametrize(("args", "pattern"), CLI_CASES)
def test_cli_refuses_bad_input_in_one_line(
    args: list[str], pattern: str, tmp_path: Path, good_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a command that ignored --out would write under runs/ here
    before = _snapshot(good_run)
    result = runner.invoke(app, _fill(args, tmp_path, good_run))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # friendly's exit, not an escaped exception
    line = _one_line(result.stderr)
    assert line.startswith("error: ")
    assert re.search(pattern, line.removeprefix("error: ")), line
    assert not (tmp_path / "out").exists(), "a refused command created its --out directory"
    assert not (tmp_path / "runs").exists(), "a refused command wrote under the default runs/"
    assert _snapshot(good_run) == before, "a refused command changed the earlier run's files"


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        pytest.param(["--workers", "0"], r"^workers=0 is out of range", id="workers-0"),
        pytest.param(["--group", "1"], r"^group=1 gives no group-relative signal", id="group-1"),
        pytest.param(["--ci", "nope"], r"^ci='nope' is not an interval method", id="ci"),
        pytest.param(["--schedulers", "uniform,uniform:"], r"^a scheduler is listed twice", id="duplicate"),
    ],
)
def test_refused_compare_into_a_finished_run_keeps_its_units(
    extra: list[str], pattern: str, tmp_path: Path, good_run: Path
) -> None:
    """The same directory, the same configuration but one bad option: nothing is rerun, rewritten or removed."""
    root = tmp_path / "run"
    shutil.copytree(good_run, root)
    before = _snapshot(root)
    assert any(name.startswith("units/") for name in before)
    args = ["compare", "--schedulers", "uniform", *TINY, *extra, "--out", str(root)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert re.search(pattern, _one_line(result.stderr).removeprefix("error: "))
    assert _snapshot(root) == before


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        pytest.param("{not json", r"^corrupt .*config\.json \(.*\); .*delete config\.json", id="not-json"),
        pytest.param(
            '{"schedulers": ["pacd"]}',
            r"config\.json is not a configuration .*'pacd'.*delete config\.json",
            id="bad-spec",
        ),
        pytest.param(
            "[1, 2]", r"config\.json is not a configuration .*'schedulers' list.*delete config\.json", id="list"
        ),
        pytest.param(
            '{"schedulers": ["uniform"], "env": 5}', r"config\.json is not a configuration .*delete", id="env-number"
        ),
    ],
)
def test_corrupt_config_json_names_the_file_and_the_remedy(
    content: str, pattern: str, tmp_path: Path, good_run: Path
) -> None:
    root = tmp_path / "run"
    shutil.copytree(good_run, root)
    (root / "config.json").write_text(content)
    units = _snapshot(root / "units")
    result = runner.invoke(app, ["report", str(root)])
    assert result.exit_code == 2, result.output
    line = _one_line(result.stderr)
    assert str(root / "config.json") in line and re.search(pattern, line.removeprefix("error: ")), line
    assert _snapshot(root / "units") == units


def test_python_dash_m_schedsim_refuses_in_one_line(tmp_path: Path) -> None:
    """The real process (not CliRunner): exit 2, one line on stderr, nothing on disk, before any computing."""
    out = tmp_path / "snr"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "schedsim", "snr", "--prompts", "0", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert re.fullmatch(r"error: --prompts 0 is not accepted .*", _one_line(proc.stderr))
    assert not out.exists()


# ---- Python API ------------------------------------------------------------------------------------------------


def test_run_all_refuses_workers_before_writing(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    with pytest.raises(
        schedsim.ParameterError, match=r"^workers=0 is out of range; accepted: an integer in \[1, inf\)$"
    ):
        run_all(_config(), store, workers=0)
    assert not store.root.exists()


def test_cases_cover_at_least_forty_inputs() -> None:
    ids = [case.id for case in CLI_CASES + API_CASES]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["compare", "--seedz", "3"],
            r"error: No such option: --seedz \(Possible options: --seeds\); see '.*compare --help'",
        ),
        (["compare", "--seeds", "x"], r"error: Invalid value for '--seeds': .*; see '.*compare --help'"),
        (["frobnicate"], r"error: No such command 'frobnicate'; see '.*--help'"),
    ],
)
def test_usage_errors_of_the_real_command_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "schedsim", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert re.fullmatch(message, _one_line(proc.stderr)), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout

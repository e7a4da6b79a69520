"""Extending schedsim: the README's own scheduler and environment, run verbatim; registration errors; plugins."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import schedsim
from schedsim.core.registry import annotation_text

ROOT = Path(__file__).resolve().parents[1]
SCHEDSIM = str(Path(sys.executable).with_name("schedsim"))


def readme_blocks() -> tuple[dict[str, str], list[str]]:
    """The README's files (``<!-- readme-test: file NAME -->``) and commands (``<!-- readme-test: run -->``)."""
    text = (ROOT / "README.md").read_text()
    files, commands = {}, []
    for match in re.finditer(r"<!-- readme-test: (file (\S+)|run) -->\n```\w*\n(.*?)```", text, re.S):
        if match.group(2):
            files[match.group(2)] = match.group(3)
        else:
            commands += [c for c in match.group(3).replace("\\\n", " ").splitlines() if c.strip()]
    return files, commands


def test_readme_examples_run_verbatim(tmp_path) -> None:
    files, commands = readme_blocks()
    assert set(files) == {"my_sched.py", "my_env.py"} and len(commands) == 3
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    outputs = []
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "schedsim"
        done = subprocess.run([SCHEDSIM, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        outputs.append(done.stdout)
    assert "closest:target=0.3: passed 9 checks" in outputs[0]
    mine = pd.read_csv(tmp_path / "runs" / "mine" / "summary.csv")
    assert mine["scheduler"].tolist() == ["closest:target=0.3", "uniform"] and (mine["seeds"] == 2).all()
    coins = pd.read_csv(tmp_path / "runs" / "coins" / "summary.csv")
    assert coins["scheduler"].tolist() == ["beta", "uniform"]
    assert coins["calib"].notna().iloc[0]  # beta's estimates are calibrated against reference_pass_rates()
    config = (tmp_path / "runs" / "coins" / "config.json").read_text()
    assert '"spread": 4.0' in config and '"lr": 0.5' in config  # preset hard and the override reached the config


def test_annotations_convert_with_or_without_future_import() -> None:
    import typing

    assert annotation_text(float) == "float"
    assert annotation_text(int | None) == "int | None"
    assert annotation_text(typing.Optional[float]) == "float | None"  # noqa: UP045 - the spelling under test
    assert annotation_text("float | None") == "float | None"
    assert annotation_text(__import__("inspect").Parameter.empty, 0.3) == "float"


def test_registration_errors_say_what_to_do() -> None:
    with pytest.raises(TypeError, match=r"Bad overrides select\(\); accepted: implement _select\(\) instead"):

        class Bad(schedsim.Scheduler):
            name = "bad"

            def select(self, k):
                return np.arange(k)

    class Positional(schedsim.Scheduler):
        name = "positional"

        def __init__(self, pool, explore=0.1, *, seed=None):
            super().__init__(pool, seed=seed)

        def _select(self, k):
            return np.arange(k)

        def _observe(self, feedback):
            pass

    with pytest.raises(schedsim.SpecError, match=r"takes 'explore' by position; accepted: .*keyword-only, after '\*'"):
        schedsim.register(Positional)

    class NoDefault(Positional):
        name = "nodefault"

        def __init__(self, pool, *, seed=None, c: float):
            super().__init__(pool, seed=seed)

    with pytest.raises(schedsim.SpecError, match="has no default for 'c'"):
        schedsim.register(NoDefault)
    assert "positional" not in schedsim.available() and "nodefault" not in schedsim.available()


def test_register_env_checks_the_protocol(tmp_path) -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Cfg:
        n: int = 10

    class NoLearn:
        def rollout(self, ids, group): ...
        def evaluate(self): ...
        def reference_pass_rates(self): ...

    with pytest.raises(schedsim.SpecError, match=r"NoLearn lacks learn; accepted: an environment with pool, rollout"):
        schedsim.register_env("nolearn", NoLearn, config=Cfg, description="x")
    with pytest.raises(schedsim.SpecError, match="not a built-in name"):
        schedsim.register_env("bandit", NoLearn, config=Cfg, description="x")

    def factory(config, *, seed):
        return object()  # nothing the runner needs

    from schedsim.envs import _REGISTERED, ENVS, RUN_DEFAULTS, make_env

    schedsim.register_env("hollow", factory, config=Cfg, description="x")
    try:
        with pytest.raises(schedsim.SpecError, match=r"environment 'hollow' \(object\) lacks pool, rollout, learn"):
            make_env("hollow:n=3", seed=0)
    finally:  # other tests list the environments
        for table in (_REGISTERED, ENVS, RUN_DEFAULTS):
            table.pop("hollow", None)


def test_import_option_errors_are_one_line() -> None:
    done = subprocess.run([SCHEDSIM, "--import", "no_such_module_xyz", "list"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "module 'no_such_module_xyz' not found; accepted: an importable module name" in done.stderr


def test_python_compare_returns_the_summary(tmp_path) -> None:
    result = schedsim.compare(
        "uniform,gaussian:mu=0.4",
        env="bandit:n_train=200,n_test=100",
        seeds=2,
        budget=3072,
        batch=16,
        group=4,
        eval_every=1024,
        out=tmp_path / "run",
    )
    assert result.ran == 4 and result.summary["scheduler"].tolist() == ["uniform", "gaussian:mu=0.4"]
    assert set(result.units["seed"]) == {0, 1} and result.warning is not None  # 2 seeds: the warning is given
    assert [f.name for f in result.files] == ["summary.csv", "report.md"]  # figures only on request
    on_disk = pd.read_csv(tmp_path / "run" / "summary.csv")
    np.testing.assert_allclose(on_disk["final"], result.summary["final"])
    again = schedsim.compare(["uniform", "gaussian:mu=0.4"], env="bandit:n_train=200,n_test=100", seeds=2,
                             budget=3072, batch=16, group=4, eval_every=1024, out=tmp_path / "run")  # fmt: skip
    assert again.ran == 0  # resumed

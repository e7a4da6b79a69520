"""Smoke tests: every analysis/ script runs end to end with a tiny budget, and what it prints is checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    """Run ``analysis/<script>`` with this interpreter; return its stdout (fails the test on a non-zero exit)."""
    cmd = [sys.executable, str(ROOT / "analysis" / script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def rows(text: str) -> dict[str, list[str]]:
    """First whitespace-separated token of each line -> the remaining tokens."""
    return {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()}


def test_bench_schedulers_smoke() -> None:
    table = rows(run("bench_schedulers.py", "--sizes", "2000", "--repeats", "1"))
    assert float(table["argpartition"][1]) == 1.0  # the yardstick is its own unit
    assert float(table["uniform"][2]) < 16  # an int64 epoch order: about 8 bytes per prompt
    # no timing assertions (a shared machine makes them flaky); the state size is deterministic: O(N), a few
    # float64 arrays at most (measured 0.1-40.3 bytes per prompt; PLR keeps five: estimates, counts, staleness,
    # last selection and its tie-break keys)
    for name in ("paced", "beta", "gaussian", "sec", "mopps", "spo", "plr", "pcl", "tscl", "exp3s", "pools", "bots"):
        assert 0 <= float(table[name][2]) < 48, (name, table[name])


def test_bench_simulator_smoke() -> None:
    out = run("bench_simulator.py", "--quick")
    ratios = [float(x) for x in re.findall(r"\(\s*([\d.]+)x\)", out)]
    assert len(ratios) == 2 and min(ratios) > 0  # speed-ups are printed, never asserted (shared machine)
    step_rows = [line.split() for line in out.splitlines() if re.match(r"\s+[\d,]+\s+[\d.]+\s+[\d.]+$", line)]
    assert [r[0] for r in step_rows] == ["1,000", "10,000", "16", "64", "256"]  # --quick sizes, then batches


def test_bench_arith_smoke() -> None:
    out = run("bench_arith.py", "--quick", "--device", "cpu")
    lines = [line.split() for line in out.splitlines() if line.startswith("cpu")]
    assert len(lines) == 4
    # rates are printed, never compared (a shared machine makes that flaky): threads 1, 1, 2, 2 with/without cache
    assert [(line[1], line[2]) for line in lines] == [("1", "True"), ("1", "False"), ("2", "True"), ("2", "False")]
    assert all(float(line[3].replace(",", "")) > 0 and float(line[4].replace(",", "")) > 0 for line in lines)


def test_theory_figures_smoke(tmp_path: Path) -> None:
    out = run("theory_figures.py", "--out", str(tmp_path))
    assert len(list(tmp_path.glob("fig*.png"))) == 10
    slope = float(re.search(r"worst case = ([\d.]+)", out).group(1))
    assert 1.8 < slope < 2.1  # efficiency loss grows as delta squared


def test_simulator_figures_smoke(tmp_path: Path) -> None:
    out = run("simulator_figures.py", "--quick", "--out", str(tmp_path), "--workers", "1")
    for n in (1, 8, 9, 10, 12):
        assert list(tmp_path.glob(f"fig{n}_*.png")), n
    assert rows(out)["uniform"][3:6] == ["+0.000", "[+0.000,+0.000]", "0/2"]  # the baseline against itself


def test_compare_presets_smoke(tmp_path: Path) -> None:
    out = run(
        "compare_presets.py",
        "--seeds",
        "1",
        "--budget",
        "2048",
        "--presets",
        "few-categories",
        "--out",
        str(tmp_path),
        "--no-figures",
        "--workers",
        "1",
    )
    table = rows(out)
    assert "bandit:few-categories" in out and set(table) >= {"uniform", "uniform-mixed", "mopps", "spo", "plr"}
    assert table["uniform"][3] == "+0.000"


def test_bench_adapters_smoke() -> None:
    import pytest

    pytest.importorskip("trl")
    pytest.importorskip("verl")
    out = run("bench_adapters.py", "--steps", "2", "--prompts", "8", "--rollouts", "2", "--tokens", "4")
    trl_line = next(line for line in out.splitlines() if line.startswith("TRL"))
    verl_line = next(line for line in out.splitlines() if line.startswith("verl"))
    assert float(re.search(r"observe\) ([\d.]+) ms per step of ([\d.]+) ms", trl_line).group(2)) > 0
    assert "2 steps of 4 prompts" in trl_line and "(8 prompts x 2 rollouts x 4 tokens)" in verl_line


def test_mutation_score_resolves_listed_equivalents_and_sets_them_aside() -> None:
    import collections
    import importlib.util

    spec = importlib.util.spec_from_file_location("mutation_score", Path("analysis/mutation_score.py"))
    ms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ms)
    names = [
        "schedsim.a.x_f__mutmut_1",
        "schedsim.a.x_f__mutmut_2",
        "schedsim.a.xǁCǁm__mutmut_3",
        "schedsim.a.xǁCǁg__mutmut_4",
        "schedsim.b.x_f__mutmut_1",
        "schedsim.b.xǁDǁ__init____mutmut_9",
    ]
    text = "\n".join(
        [
            "# title, `f_1` outside a module heading does not count",
            "## schedsim.a (`C`)",
            "- `f_1`, `_2` (a bare number continues f); `C.m_3` and a method of the heading's class: `g_4`.",
            "prose `f_7` outside a list item does not count",
            "## schedsim.b",
            "- `D.__init___9`, `f_5` (no such mutant)",
            "## Scores",
            "- `f_1` of schedsim.b would count only under its heading",
        ]
    )
    found, unknown = ms.listed_equivalents(text, names)
    assert found == set(names) - {"schedsim.b.x_f__mutmut_1"}
    assert unknown == ["schedsim.b: f_5"]
    pairs = [(n, "survived") for n in names] + [("schedsim.a.x_f__mutmut_8", "killed")]
    pairs += [("schedsim.a.x_f__mutmut_9", "timeout"), ("schedsim.a.x_f__mutmut_10", "not checked")]
    counts = ms.table(pairs, found)
    assert counts["schedsim.a"] == collections.Counter(survived=4, listed=4, killed=1, timeout=1)
    # raw: 1 killed of 6 checked; score: (1 + 1) / (6 - 4)
    assert ms.scores(counts["schedsim.a"]) == (1 / 6, 1.0)
    raw, score = ms.scores(counts["schedsim.b"])  # one listed survivor of two
    assert (raw, score) == (0.0, 0.0)

"""Smoke tests: every analysis/ script runs end to end with a tiny budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_schedulers_smoke() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "bench_schedulers.py"), "--sizes", "2000", "--repeats", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in ("argpartition", "uniform", "paced", "beta", "gaussian", "sec"):
        assert f"\n{name}" in out.stdout


def test_bench_simulator_smoke() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "bench_simulator.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "vectorised" in out.stdout and "ms per step" in out.stdout


def test_theory_figures_smoke(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "theory_figures.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    assert len(list(tmp_path.glob("fig*.png"))) == 10


def test_simulator_figures_smoke(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "analysis" / "simulator_figures.py"),
            "--quick",
            "--out",
            str(tmp_path),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for n in (1, 8, 9, 10, 12):
        assert list(tmp_path.glob(f"fig{n}_*.png")), n
    assert "uniform-mixed" in out.stdout


def test_compare_presets_smoke(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "analysis" / "compare_presets.py"),
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
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "bandit:few-categories" in out.stdout and "uniform-mixed" in out.stdout


def test_bench_arith_smoke() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "analysis" / "bench_arith.py"), "--quick", "--device", "cpu"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.count("\ncpu") == 4

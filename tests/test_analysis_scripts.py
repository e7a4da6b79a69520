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

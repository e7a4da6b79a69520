"""Kill score per module from the last mutmut run (run from the repository root after `make mutation`).

    python analysis/mutation_score.py [--survivors]

Reads ``mutmut results --all true`` and prints, per module, how many mutants were killed, survived, timed out or
had no covering test, and the score killed / (checked mutants). ``--survivors`` also lists the surviving mutant
names (inspect one with ``mutmut show NAME``; judged-equivalent ones belong in analysis/mutation_equivalents.md).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
from pathlib import Path


def results() -> list[tuple[str, str]]:
    """``(mutant name, status)`` for every mutant mutmut knows, checked or not."""
    exe = shutil.which("mutmut") or str(Path(sys.executable).with_name("mutmut"))
    out = subprocess.run([exe, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    pairs = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            pairs.append((name, status))
    return pairs


def module_of(name: str) -> str:
    """``schedsim.rules.kernels.x_beta_kernel__mutmut_3`` -> ``schedsim.rules.kernels``."""
    return name.split(".x_")[0].split(".xǁ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    args = parser.parse_args()
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    for name, status in results():
        if status == "not checked":
            continue
        table[module_of(name)][status] += 1
        if status == "survived":
            survivors.append(name)
    print(f"{'module':40s} {'killed':>7s} {'survived':>9s} {'timeout':>8s} {'no tests':>9s} {'score':>6s}")
    for module in sorted(table):
        c = table[module]
        checked = c["killed"] + c["survived"] + c["timeout"]
        score = c["killed"] / checked if checked else float("nan")
        print(f"{module:40s} {c['killed']:7d} {c['survived']:9d} {c['timeout']:8d} {c['no tests']:9d} {score:6.1%}")
    if args.survivors:
        print("\n".join(["", "surviving mutants:", *sorted(survivors)]))


if __name__ == "__main__":
    main()

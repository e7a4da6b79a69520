"""Benchmark: units per minute per core for the default bandit unit on the process and Ray backends, and Ray's
scheduling overhead per unit.

Throughput: ``--units`` units of the default comparison's bandit unit (``uniform``, the default budget) run by
``run_all`` on each backend with ``--workers`` workers (Ray: a local instance with that many CPUs, started inside
the timed region once and reported separately). Overhead: the same number of tiny units (one batch each), where the
unit's own work is negligible: Ray's core-seconds per unit (wall time x CPUs) minus the serial seconds per unit.

    python analysis/bench_backends.py [--units 8] [--workers 2] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from schedsim.runner import RunConfig, RunStore, run_all


def timed_run(config: RunConfig, backend: str, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_all(config, RunStore(Path(tmp) / "run"), workers=workers, backend=backend)
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small budget (smoke test)")
    a = parser.parse_args()
    import ray

    budget = {"budget": 8192, "eval_every": 4096} if a.quick else {}
    unit = RunConfig(schedulers=("uniform",), env="bandit", seeds=a.units, **budget)
    tiny = RunConfig(
        schedulers=("uniform",), env="bandit", seeds=a.units, budget=512, batch=64, group=8, eval_every=512
    )
    print(f"{a.units} units of the default bandit unit (budget {unit.budget} rollouts), {a.workers} worker(s)")
    rows = [("process, 1 worker", timed_run(unit, "process", 1), 1)]
    rows.append((f"process, {a.workers} workers", timed_run(unit, "process", a.workers), a.workers))
    t0 = time.perf_counter()
    ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    startup = time.perf_counter() - t0
    rows.append((f"ray local, {a.workers} CPUs", timed_run(unit, "ray", a.workers), a.workers))
    serial_tiny = timed_run(tiny, "process", 1)
    ray_tiny = timed_run(tiny, "ray", a.workers)
    ray.shutdown()
    for name, seconds, cores in rows:
        per_core = a.units / (seconds / 60) / cores
        print(f"{name:<22} {seconds:7.1f} s  {a.units / (seconds / 60):6.2f} units/min  {per_core:6.2f} units/min/core")
    print(f"ray local start-up      {startup:7.1f} s (once per command)")
    overhead = (ray_tiny * a.workers - serial_tiny) / a.units  # Ray's core-seconds per unit beyond the unit's own
    print(
        f"ray scheduling overhead {1e3 * overhead:7.1f} ms per unit (core time; {a.units} one-batch units: ray "
        f"{ray_tiny:.2f} s on {a.workers} CPUs, serial {serial_tiny:.2f} s)"
    )


if __name__ == "__main__":
    main()

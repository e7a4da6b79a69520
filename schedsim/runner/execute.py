"""Execute the units of comparisons, serially, in worker processes or on Ray, saving each as soon as it finishes.

Backends (``backend=``): ``"process"`` (default; serial when ``workers`` is 1) and ``"ray"`` (a local Ray instance
with ``workers`` CPUs, or the cluster at ``address``). A unit's result depends only on its configuration and seed,
so every backend and worker count writes the same result columns (the ``time_`` columns measure the machine).
On Ray, units run as tasks that return their table and the driver writes it, so a cluster needs no shared disk.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import pandas as pd

from schedsim.core.errors import ParameterError, SchedsimError
from schedsim.core.params import check_choice, check_int
from schedsim.runner.config import RunConfig
from schedsim.runner.loop import run_unit
from schedsim.runner.store import RunStore

Progress = Callable[[str, int, str], None]  # (spec, seed, "done" | "skipped" | "failed: ...")
Job = tuple[RunConfig, RunStore, str, int]
BACKENDS = ("process", "ray")


def _run_and_save(config: RunConfig, root: str, spec: str, seed: int) -> tuple[str, int]:
    """Worker body: run one unit and write it; only finished units ever reach the disk."""
    RunStore(root).write_unit(config, spec, seed, run_unit(config, spec, seed))
    return spec, seed


def _run_in_processes(workers: int, jobs: list[Job], report: Progress, failures: list[str]) -> None:
    """Run ``jobs`` in worker processes; on an interrupt, cancel what is queued and stop the workers at once."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)
    try:
        futures = {pool.submit(_run_and_save, c, str(st.root), s, k): (s, k) for c, st, s, k in jobs}
        for future in as_completed(futures):
            spec, seed = futures[future]
            try:
                future.result()
                report(spec, seed, "done")
            except SchedsimError as exc:
                failures.append(f"{spec} seed {seed}: {exc}")
                report(spec, seed, f"failed: {exc}")
    except BaseException:  # Ctrl-C or SIGTERM: unfinished units are simply not written (writes are atomic)
        processes = list((pool._processes or {}).values())  # the executor has no public way to stop workers
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown()


def _unit_table(config: RunConfig, spec: str, seed: int) -> pd.DataFrame:
    """Ray task body: one unit's table (the driver writes it)."""
    return run_unit(config, spec, seed)


def _run_on_ray(workers: int, address: str | None, jobs: list[Job], report: Progress, failures: list[str]) -> None:
    """Run ``jobs`` as Ray tasks (one CPU each); write each table as it arrives; cancel the rest on an interrupt."""
    try:
        import ray
    except ImportError:
        raise ParameterError(
            "--backend ray needs Ray; accepted: pip install 'schedsim[ray]', or --backend process"
        ) from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(
                address=address,
                num_cpus=None if address else workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ParameterError(
                f"cannot start or reach Ray at address={address!r} ({exc}); accepted: a running cluster's address "
                "(ray start --head), or no --address for a local instance"
            ) from None
    task = ray.remote(num_cpus=1)(_unit_table)
    pending: dict[Any, Job] = {task.remote(c, s, k): (c, st, s, k) for c, st, s, k in jobs}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            config, store, spec, seed = pending.pop(done[0])
            try:
                table = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if not isinstance(cause, SchedsimError):
                    raise
                failures.append(f"{spec} seed {seed}: {cause}")
                report(spec, seed, f"failed: {cause}")
                continue
            store.write_unit(config, spec, seed, table)
            report(spec, seed, "done")
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _die_with_parent() -> None:
    """Worker initializer: ask Linux to kill this worker when the process that started it dies.

    Without it, ``kill -9`` of ``schedsim compare`` leaves its workers running (and writing) under PID 1.
    Elsewhere (no prctl) workers still exit at the end of the unit they are running.
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent handles it
    if os.getppid() == 1:  # the parent died before the call: do not start work
        os._exit(1)


def run_all(
    config: RunConfig,
    store: RunStore,
    *,
    workers: int = 1,
    progress: Progress | None = None,
    backend: str = "process",
    address: str | None = None,
) -> int:
    """Run every unfinished unit of ``config`` into ``store``; returns how many ran. See :func:`run_many`."""
    return run_many([(config, store)], workers=workers, progress=progress, backend=backend, address=address)


def run_many(
    runs: list[tuple[RunConfig, RunStore]],
    *,
    workers: int = 1,
    progress: Progress | None = None,
    backend: str = "process",
    address: str | None = None,
) -> int:
    """Run every unfinished unit of every (configuration, run directory) pair; returns how many ran.

    Every directory is locked first (another schedsim process using one is an error before anything is written),
    then each records its configuration; units already stored with a matching fingerprint are skipped (resume).
    A unit that fails does not stop the others; after all have run, a SchedsimError lists the failures (the
    finished units stay on disk).

    Args:
        workers: worker processes (``process``) or local Ray CPUs (``ray`` without ``address``); at least 1.
        backend: ``"process"`` or ``"ray"``.
        address: a Ray cluster's address (``ray start --head`` prints it); only with ``backend="ray"``.
    """
    check_choice("backend", backend, BACKENDS)
    check_int("workers", workers, 1)
    if address is not None and backend != "ray":
        raise ParameterError(f"address={address!r} is for the Ray backend; accepted: --backend ray with --address")
    report = progress or (lambda spec, seed, status: None)
    locks = []
    try:
        for _, store in runs:
            locks.append(store.lock())
        for config, store in runs:
            store.open_for(config)
        jobs: list[Job] = []
        for config, store in runs:
            for spec, seed in config.units():
                if store.is_done(config, spec, seed):
                    report(spec, seed, "skipped")
                else:
                    jobs.append((config, store, spec, seed))
        failures: list[str] = []
        if backend == "ray" and jobs:
            _run_on_ray(workers, address, jobs, report, failures)
        elif workers <= 1 or len(jobs) <= 1:
            for config, store, spec, seed in jobs:
                try:
                    _run_and_save(config, str(store.root), spec, seed)
                    report(spec, seed, "done")
                except SchedsimError as exc:
                    failures.append(f"{spec} seed {seed}: {exc}")
                    report(spec, seed, f"failed: {exc}")
        else:
            _run_in_processes(workers, jobs, report, failures)
    finally:
        for lock in locks:
            lock.close()
    if failures:
        raise SchedsimError(f"{len(failures)} unit(s) failed (finished units are saved): " + "; ".join(failures))
    return len(jobs)

"""Execute the units of a comparison, serially or in worker processes, saving each as soon as it finishes."""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from schedsim.core.errors import SchedsimError
from schedsim.core.params import check_int
from schedsim.runner.config import RunConfig
from schedsim.runner.loop import run_unit
from schedsim.runner.store import RunStore

Progress = Callable[[str, int, str], None]  # (spec, seed, "done" | "skipped" | "failed: ...")


def _run_and_save(config: RunConfig, root: str, spec: str, seed: int) -> tuple[str, int]:
    """Worker body: run one unit and write it; only finished units ever reach the disk."""
    RunStore(root).write_unit(config, spec, seed, run_unit(config, spec, seed))
    return spec, seed


def _run_in_processes(
    config: RunConfig, store: RunStore, workers: int, todo: list[tuple[str, int]], report: Progress, failures: list[str]
) -> None:
    """Run ``todo`` in worker processes; on an interrupt, cancel what is queued and stop the workers at once."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)
    try:
        futures = {pool.submit(_run_and_save, config, str(store.root), s, k): (s, k) for s, k in todo}
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


def run_all(config: RunConfig, store: RunStore, *, workers: int = 1, progress: Progress | None = None) -> int:
    """Run every unfinished unit of ``config`` into ``store``; returns how many ran.

    Units already stored are skipped (resume). A unit that fails does not stop the others; after all have run,
    a SchedsimError lists the failures (the finished units stay on disk). ``workers`` < 1 is refused before
    anything is written.
    """
    check_int("workers", workers, 1)
    lock = store.lock()
    try:
        store.open_for(config)
        return _run_todo(config, store, workers, progress or (lambda spec, seed, status: None))
    finally:
        lock.close()


def _run_todo(config: RunConfig, store: RunStore, workers: int, report: Progress) -> int:
    todo = []
    for spec, seed in config.units():
        if store.is_done(config, spec, seed):
            report(spec, seed, "skipped")
        else:
            todo.append((spec, seed))
    failures: list[str] = []
    if workers <= 1 or len(todo) <= 1:
        for spec, seed in todo:
            try:
                _run_and_save(config, str(store.root), spec, seed)
                report(spec, seed, "done")
            except SchedsimError as exc:
                failures.append(f"{spec} seed {seed}: {exc}")
                report(spec, seed, f"failed: {exc}")
    else:
        _run_in_processes(config, store, workers, todo, report, failures)
    if failures:
        raise SchedsimError(f"{len(failures)} unit(s) failed (finished units are saved): " + "; ".join(failures))
    return len(todo)

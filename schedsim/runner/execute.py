"""Execute the units of a comparison, serially or in worker processes, saving each as soon as it finishes."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from schedsim.core.errors import SchedsimError
from schedsim.runner.config import RunConfig
from schedsim.runner.loop import run_unit
from schedsim.runner.store import RunStore

Progress = Callable[[str, int, str], None]  # (spec, seed, "done" | "skipped" | "failed: ...")


def _run_and_save(config: RunConfig, root: str, spec: str, seed: int) -> tuple[str, int]:
    """Worker body: run one unit and write it; only finished units ever reach the disk."""
    RunStore(root).write_unit(spec, seed, run_unit(config, spec, seed))
    return spec, seed


def run_all(config: RunConfig, store: RunStore, *, workers: int = 1, progress: Progress | None = None) -> int:
    """Run every unfinished unit of ``config`` into ``store``; returns how many ran.

    Units already stored are skipped (resume). A unit that fails does not stop the others; after all have run,
    a SchedsimError lists the failures (the finished units stay on disk).
    """
    store.open_for(config)
    report = progress or (lambda spec, seed, status: None)
    todo = []
    for spec, seed in config.units():
        if store.is_done(spec, seed):
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
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(_run_and_save, config, str(store.root), s, k): (s, k) for s, k in todo}
            for future in as_completed(futures):
                spec, seed = futures[future]
                try:
                    future.result()
                    report(spec, seed, "done")
                except SchedsimError as exc:
                    failures.append(f"{spec} seed {seed}: {exc}")
                    report(spec, seed, f"failed: {exc}")
    if failures:
        raise SchedsimError(f"{len(failures)} unit(s) failed (finished units are saved): " + "; ".join(failures))
    return len(todo)

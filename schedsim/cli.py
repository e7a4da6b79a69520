"""The ``schedsim`` command line: a thin typer layer over the library."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

from schedsim.core.errors import SchedsimError
from schedsim.core.registry import available, get, params, signals

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Simulate and compare difficulty schedulers for RLVR."
)


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn SchedsimError into one line on stderr and exit code 2, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SchedsimError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper


def _specs(text: str) -> list[str]:
    """Split a ``--schedulers`` value on commas that start a new scheduler (``a:x=1,y=2,b`` -> 2 specs)."""
    names = set(available())
    specs: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        head = part.partition(":")[0].strip()
        if specs and "=" in part and ":" not in part and head not in names:
            specs[-1] += "," + part
        else:
            specs.append(part)
    if not specs:
        raise SchedsimError(f"--schedulers {text!r} names no scheduler; accepted: {', '.join(sorted(names))}")
    return specs


@app.command("list")
@friendly
def list_cmd() -> None:
    """Every scheduler with its paper, summary and default hyperparameters."""
    for name in available():
        cls = get(name)
        typer.echo(f"{name:10s} {cls.summary}  [{cls.paper}]")
        defaults = ", ".join(f"{p.name}={p.default!r}" for p in params(name))
        typer.echo(f"{'':10s} defaults: {defaults or '(none)'}")
        if signals(name):
            typer.echo(f"{'':10s} trainer signals: {', '.join(signals(name))}")


@app.command("check")
@friendly
def check_cmd(spec: str = typer.Argument(..., help="scheduler spec, e.g. 'paced:tau=0.4'")) -> None:
    """Run the conformance checker on a scheduler spec (paced gets a synthetic log Z table)."""
    from schedsim.checks import check_scheduler, default_pool
    from schedsim.estimators import LogZTable

    pool = default_pool()
    name = spec.partition(":")[0].strip()
    kwargs = {"log_z": LogZTable(pool.n, init=10.0)} if "log_z" in signals(name) else {}
    passed = check_scheduler(spec, pool=pool, **kwargs)
    typer.echo(f"{spec}: passed {len(passed)} checks ({', '.join(passed)})")


@app.command("demo")
@friendly
def demo_cmd(
    schedulers: str = typer.Option("uniform,paced,beta,gaussian,sec", help="comma-separated scheduler specs"),
    steps: int = typer.Option(30, min=2, help="batches per scheduler"),
    batch: int = typer.Option(64, min=1, help="prompts per batch"),
    group: int = typer.Option(8, min=1, help="rollouts per prompt"),
    seed: int = typer.Option(0, min=0, help="seed"),
) -> None:
    """Selection-only demo on a frozen pool with known pass rates: what does each scheduler pick?"""
    from schedsim.demo import run_demo

    results = run_demo(_specs(schedulers), steps=steps, batch=batch, group=group, seed=seed)
    typer.echo(f"{'scheduler':32s} {'mean p':>7s} {'p(1-p)':>7s} {'zero-var':>8s} {'distinct':>8s}")
    for r in results:
        typer.echo(f"{r.spec:32s} {r.mean_p:7.3f} {r.learnability:7.3f} {r.zero_variance:8.3f} {r.distinct_prompts:8d}")


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())


if __name__ == "__main__":
    main()

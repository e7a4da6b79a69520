"""``schedsim explain``: why a scheduler wins or loses, as a ladder of paired controls.

For one scheduler in one world, the ladder runs paired units (the same seeds, hence the same worlds) and reports
each rung's paired difference to ``uniform`` and the difference between consecutive rungs:

1. ``uniform`` — the usual dataloader;
2. step-size control — ``uniform-mixed``: uniform selection with the loss averaged over mixed groups only, i.e.
   what a frontier scheduler gains from bigger effective steps alone;
3. allocation with perfect information — the scheduler's rule on ``estimator=oracle`` (the environment's true
   pass rates: a diagnostic no trainer has; no rollouts are spent on it);
4. the rule on the scheduler's own estimator (rung 4 − rung 3 = what the estimator's error costs);
5. the scheduler as given, with its extras (e.g. PACED-RL's exploration), when it differs from rung 4.

``explain`` is a client of ``compare``: the rungs are scheduler specs run by the same runner into the same
resumable store and analysed by the same statistics (:mod:`schedsim.analysis.stats`). ``--sensitivity
key=a|b|c`` repeats the ladder over a parameter of the scheduler or of the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schedsim.analysis.stats import paired_delta, wins
from schedsim.core.errors import SpecError, accepted
from schedsim.core.registry import available, canonical_spec, get, params, parse_spec, signals
from schedsim.envs import ORACLE_ENVS, parse_env_spec
from schedsim.runner.config import RunConfig

RUNGS = (
    ("uniform", "uniform"),
    ("step", "step-size control (uniform-mixed)"),
    ("oracle", "rule on true pass rates (oracle, diagnostic)"),
    ("estimator", "rule on its own estimator"),
    ("shipped", "as given (with its extras)"),
)
#: what the difference between a rung and the one before it measures
MEANING = {
    "step": "bigger effective steps alone",
    "oracle": "the rule's allocation with perfect information, beyond the step size",
    "estimator": "the cost of the estimator's error",
    "shipped": "the extras",
}


@dataclass(frozen=True)
class Variant:
    """One ladder: its label (``""``, or ``key=value`` under ``--sensitivity``), environment and rung specs."""

    label: str
    env: str
    rungs: dict[str, str]  # rung key -> canonical scheduler spec (rungs 4 and 5 may share one)


def explainable() -> list[str]:
    """Schedulers whose estimator can be swapped for the oracle (an ``estimator`` parameter and the signal)."""
    return [n for n in available() if "pass_rates" in signals(n) and any(p.name == "estimator" for p in params(n))]


def ladder(spec: str) -> dict[str, str]:
    """The rung specs for scheduler ``spec`` (canonical); SpecError for a scheduler the ladder cannot take."""
    name, kwargs = parse_spec(spec)
    if name not in explainable():
        raise SpecError(
            f"explain needs a scheduler with an estimator it can swap for the oracle; {name!r} has none; "
            f"accepted: {accepted(explainable())}"
        )
    extras = get(name).extras
    core = {k: v for k, v in kwargs.items() if k not in extras or v == extras[k]}
    if core.get("estimator") == "oracle":
        raise SpecError(
            f"explain takes the scheduler as trained, not {spec!r}; accepted: an estimator other than oracle"
        )
    return {
        "uniform": "uniform",
        "step": "uniform-mixed",
        "oracle": canonical_spec(_spec(name, {**core, "estimator": "oracle"})),
        "estimator": canonical_spec(_spec(name, core)),
        "shipped": canonical_spec(spec),
    }


def rungs(variant: Variant, *, skip: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """``(key, label, spec)`` of a ladder's rungs in order; rung 5 is left out when it equals rung 4 (no extras)."""
    out = []
    for key, label in RUNGS:
        if key in skip or (key == "shipped" and variant.rungs[key] == variant.rungs["estimator"]):
            continue
        out.append((key, label, variant.rungs[key]))
    return out


def _spec(name: str, kwargs: dict[str, Any]) -> str:
    return name + (":" + ",".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else "")


def plan(spec: str, env: str, sensitivity: str | None = None) -> list[Variant]:
    """The ladders to run: one, or one per value of ``--sensitivity key=a|b|c``; everything validated here."""
    env_name, _, env_config = parse_env_spec(env)
    if env_name not in ORACLE_ENVS:
        raise SpecError(
            f"explain's oracle rung needs true pass rates, which environment {env_name!r} does not have; "
            f"accepted: {accepted(ORACLE_ENVS)}"
        )
    name = parse_spec(spec)[0]
    base = ladder(spec)
    if not sensitivity:
        return [Variant("", env, base)]
    key, eq, values = sensitivity.partition("=")
    key, choices = key.strip(), [v.strip() for v in values.split("|") if v.strip()]
    sched_keys = [p.name for p in params(name) if p.name != "estimator"]
    env_keys = list(env_config.to_dict())
    if not eq or not choices:
        raise SpecError(f"--sensitivity {sensitivity!r} is not key=a|b|c; accepted: e.g. 'explore=0|0.1|0.25'")
    if key in sched_keys:
        out = []
        for v in choices:
            rungs = {
                **base,
                **{
                    k: canonical_spec(f"{s},{key}={v}" if ":" in s else f"{s}:{key}={v}")
                    for k, s in base.items()
                    if k in ("oracle", "estimator", "shipped")
                },
            }
            out.append(Variant(f"{key}={v}", env, rungs))
        return out
    if key in env_keys:
        sep = "," if ":" in env else ":"
        variants = [Variant(f"{key}={v}", f"{env}{sep}{key}={v}", base) for v in choices]
        for v in variants:
            parse_env_spec(v.env)  # a bad value fails now, before anything runs
        return variants
    raise SpecError(
        f"--sensitivity key {key!r} is neither a parameter of {name!r} nor of environment {env_name!r}; "
        f"accepted: {accepted(sched_keys + env_keys)}"
    )


@dataclass
class Explanation:
    """What ``explain`` found: one row per (variant, rung) and the paragraph generated from them."""

    table: pd.DataFrame
    paragraph: str
    files: list[Path] = field(default_factory=list)


def finals(units: pd.DataFrame) -> pd.DataFrame:
    """One row per (scheduler, seed): the final evaluation's held-out accuracy, overall and per category."""
    last = units.sort_values("rollouts").groupby(["scheduler", "seed"], sort=False).tail(1)
    cats = sorted((c for c in units.columns if c.startswith("heldout_acc_c")), key=lambda c: int(c[13:]))
    cols = ["heldout_acc", *cats]
    return last[["scheduler", "seed", *cols]].rename(columns={"heldout_acc": "final"}).reset_index(drop=True)


def analyse(variant: Variant, units: pd.DataFrame, *, ci: str = "t") -> pd.DataFrame:
    """Per rung: paired Δ vs uniform and vs the previous rung (mean and interval over seeds), and wins."""
    per = finals(units)
    rows, previous = [], None
    for key, label, spec in rungs(variant):
        d = paired_delta(per, spec, "uniform", method=ci)
        step = paired_delta(per, spec, previous, method=ci) if previous else None
        w, n = wins(per, spec, "uniform")
        mine = units[units["scheduler"] == spec]
        stale = mine["sched/staleness_share"].mean() if "sched/staleness_share" in mine else np.nan
        rows.append(
            {
                "variant": variant.label,
                "rung": key,
                "label": label,
                "spec": spec,
                "delta": d.point,
                "delta_lo": d.lo,
                "delta_hi": d.hi,
                "step_delta": np.nan if step is None else step.point,
                "step_lo": np.nan if step is None else step.lo,
                "step_hi": np.nan if step is None else step.hi,
                "wins": f"{w}/{n}",
                "staleness_share": stale,
                "seeds": n,
                "ci": ci,
            }
        )
        previous = spec
    return pd.DataFrame(rows)


def _verdict(point: float, lo: float, hi: float) -> str:
    if np.isnan(lo):
        return "cannot be told from zero (one seed)"
    if lo > 0:
        return "positive"
    if hi < 0:
        return "negative"
    return "indistinguishable from zero"


def paragraph(table: pd.DataFrame, spec: str, env: str) -> str:
    """The report's explanation, generated from the numbers only (no hand-written conclusion)."""
    parts = []
    for label, sub in table.groupby("variant", sort=False):
        seeds = int(sub["seeds"].iloc[0])
        head = f"In `{env}`" + (f" with {label}" if label else "") + f", over {seeds} paired seeds"
        ci = sub["ci"].iloc[0]
        lines = [f"{head} (95 % {'paired-t' if ci == 't' else 'BCa bootstrap'} intervals):"]
        for _, r in sub.iterrows():
            if r["rung"] == "uniform":
                continue
            lines.append(
                f"- {r['label']} (`{r['spec']}`): Δ vs uniform {r['delta']:+.3f} [{r['delta_lo']:+.3f}, "
                f"{r['delta_hi']:+.3f}], {r['wins']} wins; against the previous rung {r['step_delta']:+.3f} "
                f"[{r['step_lo']:+.3f}, {r['step_hi']:+.3f}] — {MEANING[r['rung']]}: "
                f"{_verdict(r['step_delta'], r['step_lo'], r['step_hi'])}."
                + (
                    f" The staleness term made {r['staleness_share']:.0%} of its batches."
                    if np.isfinite(r["staleness_share"])
                    else ""
                )
            )
        if seeds < 5:
            lines.append(f"- With {seeds} seeds these intervals are wide and unreliable; use --seeds 5 or more.")
        parts.append("\n".join(lines))
    return f"Why `{spec}` wins or loses.\n\n" + "\n\n".join(parts)


def configs(variant: Variant, **run: Any) -> RunConfig:
    """The compare configuration that runs one ladder (unique rung specs, uniform as the baseline)."""
    specs = tuple(dict.fromkeys(variant.rungs.values()))
    return RunConfig(schedulers=specs, env=variant.env, baseline="uniform", **run)


def variant_dir(out: Path, variant: Variant) -> Path:
    """Where a ladder's units live: ``out`` itself, or ``out/<key>=<value>`` under ``--sensitivity``."""
    return out / variant.label if variant.label else out


def category_deltas(variant: Variant, units: pd.DataFrame, *, ci: str = "t") -> pd.DataFrame:
    """Per rung and category: paired Δ vs uniform of the final held-out accuracy (where the gain or loss is)."""
    per = finals(units)
    rows = []
    for key, _, spec in rungs(variant, skip=("uniform",)):
        for col in (c for c in per.columns if c.startswith("heldout_acc_c")):
            d = paired_delta(per, spec, "uniform", metric=col, method=ci)
            rows.append(
                {
                    "rung": key,
                    "category": int(col.removeprefix("heldout_acc_c")),
                    "delta": d.point,
                    "lo": d.lo,
                    "hi": d.hi,
                }
            )
    return pd.DataFrame(rows)


def explain_figure(table: pd.DataFrame, first: Variant, units: pd.DataFrame, *, ci: str = "t") -> Any:
    """Four panels: rung Δs with intervals (every variant), per-category Δs, calibration, what each rung selects."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    ax = axes[0, 0]
    variants = list(dict.fromkeys(table["variant"]))
    for j, label in enumerate(variants):
        sub = table[(table["variant"] == label) & (table["rung"] != "uniform")]
        x = np.arange(len(sub)) + (j - (len(variants) - 1) / 2) * 0.8 / max(len(variants), 1)
        err = np.vstack([sub["delta"] - sub["delta_lo"], sub["delta_hi"] - sub["delta"]])
        ax.errorbar(x, sub["delta"], yerr=err, fmt="o", capsize=3, label=label or None)
        ax.set_xticks(np.arange(len(sub)), [r.replace(" (", "\n(") for r in sub["label"]], fontsize=7)
    ax.axhline(0, color="grey", lw=1)
    ax.set_ylabel("final held-out accuracy − uniform's (paired)")
    ax.set_title(f"the ladder: mean and 95 % {ci} interval over seeds", fontsize=9)
    if len(variants) > 1:
        ax.legend(fontsize=7)
    cats = category_deltas(first, units, ci=ci)
    ax = axes[0, 1]
    rungs = list(dict.fromkeys(cats["rung"]))
    width = 0.8 / max(len(rungs), 1)
    for j, rung in enumerate(rungs):
        sub = cats[cats["rung"] == rung]
        err = np.vstack([sub["delta"] - sub["lo"], sub["hi"] - sub["delta"]])
        ax.bar(
            sub["category"] + (j - (len(rungs) - 1) / 2) * width,
            sub["delta"],
            width,
            yerr=err,
            capsize=2,
            label=dict(RUNGS)[rung],
        )
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("category (difficulty level)")
    ax.set_ylabel("Δ vs uniform, final accuracy of the category")
    ax.set_title(f"where the gain or loss happens{' (' + first.label + ')' if first.label else ''}", fontsize=9)
    ax.legend(fontsize=7)
    _calibration_panel(axes[1, 0], first, units)
    _selection_panel(axes[1, 1], first, units)
    fig.tight_layout()
    return fig


def _calibration_panel(ax: Any, variant: Variant, units: pd.DataFrame) -> None:
    for key, _, spec in rungs(variant, skip=("uniform", "step", "oracle")):
        sub = units[units["scheduler"] == spec].groupby("step").agg(r=("rollouts", "mean"), e=("calib_abs_err", "mean"))
        ax.plot(sub["r"], sub["e"], label=f"{dict(RUNGS)[key]}: {spec}")
    ax.set_xlabel("rollouts")
    ax.set_ylabel("mean |p̂ − p| over the pool")
    ax.set_title("estimator calibration over training (the oracle's is 0)", fontsize=9)
    ax.legend(fontsize=7)


def _selection_panel(ax: Any, variant: Variant, units: pd.DataFrame) -> None:
    cols = sorted((c for c in units.columns if c.startswith("sel_p")), key=lambda c: int(c[5:]))
    centres = (np.arange(len(cols)) + 0.5) / len(cols)
    for _, label, spec in rungs(variant):
        share = units.loc[units["scheduler"] == spec, cols].mean().to_numpy()
        ax.plot(centres, share, marker="o", label=label)
    ax.set_xlabel("true pass rate of the selected prompt at selection time")
    ax.set_ylabel("share of selections (mean over training)")
    ax.set_title("what each rung selects", fontsize=9)
    ax.legend(fontsize=7)


def run_explain(
    spec: str,
    *,
    env: str,
    out: Path,
    ci: str = "t",
    sensitivity: str | None = None,
    workers: int = 1,
    progress: Any = None,
    **run: Any,
) -> Explanation:
    """Run (or resume) the ladder(s) into ``out`` and write ``explain.csv``, ``explain.png`` and ``report.md``.

    Args:
        spec: the scheduler to explain, e.g. ``"paced"`` or ``"paced:explore=0.1"``.
        env: environment spec with true pass rates (bandit).
        out: run directory (one compare store per ladder; under ``--sensitivity``, one subdirectory per value).
        ci: interval over seeds, ``"t"`` (paired Student-t) or ``"bca"``.
        sensitivity: ``"key=a|b|c"``: a parameter of the scheduler or of the environment to vary.
        workers: worker processes per ladder.
        progress: ``progress(spec, seed, status)`` callback of :func:`schedsim.runner.run_all`.
        **run: ``seeds``, ``budget``, ``batch``, ``group``, ``eval_every`` as in :class:`RunConfig`.
    """
    import matplotlib.pyplot as plt

    from schedsim.analysis.report import write_report
    from schedsim.analysis.stats import check_method
    from schedsim.runner import RunStore, run_all

    check_method(ci)
    variants = plan(spec, env, sensitivity)
    cfgs = [configs(v, **run) for v in variants]  # every option validated before anything is written
    units: list[pd.DataFrame] = []
    for variant, cfg in zip(variants, cfgs, strict=True):
        store = RunStore(variant_dir(out, variant))
        run_all(cfg, store, workers=workers, progress=progress)
        write_report(store, ci=ci)
        units.append(store.read_units())
    table = pd.concat([analyse(v, u, ci=ci) for v, u in zip(variants, units, strict=True)], ignore_index=True)
    text = paragraph(table, canonical_spec(spec), env)
    files = [out / "explain.csv", out / "explain.png", out / "report.md"]
    table.to_csv(files[0], index=False)
    fig = explain_figure(table, variants[0], units[0], ci=ci)
    fig.savefig(files[1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    section = f"\n## Explain\n\n{text}\n\n![explain](explain.png)\n"
    if len(variants) == 1:  # the compare report of the one ladder is already there: add the explanation
        files[2].write_text(files[2].read_text() + section)
    else:
        links = "\n".join(f"- [{v.label}]({v.label}/report.md)" for v in variants)
        files[2].write_text(f"# schedsim explain: {spec}\n{section}\nEach ladder's own report:\n\n{links}\n")
    return Explanation(table, text, files)


def format_explain(table: pd.DataFrame) -> str:
    """The fixed-width table ``schedsim explain`` prints."""
    head = f"{'variant':16s} {'rung':44s} {'Δ vs uniform [95% CI]':>26s} {'Δ vs previous rung':>26s} {'wins':>5s}"
    lines = [head]
    for _, r in table.iterrows():
        prev = "" if np.isnan(r["step_delta"]) else f"{r['step_delta']:+.3f} [{r['step_lo']:+.3f},{r['step_hi']:+.3f}]"
        lines.append(
            f"{r['variant']:16s} {r['label']:44s} {r['delta']:+8.3f} [{r['delta_lo']:+.3f},{r['delta_hi']:+.3f}] "
            f"{prev:>26s} {r['wins']:>5s}"
        )
    return "\n".join(lines)

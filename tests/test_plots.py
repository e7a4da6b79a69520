"""Plots, checked by value: one colour per scheduler in every figure, colorbars, unique legends, labels, panels."""

from __future__ import annotations

import matplotlib
import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from schedsim.analysis import figures, plots
from schedsim.runner.loop import P_BINS

SCHEDULERS = ["paced", "sec", "beta", "uniform", "uniform-mixed"]


def unit_table(specs: list[str], seeds: int = 3, evals: int = 5, categories: int = 5) -> pd.DataFrame:
    """A synthetic unit table: per (scheduler, seed) run, ``evals`` evaluations with every plotted column."""
    rng = np.random.default_rng(0)
    rows = []
    for i, spec in enumerate(specs):
        for seed in range(seeds):
            for e in range(evals):
                sel = rng.dirichlet(np.ones(P_BINS))
                row = {"scheduler": spec, "seed": seed, "rollouts": 1000 * e, "heldout_acc": 0.5 + 0.01 * (i + e)}
                row |= {f"heldout_acc_c{c}": 0.4 + 0.02 * c + 0.01 * e + 0.001 * seed for c in range(categories)}
                row |= {f"sel_p{b}": sel[b] for b in range(P_BINS)}
                row["zero_var_frac"] = 0.1 * seed
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def line_colours(ax) -> dict[str, str]:
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]  # not the axhline
    return {line.get_label(): matplotlib.colors.to_hex(line.get_color()) for line in lines}


def test_no_backend_is_forced_at_import() -> None:
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module("schedsim.analysis.plots"))
    assert "matplotlib.use(" not in source  # a notebook's inline backend must survive the import


def test_registered_schedulers_have_fixed_distinct_colours() -> None:
    styles = plots.scheduler_styles(sorted(plots.SCHEDULER_COLOURS))
    colours = [s["color"] for s in styles.values()]
    assert len(set(colours)) == len(colours) == 10
    for name, colour in plots.SCHEDULER_COLOURS.items():
        assert styles[name] == {"color": colour, "linestyle": "-"}
    # the colour does not depend on the other schedulers of the chart, nor on their order
    assert plots.scheduler_styles(["uniform", "sec"])["sec"] == plots.scheduler_styles(["sec"])["sec"]
    assert plots.scheduler_styles(["beta:alpha=2", "x"]) == plots.scheduler_styles(["x", "beta:alpha=2"])


def test_variants_are_shades_of_their_base_and_distinct() -> None:
    labels = ["beta", "beta:alpha=2,beta=2", "beta:mode=weight", "beta (replay)", "beta(0.5,0.5)", "paced (replay)"]
    styles = plots.scheduler_styles(labels)
    colours = [s["color"] for s in styles.values()]
    assert len(set(colours)) == len(labels)
    assert styles["beta"]["linestyle"] == "-"
    green = np.array(matplotlib.colors.to_rgb(plots.SCHEDULER_COLOURS["beta"]))
    for label in labels[1:5]:
        assert plots.base_name(label) == "beta"
        assert styles[label]["linestyle"] != "-"
        rgb = np.array(matplotlib.colors.to_rgb(styles[label]["color"]))
        # a shade mixes the base colour with white or black: rgb = green + t (target - green), one t for all
        t = (rgb - green) / ((1.0 if rgb.sum() > green.sum() else 0.0) - green)
        assert np.ptp(t[np.isfinite(t)]) < 0.02 and 0 < t[0] < 1, (label, t)
    # a variant's colour is stable: the same in a chart with other labels
    assert plots.scheduler_styles(["beta:mode=weight"])["beta:mode=weight"] == styles["beta:mode=weight"]


def test_unknown_names_never_share_a_colour_in_one_chart() -> None:
    labels = [f"shape{i}" for i in range(30)] + list(plots.SCHEDULER_COLOURS)
    colours = [s["color"] for s in plots.scheduler_styles(labels).values()]
    assert len(set(colours)) == len(labels)


def test_same_scheduler_same_colour_across_figures() -> None:
    table = unit_table(SCHEDULERS)
    _, (a0, a1, a2) = plt.subplots(1, 3)
    plots.plot_curves(table, "heldout_acc", ylabel="acc", ax=a0)
    plots.plot_paired_delta(table, "uniform", "heldout_acc", ax=a1)
    profile = pd.DataFrame({"scheduler": np.repeat(SCHEDULERS, 2), "tau": [0, 1] * 5, "fraction": [1, 0] * 5})
    plots.plot_profile(profile, ax=a2)
    curves, deltas, profiles = line_colours(a0), line_colours(a1), line_colours(a2)
    assert set(curves) == set(SCHEDULERS) and set(deltas) == set(SCHEDULERS) - {"uniform"}
    for spec in SCHEDULERS:
        assert curves[spec] == profiles[spec] == plots.SCHEDULER_COLOURS[spec]
        assert spec == "uniform" or deltas[spec] == curves[spec]
    agg = pd.DataFrame(
        {
            "scheduler": SCHEDULERS,
            **{k: [0.5] * 5 for k in ("iqm", "iqm_lo", "iqm_hi", "p_improve", "p_improve_lo", "p_improve_hi")},
        }
    )
    ax = plots.plot_iqm(agg)
    bars = [matplotlib.colors.to_hex(b.get_facecolor()[:3]) for b in ax.patches]
    assert bars == [plots.SCHEDULER_COLOURS[s] for s in SCHEDULERS]
    ax = plots.plot_improvement(agg, "uniform")
    points = [matplotlib.colors.to_hex(c.lines[0].get_color()) for c in ax.containers]
    assert points == [plots.SCHEDULER_COLOURS[s] for s in SCHEDULERS if s != "uniform"]


def test_weight_shape_figures_use_the_scheduler_colours() -> None:
    fig = figures.weight_shapes_figure()
    colours = line_colours(fig.axes[0])
    assert colours["beta(1,1)"] != colours["beta(2,2)"]
    assert len(set(colours.values())) == len(colours)
    assert plots.base_name("gaussian(0.5,0.35)") == "gaussian"
    assert plots.base_name("SPO sqrt(p(1-p))+0.05") == "spo"
    table = figures.pool_efficiency_table()
    bars = figures.pool_efficiency_figure(table.T).axes[0]
    legend = [t.get_text() for t in bars.get_legend().get_texts()]
    assert legend == list(table.index)
    styles = plots.scheduler_styles(legend)
    handles = bars.get_legend().legend_handles
    assert [matplotlib.colors.to_hex(h.get_facecolor()[:3]) for h in handles] == [styles[n]["color"] for n in legend]


def test_bands_are_light() -> None:
    ax = plots.plot_curves(unit_table(SCHEDULERS), "heldout_acc", ylabel="acc")
    assert ax.collections and all(c.get_alpha() <= 0.1 for c in ax.collections)
    ax = plots.plot_curves(unit_table(SCHEDULERS), "heldout_acc", ylabel="acc", band=False)
    assert not ax.collections


def test_legend_labels_are_unique() -> None:
    table = unit_table(["paced", "uniform"])
    _, ax = plt.subplots()
    plots.plot_curves(table, "heldout_acc", ylabel="acc", ax=ax)
    plots.plot_curves(table, "zero_var_frac", ylabel="acc", ax=ax)  # the same labels drawn twice
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["paced", "uniform"]


def test_head_calibration_legends_are_unique() -> None:
    table = unit_table(["paced"]).assign(
        **{"head/calib_abs_err": 0.1, "head/bias": 0.0, "head/replay_bias": 0.1, "train/kl": 0.01}
    )
    fig = figures.head_calibration_figure({"no replay": table.drop(columns="head/replay_bias"), "replay": table})
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert len(labels) == len(set(labels)), labels
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        "paced (no replay)",
        "paced (replay)",
        "paced (replay), replayed prompts",
    ]
    colours = line_colours(fig.axes[1])
    assert len(set(colours.values())) == 3


def test_selection_figure_has_one_colorbar_on_one_scale() -> None:
    table = unit_table(SCHEDULERS)
    fig = plots.selection_figure(table, SCHEDULERS, ncols=3)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 5
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and colorbars[0].get_ylabel() == "fraction of selected prompts"
    vmax = max(
        float(table.loc[table["rollouts"] > 0].groupby(["scheduler", "rollouts"]).mean()[c].max())
        for c in [f"sel_p{b}" for b in range(P_BINS)]
    )
    assert [ax.images[0].get_clim() for ax in panels] == [(0.0, pytest.approx(vmax))] * 5
    ax = plots.plot_selection(table, "sec")
    assert len(ax.figure.axes) == 2  # the heatmap and its colorbar


@pytest.mark.parametrize(
    ("env", "selected", "heldout"),
    [
        ("bandit", "true pass rate of selected prompts", "held-out accuracy (mean true pass rate)"),
        ("bandit:score_noise=0", "true pass rate of selected prompts", "held-out accuracy (mean true pass rate)"),
        ("arith:tiny", "group accuracy of selected prompts", "held-out accuracy (sampled)"),
        ("llm", "group accuracy of selected prompts", "held-out accuracy (sampled)"),
    ],
)
def test_labels_follow_the_environment(env: str, selected: str, heldout: str) -> None:
    labels = plots.accuracy_labels(env)
    assert labels["selected"].startswith(selected) and labels["heldout"] == heldout
    ax = plots.plot_selection(unit_table(["sec"]), "sec", env=env)
    assert ax.get_ylabel() == labels["selected"]
    assert "true" not in plots.accuracy_labels("arith")["selected"].split("\n")[0]


def test_category_figure_has_one_panel_per_category() -> None:
    table = unit_table(SCHEDULERS, categories=4)
    fig = plots.category_figure(table, env="arith", ncols=3)
    assert [ax.get_title() for ax in fig.axes] == [f"category {c}" for c in range(4)]
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "held-out accuracy (sampled)",
        "",
        "",
        "held-out accuracy (sampled)",
    ]
    legends = [ax.get_legend() for ax in fig.axes]
    assert legends[0] is not None and legends[1:] == [None] * 3
    for c, ax in enumerate(fig.axes):
        line = {ln.get_label(): ln for ln in ax.get_lines()}["paced"]
        expected = table[table["scheduler"] == "paced"].groupby("rollouts")[f"heldout_acc_c{c}"].mean()
        np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
        assert matplotlib.colors.to_hex(line.get_color()) == plots.SCHEDULER_COLOURS["paced"]
    with pytest.raises(ValueError, match="heldout_acc_c"):
        plots.category_figure(table.drop(columns=[f"heldout_acc_c{c}" for c in range(4)]))


def test_variants_of_one_base_hold_distinct_slots() -> None:
    labels = [f"beta:alpha={a}" for a in range(1, 9)]  # as many variants as there are slots
    styles = plots.scheduler_styles(labels)
    pairs = {(s["color"], str(s["linestyle"])) for s in styles.values()}
    assert len(pairs) == 8 and len({s["color"] for s in styles.values()}) == 8
    shades = {plots._shade(plots.SCHEDULER_COLOURS["beta"], f) for f, _ in plots.VARIANT_SLOTS}
    assert {s["color"] for s in styles.values()} == shades  # each slot used once

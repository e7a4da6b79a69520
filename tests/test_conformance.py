"""The checker over every registered scheduler, and the checker itself against deliberately broken ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import builtin_kwargs

import schedsim
from schedsim.checks import CHECKS, SyntheticProbe, check_scheduler, default_pool, passive_check_distribution
from schedsim.core.registry import signals
from schedsim.schedulers import UniformScheduler

CROSSINGS = [
    "paced:estimator=ema",
    "paced:candidates=20,explore=0.25",
    "beta:unbiased=true",
    "beta:mode=weight",
    "beta:estimator=logz",
    "beta:replace=true",
    "gaussian:estimator=logz,sigma=0.1",
    "gaussian:replace=true",
    "sec:update_unseen=false,tau=0.2",
    "sec:adv_std=none",
    "lilo:rule=proportional",
    "lilo:train_on_probes=false",
    "beta:mode=weight,weight_source=estimate",
    "paced:estimator=oracle",
    "beta:alpha=2,estimator=oracle",
    "gaussian:estimator=oracle,mu=0.3",
    "dots:predictor=table,recalibrate=false",
    "dots:mu=1,ref_size=3,tau=0.2",
    "ads:clustering=random,clusters=5",
    "ads:window=1,reset_steps=1",
]


@pytest.mark.parametrize("spec", schedsim.available() + CROSSINGS)
def test_every_scheduler_conforms(spec: str) -> None:
    pool = default_pool()
    needs_log_z = spec.startswith("paced") or "logz" in spec
    kwargs = builtin_kwargs("paced", pool.n) if needs_log_z else {}
    if "probe" in signals(spec.partition(":")[0]):
        kwargs = {"probe": SyntheticProbe(pool.n)}
    if "estimator=oracle" in spec:  # a synthetic world's true pass rates
        kwargs["pass_rates"] = np.linspace(0.0, 1.0, pool.n).take
    assert check_scheduler(spec, pool=pool, **kwargs) == list(CHECKS)


def test_checker_accepts_instances_without_touching_them() -> None:
    s = schedsim.make_scheduler("gaussian", pool=default_pool(), seed=0)
    before = s.state_dict()
    check_scheduler(s)
    after = s.state_dict()
    np.testing.assert_array_equal(before["body"]["estimator"]["p"], after["body"]["estimator"]["p"])
    assert before["rng"] == after["rng"]


# -- deliberately broken schedulers ----------------------------------------------------------------------
class FloatIds(UniformScheduler):
    def select(self, k: int) -> np.ndarray:
        return super().select(k).astype(float)


class OutOfRange(UniformScheduler):
    def select(self, k: int) -> np.ndarray:
        return super().select(k) + self.pool.n


class Repeats(UniformScheduler):
    def select(self, k: int) -> np.ndarray:
        return np.zeros(k, dtype=np.int64)


class WrongShape(UniformScheduler):
    def select(self, k: int) -> np.ndarray:
        return super().select(k)[: max(k - 1, 0)]


class Unnormalised(UniformScheduler):
    def distribution(self) -> np.ndarray:
        return np.ones(self.pool.n)


class NegativeMass(UniformScheduler):
    def distribution(self) -> np.ndarray:
        d = np.full(self.pool.n, 2.0 / self.pool.n)
        d[: self.pool.n // 2] = 0.0
        d[0] = -1e-3
        return d / d.sum()


class GlobalEntropy(UniformScheduler):
    def _select(self, k: int) -> np.ndarray:
        return np.random.default_rng().choice(self.pool.n, k, replace=False)  # fresh entropy: not reproducible


class AliasesState(UniformScheduler):
    """Keeps the array it returned as live state: a caller scribbling on the ids changes future selections."""

    def __init__(self, pool: schedsim.PromptPool, *, seed: int | None = None) -> None:
        super().__init__(pool, seed=seed)
        self.last = np.zeros(0, dtype=np.int64)

    def select(self, k: int) -> np.ndarray:
        start = int(self.last[-1]) + 1 if self.last.size else 0
        self.last = (start + np.arange(k)) % self.pool.n
        return self.last


class NanOnAllCorrect(UniformScheduler):
    def __init__(self, pool: schedsim.PromptPool, *, seed: int | None = None) -> None:
        super().__init__(pool, seed=seed)
        self.p = np.full(pool.n, 0.5)

    def _observe(self, feedback: schedsim.Feedback) -> None:
        means = feedback.means()
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 when a group is all-correct
            self.p[feedback.prompt_ids] = np.log(1 - means) / np.log(1 - means)

    def distribution(self) -> np.ndarray:
        return self.p / self.p.sum()


class LagIntolerant(UniformScheduler):
    def __init__(self, pool: schedsim.PromptPool, *, seed: int | None = None) -> None:
        super().__init__(pool, seed=seed)
        self.pending = np.empty(0, dtype=np.int64)

    def _select(self, k: int) -> np.ndarray:
        self.pending = super()._select(k)
        return self.pending

    def _observe(self, feedback: schedsim.Feedback) -> None:
        if not np.isin(feedback.prompt_ids, self.pending).all():
            raise schedsim.FeedbackError("feedback does not match the last selection")


class ForgetsRng(UniformScheduler):
    def state_dict(self) -> dict[str, Any]:
        return {"rule": self.rule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rule.load_state_dict(state["rule"])


class Unpicklable(UniformScheduler):
    def __init__(self, pool: schedsim.PromptPool, *, seed: int | None = None) -> None:
        super().__init__(pool, seed=seed)
        self.hook = lambda x: x


BROKEN = [
    (FloatIds, "select_ids: select(8) returned ids of dtype float64; expected an integer dtype"),
    (OutOfRange, "select_ids: select(8) returned an id outside [0, 64)"),
    (Repeats, "select_ids: select(8) returned repeated ids but the scheduler declares distinct=True"),
    (WrongShape, "select_ids: select(8) returned shape (7,); expected (8,)"),
    (Unnormalised, "distribution: distribution() sums to 64; expected 1"),
    (NegativeMass, "distribution: distribution() has negative entries"),
    (GlobalEntropy, "determinism: two copies given the same calls selected different ids at step 0"),
    (AliasesState, "no_mutation: future selections differ at step 0"),
    (NanOnAllCorrect, "distribution: distribution() contains NaN or inf"),
    (
        LagIntolerant,
        "lag: observe() rejected lagged or unselected feedback: feedback does not match the last selection",
    ),
    (ForgetsRng, "state_roundtrip: future selections differ at step 5"),
    (Unpicklable, "pickle: pickling failed: "),
]


@pytest.mark.parametrize(("cls", "message"), BROKEN, ids=[c.__name__ for c, _ in BROKEN])
def test_checker_catches_broken_scheduler(cls: type, message: str) -> None:
    with pytest.raises(schedsim.ConformanceError) as err:
        check_scheduler(cls(default_pool(), seed=0))
    assert str(err.value).startswith(message), str(err.value)


def test_passive_checks_return_value_and_reject_non_arrays() -> None:
    d = np.full(4, 0.25)
    assert passive_check_distribution(d, 4) is d
    assert passive_check_distribution(None, 4) is None
    with pytest.raises(schedsim.ConformanceError, match=r"distribution: distribution\(\) returned shape list"):
        passive_check_distribution([0.25] * 4, 4)


def test_unknown_check_name() -> None:
    with pytest.raises(schedsim.ConformanceError, match="unknown check 'speed'; accepted: 'select_ids'"):
        check_scheduler("uniform", checks=["speed"])


MORE_CROSSINGS = [
    "pcl:model=table,pool_factor=2,tau=0.3",
    "tscl:teacher=window,policy=egreedy",
    "tscl:teacher=online,policy=boltzmann,absolute=false",
    "tscl:teacher=sampling,policy=egreedy",
    "exp3s:beta=0.1,epsilon=0.2",
    "pools:gate=true",
    "pools:gate=true,reject_min=-0.5,reject_max=0.5,max_rounds=2",
    "bots:tau=0.5,do_sample=false",
    "bots:tau=1.0,target=1.0",
]


@pytest.mark.parametrize("spec", MORE_CROSSINGS)
def test_more_crossings_conform(spec: str) -> None:
    pool = default_pool()
    kwargs = {"probe": SyntheticProbe(pool.n)} if spec.startswith("pools") else {}
    assert check_scheduler(spec, pool=pool, **kwargs) == list(CHECKS)


def test_value_model_and_anchored_bots_conform() -> None:
    rng = np.random.default_rng(0)
    pool = schedsim.PromptPool(n=64, category=np.arange(64) % 4, features=rng.standard_normal((64, 3)))
    assert check_scheduler("pcl:model=linear,steps=2", pool=pool) == list(CHECKS)
    anchors = np.stack([np.linspace(0.0, 0.6, 64), np.linspace(0.3, 1.0, 64)])
    assert check_scheduler("bots:adaptive_rho=true", pool=pool, anchors=anchors) == list(CHECKS)

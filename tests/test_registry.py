from __future__ import annotations

import numpy as np
import pytest

import schedsim
from schedsim.core import registry
from schedsim.core.errors import accepted
from schedsim.core.registry import canonical_spec, params, parse_spec, signals
from schedsim.runner import RunConfig


def test_builtin_schedulers_registered() -> None:
    assert set(schedsim.available()) >= {"uniform", "paced", "beta", "gaussian", "sec"}


def test_spec_parsing_types() -> None:
    assert parse_spec("paced:tau=0.4, candidates=100 ,explore=0") == (
        "paced",
        {"tau": 0.4, "candidates": 100, "explore": 0.0},
    )
    assert parse_spec("paced:candidates=none") == ("paced", {"candidates": None})
    assert parse_spec("beta:unbiased=true,mode=weight") == ("beta", {"unbiased": True, "mode": "weight"})
    assert parse_spec("uniform") == ("uniform", {})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "nope",
            "unknown scheduler 'nope'; accepted: " + accepted(schedsim.available()),
        ),
        (
            "sec:temp=1",
            "unknown parameter 'temp' for scheduler 'sec'; accepted: 'alpha', 'tau', 'update_unseen', 'adv_std'",
        ),
        ("sec:tau", "sec: 'tau' is not key=value; accepted: 'name:key=value,key=value'"),
        ("sec:tau=x", "sec: tau='x' is not accepted; accepted: a value of type float"),
        ("sec:tau=1,tau=2", "sec: parameter 'tau' given twice"),
        ("", "scheduler spec '' is empty"),
    ],
)
def test_bad_specs_name_the_value_and_accepted_ones(spec: str, message: str) -> None:
    with pytest.raises(schedsim.SpecError) as err:
        parse_spec(spec)
    assert str(err.value).startswith(message)


def test_bad_parameter_values(pool: schedsim.PromptPool) -> None:
    with pytest.raises(
        schedsim.ParameterError, match=r"gaussian: sigma=0.0 is out of range; accepted: a number in \(0, inf\)"
    ):
        schedsim.make_scheduler("gaussian:sigma=0", pool=pool)
    with pytest.raises(
        schedsim.ParameterError, match=r"beta: mode='both' is not accepted; accepted: 'sample', 'weight'"
    ):
        schedsim.make_scheduler("beta:mode=both", pool=pool)
    with pytest.raises(schedsim.ParameterError, match="estimator='truth' is not accepted"):
        schedsim.make_scheduler("paced:estimator=truth", pool=pool)
    oracle = schedsim.make_scheduler("paced:estimator=oracle", pool=pool)  # a diagnostic: needs a pass-rate source
    with pytest.raises(schedsim.MissingSignalError, match="'oracle' estimator has no pass-rate source"):
        oracle.select(2)


def test_kwargs_and_signals(pool: schedsim.PromptPool) -> None:
    s = schedsim.make_scheduler("paced", pool=pool, seed=1, tau=0.3, log_z=schedsim.LogZTable(pool.n))
    assert s.rule.tau == 0.3
    with pytest.raises(schedsim.SpecError, match="given both in the spec and as a keyword"):
        schedsim.make_scheduler("paced:tau=0.2", pool=pool, tau=0.3)
    with pytest.raises(schedsim.SpecError, match="unknown parameter 'log_z' for scheduler 'sec'"):
        schedsim.make_scheduler("sec", pool=pool, log_z=schedsim.LogZTable(pool.n))
    assert signals("paced") == ["log_z", "pass_rates"] and signals("sec") == [] and signals("lilo") == ["probe"]
    assert [p.name for p in params("gaussian")][:2] == ["mu", "sigma"]


def test_canonical_spec_sorts_keys() -> None:
    assert canonical_spec("paced:tau=0.40,explore=0.1") == "paced:explore=0.1,tau=0.4"
    assert canonical_spec(" uniform ") == "uniform"


def test_canonical_spec_drops_defaults() -> None:
    assert canonical_spec("paced:tau=0.40,explore=0") == "paced:tau=0.4"  # explore=0 is paced's default
    assert canonical_spec("paced:tau=0.5") == canonical_spec("paced") == "paced"
    assert canonical_spec("beta:unbiased=false,alpha=1") == "beta"
    assert canonical_spec("beta:unbiased=true") == "beta:unbiased=True"
    assert canonical_spec("paced:candidates=none") == "paced"
    assert canonical_spec("lilo:probe_group=8,rule=topk") == "lilo"


def test_default_spelling_is_a_duplicate() -> None:
    with pytest.raises(schedsim.SpecError, match=r"'paced' and 'paced:tau=0.5' are both 'paced'"):
        RunConfig(schedulers=("paced", "paced:tau=0.5"))


def test_register_third_party(pool: schedsim.PromptPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # keep the global registry clean

    class FirstK(schedsim.Scheduler):
        name = "firstk-test"

        def _select(self, k: int) -> np.ndarray:
            return np.arange(k)

        def _observe(self, feedback: schedsim.Feedback) -> None:
            del feedback

    schedsim.register(FirstK)
    np.testing.assert_array_equal(schedsim.make_scheduler("firstk-test", pool=pool).select(3), [0, 1, 2])
    with pytest.raises(schedsim.SpecError, match="is not a Scheduler subclass"):
        schedsim.register(int)  # type: ignore[arg-type]

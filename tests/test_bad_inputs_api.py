"""The API half of the bad-input table (issue 11): each call is refused with ONE line naming the value and what
is accepted, as the right SchedsimError subclass. (The CLI half, with its processes, is tests/test_bad_inputs.py;
this half is fast, so the mutation run reads it too.)"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import schedsim
from schedsim.core.errors import SchedsimError, accepted
from schedsim.runner import RunConfig

NAMES = "accepted: " + re.escape(accepted(schedsim.available())) + "$"  # every registered name
GROUP = r"^group=1 gives no group-relative signal: .* every GRPO advantage is 0; accepted: an integer >= 2$"


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    assert "Traceback" not in text
    return lines[0]


POOL = schedsim.PromptPool(6, category=[0, 0, 1, 1, 2, 2])
R = np.array([[1.0, 0.0]])
ID0 = np.array([0])


def _feedback(**kw: Any) -> schedsim.Feedback:
    return schedsim.Feedback(**({"prompt_ids": ID0, "rewards": R} | kw))


def _config(**kw: Any) -> RunConfig:
    base = {"schedulers": ("uniform",), "seeds": 1, "budget": 2048, "batch": 16, "group": 4, "eval_every": 1024}
    return RunConfig(**(base | kw))


API_CASES = [
    # make_scheduler
    pytest.param(
        lambda: schedsim.make_scheduler("pacd", pool=POOL),
        schedsim.SpecError,
        r"^unknown scheduler 'pacd'; " + NAMES,
        id="spec-unknown",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("gaussian:sigmaa=0.2", pool=POOL),
        schedsim.SpecError,
        r"^unknown parameter 'sigmaa' for scheduler 'gaussian'; accepted: 'mu', 'sigma', ",
        id="spec-unknown-param",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("sec:tau=-0.25", pool=POOL),
        schedsim.ParameterError,
        r"^sec: tau=-0\.25 is out of range; accepted: a number in \(0, inf\)$",
        id="spec-sec-tau",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("beta:alpha=0.0,beta=3.5", pool=POOL),
        schedsim.ParameterError,
        r"^beta: alpha=0\.0 is out of range; accepted: a number in \(0, inf\)$",
        id="spec-beta-alpha",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("gaussian:mu=1.25", pool=POOL),
        schedsim.ParameterError,
        r"^gaussian: mu=1\.25 is out of range; accepted: a number in \[0, 1\]$",
        id="spec-gaussian-mu",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("paced:tau=0.4,tau=0.3", pool=POOL),
        schedsim.SpecError,
        r"^paced: parameter 'tau' given twice$",
        id="spec-twice",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("paced:tau=0.4", pool=POOL, tau=0.3),
        schedsim.SpecError,
        r"^paced: parameter 'tau' given both in the spec and as a keyword$",
        id="spec-and-keyword",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("uniform", pool=POOL, temperature=2),
        schedsim.SpecError,
        r"^unknown parameter 'temperature' for scheduler 'uniform'",
        id="keyword-unknown",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("beta", pool=[1, 2, 3]),
        schedsim.ParameterError,
        r"^beta: pool is list; accepted: a schedsim\.PromptPool$",
        id="pool-list",
    ),
    pytest.param(
        lambda: schedsim.make_scheduler("", pool=POOL),
        schedsim.SpecError,
        r"^scheduler spec '' is empty; accepted: 'name' or 'name:key=value,\.\.\.'$",
        id="spec-empty",
    ),
    # Feedback
    pytest.param(
        lambda: _feedback(rewards=np.array([["a", "b"]])),
        schedsim.FeedbackError,
        r"^rewards has dtype <U1; accepted: an array of numbers$",
        id="feedback-string-rewards",
    ),
    pytest.param(
        lambda: _feedback(log_z=np.array([np.inf])),
        schedsim.FeedbackError,
        r"^log_z contains inf; accepted: finite values",
        id="feedback-log-z-inf",
    ),
    pytest.param(
        lambda: _feedback(log_z=np.array([np.nan])),
        schedsim.FeedbackError,
        r"^log_z contains nan; accepted: finite",
        id="feedback-log-z-nan",
    ),
    pytest.param(
        lambda: _feedback(prompt_ids=np.array([0, 1]), rewards=[[1.0, 0.0], [1.0]]),
        schedsim.FeedbackError,
        r"^rewards is not an array of numbers \(setting an array element with a sequence\. The requested array has "
        r"an inhomogeneous shape after 1 dimensions\. The detected shape was \(2,\) \+ inhomogeneous part\.\); "
        r"accepted: a rectangular array \(NaN pads ragged groups\)$",  # numpy's reason, its first line
        id="feedback-ragged",
    ),
    pytest.param(
        lambda: _feedback(rewards=np.array([[0.0, -np.inf]])),
        schedsim.FeedbackError,
        r"^rewards contains \+-inf; accepted: finite values, or NaN",
        id="feedback-inf-reward",
    ),
    pytest.param(
        lambda: _feedback(advantages=[["x", "y"]]),
        schedsim.FeedbackError,
        r"^advantages has dtype <U1; accepted: an array of numbers$",
        id="feedback-string-advantages",
    ),
    pytest.param(
        lambda: _feedback(filtered=[2]),
        schedsim.FeedbackError,
        r"^filtered contains 2; accepted: booleans or 0/1$",
        id="feedback-filtered",
    ),
    pytest.param(  # the first value that is neither 0 nor 1 is named
        lambda: _feedback(prompt_ids=np.array([0, 1, 2]), rewards=np.zeros((3, 2)), filtered=[0, 1, 2]),
        schedsim.FeedbackError,
        r"^filtered contains 2; accepted: booleans or 0/1$",
        id="feedback-filtered-after-valid",
    ),
    pytest.param(
        lambda: _feedback(prompt_ids=np.array([[0]])),
        schedsim.FeedbackError,
        r"^prompt_ids has shape \(1, 1\); accepted: \(m,\)$",
        id="feedback-ids-2d",
    ),
    pytest.param(
        lambda: _feedback(prompt_ids=np.array([0.5])),
        schedsim.FeedbackError,
        r"^prompt_ids has dtype float64; accepted: an integer dtype$",
        id="feedback-ids-float",
    ),
    # PromptPool
    pytest.param(
        lambda: schedsim.PromptPool(0),
        schedsim.PoolError,
        r"^n=0 is not accepted; accepted: a positive integer$",
        id="pool-n-0",
    ),
    pytest.param(
        lambda: schedsim.PromptPool(3, category=[0.5, 1, 2]),
        schedsim.PoolError,
        r"^category has dtype float64; accepted: an integer dtype$",
        id="pool-category-float",
    ),
    pytest.param(
        lambda: schedsim.PromptPool(2, features=[["a"], ["b"]]),
        schedsim.PoolError,
        r"^features has dtype <U1; accepted: an array of numbers$",
        id="pool-features-strings",
    ),
    pytest.param(
        lambda: schedsim.PromptPool(2, difficulty_prior=[0.2, 1.3]),
        schedsim.PoolError,
        r"^difficulty_prior has values outside \[0, 1\]; accepted: pass rates in \[0, 1\]$",
        id="pool-prior-range",
    ),
    pytest.param(
        lambda: schedsim.PromptPool(2, names=5),
        schedsim.PoolError,
        r"^names is int; accepted: a sequence of n=2 ",
        id="pool-names",
    ),
    # LogZTable
    pytest.param(
        lambda: schedsim.LogZTable(0),
        schedsim.ParameterError,
        r"^LogZTable: n=0 is not accepted; accepted: a positive integer \(the pool size\)$",
        id="logz-0",
    ),
    pytest.param(
        lambda: schedsim.LogZTable(-7), schedsim.ParameterError, r"^LogZTable: n=-7 is not accepted", id="logz-negative"
    ),
    pytest.param(
        lambda: schedsim.LogZTable(2.5), schedsim.ParameterError, r"^LogZTable: n=2\.5 is not accepted", id="logz-float"
    ),
    pytest.param(
        lambda: schedsim.LogZTable(True),
        schedsim.ParameterError,
        r"^LogZTable: n=True is not accepted; accepted: a positive integer \(the pool size\)$",
        id="logz-bool",
    ),
    pytest.param(
        lambda: schedsim.LogZTable(4, init=float("inf")),
        schedsim.ParameterError,
        r"^init=inf is out of range; accepted: a number in \(-inf, inf\)$",
        id="logz-init-inf",
    ),
    # RunConfig
    pytest.param(lambda: _config(group=1), schedsim.ParameterError, GROUP, id="config-group-1"),
    pytest.param(
        lambda: _config(schedulers=("paced", "paced:tau=0.5")),
        schedsim.SpecError,
        r"^a scheduler is listed twice: 'paced' and 'paced:tau=0\.5' are both 'paced'",
        id="config-duplicate",
    ),
    pytest.param(
        lambda: _config(schedulers=()),
        schedsim.SpecError,
        r"^no scheduler given; accepted: one or more scheduler specs$",
        id="config-empty",
    ),
    pytest.param(
        lambda: _config(seeds=-2),
        schedsim.ParameterError,
        r"^seeds=-2 is out of range; accepted: an integer in \[1, inf\)$",
        id="config-seeds",
    ),
    pytest.param(
        lambda: _config(target=-0.1),
        schedsim.ParameterError,
        r"^target=-0\.1 is out of range; accepted: a number in \[0, 1\] or None$",
        id="config-target",
    ),
    pytest.param(
        lambda: RunConfig.from_dict({"env": "bandit"}),
        schedsim.SpecError,
        r"^not a run configuration: dict without a 'schedulers' list; accepted: ",
        id="config-from-dict",
    ),
]


@pytest.mark.parametrize(("call", "error", "pattern"), API_CASES)
def test_api_refuses_bad_input_in_one_line(call: Any, error: type[SchedsimError], pattern: str) -> None:
    with pytest.raises(SchedsimError) as info:
        call()
    assert type(info.value) is error or isinstance(info.value, error)
    assert re.search(pattern, _one_line(str(info.value))), str(info.value)

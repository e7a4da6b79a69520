"""The scheduler invariants of test_properties.py over pcl, tscl, exp3s, pools and bots (and variants)."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_properties import SETTINGS, scenario

import schedsim
from schedsim.checks import SyntheticProbe, passive_check_distribution, passive_check_ids

SPECS = [
    "pcl",
    "tscl",
    "tscl:teacher=window,policy=egreedy",
    "tscl:teacher=online,policy=boltzmann",
    "exp3s",
    "exp3s:beta=0.2,reservoir=2",
    "pools",
    "pools:gate=true",
    "bots",
    "bots:tau=0.5,do_sample=false",
    "dots",
    "dots:predictor=table,alpha=0.3,tau=0.1,mu=3",
    "ads",
    "ads:clustering=random,clusters=5,window=3,eps=0.1,center=0.4",
]


def kwargs(spec: str, n: int) -> dict:
    return {"probe": SyntheticProbe(n)} if spec.startswith(("pools", "dots")) else {}


@SETTINGS
@given(scenario(), st.sampled_from(SPECS), st.integers(0, 2**16))
def test_invariants_hold_after_any_feedback(case: tuple, spec: str, seed: int) -> None:
    pool, batches, k = case
    s = schedsim.make_scheduler(spec, pool=pool, seed=seed, **kwargs(spec, pool.n))
    twin = copy.deepcopy(s)
    for fb in batches:
        s.observe(fb)
        twin.observe(fb)
        passive_check_distribution(s.distribution(), pool.n)
        est = s.estimates()
        assert est is None or (np.isfinite(est).all() and (est >= 0).all() and (est <= 1).all())
    ids = passive_check_ids(s.select(k), pool.n, k, distinct=s.distinct)
    np.testing.assert_array_equal(ids, twin.select(k))  # determinism
    fresh = schedsim.make_scheduler(spec, pool=pool, seed=seed + 1, **kwargs(spec, pool.n))
    fresh.load_state_dict(s.state_dict())
    np.testing.assert_array_equal(s.select(k), fresh.select(k))

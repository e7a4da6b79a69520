"""Scheduler conformance checker, used by schedsim's own tests and exported for third-party schedulers.

Two layers (Gymnasium-style): *passive* checks validate one return value and hand it back
(:func:`passive_check_ids`, :func:`passive_check_distribution`); *active* checks drive a scheduler through
call sequences (determinism, lag, state round-trip, ...). Every failure raises
:class:`~schedsim.core.errors.ConformanceError` whose message starts with the check's name.

Example:
    >>> from schedsim.checks import check_scheduler
    >>> check_scheduler("gaussian")          # doctest: +SKIP
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from schedsim.core.errors import ConformanceError, SchedsimError, accepted
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.registry import make_scheduler
from schedsim.core.scheduler import Scheduler
from schedsim.core.seeding import make_rng

CHECKS = (
    "select_ids",
    "distribution",
    "determinism",
    "no_mutation",
    "extreme_groups",
    "missing_rollouts",
    "lag",
    "state_roundtrip",
    "pickle",
)


def _fail(check: str, message: str) -> ConformanceError:
    return ConformanceError(f"{check}: {message}")


def passive_check_ids(ids: Any, n: int, k: int, *, distinct: bool) -> np.ndarray:
    """Validate what ``select(k)`` returned on a pool of ``n``; return it unchanged."""
    if not isinstance(ids, np.ndarray):
        raise _fail("select_ids", f"select({k}) returned {type(ids).__name__}; expected a numpy array")
    if ids.dtype.kind not in "iu":
        raise _fail("select_ids", f"select({k}) returned ids of dtype {ids.dtype}; expected an integer dtype")
    if ids.shape != (k,):
        raise _fail("select_ids", f"select({k}) returned shape {ids.shape}; expected ({k},)")
    if k and (ids.min() < 0 or ids.max() >= n):
        raise _fail("select_ids", f"select({k}) returned an id outside [0, {n})")
    if distinct and np.unique(ids).size != k:
        raise _fail("select_ids", f"select({k}) returned repeated ids but the scheduler declares distinct=True")
    return ids


def passive_check_distribution(dist: Any, n: int) -> np.ndarray | None:
    """Validate what ``distribution()`` returned: None, or finite, non-negative, shape (n,), summing to 1."""
    if dist is None:
        return None
    if not isinstance(dist, np.ndarray) or dist.shape != (n,):
        shape = getattr(dist, "shape", type(dist).__name__)
        raise _fail("distribution", f"distribution() returned shape {shape}; expected ({n},) or None")
    if not np.isfinite(dist).all():
        raise _fail("distribution", "distribution() contains NaN or inf")
    if (dist < 0).any():
        raise _fail("distribution", "distribution() has negative entries")
    if abs(float(dist.sum()) - 1.0) > 1e-6:
        raise _fail("distribution", f"distribution() sums to {float(dist.sum()):.6g}; expected 1")
    return dist


class _Script:
    """Deterministic feedback for a pool: Bernoulli rewards from fixed per-prompt pass rates."""

    def __init__(self, n: int, group_size: int, seed: int) -> None:
        rng = make_rng(seed)
        self.p = rng.uniform(0.0, 1.0, n)
        self.p[rng.random(n) < 0.2] = 0.0
        self.p[rng.random(n) < 0.2] = 1.0
        self.group_size = group_size
        self.rng = rng

    def feedback(self, ids: np.ndarray, step: int) -> Feedback:
        rewards = (self.rng.random((ids.shape[0], self.group_size)) < self.p[ids][:, None]).astype(float)
        return Feedback(prompt_ids=np.array(ids), rewards=rewards, step=step)


def _replayed(s: Scheduler, k: int, check: str) -> int:
    """As the run loop does: ``replay(k)`` when the scheduler replays; checks the groups, returns how many."""
    if not s.replays:
        return 0
    stale = s.replay(k)
    if stale is None:
        return 0
    if not isinstance(stale, Feedback) or stale.m > k:
        raise _fail(
            check, f"replay({k}) returned {type(stale).__name__}; accepted: None or a Feedback of <= {k} groups"
        )
    stale.validate_ids(s.pool.n)
    return stale.m


def _run(s: Scheduler, k: int, steps: int, script: _Script, check: str = "select_ids") -> list[np.ndarray]:
    """(replay ->) select -> observe loop; returns what was selected, checking each return value."""
    out = []
    for step in range(steps):
        fresh = k - _replayed(s, k, check)
        ids = passive_check_ids(s.select(fresh), s.pool.n, fresh, distinct=s.distinct)
        out.append(ids.copy())
        s.observe(script.feedback(ids, step))
    return out


def _finite_outputs(s: Scheduler, check: str) -> None:
    try:
        passive_check_distribution(s.distribution(), s.pool.n)
    except ConformanceError as exc:
        raise _fail(check, str(exc)) from None
    est = s.estimates()
    if est is not None and not np.isfinite(est).all():
        raise _fail(check, "estimates() contains NaN or inf")
    bad = sorted(key for key, v in s.metrics().items() if not np.isfinite(v))
    if bad:
        raise _fail(check, f"metrics() has non-finite values for {bad}")


def _same_future(a: Scheduler, b: Scheduler, k: int, script_seed: int, group_size: int, check: str) -> None:
    sa = _Script(a.pool.n, group_size, script_seed)
    sb = _Script(b.pool.n, group_size, script_seed)
    for step in range(max(3, 2 * a.pool.n // max(k, 1) + 1)):  # long enough to pass an epoch boundary
        ra, rb = (x.replay(k) if x.replays else None for x in (a, b))
        if (ra is None) != (rb is None) or (
            ra is not None
            and not (
                np.array_equal(ra.prompt_ids, rb.prompt_ids) and np.array_equal(ra.rewards, rb.rewards, equal_nan=True)
            )
        ):
            raise _fail(check, f"future replayed groups differ at step {step}")
        fresh = k - (0 if ra is None else ra.m)
        ia, ib = a.select(fresh), b.select(fresh)
        if not np.array_equal(ia, ib):
            raise _fail(check, f"future selections differ at step {step}: {ia[:5]}... vs {ib[:5]}...")
        da, db = a.distribution(), b.distribution()
        if (da is None) != (db is None) or (da is not None and not np.allclose(da, db)):
            raise _fail(check, f"future distributions differ at step {step}")
        a.observe(sa.feedback(ia, step))
        b.observe(sb.feedback(ib, step))


def _check_select_ids(s: Scheduler, k: int, g: int, seed: int) -> None:
    _run(s, k, 3, _Script(s.pool.n, g, seed))
    passive_check_ids(s.select(0), s.pool.n, 0, distinct=s.distinct)
    if s.distinct:
        passive_check_ids(s.select(s.pool.n), s.pool.n, s.pool.n, distinct=True)


def _check_distribution(s: Scheduler, k: int, g: int, seed: int) -> None:
    passive_check_distribution(s.distribution(), s.pool.n)
    _run(s, k, 3, _Script(s.pool.n, g, seed))
    passive_check_distribution(s.distribution(), s.pool.n)


def _check_determinism(s: Scheduler, k: int, g: int, seed: int) -> None:
    a, b = copy.deepcopy(s), copy.deepcopy(s)
    ra = _run(a, k, 4, _Script(s.pool.n, g, seed))
    rb = _run(b, k, 4, _Script(s.pool.n, g, seed))
    for step, (x, y) in enumerate(zip(ra, rb, strict=True)):
        if not np.array_equal(x, y):
            raise _fail("determinism", f"two copies given the same calls selected different ids at step {step}")


def _check_no_mutation(s: Scheduler, k: int, g: int, seed: int) -> None:
    a, b = copy.deepcopy(s), copy.deepcopy(s)
    script = _Script(s.pool.n, g, seed)
    ids = a.select(k)
    b.select(k)
    rewards = script.feedback(ids, 0).rewards.copy()
    ids_before, rewards_before = ids.copy(), rewards.copy()
    fb_ids, fb_rewards = ids.copy(), rewards.copy()
    a.observe(Feedback(prompt_ids=fb_ids, rewards=fb_rewards))
    b.observe(Feedback(prompt_ids=ids_before.copy(), rewards=rewards_before.copy()))
    if not (np.array_equal(fb_ids, ids_before) and np.array_equal(fb_rewards, rewards_before)):
        raise _fail("no_mutation", "observe() modified the caller's arrays")
    ids[:] = 0  # scribble over what the scheduler returned; it must not be live state
    dist = a.distribution()
    if dist is not None:
        dist[:] = 0.0
    est = a.estimates()
    if est is not None:
        est[:] = -1.0
    _same_future(a, b, k, seed + 1, g, "no_mutation")


def _check_extreme_groups(s: Scheduler, k: int, g: int, seed: int) -> None:
    ids = s.select(k)
    half = k // 2
    rewards = np.zeros((k, g))
    rewards[half:] = 1.0
    s.observe(Feedback(prompt_ids=ids, rewards=rewards))
    _finite_outputs(s, "extreme_groups")
    repeated = np.repeat(ids[:1], 4)
    s.observe(Feedback(prompt_ids=repeated, rewards=np.array([[1.0] * g, [0.0] * g, [1.0] * g, [1.0] * g])))
    _finite_outputs(s, "extreme_groups")
    passive_check_ids(s.select(k), s.pool.n, k, distinct=s.distinct)


def _check_missing_rollouts(s: Scheduler, k: int, g: int, seed: int) -> None:
    ids = s.select(k)
    rewards = _Script(s.pool.n, g, seed).feedback(ids, 0).rewards.copy()
    rewards[:, g // 2 :] = np.nan
    rewards[0, :] = np.nan  # a group that returned nothing
    s.observe(Feedback(prompt_ids=ids, rewards=rewards))
    _finite_outputs(s, "missing_rollouts")
    passive_check_ids(s.select(k), s.pool.n, k, distinct=s.distinct)


def _check_lag(s: Scheduler, k: int, g: int, seed: int) -> None:
    script = _Script(s.pool.n, g, seed)
    first = passive_check_ids(s.select(k), s.pool.n, k, distinct=s.distinct)
    second = passive_check_ids(s.select(k), s.pool.n, k, distinct=s.distinct)
    try:
        s.observe(script.feedback(first, 0))
        never = np.setdiff1d(np.arange(s.pool.n), np.concatenate([first, second]))[:k]
        s.observe(script.feedback(never, 1))
        s.observe(script.feedback(second, 2))
    except SchedsimError as exc:
        raise _fail("lag", f"observe() rejected lagged or unselected feedback: {exc}") from None
    _finite_outputs(s, "lag")


def _check_state_roundtrip(s: Scheduler, k: int, g: int, seed: int) -> None:
    pristine = copy.deepcopy(s)
    _run(s, k, 3, _Script(s.pool.n, g, seed))
    state = s.state_dict()
    other = pristine
    half = max(1, k // 2)  # diverge first: different calls, and enough of them to use the RNG differently
    _run(other, half, 2 * s.pool.n // half + 1, _Script(s.pool.n, g, seed + 7))
    other.load_state_dict(copy.deepcopy(state))
    _same_future(s, other, k, seed + 3, g, "state_roundtrip")


def _check_pickle(s: Scheduler, k: int, g: int, seed: int) -> None:
    _run(s, k, 2, _Script(s.pool.n, g, seed))
    try:
        clone = pickle.loads(pickle.dumps(s))
    except Exception as exc:
        raise _fail("pickle", f"pickling failed: {type(exc).__name__}: {exc}") from None
    _same_future(s, clone, k, seed + 5, g, "pickle")


_ACTIVE: dict[str, Callable[[Scheduler, int, int, int], None]] = {
    "select_ids": _check_select_ids,
    "distribution": _check_distribution,
    "determinism": _check_determinism,
    "no_mutation": _check_no_mutation,
    "extreme_groups": _check_extreme_groups,
    "missing_rollouts": _check_missing_rollouts,
    "lag": _check_lag,
    "state_roundtrip": _check_state_roundtrip,
    "pickle": _check_pickle,
}


class SyntheticProbe:
    """A deterministic, picklable ``probe(ids, G) -> Feedback`` source for checks: Bernoulli rewards from fixed
    pass rates, drawn from a generator seeded by the probed ids, so the same request always gets the same answer
    (the probe is part of the environment, outside the scheduler's state)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.p = _Script(n, 8, seed + 99).p
        self.seed = seed

    def __call__(self, ids: np.ndarray, group: int) -> Feedback:
        ids = np.asarray(ids, dtype=np.int64)
        rng = make_rng([self.seed, group, *ids.tolist()])
        rewards = (rng.random((ids.shape[0], group)) < self.p[ids][:, None]).astype(float)
        return Feedback(prompt_ids=ids, rewards=rewards)


def default_pool(n: int = 64, n_categories: int = 4) -> PromptPool:
    """The pool the checker uses for spec strings: ``n`` prompts in ``n_categories`` interleaved categories."""
    return PromptPool(n=n, category=np.arange(n) % n_categories)


def check_scheduler(
    scheduler: Scheduler | str,
    *,
    pool: PromptPool | None = None,
    k: int = 8,
    group_size: int = 8,
    seed: int = 0,
    checks: Iterable[str] | None = None,
    **make_kwargs: Any,
) -> list[str]:
    """Run the conformance checks on a scheduler instance or a spec string.

    Args:
        scheduler: a :class:`~schedsim.Scheduler` (never modified: each check runs on a deep copy) or a spec
            such as ``"paced:tau=0.4"``, built on ``pool`` with ``seed`` and ``make_kwargs`` (e.g. ``log_z``).
        pool: pool for a spec (default :func:`default_pool`); ignored for an instance.
        k: batch size used by the checks.
        group_size: rollouts per group in the synthetic feedback.
        seed: seed of the scheduler (spec) and of the synthetic feedback.
        checks: names to run (default all of :data:`CHECKS`).
        **make_kwargs: extra keyword arguments for :func:`~schedsim.make_scheduler`.

    Returns:
        The names of the checks that passed (all requested ones; the first failure raises).

    Raises:
        ConformanceError: message ``"<check>: <what went wrong>"``.
    """
    names = list(CHECKS if checks is None else checks)
    unknown = [c for c in names if c not in _ACTIVE]
    if unknown:
        raise ConformanceError(f"unknown check {unknown[0]!r}; accepted: {accepted(CHECKS)}")
    if isinstance(scheduler, str):
        scheduler = make_scheduler(scheduler, pool=pool or default_pool(), seed=seed, **make_kwargs)
    if not isinstance(scheduler, Scheduler):
        raise ConformanceError(f"{type(scheduler).__name__} is not a schedsim.Scheduler")
    for name in names:
        try:
            _ACTIVE[name](copy.deepcopy(scheduler), k, group_size, seed)
        except ConformanceError:
            raise
        except Exception as exc:
            raise _fail(name, f"raised {type(exc).__name__}: {exc}") from None
    return names

"""The scheduler protocol and its composition from an estimator and a rule.

A difficulty scheduler answers two questions (docs/schedulers.md, "estimator + rule composition"): *how hard is each prompt for the current policy* (an
:class:`Estimator` of pass rate) and *given those estimates, which prompts go into the batch* (a :class:`Rule`).
:class:`ComposedScheduler` joins one of each; the named presets in :mod:`schedsim.schedulers` are such
compositions, and users can cross them (e.g. the ``beta`` kernel on ``logz`` estimates).
"""

from __future__ import annotations

import abc
import copy
from typing import Any, ClassVar

import numpy as np

from schedsim.core.errors import FeedbackError, ParameterError, StateError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.seeding import make_rng, rng_state, set_rng_state


class Stateful:
    """Mixin: ``state_dict`` / ``load_state_dict`` over the attributes named in ``_state_keys``.

    Values are deep-copied both ways, so a returned state never aliases live state. Loading checks that every
    key is present and that array shapes match, raising :class:`StateError` otherwise.
    """

    _state_keys: ClassVar[tuple[str, ...]] = ()

    def state_dict(self) -> dict[str, Any]:
        return {key: copy.deepcopy(getattr(self, key)) for key in self._state_keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            raise StateError(f"state dict of {type(self).__name__} is {type(state).__name__}; accepted: a dict")
        missing = [key for key in self._state_keys if key not in state]
        if missing:
            raise StateError(
                f"state dict of {type(self).__name__} lacks {missing}; accepted keys: {list(self._state_keys)}"
            )
        for key in self._state_keys:
            current, new = getattr(self, key), state[key]
            if isinstance(current, np.ndarray):
                if not isinstance(new, np.ndarray) or new.shape != current.shape:
                    shape = getattr(new, "shape", type(new).__name__)
                    raise StateError(
                        f"state dict of {type(self).__name__}: {key} has shape {shape}; accepted: {current.shape}"
                    )
            setattr(self, key, copy.deepcopy(new))


class Estimator(Stateful, abc.ABC):
    """Per-prompt pass-rate estimator: learns from feedback, returns p-hat in [0, 1] for any ids."""

    name: ClassVar[str] = "estimator"
    #: True when p-hat changes only in :meth:`observe` and only at the ids it records in ``touched``, so rules
    #: may cache per-prompt weights and refresh just those (False for trainer-driven signals such as log Z).
    incremental: ClassVar[bool] = True

    def __init__(self, pool: PromptPool) -> None:
        self.pool = pool
        self.revision = 0  # bumped by every change; caches keyed on it
        self.touched = np.empty(0, dtype=np.int64)  # ids whose estimate changed in the last revision

    def _touch(self, ids: np.ndarray) -> None:
        self.revision += 1
        self.touched = ids

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.revision += 2  # not a one-step change: caches must rebuild

    def validate(self, feedback: Feedback) -> None:
        """Raise FeedbackError if this estimator cannot learn from ``feedback`` (default: rewards in [0, 1])."""
        feedback.require_unit_rewards(f"estimator {self.name!r}")

    @abc.abstractmethod
    def observe(self, feedback: Feedback) -> None:
        """Update from a validated feedback batch (ids checked against the pool, :meth:`validate` passed)."""

    @abc.abstractmethod
    def estimate(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Return p-hat ``float[len(ids)]`` (or ``float[N]`` when ``ids`` is None), values in [0, 1]."""

    def values(self) -> np.ndarray:
        """p-hat for the whole pool, possibly a read-only view of live state (no copy); rules use this."""
        return self.estimate()

    def metrics(self) -> dict[str, float]:
        return {}


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (no copy), for handing live state to rules without aliasing risk."""
    view = array.view()
    view.flags.writeable = False
    return view


class Rule(Stateful, abc.ABC):
    """Selection rule: turns an estimator's p-hat into a batch of prompt ids."""

    name: ClassVar[str] = "rule"
    distinct: ClassVar[bool] = True

    def __init__(self, pool: PromptPool) -> None:
        self.pool = pool

    @abc.abstractmethod
    def select(self, k: int, estimator: Estimator, rng: np.random.Generator) -> np.ndarray:
        """Return ``int64[k]`` ids."""

    def distribution(self, estimator: Estimator) -> np.ndarray | None:
        """Per-draw selection probabilities ``float[N]``, or None for deterministic (greedy) rules."""
        return None

    def observe(self, feedback: Feedback) -> None:
        """Rules that keep their own state (e.g. epoch queues) may react to feedback; most ignore it."""


class Scheduler(abc.ABC):
    """The protocol every schedsim scheduler implements.

    ``select(k)`` may be called repeatedly before any feedback arrives (trainers read ahead);
    ``observe`` accepts feedback for ids that were never selected. All randomness comes from a private
    generator seeded by ``seed``; ``state_dict`` includes it, so reloading reproduces future selections.

    Class attributes ``name``, ``summary`` and ``paper`` feed the registry and ``schedsim list``;
    ``distinct`` says whether one ``select(k)`` call returns distinct ids (when ``k <= N``).
    """

    name: ClassVar[str] = "scheduler"
    summary: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    distinct: ClassVar[bool] = True
    #: loss reduction this scheduler asks the trainer for (``"mixed"``: average over non-zero-variance groups
    #: only); None leaves the trainer's own setting. Used by the ``uniform-mixed`` control.
    loss_reduction: ClassVar[str | None] = None
    #: True when the groups this scheduler rolled out while choosing (through the ``probe`` signal) should be
    #: trained on for the prompts it chose, instead of rolling those prompts out again (LILO's probes).
    trains_on_probes: ClassVar[bool] = False
    #: True when :meth:`replay` may return groups (the runner then needs an environment that learns from groups
    #: its last rollout did not produce: ``REPLAY_ENVS``). Instances may set it from their parameters.
    replays: bool = False
    #: parameters that add extras on top of the scheduler's estimator + rule (e.g. PACED-RL's exploration), with
    #: the value that turns each off; ``schedsim explain`` strips them to isolate the rule on its own estimator.
    extras: ClassVar[dict[str, Any]] = {}

    def __init__(self, pool: PromptPool, *, seed: int | None = None) -> None:
        if not isinstance(pool, PromptPool):
            raise ParameterError(f"pool is {type(pool).__name__}; accepted: a schedsim.PromptPool")
        self.pool = pool
        self.seed = seed
        self._rng = make_rng(seed)
        self._n_selected = 0
        self._n_observed = 0

    # -- public protocol -------------------------------------------------------------------------------
    def select(self, k: int) -> np.ndarray:
        """Choose ``k`` prompt ids for the next batch; returns a fresh ``int64[k]`` array."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ParameterError(f"k={k!r} is not accepted; accepted: a non-negative integer")
        if self.distinct and k > self.pool.n:
            raise ParameterError(f"k={k} exceeds the pool size; accepted: k <= {self.pool.n}")
        ids = np.array(self._select(int(k)), dtype=np.int64, copy=True)
        self._n_selected += int(k)
        return ids

    def observe(self, feedback: Feedback) -> None:
        """Learn from a batch of rollouts (any ids in the pool, selected or not)."""
        if not isinstance(feedback, Feedback):
            raise ParameterError(f"feedback is {type(feedback).__name__}; accepted: a schedsim.Feedback")
        feedback.validate_ids(self.pool.n)
        self._observe(feedback)
        self._n_observed += feedback.m

    def replay(self, k: int) -> Feedback | None:
        """Groups rolled out at earlier steps to train on again at this step, in place of fresh ones, or None.

        The runner calls it before ``select`` at every step of a batch of ``k`` groups: it trains on the returned
        m groups plus ``k - m`` fresh ones chosen by ``select(k - m)``; replayed groups cost no rollouts and are
        not observed again (DOTS's rollout replay). Default: None (every group fresh).
        """
        del k
        return None

    def distribution(self) -> np.ndarray | None:
        """Per-draw selection probabilities over the pool (``float[N]`` summing to 1), or None if greedy."""
        return None

    def estimates(self) -> np.ndarray | None:
        """Current pass-rate estimates ``float[N]`` if the scheduler keeps per-prompt estimates, else None."""
        return None

    def loss_weights(self, groups: Feedback | np.ndarray) -> np.ndarray:
        """Per-group loss weights a trainer should apply to the batch it is about to train on.

        Args:
            groups: the :class:`Feedback` being trained on (its own rollouts are the freshest signal, so a
                weight mode can weight each group by its own pass rate), or just the prompt ids ``int[m]``.

        Returns:
            ``float[m]``: ones unless the scheduler has a weight mode (e.g. ``beta:mode=weight``).
        """
        return np.ones(self._group_ids(groups).shape[0])

    def _group_ids(self, groups: Feedback | np.ndarray) -> np.ndarray:
        """The prompt ids of a Feedback, or checked ids."""
        if isinstance(groups, Feedback):
            groups.validate_ids(self.pool.n)
            return groups.prompt_ids
        return self._check_ids(groups)

    def _check_ids(self, ids: np.ndarray) -> np.ndarray:
        """Ids as ``int64[m]``, or FeedbackError naming the first bad one."""
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise FeedbackError(f"ids have shape {arr.shape} and dtype {arr.dtype}; accepted: an integer array (m,)")
        arr = arr.astype(np.int64)
        bad = (arr < 0) | (arr >= self.pool.n)
        if bad.any():
            raise FeedbackError(f"ids contain {int(arr[bad][0])}, out of range; accepted: ids in [0, {self.pool.n})")
        return arr

    def metrics(self) -> dict[str, float]:
        """Scalar diagnostics, keys namespaced ``sched/...``."""
        return {"sched/selected": float(self._n_selected), "sched/observed_groups": float(self._n_observed)}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to reproduce future behaviour, RNG included; a deep copy."""
        return {
            "scheduler": self.name,
            "n": self.pool.n,
            "rng": rng_state(self._rng),
            "counters": [self._n_selected, self._n_observed],
            "body": self._state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` of a scheduler of the same name and pool size."""
        if not isinstance(state, dict) or not {"scheduler", "n", "rng", "counters", "body"} <= set(state):
            raise StateError("corrupt scheduler state dict; accepted: the dict returned by state_dict()")
        if state["scheduler"] != self.name or state["n"] != self.pool.n:
            raise StateError(
                f"state dict is for scheduler {state['scheduler']!r} on {state['n']} prompts; "
                f"accepted: {self.name!r} on {self.pool.n} prompts"
            )
        self._load_state(state["body"])
        set_rng_state(self._rng, state["rng"])
        self._n_selected, self._n_observed = (int(x) for x in state["counters"])

    # -- to implement ----------------------------------------------------------------------------------
    # A subclass implements ``_select`` and ``_observe`` (and ``_state`` / ``_load_state`` if it keeps state
    # beyond its RNG, ``self._rng``); the public ``select`` / ``observe`` validate the input, count, and call them.
    @abc.abstractmethod
    def _select(self, k: int) -> np.ndarray:
        """Return ``k`` prompt ids (``k`` already checked: a non-negative int, ``<= N`` when ``distinct``).

        Draw randomness only from ``self._rng``.
        """

    @abc.abstractmethod
    def _observe(self, feedback: Feedback) -> None:
        """Learn from ``feedback`` (already checked: a Feedback whose ids lie in the pool)."""

    def _state(self) -> dict[str, Any]:
        """The scheduler's own state as plain data (a deep copy); the RNG and counters are saved by the base."""
        return {}

    def _load_state(self, body: dict[str, Any]) -> None:
        """Restore what :meth:`_state` returned."""
        del body

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        for public, private in (("select", "_select"), ("observe", "_observe")):
            if public in own and private not in own and getattr(cls, private, None) is getattr(Scheduler, private):
                raise TypeError(
                    f"{cls.__name__} overrides {public}(); accepted: implement {private}() instead (the base "
                    f"class's {public}() validates the input, counts, then calls {private}())"
                )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.pool.n}, seed={self.seed})"


class ComposedScheduler(Scheduler):
    """A scheduler made of one :class:`Estimator` and one :class:`Rule`.

    Besides delegating, it records estimator calibration on every batch *before* learning from it: the mean
    absolute gap between p-hat and the fresh empirical accuracy of each group (``sched/calib_abs_err``).
    """

    def __init__(self, pool: PromptPool, estimator: Estimator, rule: Rule, *, seed: int | None = None) -> None:
        super().__init__(pool, seed=seed)
        self.estimator = estimator
        self.rule = rule
        self._calib = float("nan")

    @property
    def distinct(self) -> bool:  # type: ignore[override]
        return self.rule.distinct

    def _select(self, k: int) -> np.ndarray:
        return self.rule.select(k, self.estimator, self._rng)

    def _observe(self, feedback: Feedback) -> None:
        self.estimator.validate(feedback)
        means = feedback.means()
        seen = ~np.isnan(means)
        if seen.any():
            p_hat = self.estimator.estimate(feedback.prompt_ids[seen])
            self._calib = float(np.mean(np.abs(p_hat - means[seen])))
        self.estimator.observe(feedback)
        self.rule.observe(feedback)

    def distribution(self) -> np.ndarray | None:
        return self.rule.distribution(self.estimator)

    def set_log_z(self, log_z: Any) -> None:
        """Attach the trainer's ``log_z(ids)`` source (only for schedulers whose estimator is ``logz``)."""
        if not hasattr(self.estimator, "set_source"):
            raise ParameterError(
                f"scheduler {self.name!r} uses estimator {self.estimator.name!r}, which reads no log Z; "
                "accepted: a scheduler built with estimator='logz'"
            )
        self.estimator.set_source(log_z)

    def estimates(self) -> np.ndarray | None:
        return self.estimator.estimate()

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        out["sched/calib_abs_err"] = self._calib
        out.update(self.estimator.metrics())
        dist = self.distribution()
        if dist is not None:
            nz = dist[dist > 0]
            out["sched/entropy"] = float(-(nz * np.log(nz)).sum())
        return out

    def _state(self) -> dict[str, Any]:
        return {"estimator": self.estimator.state_dict(), "rule": self.rule.state_dict(), "calib": self._calib}

    def _load_state(self, body: dict[str, Any]) -> None:
        if not isinstance(body, dict) or not {"estimator", "rule", "calib"} <= set(body):
            raise StateError("corrupt scheduler state dict: body lacks estimator/rule state")
        self.estimator.load_state_dict(body["estimator"])
        self.rule.load_state_dict(body["rule"])
        self._calib = float(body["calib"])

"""DOTS: each round, roll out a small random reference set (charged), predict every prompt's pass rate from it,
and sample the round's prompts near a target pass rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from schedsim.core.errors import FeedbackError, MissingSignalError, ParameterError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.rules.replay import GroupBuffer
from schedsim.rules.sampling import sample_distinct
from schedsim.schedulers.filtering import ProbeSource

DOTS_PREDICTORS = ("auto", "attention", "category", "table")


def standardised(features: np.ndarray) -> np.ndarray:
    """Column z-scores of ``features`` (constant columns become 0)."""
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    return np.where(std > 0, (features - mean) / np.where(std > 0, std, 1.0), 0.0)


def least_squares_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Ordinary least squares ``y ≈ slope·x + intercept``; slope 0 and intercept mean(y) when x is constant."""
    if x.size == 0:
        return 1.0, 0.0
    dx = x - x.mean()
    var = float(dx @ dx)
    slope = float(dx @ (y - y.mean())) / var if var > 1e-12 else 0.0
    return slope, float(y.mean() - slope * x.mean())


class DOTSScheduler(Scheduler):
    """DOTS's online data selection: a charged reference set each round, an attention predictor, a soft target.

    A round is ``mu`` steps. At its start (the first ``select`` of the round):

    1. Reference set: R prompts drawn uniformly without replacement, ``probe_group`` rollouts each through the
       ``probe`` signal (charged to the budget; the reference groups are not trained on). Label y_r = the group's
       mean reward (groups that returned nothing are left out).
    2. Predictor of every prompt's pass rate from the references, then the per-round least-squares line
       ``y_r ≈ a·base_r + c`` fitted on the references and applied to every prompt: p̂ = a·base + c
       (``recalibrate``; no clipping, as in the code; :meth:`estimates` clips to [0, 1]). ``base``:

       - ``attention`` (pool features): base_i = Σ_r softmax_r(z_i·z_r / (√d·``temperature``)) y_r, with z the
         column-standardised features. SIMPLIFIED: DOTS attends over LLM prompt embeddings through learned
         projections (LN → 3×Linear → LN, trained offline by BCE) and a learned (T, b) calibration head;
         here the projections are the identity on standardised features and there is no head.
       - ``category`` (no features, categories): base_i = the mean label of the references in prompt i's
         category (the mean of all labels when none was drawn) — attention whose similarity is "same category".
       - ``table`` (neither): base_i = the latest observed group mean of prompt i (references and training
         groups), the mean label of this round's references for prompts never observed.
       - ``auto`` (default): the first of those the pool supports (every environment's pool carries its prompt
         embedding as features, so ``attention`` there).
    3. Selection: w_i = exp(−|p̂_i − ``alpha``| / ``tau``); ``mu``·k prompts drawn without replacement ∝ w over
       the whole pool (capped at a multiple of k that fits), shuffled, and handed out k per step.

    If ``select`` asks for more than the round has left (a different k), the rest of the round is dropped and a
    new round starts [choice]. Before the first round p̂ = 0.5 everywhere.

    4. Rollout replay (``sigma < 1``; the code's run script uses 0.5): every fresh group is appended to a buffer
       of the newest ``buffer_size`` groups. After the first round, each step of B groups is
       ``max(1, round(sigma·B))`` fresh prompts plus up to B minus that many groups replayed from the buffer
       (:meth:`replay`): the latest group of each prompt, those with 0 < p̂ < 1, drawn uniformly without
       replacement (fewer when fewer are eligible; the fresh count then fills the batch [choice]). Replayed groups
       cost no rollouts and are not observed again; the trainer scores them at its current policy, as the code's
       PPO recomputes log-probabilities (the bandit does the same; environments whose ``learn`` takes only the
       last rollout refuse ``sigma < 1``). Rounds then select ``mu·round(sigma·B)`` prompts.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator.
        probe: the rollout source for the reference set; settable with :meth:`set_probe`; selecting without one
            raises.
        alpha: target pass rate; 0.5 [code].
        tau: softmax temperature of the selection; 1e-3 (near-greedy) [code].
        mu: steps per round; 2 [code].
        ref_size: reference prompts per round R; None (default) = ``ref_ratio``·mu·k, at least 2 [choice].
        ref_ratio: R relative to the prompts of a round; 0.25, the code's 256 for mu·B = 2·512 [code, scaled].
        probe_group: rollouts per reference prompt; 8 (the code's G) [code].
        predictor: ``auto``, ``attention``, ``category`` or ``table`` (above) [choice].
        temperature: attention temperature; 1.0 (the code's default) [code].
        recalibrate: fit the per-round least-squares line on the references; True [code].
        sigma: fresh share of a step after the first round; 0.5 [code] (1 = no replay, every group fresh).
        buffer_size: replay buffer capacity in groups; 512 [code] (the code's B = 512).

    References:
        DOTS, Sun et al., "Improving Data Efficiency for LLM Reinforcement Fine-tuning Through Difficulty-targeted
        Online Data Selection and Rollout Replay", arXiv 2506.05316; code: ASTRAL-Group/data-efficient-llm-rl
        (``rl_training/verl/verl/trainer/ppo/ray_trainer.py``: reference set, selection, replay;
        ``teacher_utils.py``: predictor and its least-squares calibration) [code]; docs/schedulers.md, ``dots``.
    """

    name = "dots"
    summary = "DOTS: charged reference set each round, attention-predicted p̂, sample ∝ exp(−|p̂−α|/τ)"
    paper = "DOTS, arXiv 2506.05316"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        probe: ProbeSource | None = None,
        alpha: float = 0.5,
        tau: float = 1e-3,
        mu: int = 2,
        ref_size: int | None = None,
        ref_ratio: float = 0.25,
        probe_group: int = 8,
        predictor: str = "auto",
        temperature: float = 1.0,
        recalibrate: bool = True,
        sigma: float = 0.5,
        buffer_size: int = 512,
    ) -> None:
        super().__init__(pool, seed=seed)
        self.alpha = check_range("alpha", alpha, 0.0, 1.0)
        self.tau = check_range("tau", tau, 0.0, None, lo_open=True)
        self.mu = check_int("mu", mu, 1)
        self.ref_size = None if ref_size is None else check_int("ref_size", ref_size, 1)
        self.ref_ratio = check_range("ref_ratio", ref_ratio, 0.0, None, lo_open=True)
        self.probe_group = check_int("probe_group", probe_group, 1)
        check_choice("predictor", predictor, DOTS_PREDICTORS)
        if predictor == "attention" and pool.features is None:
            raise ParameterError("predictor 'attention' needs pool features; accepted: PromptPool(n, features=...)")
        if predictor == "category" and pool.category is None:
            raise ParameterError("predictor 'category' needs pool categories; accepted: PromptPool(n, category=...)")
        if predictor == "auto":
            predictor = (
                "attention" if pool.features is not None else "category" if pool.category is not None else "table"
            )
        self.predictor = predictor
        self.temperature = check_range("temperature", temperature, 0.0, None, lo_open=True)
        self.recalibrate = bool(recalibrate)
        self.sigma = check_range("sigma", sigma, 0.0, 1.0, lo_open=True)
        self.buffer = GroupBuffer(buffer_size)
        self.buffer_size = self.buffer.capacity
        self.replays = self.sigma < 1.0
        self._replayed = 0
        self.probe: ProbeSource | None = None
        self.set_probe(probe)
        self._z = standardised(pool.features) if predictor == "attention" else None
        self.p = np.full(pool.n, 0.5)  # p̂, unclipped (selection reads it as the code does)
        self.weights = np.zeros(0)  # the last round's selection weights (empty before the first round)
        self.queue = np.empty(0, dtype=np.int64)
        self.last = np.full(pool.n, np.nan)  # table predictor: latest observed group mean
        self._last_stats = {"rounds": 0.0, "ref_rollouts": 0.0, "ref_abs_err": math.nan, "slope": 1.0, "intercept": 0.0}

    def set_probe(self, probe: ProbeSource | None) -> None:
        """Attach the trainer's ``probe(ids, G) -> Feedback`` rollout source."""
        if probe is not None and not callable(probe):
            raise ParameterError(f"probe={probe!r} is not callable; accepted: a function probe(ids, G) -> Feedback")
        self.probe = probe

    # -- predictor -----------------------------------------------------------------------------------------------
    def predict_base(self, refs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The predictor's output ``base`` for every prompt, from reference ids and their labels (before the line)."""
        if refs.size == 0:
            return self.p.copy()
        if self.predictor == "attention":
            z = self._z
            scores = z @ z[refs].T / (math.sqrt(z.shape[1]) * self.temperature)
            scores -= scores.max(axis=1, keepdims=True)
            w = np.exp(scores)
            w /= w.sum(axis=1, keepdims=True)
            return w @ labels
        if self.predictor == "category":
            cat = self.pool.category
            c = self.pool.n_categories
            sums = np.bincount(cat[refs], weights=labels, minlength=c)
            counts = np.bincount(cat[refs], minlength=c)
            means = np.where(counts > 0, sums / np.maximum(counts, 1), labels.mean())
            return means[cat]
        return np.where(np.isnan(self.last), labels.mean(), self.last)

    def _new_round(self, k: int) -> None:
        n = self.pool.n
        size = self.ref_size if self.ref_size is not None else max(2, round(self.ref_ratio * self.mu * k))
        size = min(size, n)
        refs = self._rng.choice(n, size=size, replace=False).astype(np.int64)
        fb = self.probe(refs, self.probe_group)  # type: ignore[misc]
        if not isinstance(fb, Feedback) or fb.m != refs.shape[0] or not np.array_equal(fb.prompt_ids, refs):
            raise FeedbackError("probe returned feedback that does not match the probed ids; accepted: one row per id")
        fb.require_unit_rewards("dots")
        labels = fb.means()
        ok = ~np.isnan(labels)
        refs, labels = refs[ok], labels[ok]
        if self.predictor == "table":
            self.last[refs] = labels
        base = self.predict_base(refs, labels)
        slope, intercept = least_squares_line(base[refs], labels) if self.recalibrate and refs.size else (1.0, 0.0)
        self.p = slope * base + intercept
        err = float(np.mean(np.abs(self.p[refs] - labels))) if refs.size else math.nan
        score = -np.abs(self.p - self.alpha) / self.tau
        w = np.exp(score - score.max())
        self.weights = w / w.sum()
        take = min(self.mu * k, k * (n // k))
        self.queue = self._rng.permutation(sample_distinct(self.weights, take, self._rng)).astype(np.int64)
        self._last_stats = {
            "rounds": self._last_stats["rounds"] + 1,
            "ref_rollouts": self._last_stats["ref_rollouts"] + float(fb.counts().sum()),
            "ref_abs_err": err,
            "slope": slope,
            "intercept": intercept,
        }

    # -- protocol ------------------------------------------------------------------------------------------------
    def _select(self, k: int) -> np.ndarray:
        if self.probe is None:
            raise MissingSignalError(
                "dots rolls out a reference set each round; pass make_scheduler('dots', ..., probe=fn) with "
                "fn(ids, G) -> Feedback (the schedsim runner provides one and charges its rollouts)"
            )
        if k == 0:
            return np.empty(0, dtype=np.int64)
        if self.queue.size < k:
            self._new_round(k)
        out, self.queue = self.queue[:k].copy(), self.queue[k:].copy()
        return out

    def replay(self, k: int) -> Feedback | None:
        """Up to ``k − max(1, round(sigma·k))`` buffered groups to train on again (None in the first round)."""
        self._replayed = 0
        first_round = self._last_stats["rounds"] < 1 or (self._last_stats["rounds"] == 1 and self.queue.size > 0)
        if not self.replays or first_round:
            return None
        stale = self.buffer.replay(k, self.sigma, self._rng)
        self._replayed = 0 if stale is None else stale.m
        return stale

    def _observe(self, feedback: Feedback) -> None:
        feedback.require_unit_rewards("dots")
        if self.predictor == "table":
            ids, sums, counts = feedback.per_prompt()
            self.last[ids] = sums / counts
        if self.replays:
            self.buffer.add(feedback)

    def distribution(self) -> np.ndarray | None:
        """The first-draw law of the current round, softmax(−|p̂ − alpha|/tau); None before the first round."""
        return self.weights.copy() if self.weights.size else None

    def estimates(self) -> np.ndarray:
        return np.clip(self.p, 0.0, 1.0)

    def metrics(self) -> dict[str, Any]:
        s = self._last_stats
        return {
            **super().metrics(),
            "sched/rounds": s["rounds"],
            "sched/ref_rollouts": s["ref_rollouts"],
            "sched/ref_abs_err": s["ref_abs_err"],
            "sched/calib_slope": s["slope"],
            "sched/calib_intercept": s["intercept"],
            "sched/replayed": float(self._replayed),
            "sched/buffer": float(self.buffer.size),
        }

    def _state(self) -> dict[str, Any]:
        return {
            "p": self.p.copy(),
            "weights": self.weights.copy(),
            "queue": self.queue.copy(),
            "last": self.last.copy(),
            "stats": dict(self._last_stats),
            "buffer": self.buffer.state_dict(),
            "replayed": self._replayed,
        }

    def _load_state(self, body: dict[str, Any]) -> None:
        self.p = np.array(body["p"], dtype=float)
        self.weights = np.array(body["weights"], dtype=float)
        self.queue = np.array(body["queue"], dtype=np.int64)
        self.last = np.array(body["last"], dtype=float)
        self._last_stats = {key: float(value) for key, value in body["stats"].items()}
        self.buffer.load_state_dict(body["buffer"])
        self._replayed = int(body["replayed"])

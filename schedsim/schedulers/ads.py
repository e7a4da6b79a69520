"""ADS: adaptive data scheduling over prompt clusters: cluster weights ∝ recent success, and in each cluster a window
of prompts that walks along an easy-to-hard order toward a success band."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from schedsim.core.errors import PoolError, StateError
from schedsim.core.feedback import Feedback
from schedsim.core.params import check_choice, check_int, check_range
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler
from schedsim.rules.sampling import sample_distinct
from schedsim.schedulers.dots import standardised

ADS_CLUSTERINGS = ("auto", "kmeans", "category", "random")


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 25) -> np.ndarray:
    """Lloyd's k-means: ``k`` distinct points as initial centres, ``iters`` rounds; labels relabelled 0..K'-1
    over the non-empty clusters."""
    centres = x[rng.choice(x.shape[0], size=k, replace=False)]
    labels = np.zeros(x.shape[0], dtype=np.int64)
    for it in range(iters):
        d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = d2.argmin(axis=1)
        if it and np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = labels == c
            if members.any():
                centres[c] = x[members].mean(axis=0)
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def nearest_free(desired: int, direction: int, occupied: set[int], size: int, fallback: int) -> int:
    """The position nearest ``desired`` in [0, size) not in ``occupied``, preferring ``direction`` at equal
    distance; ``fallback`` if every position is taken."""
    d = min(max(desired, 0), size - 1)
    if d not in occupied:
        return d
    for radius in range(1, size):
        for cand in (d + direction * radius, d - direction * radius):
            if 0 <= cand < size and cand not in occupied:
                return cand
    return fallback


class ADSScheduler(Scheduler):
    """ADS's dual-level schedule: which clusters (∝ smoothed success) and which prompts in them (a sliding window).

    Offline, the pool is split into clusters, each ordered easy → hard. Per cluster c: a success rate r_c
    (``r_init``), a sampling weight p_c (1/K) and a window M_c of ``window`` positions (the easiest ones).

    - Select k: clusters are drawn without replacement ∝ p_c, and the prompts of each one's window (easy → hard)
      are emitted until k are collected (the last window truncated). The code's batch is exactly
      ``active_clusters`` whole windows (4 x 32 = 128); here the window size defaults to ceil(k /
      ``active_clusters``), fixed at the first ``select``, so a batch of k is about ``active_clusters`` windows
      [code, scaled to k]. If the windows run out, the rest is uniform over the other prompts [choice].
    - Observe: per observed prompt, ρ = its mean reward (repeated ids pooled); r_c = the mean ρ of the observed
      prompts of cluster c (clusters not observed keep theirs). Each window position with feedback moves one
      position easier if ρ < ``center`` − ``eps``, harder if ρ > ``center`` + ``eps``, else stays; stayers keep
      their slots, easier-movers are placed from the easy end and harder-movers from the hard end, each at the
      nearest free position. Then p_c ← (1 − ``alpha``)·p_c + ``alpha``·r_c/Σr (uniform target when Σr = 0),
      renormalised. Every ``reset_steps`` observed batches everything returns to its initial state.

    SIMPLIFIED (no LLM): ADS clusters base-policy prompt embeddings with K-means (K = 64) and orders each cluster
    by the reference solution's NLL. Here the clusters are (``clustering``): ``kmeans`` on the column-standardised
    pool features (Lloyd's algorithm, 25 rounds, seeded), else ``category`` (one cluster per category), else
    ``random`` (a seeded partition into ``clusters`` near-equal parts); ``auto`` picks the first the pool supports
    (every environment's pool carries its prompt embedding as features: ``kmeans``, K = 64). The easy → hard order is the pool's ``difficulty_prior``
    (descending) when present, else a seeded random order; with a random order the window's walk carries no
    difficulty information and ADS acts through its cluster weights.

    Not modelled: ADS's trainer drops all-wrong groups from the update after the sampler has seen them (no
    refill); with GRPO those groups have zero advantage anyway, so only the loss normalisation differs.

    Args:
        pool: the prompt pool.
        seed: seed of the private generator (clustering, orders, cluster draws).
        clusters: K for ``kmeans`` and ``random``; 64 [code].
        clustering: ``auto``, ``kmeans``, ``category`` or ``random`` (above) [choice].
        active_clusters: clusters per batch; 4 [code].
        window: prompts per cluster window; None = ceil(k / active_clusters) (the code's 32 at k = 128) [code,
            scaled].
        eps: half-width of the success band; 0.17, i.e. [0.33, 0.67] (3–5 of 8 correct) [code].
        center: centre of the band; 0.5 [code].
        alpha: smoothing of the cluster weights; 0.3 [code].
        r_init: initial success rate of every cluster; 0.5 [code].
        reset_steps: batches between resets; None = max(1, ⌊N / (active_clusters·window)⌋), one pass over the
            data as in the code; 0 disables the reset [code].

    References:
        ADS, "Learning at the Right Pace: Adaptive Data Scheduling Improves LLM Reinforcement Learning",
        arXiv 2606.22305; code: Richard-zrx/ADS (``verl/verl/experimental/dataset/ads_sampler.py``, class
        ``ADSMiniClusterSampler``) [code]; docs/schedulers.md, section ``ads``.
    """

    name = "ads"
    summary = "ADS: clusters drawn ∝ smoothed success; per cluster a window sliding toward 3-5 of 8 correct"
    paper = "ADS, arXiv 2606.22305"

    def __init__(
        self,
        pool: PromptPool,
        *,
        seed: int | None = None,
        clusters: int = 64,
        clustering: str = "auto",
        active_clusters: int = 4,
        window: int | None = None,
        eps: float = 0.17,
        center: float = 0.5,
        alpha: float = 0.3,
        r_init: float = 0.5,
        reset_steps: int | None = None,
    ) -> None:
        super().__init__(pool, seed=seed)
        self.n_clusters_asked = check_int("clusters", clusters, 1)
        check_choice("clustering", clustering, ADS_CLUSTERINGS)
        if clustering == "kmeans" and pool.features is None:
            raise PoolError("clustering 'kmeans' needs pool features; accepted: PromptPool(n, features=(n, d))")
        if clustering == "category":
            pool.require_categories("ads:clustering=category")
        if clustering == "auto":
            clustering = (
                "kmeans" if pool.features is not None else "category" if pool.category is not None else "random"
            )
        self.clustering = clustering
        self.active_clusters = check_int("active_clusters", active_clusters, 1)
        self.window = None if window is None else check_int("window", window, 1)
        self.eps = check_range("eps", eps, 0.0, None)
        self.center = check_range("center", center, 0.0, 1.0)
        self.alpha = check_range("alpha", alpha, 0.0, 1.0, lo_open=True)
        self.r_init = check_range("r_init", r_init, 0.0, 1.0)
        self.reset_steps = None if reset_steps is None else check_int("reset_steps", reset_steps, 0)

        n = pool.n
        if clustering == "kmeans":
            label = kmeans(standardised(pool.features), min(self.n_clusters_asked, n), self._rng)
        elif clustering == "category":
            label = np.unique(pool.category, return_inverse=True)[1].astype(np.int64)
        else:
            k = min(self.n_clusters_asked, n)
            label = self._rng.permutation(np.arange(n) % k).astype(np.int64)
        self.cluster = label
        self.k = int(label.max()) + 1
        # members of each cluster, easy -> hard
        key = -pool.difficulty_prior if pool.difficulty_prior is not None else self._rng.random(n)
        order = np.lexsort((np.arange(n), key, label))  # by cluster, then easy first, ties by id
        sizes = np.bincount(label, minlength=self.k)
        self.members = np.split(order.astype(np.int64), np.cumsum(sizes)[:-1])
        self.position = np.empty(n, dtype=np.int64)
        for ids in self.members:
            self.position[ids] = np.arange(ids.size)
        self.width = 0  # the window size, fixed at the first select (or by ``window``)
        self.r = np.full(self.k, self.r_init)
        self.p = np.full(self.k, 1.0 / self.k)
        self.windows: list[list[int]] = [[] for _ in range(self.k)]
        self.steps_in_epoch = 0
        self._band = {"too_hard": 0.0, "keep": 0.0, "too_easy": 0.0}

    # -- schedule state ------------------------------------------------------------------------------------------
    def _layout(self) -> None:
        """Every window on its cluster's ``width`` easiest positions."""
        self.windows = [list(range(min(self.width, ids.size))) for ids in self.members]

    def _reset(self) -> None:
        self.r = np.full(self.k, self.r_init)
        self.p = np.full(self.k, 1.0 / self.k)
        self._layout()
        self.steps_in_epoch = 0

    def _reset_every(self) -> int:
        if self.reset_steps is not None:
            return self.reset_steps
        return max(1, self.pool.n // max(1, self.active_clusters * self.width))

    # -- protocol ------------------------------------------------------------------------------------------------
    def _select(self, k: int) -> np.ndarray:
        if k == 0:
            return np.empty(0, dtype=np.int64)
        if self.width == 0:
            self.width = self.window if self.window is not None else math.ceil(k / self.active_clusters)
            self._layout()
        order = sample_distinct(self.p / self.p.sum(), self.k, self._rng)
        out: list[int] = []
        for c in order.tolist():
            out.extend(self.members[c][sorted(self.windows[c])].tolist())
            if len(out) >= k:
                break
        out = out[:k]
        if len(out) < k:
            taken = np.zeros(self.pool.n, dtype=bool)
            taken[out] = True
            rest = np.flatnonzero(~taken)
            out += self._rng.choice(rest, size=k - len(out), replace=False).tolist()
        return np.array(out, dtype=np.int64)

    def _observe(self, feedback: Feedback) -> None:
        feedback.require_unit_rewards("ads")
        ids, sums, counts = feedback.per_prompt()
        rho = sums / counts if ids.size else np.zeros(0)
        band = {"too_hard": 0.0, "keep": 0.0, "too_easy": 0.0}
        directions: dict[int, dict[int, int]] = {}
        for pid, value in zip(ids.tolist(), rho.tolist(), strict=True):
            c, pos = int(self.cluster[pid]), int(self.position[pid])
            if pos not in self.windows[c]:
                continue
            if value < self.center - self.eps:
                directions.setdefault(c, {})[pos] = -1
                band["too_hard"] += 1
            elif value > self.center + self.eps:
                directions.setdefault(c, {})[pos] = 1
                band["too_easy"] += 1
            else:
                directions.setdefault(c, {})[pos] = 0
                band["keep"] += 1
        if ids.size:
            c_ids = self.cluster[ids]
            n_c = np.bincount(c_ids, minlength=self.k)
            s_c = np.bincount(c_ids, weights=rho, minlength=self.k)
            seen = n_c > 0
            self.r[seen] = s_c[seen] / n_c[seen]
        for c, moves in directions.items():
            self._move(c, moves)
        total = float(self.r.sum())
        target = self.r / total if total > 0 else np.full(self.k, 1.0 / self.k)
        self.p = (1.0 - self.alpha) * self.p + self.alpha * target
        if self.p.sum() > 0:
            self.p = self.p / self.p.sum()
        self._band = band
        self.steps_in_epoch += 1
        every = self._reset_every()
        if self.width and every > 0 and self.steps_in_epoch >= every:  # windows not laid out yet: no epoch
            self._reset()

    def _move(self, c: int, moves: dict[int, int]) -> None:
        size = self.members[c].size
        old = sorted(self.windows[c])
        if size <= len(old):
            return
        new: set[int] = set()
        movers = []
        for pos in old:
            d = moves.get(pos, 0)
            if d == 0:
                new.add(pos)
            else:
                movers.append((pos, d))
        for pos in sorted(p for p, d in movers if d < 0):
            new.add(nearest_free(pos - 1, -1, new, size, pos))
        for pos in sorted((p for p, d in movers if d > 0), reverse=True):
            new.add(nearest_free(pos + 1, 1, new, size, pos))
        self.windows[c] = sorted(new)

    def estimates(self) -> np.ndarray:
        """Each prompt's cluster success rate r_c."""
        return self.r[self.cluster].copy()

    def cluster_weights(self) -> np.ndarray:
        """The cluster sampling weights p_c."""
        return self.p.copy()

    def metrics(self) -> dict[str, Any]:
        fracs = [
            float(np.mean(w)) / max(ids.size - 1, 1) for w, ids in zip(self.windows, self.members, strict=True) if w
        ]
        return {
            **super().metrics(),
            "sched/clusters": float(self.k),
            "sched/prob_max": float(self.p.max()),
            "sched/window_position": float(np.mean(fracs)) if fracs else math.nan,
            "sched/band_too_hard": self._band["too_hard"],
            "sched/band_keep": self._band["keep"],
            "sched/band_too_easy": self._band["too_easy"],
        }

    def _state(self) -> dict[str, Any]:
        return {  # the clusters and their orders were drawn from the seed: they are state too
            "cluster": self.cluster.copy(),
            "order": np.concatenate(self.members),
            "width": self.width,
            "r": self.r.copy(),
            "p": self.p.copy(),
            "windows": [list(w) for w in self.windows],
            "steps_in_epoch": self.steps_in_epoch,
            "band": dict(self._band),
        }

    def _load_state(self, body: dict[str, Any]) -> None:
        cluster, order = np.array(body["cluster"], dtype=np.int64), np.array(body["order"], dtype=np.int64)
        if cluster.shape != (self.pool.n,) or order.shape != (self.pool.n,):
            raise StateError(
                f"ads state has cluster labels of shape {cluster.shape} and an order of shape {order.shape}; "
                f"accepted: ({self.pool.n},) each"
            )
        self.cluster, self.k = cluster, int(cluster.max()) + 1
        self.members = np.split(order, np.cumsum(np.bincount(cluster, minlength=self.k))[:-1])
        for ids in self.members:
            self.position[ids] = np.arange(ids.size)
        self.width = int(body["width"])
        self.r = np.array(body["r"], dtype=float)
        self.p = np.array(body["p"], dtype=float)
        self.windows = [[int(x) for x in w] for w in body["windows"]]
        self.steps_in_epoch = int(body["steps_in_epoch"])
        self._band = {key: float(value) for key, value in body["band"].items()}

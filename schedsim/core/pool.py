"""The prompt pool: the set of prompts a scheduler chooses from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schedsim.core.errors import PoolError


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def _numbers(name: str, value: object) -> np.ndarray:
    """``value`` as a float array; PoolError (not numpy's ValueError) for strings or ragged nesting."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind in "USMmVc":
            raise PoolError(f"{name} has dtype {raw.dtype}; accepted: an array of numbers")
        return np.asarray(raw, dtype=np.float64)
    except PoolError:
        raise
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PoolError(f"{name} is not an array of numbers ({reason}); accepted: a rectangular array") from None


class PromptPool:
    """N prompts, identified by the integer ids ``0 .. n-1``.

    Args:
        n: number of prompts.
        category: optional ``int[n]`` category of each prompt (difficulty level, problem type, ...), values
            ``0 .. C-1``; arm-based schedulers such as ``sec`` need it.
        features: optional ``float[n, d]`` prompt features, for amortised estimators.
        difficulty_prior: optional ``float[n]`` prior pass-rate estimate in [0, 1].
        names: optional sequence of ``n`` prompt names or texts.

    The pool is immutable: its arrays are copies marked read-only.
    """

    def __init__(
        self,
        n: int,
        *,
        category: Sequence[int] | np.ndarray | None = None,
        features: np.ndarray | None = None,
        difficulty_prior: Sequence[float] | np.ndarray | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise PoolError(f"n={n!r} is not accepted; accepted: a positive integer")
        self.n = int(n)
        self.category = None if category is None else _frozen(self._check_category(category))
        self.features = None if features is None else _frozen(self._check_features(features))
        self.difficulty_prior = None if difficulty_prior is None else _frozen(self._check_prior(difficulty_prior))
        if names is not None and (isinstance(names, str) or not hasattr(names, "__len__")):
            raise PoolError(f"names is {type(names).__name__}; accepted: a sequence of n={self.n} prompt names")
        if names is not None and len(names) != self.n:
            raise PoolError(f"names has {len(names)} entries; accepted: exactly n={self.n}")
        self.names = None if names is None else tuple(str(x) for x in names)

    def _check_category(self, category: Sequence[int] | np.ndarray) -> np.ndarray:
        cat = np.asarray(category)
        if cat.shape != (self.n,):
            raise PoolError(f"category has shape {cat.shape}; accepted: ({self.n},)")
        if cat.dtype.kind not in "iu":
            raise PoolError(f"category has dtype {cat.dtype}; accepted: an integer dtype")
        if cat.min() < 0:
            raise PoolError(f"category contains {int(cat.min())}; accepted: integers >= 0")
        return cat.astype(np.int64)

    def _check_features(self, features: np.ndarray) -> np.ndarray:
        feat = _numbers("features", features)
        if feat.ndim != 2 or feat.shape[0] != self.n:
            raise PoolError(f"features has shape {feat.shape}; accepted: ({self.n}, d)")
        if not np.isfinite(feat).all():
            raise PoolError("features contains NaN or inf; accepted: finite values")
        return feat

    def _check_prior(self, prior: Sequence[float] | np.ndarray) -> np.ndarray:
        pr = _numbers("difficulty_prior", prior)
        if pr.shape != (self.n,):
            raise PoolError(f"difficulty_prior has shape {pr.shape}; accepted: ({self.n},)")
        if not (np.isfinite(pr).all() and (pr >= 0).all() and (pr <= 1).all()):
            raise PoolError("difficulty_prior has values outside [0, 1]; accepted: pass rates in [0, 1]")
        return pr

    @property
    def n_categories(self) -> int:
        """Number of categories ``C`` (max category + 1), or 0 when the pool has none."""
        return 0 if self.category is None else int(self.category.max()) + 1

    def require_categories(self, who: str) -> np.ndarray:
        """Return the category array, or raise PoolError saying that ``who`` needs one."""
        if self.category is None:
            raise PoolError(
                f"{who} needs prompt categories but the pool has none; "
                "accepted: PromptPool(n, category=int array of length n)"
            )
        return self.category

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        extras = [
            name
            for name, value in (
                ("category", self.category),
                ("features", self.features),
                ("difficulty_prior", self.difficulty_prior),
                ("names", self.names),
            )
            if value is not None
        ]
        return f"PromptPool(n={self.n}{''.join(', ' + e for e in extras)})"

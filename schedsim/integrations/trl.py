"""Any schedsim scheduler driving ``trl.GRPOTrainer``'s prompt selection and learning from its rewards.

TRL has no curriculum hook; its maintainers' pattern (trl#2801) is to subclass the trainer and override
``_get_train_sampler``. :class:`SchedSimGRPOTrainer` does that and more:

- the sampler keeps TRL's repeat structure (each selected prompt ``num_generations`` times in a row, each chunk
  ``num_iterations x steps_per_generation`` times) and asks the scheduler lazily, one chunk at a time, so
  TRL/accelerate reading a batch ahead only means the scheduler selects before the last rewards arrive (lag,
  which every schedsim scheduler tolerates);
- the rewards of *training* generation rounds only (never evaluation) reach ``scheduler.observe``: the trainer's
  ``_calculate_rewards`` is extended, so synchronous and ``async`` reward functions alike are seen once, gathered
  across processes, grouped exactly as TRL groups them for its advantages;
- the scheduler's loss weights (``scheduler.loss_weights(feedback)``, e.g. ``beta:mode=weight``) and its loss
  reduction (``uniform-mixed``) multiply each completion's advantage, so they reach the GRPO loss;
- scheduler state and the read-ahead chunks are saved in each checkpoint; ``train(resume_from_checkpoint=...)``
  lets the Trainer skip the epoch's trained batches (placeholders, never selected) and replays the read-ahead
  chunks, so a resumed run selects and trains exactly what an uninterrupted one would;
- scheduler metrics (``sched/...``) join the trainer's logs.

Usage::

    from schedsim.integrations.trl import SchedSimGRPOTrainer
    trainer = SchedSimGRPOTrainer(model=..., reward_funcs=[verifier], args=GRPOConfig(...),
                                  train_dataset=train_dataset, scheduler="beta", id_column="prompt_id")
    trainer.train()
"""

from __future__ import annotations

import inspect
import os
import pickle
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.registry import make_scheduler
from schedsim.core.scheduler import Scheduler
from schedsim.integrations import group_factors, refuse_replay

MIN_TRL = (0, 17)  # RepeatSampler and _get_train_sampler(dataset) as used here (trl PR #3334)
STATE_FILE = "schedsim_scheduler.pkl"

try:
    import trl
    from trl import GRPOTrainer
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("schedsim.integrations.trl needs TRL: pip install 'schedsim[trl]'") from exc

_HOOKS = ("_get_train_sampler", "_calculate_rewards", "_generate_and_score_completions")


def check_trl_version(version: str | None = None) -> None:
    """Raise SchedsimError on a TRL release this adapter does not support (instead of failing silently)."""
    text = version or trl.__version__
    accepted = f"trl >= {'.'.join(map(str, MIN_TRL))}"
    try:
        parts = tuple(int(p) for p in text.split(".")[:2])
    except ValueError:
        raise SchedsimError(f"cannot parse the TRL version {text!r}; accepted: {accepted}") from None
    missing = [name for name in _HOOKS if not hasattr(GRPOTrainer, name)]
    if parts < MIN_TRL or missing:
        raise SchedsimError(
            f"TRL {text} is not supported by schedsim.integrations.trl; accepted: {accepted} "
            f"(GRPOTrainer with {', '.join(_HOOKS)})"
        )


def pool_from_dataset(dataset: Any, *, category_column: str | None = None) -> PromptPool:
    """A PromptPool over the dataset's rows (pool id = row position), with categories from a column if given."""
    if category_column is None:
        return PromptPool(n=len(dataset))
    if category_column not in dataset.column_names:
        raise SchedsimError(f"dataset has no column {category_column!r}; accepted: one of {dataset.column_names}")
    values = list(dataset[category_column])
    codes = {v: i for i, v in enumerate(sorted(set(values), key=str))}
    return PromptPool(n=len(dataset), category=np.array([codes[v] for v in values]))


class SchedulerSampler(Sampler[int]):
    """Yields dataset positions chosen by the scheduler, with TRL's RepeatSampler structure.

    Chunks are numbered from the start of training (chunk ``c`` is trained on during micro-steps
    ``[c R, (c+1) R)`` with ``R = repeat_count``); an epoch is ``num_batches`` chunks. Chunks selected but not yet
    trained on (TRL/accelerate read one batch ahead) are kept in ``chunks`` so that a checkpoint can carry them.

    Args:
        scheduler: the schedsim scheduler (pool ids = dataset positions).
        mini_repeat_count: consecutive repeats of each position (``num_generations``).
        batch_size: distinct prompts per generation round.
        repeat_count: how many times each chunk is re-emitted (``num_iterations x steps_per_generation``).
        num_batches: chunks per pseudo-epoch (``len`` must match what ``iter`` yields).
    """

    def __init__(
        self, scheduler: Scheduler, *, mini_repeat_count: int, batch_size: int, repeat_count: int, num_batches: int
    ) -> None:
        self.scheduler = scheduler
        self.mini_repeat_count, self.batch_size = mini_repeat_count, batch_size
        self.repeat_count, self.num_batches = repeat_count, num_batches
        self.cursor = 0  # number of the next chunk to yield
        self.chunks: dict[int, np.ndarray] = {}
        self.skip_until = 0  # chunks before this one were trained before a resume

    def __iter__(self) -> Iterator[int]:
        end = (self.cursor // self.num_batches + 1) * self.num_batches
        while self.cursor < end:
            index = self.cursor
            if index < self.skip_until:  # trained before a resume: the trainer skips these batches unread
                ids = np.zeros(self.batch_size, dtype=np.int64)
            else:
                if index not in self.chunks:
                    self.chunks[index] = self.scheduler.select(self.batch_size)  # lazily: one chunk at a time
                ids = self.chunks[index]
            self.cursor += 1
            for _ in range(self.repeat_count):
                for i in ids:
                    for _ in range(self.mini_repeat_count):
                        yield int(i)

    def __len__(self) -> int:
        return self.num_batches * self.batch_size * self.mini_repeat_count * self.repeat_count

    def resume_state(self, trained: int) -> dict[str, Any]:
        """Where a resumed run continues: chunk ``trained`` next, replaying the chunks selected ahead of it."""
        self.chunks = {i: ids for i, ids in self.chunks.items() if i >= trained}
        return {"cursor": trained, "chunks": {i: ids.tolist() for i, ids in self.chunks.items()}}

    def load_resume_state(self, state: dict[str, Any]) -> None:
        """Resume at chunk ``state["cursor"]``: the epoch restarts with placeholders for its trained chunks (the
        Trainer skips those batches, then restores its RNG as in the uninterrupted run), then the saved read-ahead
        chunks, then fresh selections."""
        self.skip_until = int(state["cursor"])
        self.cursor = self.skip_until - self.skip_until % self.num_batches
        self.chunks = {int(i): np.asarray(ids, dtype=np.int64) for i, ids in state["chunks"].items()}


class FeedbackHub:
    """Turns the rewards of one training generation round into schedsim Feedback and per-row loss factors.

    Args:
        scheduler: the scheduler that observes the groups.
        positions: dataset id -> pool id (row position).
        group_size: ``num_generations`` (TRL groups ``group_size`` consecutive rows of a round).
        success_threshold: if set, a reward counts as a success (1) when ``>= success_threshold``, else 0.
        reward_range: if set, ``(lo, hi)``: rewards are rescaled to ``(r - lo) / (hi - lo)``.

    Without a mapping, rewards must lie in [0, 1] (the pass-rate scale every schedsim scheduler reads).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        positions: dict[Any, int],
        group_size: int,
        *,
        success_threshold: float | None = None,
        reward_range: tuple[float, float] | None = None,
    ) -> None:
        if success_threshold is not None and reward_range is not None:
            raise SchedsimError("give success_threshold or reward_range, not both; accepted: one mapping or none")
        if reward_range is not None:
            lo, hi = (float(v) for v in reward_range)
            if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
                raise SchedsimError(f"reward_range={reward_range!r}; accepted: (lo, hi) with finite lo < hi")
        self.scheduler, self.positions, self.group_size = scheduler, positions, group_size
        self.success_threshold, self.reward_range = success_threshold, reward_range
        self.observed_groups = 0

    def map_rewards(self, rewards: np.ndarray) -> np.ndarray:
        """Rewards on the scheduler's [0, 1] scale (NaN = no reward), or SchedsimError naming the fix."""
        r = np.asarray(rewards, dtype=np.float64)
        if self.success_threshold is not None:
            return np.where(np.isnan(r), np.nan, (r >= self.success_threshold).astype(np.float64))
        if self.reward_range is not None:
            lo, hi = self.reward_range
            r = (r - lo) / (hi - lo)
        finite = r[~np.isnan(r)]
        bad = finite[(finite < 0) | (finite > 1)]
        if bad.size:
            shown = float(bad[0]) if self.reward_range is None else float(bad[0]) * (hi - lo) + lo
            raise SchedsimError(
                f"reward {shown!r} is outside {'[0, 1]' if self.reward_range is None else list(self.reward_range)}; "
                "accepted: rewards in [0, 1], or SchedSimGRPOTrainer(success_threshold=T) to count reward >= T as "
                "a success, or reward_range=(lo, hi) to rescale"
            )
        return r

    def record(self, prompt_ids: Sequence[Any], rewards: np.ndarray) -> np.ndarray:
        """Observe one round (all processes' rows, in TRL's order); return each row's loss factor.

        The factor of a row is its group's ``scheduler.loss_weights(feedback)`` (computed before ``observe``, as
        schedsim's own loop does), times ``m / m_mixed`` when the scheduler asks for the ``mixed`` reduction
        (the loss then averages over the groups that carry signal, as in the simulator).
        """
        g = self.group_size
        if len(prompt_ids) != len(rewards) or len(rewards) % g:
            raise SchedsimError(
                f"a training round has {len(prompt_ids)} ids and {len(rewards)} rewards; accepted: equal counts, "
                f"a multiple of num_generations={g}"
            )
        unknown = [pid for pid in prompt_ids if pid not in self.positions]
        if unknown:
            raise SchedsimError(f"reward call for prompt id {unknown[0]!r} not in the train dataset's id column")
        rows = np.array([self.positions[pid] for pid in prompt_ids], dtype=np.int64).reshape(-1, g)
        if (rows != rows[:, :1]).any():
            raise SchedsimError("rows of one generation group carry different prompt ids; the batch is inconsistent")
        fb = Feedback(prompt_ids=rows[:, 0].copy(), rewards=self.map_rewards(rewards).reshape(-1, g))
        weights = group_factors(self.scheduler, fb)
        self.scheduler.observe(fb)
        self.observed_groups += fb.m
        return np.repeat(weights, g)


def _bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """GRPOTrainer's arguments by name, whether given by position or keyword."""
    try:
        return inspect.signature(GRPOTrainer.__init__).bind_partial(None, *args, **kwargs).arguments
    except TypeError as exc:
        raise SchedsimError(f"GRPOTrainer arguments do not bind: {exc}; accepted: GRPOTrainer's signature") from None


class SchedSimGRPOTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` whose prompts are chosen by a schedsim scheduler that learns from its rewards.

    Args:
        scheduler: a schedsim scheduler over a pool of ``len(train_dataset)`` prompts (pool id = row), or a spec
            string (``"beta"``, ``"paced:estimator=ema"``) built on :func:`pool_from_dataset` with ``args.seed``.
        id_column: dataset column with a unique id per row; TRL passes it to reward functions.
        reward_index: which of ``reward_funcs`` is the verifiable reward the scheduler learns from.
        category_column: with a spec string, the column giving categories (``sec``'s arms).
        success_threshold: map a reward to success (1) when ``>= success_threshold`` (e.g. 0.5 for ±1 rewards).
        reward_range: ``(lo, hi)``: rescale rewards linearly to [0, 1] (e.g. ``(-1, 1)``).
        *args, **kwargs: as for ``trl.GRPOTrainer`` (positional or keyword).

    Refused, each with a one-line :class:`SchedsimError`: an ``IterableDataset`` (TRL bypasses the sampler for it),
    a missing or repeated id column, a pool of the wrong size, ``save_steps`` that cut a generation round (a
    resumed run could not replay it), and ``resume_from_checkpoint`` with no schedsim state.
    """

    def __init__(
        self,
        *args: Any,
        scheduler: Scheduler | str,
        id_column: str = "prompt_id",
        reward_index: int = 0,
        category_column: str | None = None,
        success_threshold: float | None = None,
        reward_range: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        check_trl_version()
        bound = _bind(args, kwargs)
        dataset, config = bound.get("train_dataset"), bound.get("args")
        if isinstance(dataset, torch.utils.data.IterableDataset) or type(dataset).__name__ == "IterableDataset":
            raise SchedsimError(
                "train_dataset is an IterableDataset, for which TRL bypasses the sampler (the scheduler would never "
                "select); accepted: a map-style datasets.Dataset"
            )
        if dataset is None or id_column not in dataset.column_names:
            columns = None if dataset is None else dataset.column_names
            raise SchedsimError(f"train_dataset has no {id_column!r} column; accepted columns: {columns}")
        ids = list(dataset[id_column])
        positions = {pid: pos for pos, pid in enumerate(ids)}
        if len(positions) != len(ids):
            raise SchedsimError(f"column {id_column!r} has repeated ids; accepted: one unique id per row")
        if isinstance(scheduler, str):
            seed = getattr(config, "seed", 0) if config is not None else 0
            scheduler = make_scheduler(
                scheduler, pool=pool_from_dataset(dataset, category_column=category_column), seed=seed
            )
        if not isinstance(scheduler, Scheduler):
            raise SchedsimError(f"scheduler is {type(scheduler).__name__}; accepted: a Scheduler or a spec string")
        refuse_replay(scheduler, "TRL")
        if scheduler.pool.n != len(ids):
            raise SchedsimError(
                f"scheduler pool has {scheduler.pool.n} prompts; accepted: len(train_dataset) = {len(ids)}"
            )
        funcs = bound.get("reward_funcs")
        funcs = list(funcs) if isinstance(funcs, (list, tuple)) else [funcs]
        if not 0 <= reward_index < len(funcs):
            raise SchedsimError(f"reward_index={reward_index}; accepted: 0 .. {len(funcs) - 1}")
        self.scheduler = scheduler
        self._id_column = id_column
        self._reward_index = reward_index
        self._sampler: SchedulerSampler | None = None
        self._resume: dict[str, Any] | None = None
        self._row_factors: np.ndarray | None = None
        group = (getattr(config, "num_generations", None) if config is not None else None) or 8
        self.schedsim_hub = FeedbackHub(
            scheduler, positions, group, success_threshold=success_threshold, reward_range=reward_range
        )
        super().__init__(*args, **kwargs)
        self.schedsim_hub.group_size = self.num_generations
        self._check_save_steps()

    # -- geometry of a generation round ----------------------------------------------------------------------------
    @property
    def _round_micro_steps(self) -> int:
        """Micro-steps (dataloader batches) per generation round: ``num_iterations x steps_per_generation``."""
        return self.num_iterations * self.args.steps_per_generation

    def _check_save_steps(self) -> None:
        strategy = getattr(self.args.save_strategy, "value", self.args.save_strategy)
        steps = self.args.save_steps
        if strategy != "steps" or steps is None or steps < 1:
            return
        if (int(steps) * self.args.gradient_accumulation_steps) % self._round_micro_steps:
            per_round = self._round_micro_steps / self.args.gradient_accumulation_steps
            raise SchedsimError(
                f"save_steps={steps} cuts a generation round ({per_round:g} optimizer steps, num_iterations x "
                "steps_per_generation / gradient_accumulation_steps); accepted: a multiple of it, so that a resumed "
                "run selects exactly what an uninterrupted one would"
            )

    # -- selection ---------------------------------------------------------------------------------------------------
    def _get_train_sampler(self, dataset: Any = None) -> Sampler[int]:
        dataset = self.train_dataset if dataset is None else dataset
        batch = self.args.generation_batch_size // self.num_generations
        self._sampler = SchedulerSampler(
            self.scheduler,
            mini_repeat_count=self.num_generations,
            batch_size=batch,
            repeat_count=self._round_micro_steps,
            num_batches=max(1, len(dataset) // batch),
        )
        if self._resume is not None:
            self._sampler.load_resume_state(self._resume)
            self._resume = None
        return self._sampler

    # -- feedback (training rounds only) and loss weights ------------------------------------------------------------
    def _calculate_rewards(self, inputs: list[dict[str, Any]], *args: Any, **kwargs: Any) -> torch.Tensor:
        rewards_per_func = super()._calculate_rewards(inputs, *args, **kwargs)  # gathered over processes
        if self.model.training:  # evaluation rewards never reach the scheduler
            from accelerate.utils import gather_object

            ids = gather_object([row[self._id_column] for row in inputs])
            rewards = rewards_per_func[:, self._reward_index].double().cpu().numpy()
            self._row_factors = self.schedsim_hub.record(ids, rewards)
        return rewards_per_func

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        factors, self._row_factors = self._row_factors, None
        if self.model.training and factors is not None and not np.all(factors == 1.0):
            start = self.accelerator.process_index * len(inputs)
            adv = output["advantages"]
            f = torch.as_tensor(factors[start : start + len(inputs)], dtype=adv.dtype, device=adv.device)
            output["advantages"] = adv * (f if adv.dim() == 1 else f[:, None])
        return output

    # -- logs and checkpoints ----------------------------------------------------------------------------------------
    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        logs.update({k: float(v) for k, v in self.scheduler.metrics().items() if np.isfinite(v)})
        super().log(logs, *args, **kwargs)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        super()._save_checkpoint(model, trial)
        folder = os.path.join(self.args.output_dir, f"checkpoint-{self.state.global_step}")
        if os.path.isdir(folder) and self.is_world_process_zero():
            trained = self.state.global_step * self.args.gradient_accumulation_steps // self._round_micro_steps
            sampler = self._sampler.resume_state(trained) if self._sampler is not None else None
            state = {"scheduler": self.scheduler.state_dict(), "sampler": sampler, "step": self.state.global_step}
            with open(os.path.join(folder, STATE_FILE), "wb") as handle:
                pickle.dump(state, handle)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs: Any) -> Any:
        if resume_from_checkpoint:
            from transformers.trainer_utils import get_last_checkpoint

            folder: str | None = None
            if resume_from_checkpoint is True:
                out = self.args.output_dir
                folder = get_last_checkpoint(out) if os.path.isdir(out) else None
                if folder is None:
                    raise SchedsimError(
                        f"resume_from_checkpoint=True but {out!r} holds no checkpoint-N folder; accepted: a "
                        "checkpoint path, or train() without resume_from_checkpoint"
                    )
            else:
                folder = str(resume_from_checkpoint)
            path = os.path.join(folder, STATE_FILE)
            if not os.path.exists(path):
                raise SchedsimError(
                    f"checkpoint {folder!r} has no {STATE_FILE}; accepted: a checkpoint written by SchedSimGRPOTrainer"
                )
            with open(path, "rb") as handle:
                state = pickle.load(handle)
            self.scheduler.load_state_dict(state["scheduler"])
            self._resume = state["sampler"]
            self.args.ignore_data_skip = False  # the Trainer skips the placeholder batches and syncs its RNG
            resume_from_checkpoint = folder
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

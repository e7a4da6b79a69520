"""Any schedsim scheduler driving ``trl.GRPOTrainer``'s prompt selection and learning from its rewards.

TRL has no curriculum hook; its maintainers' pattern (trl#2801) is to subclass the trainer and override
``_get_train_sampler``. :class:`SchedSimGRPOTrainer` does that and more:

- the sampler keeps TRL's repeat structure (each selected prompt ``num_generations`` times in a row, each chunk
  ``num_iterations x steps_per_generation`` times) and asks the scheduler lazily, one chunk at a time, so
  TRL/accelerate reading a batch ahead only means the scheduler selects before the last rewards arrive (lag,
  which every schedsim scheduler tolerates);
- one reward function is wrapped to record rewards by prompt id (a dataset column), gathered across processes,
  and complete groups are fed to ``scheduler.observe``;
- scheduler state is saved in each checkpoint and restored on ``train(resume_from_checkpoint=...)``;
- scheduler metrics (``sched/...``) join the trainer's logs.

Usage::

    from schedsim.integrations.trl import SchedSimGRPOTrainer, pool_from_dataset
    pool = pool_from_dataset(train_dataset, category_column="level")      # optional categories for sec
    scheduler = schedsim.make_scheduler("beta", pool=pool, seed=0)
    trainer = SchedSimGRPOTrainer(model=..., reward_funcs=[verifier], args=GRPOConfig(...),
                                  train_dataset=train_dataset, scheduler=scheduler, id_column="prompt_id")
    trainer.train()
"""

from __future__ import annotations

import os
import pickle
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.pool import PromptPool
from schedsim.core.scheduler import Scheduler

MIN_TRL = (0, 17)  # RepeatSampler and _get_train_sampler(dataset) as used here (trl PR #3334)
STATE_FILE = "schedsim_scheduler.pkl"

try:
    import trl
    from trl import GRPOTrainer
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("schedsim.integrations.trl needs TRL: pip install 'schedsim[trl]'") from exc


def check_trl_version(version: str | None = None) -> None:
    """Raise SchedsimError on a TRL release this adapter does not support (instead of failing silently)."""
    text = version or trl.__version__
    try:
        parts = tuple(int(p) for p in text.split(".")[:2])
    except ValueError:
        raise SchedsimError(
            f"cannot parse the TRL version {text!r}; accepted: trl >= {'.'.join(map(str, MIN_TRL))}"
        ) from None
    if parts < MIN_TRL or not hasattr(GRPOTrainer, "_get_train_sampler"):
        raise SchedsimError(
            f"TRL {text} is not supported by schedsim.integrations.trl; accepted: trl >= {'.'.join(map(str, MIN_TRL))} "
            "(GRPOTrainer._get_train_sampler with RepeatSampler semantics)"
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

    def __iter__(self) -> Iterator[int]:
        for _ in range(self.num_batches):
            ids = self.scheduler.select(self.batch_size)  # lazily: one chunk at a time
            for _ in range(self.repeat_count):
                for i in ids:
                    for _ in range(self.mini_repeat_count):
                        yield int(i)

    def __len__(self) -> int:
        return self.num_batches * self.batch_size * self.mini_repeat_count * self.repeat_count


class FeedbackHub:
    """Collects (prompt id, reward) pairs from reward calls and feeds complete groups of ``group_size`` rewards."""

    def __init__(self, scheduler: Scheduler, positions: dict[Any, int], group_size: int) -> None:
        self.scheduler, self.positions, self.group_size = scheduler, positions, group_size
        self.pending: dict[int, list[float]] = defaultdict(list)
        self.observed_groups = 0

    def record(self, prompt_ids: Sequence[Any], rewards: Sequence[float | None]) -> None:
        pairs = list(zip(prompt_ids, rewards, strict=True))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, pairs)
            pairs = [p for part in gathered for p in part]
        for pid, reward in pairs:
            if pid not in self.positions:
                raise SchedsimError(f"reward call for prompt id {pid!r} not in the dataset's id column")
            self.pending[self.positions[pid]].append(np.nan if reward is None else float(reward))
        ready = [pos for pos, rs in self.pending.items() if len(rs) >= self.group_size]
        if not ready:
            return
        rows = [self.pending[pos][: self.group_size] for pos in ready]
        for pos in ready:
            rest = self.pending[pos][self.group_size :]
            if rest:
                self.pending[pos] = rest
            else:
                del self.pending[pos]
        self.scheduler.observe(Feedback(prompt_ids=np.array(ready, dtype=np.int64), rewards=np.array(rows)))
        self.observed_groups += len(ready)


def scheduled_reward(
    reward_fn: Callable[..., list[float]], hub: FeedbackHub, id_column: str
) -> Callable[..., list[float]]:
    """Wrap a TRL reward function so that its rewards also reach the scheduler, keyed by ``id_column``."""

    def wrapped(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        if id_column not in kwargs:
            raise SchedsimError(
                f"the reward call carries no {id_column!r} column; accepted: a dataset column {id_column!r}"
            )
        rewards = reward_fn(prompts=prompts, completions=completions, **kwargs)
        hub.record(kwargs[id_column], rewards)
        return rewards

    wrapped.__name__ = getattr(reward_fn, "__name__", "reward")
    return wrapped


class SchedSimGRPOTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` whose prompts are chosen by a schedsim scheduler that learns from its rewards.

    Args:
        scheduler: a schedsim scheduler over a pool of ``len(train_dataset)`` prompts (pool id = row).
        id_column: dataset column with a unique id per row; TRL passes it to reward functions.
        reward_index: which of ``reward_funcs`` is the verifiable reward the scheduler learns from.
        *args, **kwargs: as for ``trl.GRPOTrainer`` (``reward_funcs`` must be callables, not model names).
    """

    def __init__(
        self, *args: Any, scheduler: Scheduler, id_column: str = "prompt_id", reward_index: int = 0, **kwargs: Any
    ) -> None:
        check_trl_version()
        dataset = kwargs.get("train_dataset")
        if dataset is None or id_column not in dataset.column_names:
            columns = None if dataset is None else dataset.column_names
            raise SchedsimError(f"train_dataset has no {id_column!r} column; accepted columns: {columns}")
        ids = list(dataset[id_column])
        positions = {pid: pos for pos, pid in enumerate(ids)}
        if len(positions) != len(ids):
            raise SchedsimError(f"column {id_column!r} has repeated ids; accepted: one unique id per row")
        if scheduler.pool.n != len(ids):
            raise SchedsimError(
                f"scheduler pool has {scheduler.pool.n} prompts; accepted: len(train_dataset) = {len(ids)}"
            )
        funcs = kwargs.get("reward_funcs")
        funcs = list(funcs) if isinstance(funcs, (list, tuple)) else [funcs]
        if not callable(funcs[reward_index]) or isinstance(funcs[reward_index], str):
            raise SchedsimError("reward_funcs[reward_index] must be a Python callable (the verifiable reward)")
        self.scheduler = scheduler
        self._id_column = id_column
        group = (kwargs.get("args").num_generations if kwargs.get("args") is not None else 8) or 8
        self.schedsim_hub = FeedbackHub(scheduler, positions, group)
        funcs[reward_index] = scheduled_reward(funcs[reward_index], self.schedsim_hub, id_column)
        kwargs["reward_funcs"] = funcs
        super().__init__(*args, **kwargs)
        self.schedsim_hub.group_size = self.num_generations

    def _get_train_sampler(self, dataset: Any = None) -> Sampler[int]:
        dataset = self.train_dataset if dataset is None else dataset
        batch = self.args.generation_batch_size // self.num_generations
        return SchedulerSampler(
            self.scheduler,
            mini_repeat_count=self.num_generations,
            batch_size=batch,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            num_batches=max(1, len(dataset) // batch),
        )

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        logs.update({k: v for k, v in self.scheduler.metrics().items() if np.isfinite(v) and "/q/" not in k})
        super().log(logs, *args, **kwargs)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        super()._save_checkpoint(model, trial)
        folder = os.path.join(self.args.output_dir, f"checkpoint-{self.state.global_step}")
        if os.path.isdir(folder) and self.is_world_process_zero():
            with open(os.path.join(folder, STATE_FILE), "wb") as handle:
                pickle.dump(self.scheduler.state_dict(), handle)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs: Any) -> Any:
        if resume_from_checkpoint:
            from transformers.trainer_utils import get_last_checkpoint

            folder = (
                get_last_checkpoint(self.args.output_dir) if resume_from_checkpoint is True else resume_from_checkpoint
            )
            path = os.path.join(str(folder), STATE_FILE)
            if not os.path.exists(path):
                raise SchedsimError(
                    f"checkpoint {folder!r} has no {STATE_FILE}; it was not written by SchedSimGRPOTrainer"
                )
            with open(path, "rb") as handle:
                self.scheduler.load_state_dict(pickle.load(handle))
            self.args.ignore_data_skip = True  # the scheduler state is the data position: do not replay batches
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

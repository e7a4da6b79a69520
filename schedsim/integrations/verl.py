"""A schedsim scheduler inside verl's PPO/GRPO trainer (verl 0.9.x).

What verl 0.9 offers (read from verl 0.9.1, the release this adapter targets; see docs/integrations.md for
the older ``data.sampler.class_path`` / ``AbstractCurriculumSampler.update`` API, which 0.9 no longer has):

- ``RayPPOTrainer(..., train_sampler=...)`` accepts any ``torch.utils.data.Sampler``; the dataloader pulls it
  lazily (``data.dataloader_num_workers`` must be 0 so the scheduler lives in the trainer process);
- after each step, ``RayPPOTrainer.fit`` calls ``train_dataset.on_batch_end(batch)`` with the step's
  ``DataProto`` (a dataset class is set with ``data.custom_cls.path`` / ``data.custom_cls.name``).

So: :class:`SchedSimSampler` yields the scheduler's choices, and :class:`SchedSimRLHFDataset` writes each row's
true position into ``extra_info`` (top-level ``index`` does not survive the agent-loop rollout) and feeds every
step's rewards back through ``on_batch_end``, grouping rows by ``uid`` (``balance_batch`` reorders rows).
Trainers that never call ``on_batch_end`` (the DAPO recipe and fully-async trainers in the reference snapshot)
leave the scheduler blind: :meth:`SchedSimRLHFDataset.check_fed` raises when steps pass without feedback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.scheduler import Scheduler

try:
    from verl import DataProto
    from verl.utils.dataset.rl_dataset import RLHFDataset
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("schedsim.integrations.verl needs verl: pip install 'schedsim[verl]'") from exc

ID_KEY = "schedsim_id"


def feedback_from_batch(batch: DataProto, *, reward_key: str | None = None, id_key: str = ID_KEY) -> Feedback:
    """Translate a verl step's ``DataProto`` into one schedsim Feedback row per prompt group.

    Rows are grouped by ``non_tensor_batch["uid"]``; the prompt id is ``extra_info[id_key]``; the reward of a row
    is ``non_tensor_batch[reward_key]`` when given (e.g. ``"acc"``), else ``token_level_scores.sum(-1)``; the
    advantage of a row, when present, is the ``response_mask``-weighted mean of ``advantages``. Ragged groups
    are NaN-padded. Raises SchedsimError when the id or the reward is missing (never a silent no-op).
    """
    nt = batch.non_tensor_batch
    if "uid" not in nt or "extra_info" not in nt:
        raise SchedsimError(f"DataProto lacks 'uid' or 'extra_info' (has {sorted(nt)}); accepted: verl's PPO batch")
    ids = np.array([(info or {}).get(id_key, -1) if isinstance(info, dict) else -1 for info in nt["extra_info"]])
    if (ids < 0).any():
        raise SchedsimError(
            f"extra_info of some rows lacks {id_key!r}; accepted: rows from SchedSimRLHFDataset "
            "(data.custom_cls) which writes the row position there"
        )
    if reward_key is not None:
        if reward_key not in nt:
            raise SchedsimError(f"reward key {reward_key!r} not in the batch; accepted: one of {sorted(nt)}")
        rewards = np.asarray(nt[reward_key], dtype=np.float64)
    elif batch.batch is not None and "token_level_scores" in batch.batch.keys():
        rewards = batch.batch["token_level_scores"].sum(-1).double().cpu().numpy()
    else:
        raise SchedsimError("the batch has no token_level_scores; accepted: pass reward_key naming a reward column")
    adv = None
    if batch.batch is not None and {"advantages", "response_mask"} <= set(batch.batch.keys()):
        mask = batch.batch["response_mask"].double()
        adv = ((batch.batch["advantages"].double() * mask).sum(-1) / mask.sum(-1).clamp(min=1)).cpu().numpy()
    uids, inverse = np.unique(np.asarray(nt["uid"]).astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse)
    width = int(counts.max())
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)  # position inside its group
    grid = np.full((len(uids), width), np.nan)
    grid[inverse[order], slot] = rewards[order]
    adv_grid = None
    if adv is not None:
        adv_grid = np.full((len(uids), width), np.nan)
        adv_grid[inverse[order], slot] = adv[order]
    group_ids = np.zeros(len(uids), dtype=np.int64)
    group_ids[inverse] = ids
    if not (group_ids[inverse] == ids).all():
        raise SchedsimError("rows sharing a uid carry different prompt ids; the batch is inconsistent")
    return Feedback(prompt_ids=group_ids, rewards=grid, advantages=adv_grid)


class SchedSimSampler(Sampler[int]):
    """Yields dataset positions chosen by a schedsim scheduler, ``batch_size`` at a time, lazily.

    ``len`` is a pseudo-epoch of ``num_batches * batch_size`` (verl derives its step count from it). State for
    verl's checkpoints (``StatefulDataLoader`` calls these) is the scheduler's own ``state_dict``.
    """

    def __init__(self, scheduler: Scheduler, *, batch_size: int, num_batches: int | None = None) -> None:
        self.scheduler, self.batch_size = scheduler, batch_size
        self.num_batches = num_batches or max(1, scheduler.pool.n // batch_size)

    def __iter__(self) -> Iterator[int]:
        for _ in range(self.num_batches):
            yield from (int(i) for i in self.scheduler.select(self.batch_size))

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


class SchedSimRLHFDataset(RLHFDataset):
    """verl's RLHFDataset that tags each row with its position and feeds step rewards to the scheduler.

    Attach the scheduler with :meth:`attach` (the same object the sampler uses). ``reward_key`` selects a
    per-row reward column (default: the sum of ``token_level_scores``).
    """

    scheduler: Scheduler | None = None
    reward_key: str | None = None

    def attach(self, scheduler: Scheduler, *, reward_key: str | None = None) -> SchedSimRLHFDataset:
        if scheduler.pool.n != len(self):
            raise SchedsimError(f"scheduler pool has {scheduler.pool.n} prompts; accepted: len(dataset) = {len(self)}")
        self.scheduler, self.reward_key = scheduler, reward_key
        self.fed_steps = 0
        return self

    def __getitem__(self, item: int) -> dict[str, Any]:
        row = super().__getitem__(item)
        row["extra_info"] = {**(row.get("extra_info") or {}), ID_KEY: int(item)}
        return row

    def on_batch_end(self, batch: DataProto) -> None:
        """Called by ``RayPPOTrainer.fit`` after each step: the scheduler learns from every group of the batch."""
        if self.scheduler is None:
            raise SchedsimError("SchedSimRLHFDataset has no scheduler; call dataset.attach(scheduler) first")
        self.scheduler.observe(feedback_from_batch(batch, reward_key=self.reward_key))
        self.fed_steps += 1

    def check_fed(self, steps: int) -> None:
        """Raise if ``steps`` training steps passed but feedback arrived fewer times (a trainer that skips the hook)."""
        if getattr(self, "fed_steps", 0) < steps:
            raise SchedsimError(
                f"the scheduler received feedback {getattr(self, 'fed_steps', 0)} times in {steps} steps; this trainer "
                "does not call train_dataset.on_batch_end (e.g. the DAPO recipe or a fully-async trainer)"
            )


def dataloader_guard(num_workers: int) -> None:
    """Raise unless ``data.dataloader_num_workers == 0`` (workers would copy the scheduler into other processes)."""
    if num_workers != 0:
        raise SchedsimError(f"data.dataloader_num_workers={num_workers}; accepted: 0 with a schedsim sampler")

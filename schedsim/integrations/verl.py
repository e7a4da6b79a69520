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

import os
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from schedsim.core.errors import SchedsimError
from schedsim.core.feedback import Feedback
from schedsim.core.scheduler import Scheduler
from schedsim.integrations import group_factors, refuse_replay

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

    ``len`` is a pseudo-epoch of ``num_batches * batch_size`` (verl derives its step count from it). Its state for
    verl's checkpoints (``StatefulDataLoader`` calls these) is the scheduler's ``state_dict`` plus the number of
    batches already yielded in the current epoch, so a resumed epoch yields only its remaining batches.
    """

    def __init__(self, scheduler: Scheduler, *, batch_size: int, num_batches: int | None = None) -> None:
        refuse_replay(scheduler, "verl")
        self.scheduler, self.batch_size = scheduler, batch_size
        self.num_batches = num_batches or max(1, scheduler.pool.n // batch_size)
        self.position = 0  # batches yielded in the current epoch

    def __iter__(self) -> Iterator[int]:
        while self.position < self.num_batches:
            ids = self.scheduler.select(self.batch_size)
            self.position += 1
            yield from (int(i) for i in ids)
        self.position = 0

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])
        self.position = int(state["position"]) % self.num_batches


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
        """Called by ``RayPPOTrainer.fit`` after each step: the scheduler learns from every group of the batch.

        Under :class:`SchedSimRayPPOTrainer` the batch was already fed before the actor update (so before the
        checkpoint and on the last step too); it is then not fed twice.
        """
        if self.scheduler is None:
            raise SchedsimError("SchedSimRLHFDataset has no scheduler; call dataset.attach(scheduler) first")
        if getattr(self, "fed_uids", None) is not None and self.fed_uids == _uids(batch):
            return
        self.feed(batch)

    def feed(self, batch: DataProto) -> Feedback:
        """Observe one step's batch; returns the Feedback (one row per prompt group)."""
        if self.scheduler is None:
            raise SchedsimError("SchedSimRLHFDataset has no scheduler; call dataset.attach(scheduler) first")
        fb = feedback_from_batch(batch, reward_key=self.reward_key)
        self.scheduler.observe(fb)
        self.fed_steps = getattr(self, "fed_steps", 0) + 1
        self.fed_uids = _uids(batch)
        return fb

    def check_fed(self, steps: int) -> None:
        """Raise if ``steps`` training steps passed but feedback arrived fewer times (a trainer that skips the hook)."""
        if getattr(self, "fed_steps", 0) < steps:
            raise SchedsimError(
                f"the scheduler received feedback {getattr(self, 'fed_steps', 0)} times in {steps} steps; this trainer "
                "does not call train_dataset.on_batch_end (e.g. the DAPO recipe or a fully-async trainer)"
            )


def _uids(batch: DataProto) -> frozenset[str]:
    return frozenset(np.asarray(batch.non_tensor_batch.get("uid", []), dtype=object).astype(str).tolist())


def dataloader_guard(num_workers: int) -> None:
    """Raise unless ``data.dataloader_num_workers == 0`` (workers would copy the scheduler into other processes)."""
    if num_workers != 0:
        raise SchedsimError(f"data.dataloader_num_workers={num_workers}; accepted: 0 with a schedsim sampler")


def check_verl_config(config: Any) -> None:
    """Raise SchedsimError, naming the fix, for a verl config under which the scheduler would be ignored or blind.

    - ``trainer.use_v1=True`` (verl 0.9's default) sends ``main_ppo`` to the v1 trainer, which builds its own
      prompt sampler (``create_rl_sampler``: random or sequential) and never calls ``on_batch_end``; its only
      extension point (``trainer.v1.sampler.custom_sampler``) replaces the *trajectory* replay buffer, not the
      choice of prompts. schedsim supports the legacy ``RayPPOTrainer`` (``trainer.use_v1=False``).
    - ``data.dataloader_num_workers`` must be 0 (worker processes would hold copies of the scheduler).
    """
    trainer = config.get("trainer", {}) if hasattr(config, "get") else {}
    if bool(trainer.get("use_v1", False)):
        raise SchedsimError(
            "trainer.use_v1=True: verl's v1 trainer builds its own prompt sampler and never calls on_batch_end, so "
            "the scheduler would be ignored; accepted: trainer.use_v1=False with SchedSimRayPPOTrainer"
        )
    data = config.get("data", {}) if hasattr(config, "get") else {}
    dataloader_guard(int(data.get("dataloader_num_workers", 0) or 0))


def row_factors(scheduler: Scheduler, batch: DataProto, feedback: Feedback) -> np.ndarray:
    """Per-row advantage factor: the row's group weight ``scheduler.loss_weights(feedback)``, times ``m / m_mixed``
    when the scheduler asks for the ``mixed`` reduction (the loss then averages over the groups with signal)."""
    weights = group_factors(scheduler, feedback)
    _, inverse = np.unique(np.asarray(batch.non_tensor_batch["uid"]).astype(str), return_inverse=True)
    return weights[inverse]  # feedback rows are the sorted uids, as feedback_from_batch builds them


try:
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
except ImportError as exc:  # pragma: no cover - the [verl] extra declares what this import needs
    raise ImportError(
        f"schedsim.integrations.verl needs verl's PPO trainer ({exc}); install it with pip install 'schedsim[verl]'"
    ) from exc

SCHEDSIM_STATE = "schedsim_scheduler.pkl"


class SchedSimRayPPOTrainer(RayPPOTrainer):
    """verl's ``RayPPOTrainer`` with a schedsim scheduler choosing prompts and learning from every step, exactly.

    Compared with the plain trainer plus :class:`SchedSimRLHFDataset`'s ``on_batch_end`` hook, this subclass:

    - feeds the step's batch to the scheduler *before* the actor update (``_update_actor``), so the checkpoint of
      that step already holds the feedback and the last step is fed too (``fit`` returns before
      ``on_batch_end`` on the last step);
    - multiplies each row's ``advantages`` by its group's loss weight (``scheduler.loss_weights``, e.g.
      ``beta:mode=weight``) and by ``m / m_mixed`` for the ``mixed`` reduction (``uniform-mixed``);
    - saves the scheduler state and the sampler's position in each ``global_step_N`` folder and restores both on
      resume (verl skips its dataloader state at epoch boundaries; the scheduler must not restart there);
    - adds the scheduler's ``sched/...`` metrics to the actor's metrics, which verl logs;
    - refuses a config the scheduler cannot work under (:func:`check_verl_config`).

    Construct it as ``RayPPOTrainer`` with ``train_dataset`` a :class:`SchedSimRLHFDataset` (attached to the
    scheduler) and ``train_sampler=SchedSimSampler(scheduler, ...)``. During critic warm-up
    (``trainer.critic_warmup``) the actor is not updated: those steps are fed by ``on_batch_end`` after the
    checkpoint, as in the plain trainer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        config = kwargs.get("config", args[0] if args else None)
        if config is not None:
            check_verl_config(config)
        super().__init__(*args, **kwargs)
        self._check_wiring()

    def _check_wiring(self) -> None:
        if not isinstance(self.train_dataset, SchedSimRLHFDataset) or self.train_dataset.scheduler is None:
            raise SchedsimError(
                "train_dataset is not an attached SchedSimRLHFDataset; accepted: "
                "SchedSimRLHFDataset(...).attach(scheduler)"
            )
        sampler = getattr(self.train_dataloader, "sampler", None)
        if not isinstance(sampler, SchedSimSampler) or sampler.scheduler is not self.train_dataset.scheduler:
            raise SchedsimError(
                "the train sampler is not a SchedSimSampler over the dataset's scheduler; accepted: "
                "train_sampler=SchedSimSampler(scheduler, batch_size=data.train_batch_size)"
            )

    @property
    def schedsim_sampler(self) -> SchedSimSampler:
        return self.train_dataloader.sampler

    def _update_actor(self, batch: DataProto) -> DataProto:
        scheduler = self.train_dataset.scheduler
        factors = row_factors(scheduler, batch, feedback_from_batch(batch, reward_key=self.train_dataset.reward_key))
        self.train_dataset.feed(batch)  # after the weights, as schedsim's own loop does
        if not np.all(factors == 1.0) and "advantages" in batch.batch.keys():
            adv = batch.batch["advantages"]
            f = torch.as_tensor(factors, dtype=adv.dtype, device=adv.device)
            batch.batch["advantages"] = adv * f.view(-1, *([1] * (adv.dim() - 1)))
        output = super()._update_actor(batch)
        metrics = output.meta_info.setdefault("metrics", {})
        metrics.update({k: float(v) for k, v in scheduler.metrics().items() if np.isfinite(v)})
        return output

    def _save_checkpoint(self) -> None:
        super()._save_checkpoint()
        folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        os.makedirs(folder, exist_ok=True)
        state = {"scheduler": self.train_dataset.scheduler.state_dict(), "sampler": self.schedsim_sampler.state_dict()}
        with open(os.path.join(folder, SCHEDSIM_STATE), "wb") as handle:
            pickle.dump(state, handle)

    def _load_checkpoint(self) -> Any:
        result = super()._load_checkpoint()
        if not self.global_steps:
            return result  # training from scratch
        trainer = self.config.trainer
        if trainer.resume_mode == "resume_path":
            folder = str(trainer.resume_from_path)
            folder = folder if os.path.isabs(folder) else os.path.join(os.getcwd(), folder)
        else:
            root = str(trainer.default_local_dir)
            root = root if os.path.isabs(root) else os.path.join(os.getcwd(), root)
            folder = os.path.join(root, f"global_step_{self.global_steps}")
        path = os.path.join(folder, SCHEDSIM_STATE)
        if not os.path.exists(path):
            raise SchedsimError(
                f"checkpoint {folder!r} has no {SCHEDSIM_STATE}; accepted: a checkpoint written by SchedSimRayPPOTrainer"
            )
        with open(path, "rb") as handle:
            state = pickle.load(handle)
        self.schedsim_sampler.load_state_dict(state["sampler"])
        self.train_dataset.scheduler.load_state_dict(state["scheduler"])
        self.train_dataset.fed_steps = self.global_steps
        return result

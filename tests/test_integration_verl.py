"""The verl adapter against verl's real DataProto and RLHFDataset classes (verl 0.9, CPU)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("verl")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import pandas as pd  # noqa: E402
from conftest import tiny_tokenizer  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from verl import DataProto  # noqa: E402

import schedsim  # noqa: E402
from schedsim.integrations.verl import (  # noqa: E402
    ID_KEY,
    SchedSimRLHFDataset,
    SchedSimSampler,
    dataloader_guard,
    feedback_from_batch,
)


@pytest.fixture
def dataset(tmp_path):
    rows = [
        {
            "data_source": "toy",
            "prompt": [{"role": "user", "content": f"{i}+{i}=?"}],
            "reward_model": {"ground_truth": str(2 * i)},
            "extra_info": {"index": 0, "split": "train"},
        }
        for i in range(10)
    ]
    path = tmp_path / "train.parquet"
    pd.DataFrame(rows).to_parquet(path)
    config = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 64,
            "filter_overlong_prompts": False,
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    return SchedSimRLHFDataset(str(path), tiny_tokenizer("abcdefghijklmnopqrstuvwxyz0123456789 ?+="), config)


def batch(ids_per_row, uids, scores, *, with_adv=True, shuffle_seed=0):
    """A DataProto shaped like verl's post-step batch; rows shuffled as balance_batch would."""
    n, t = len(ids_per_row), 3
    perm = np.random.default_rng(shuffle_seed).permutation(n)
    token_scores = torch.zeros(n, t)
    token_scores[:, -1] = torch.tensor(scores, dtype=torch.float32)
    tensors = {"token_level_scores": token_scores[perm], "response_mask": torch.ones(n, t)}
    if with_adv:
        tensors["advantages"] = (token_scores.sum(-1, keepdim=True) - 0.5).repeat(1, t)[perm]
    extra = np.array([{"index": 0, ID_KEY: int(i)} for i in ids_per_row], dtype=object)[perm]
    return DataProto.from_dict(
        tensors=tensors, non_tensors={"uid": np.array(uids, dtype=object)[perm], "extra_info": extra}
    )


def test_dataset_rows_carry_their_position(dataset) -> None:
    assert len(dataset) == 10
    assert dataset[7]["extra_info"][ID_KEY] == 7 and dataset[7]["extra_info"]["split"] == "train"


def test_feedback_groups_by_uid_whatever_the_row_order() -> None:
    ids = [3, 3, 3, 8, 8, 8, 1, 1]  # a ragged group of 2 for prompt 1
    uids = ["a", "a", "a", "b", "b", "b", "c", "c"]
    scores = [1, 0, 1, 0, 0, 0, 1, 1]
    fb = feedback_from_batch(batch(ids, uids, scores))
    by_id = {int(i): row for i, row in zip(fb.prompt_ids, fb.rewards, strict=True)}
    assert sorted(by_id) == [1, 3, 8]
    assert sorted(by_id[3].tolist()) == [0, 1, 1] and by_id[8].tolist() == [0, 0, 0]
    assert by_id[1][:2].tolist() == [1, 1] and np.isnan(by_id[1][2])
    assert np.nanmax(np.abs(fb.advantages)) == pytest.approx(0.5)


def test_missing_ids_are_loud() -> None:
    b = batch([0, 0], ["a", "a"], [1, 0])
    b.non_tensor_batch["extra_info"] = np.array([{"index": 0}, {"index": 0}], dtype=object)
    with pytest.raises(schedsim.SchedsimError, match="extra_info of some rows lacks 'schedsim_id'"):
        feedback_from_batch(b)
    with pytest.raises(schedsim.SchedsimError, match="reward key 'acc' not in the batch"):
        feedback_from_batch(batch([0, 0], ["a", "a"], [1, 0]), reward_key="acc")


def test_sampler_and_on_batch_end_close_the_loop(dataset) -> None:
    scheduler = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=10), seed=0)
    dataset.attach(scheduler)
    sampler = SchedSimSampler(scheduler, batch_size=4)
    assert len(sampler) == 8
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=4, sampler=sampler, num_workers=0, collate_fn=lambda rows: rows
    )
    for step, rows in enumerate(loader):
        ids = [r["extra_info"][ID_KEY] for r in rows]
        group_ids = [i for i in ids for _ in range(4)]
        uids = [f"{step}-{i}" for i in ids for _ in range(4)]
        scores = [1.0 if i < 5 else float(j % 2) for i in ids for j in range(4)]  # prompts 0-4 always solved
        dataset.on_batch_end(batch(group_ids, uids, scores, shuffle_seed=step))
    dataset.check_fed(2)
    d = scheduler.distribution()
    seen = scheduler.estimator.seen()
    solved, mixed = [i for i in range(5) if seen[i]], [i for i in range(5, 10) if seen[i]]
    assert solved and mixed and d[solved].max() < d[mixed].min()
    state = sampler.state_dict()
    other = SchedSimSampler(schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=10), seed=5), batch_size=4)
    other.load_state_dict(state)
    assert list(other)[:4] == list(sampler)[:4]


def test_guards(dataset) -> None:
    with pytest.raises(schedsim.SchedsimError, match="dataloader_num_workers=8; accepted: 0"):
        dataloader_guard(8)
    with pytest.raises(schedsim.SchedsimError, match="has no scheduler"):
        dataset.on_batch_end(batch([0], ["a"], [1.0]))
    dataset.attach(schedsim.make_scheduler("uniform", pool=schedsim.PromptPool(n=10), seed=0))
    with pytest.raises(schedsim.SchedsimError, match=r"does not call train_dataset\.on_batch_end"):
        dataset.check_fed(3)


# -- SchedSimRayPPOTrainer driven through the steps RayPPOTrainer.fit runs, in its order ------------------------------

from torchdata.stateful_dataloader import StatefulDataLoader  # noqa: E402
from verl.trainer.ppo.core_algos import AdvantageEstimator  # noqa: E402
from verl.trainer.ppo.ray_trainer import RayPPOTrainer, compute_advantage  # noqa: E402
from verl.utils.dataset.rl_dataset import collate_fn  # noqa: E402

from schedsim.integrations.verl import SchedSimRayPPOTrainer, check_verl_config  # noqa: E402

ROLLOUT_N = 4


class WorkerGroup:
    """Stands in for the actor's Ray worker group: checkpoints are the trainer's business here."""

    def save_checkpoint(self, local_path, remote_path, global_step, max_ckpt_to_keep=None):
        os.makedirs(local_path, exist_ok=True)

    def load_checkpoint(self, path, del_local_after_load=False):
        assert os.path.isdir(path)


def make_ppo_trainer(dataset, scheduler, ckpt_dir, *, resume_mode="disable", resume_from_path=None):
    """A SchedSimRayPPOTrainer with verl's real dataloader, checkpoint and advantage code (no Ray workers)."""
    dataset.attach(scheduler)
    trainer = object.__new__(SchedSimRayPPOTrainer)
    trainer.config = OmegaConf.create(
        {
            "trainer": {
                "default_local_dir": str(ckpt_dir),
                "default_hdfs_dir": None,
                "resume_mode": resume_mode,
                "resume_from_path": resume_from_path,
                "del_local_ckpt_after_load": False,
                "total_epochs": 3,
            },
            "actor_rollout_ref": {"actor": {"checkpoint": {}}},
        }
    )
    trainer.train_dataset, trainer.use_critic, trainer.global_steps = dataset, False, 0
    trainer.actor_rollout_wg = WorkerGroup()
    trainer.train_dataloader = StatefulDataLoader(
        dataset, batch_size=2, sampler=SchedSimSampler(scheduler, batch_size=2), num_workers=0, drop_last=True,
        collate_fn=collate_fn,
    )  # fmt: skip
    trainer._check_wiring()
    return trainer


def rollout(batch_dict, step):
    """What fit builds before the actor update: rows repeated n times, deterministic rewards, GRPO advantages."""
    batch = DataProto.from_single_dict(batch_dict)
    ids = [info[ID_KEY] for info in batch.non_tensor_batch["extra_info"]]
    batch.non_tensor_batch["uid"] = np.array([f"{step}-{k}" for k in range(len(ids))], dtype=object)
    batch = batch.repeat(repeat_times=ROLLOUT_N, interleave=True)
    rows = [(i, j) for i in ids for j in range(ROLLOUT_N)]
    reward = [float(np.random.default_rng([step, i, j]).random() < i / 10) for i, j in rows]  # p = id / 10
    scores = torch.zeros(len(rows), 3)
    scores[:, -1] = torch.tensor(reward)
    batch.batch["token_level_scores"] = scores
    batch.batch["token_level_rewards"] = scores.clone()
    batch.batch["response_mask"] = torch.ones(len(rows), 3)
    return compute_advantage(batch, adv_estimator=AdvantageEstimator.GRPO, num_repeat=ROLLOUT_N), ids


def fit(trainer, total_steps, save_freq, log):
    """RayPPOTrainer.fit's order: load, then per step update actor -> save -> step += 1 -> (not last) on_batch_end."""
    trainer._load_checkpoint()
    current_epoch = trainer.global_steps // len(trainer.train_dataloader)
    trainer.global_steps += 1
    for _ in range(current_epoch, 3):
        for batch_dict in trainer.train_dataloader:
            batch, ids = rollout(batch_dict, trainer.global_steps)
            log.append((trainer.global_steps, ids))
            trainer._update_actor(batch)
            last = trainer.global_steps >= total_steps
            if last or trainer.global_steps % save_freq == 0:
                trainer._save_checkpoint()
            trainer.global_steps += 1
            if last:
                return
            trainer.train_dataset.on_batch_end(batch)


@pytest.fixture
def actor_spy(monkeypatch):
    """RayPPOTrainer._update_actor replaced by a recorder of the advantages it receives (it needs Ray workers)."""
    seen = []

    def update(self, batch):
        seen.append(batch.batch["advantages"][:, 0].clone())
        return DataProto(meta_info={"metrics": {"actor/pg_loss": 0.0}})

    monkeypatch.setattr(RayPPOTrainer, "_update_actor", update)
    return seen


@pytest.mark.parametrize("resume_at", [4, 5])  # mid-epoch, and the epoch boundary (5 batches per epoch)
def test_save_load_continue_matches_an_uninterrupted_run(dataset, tmp_path, actor_spy, resume_at) -> None:
    whole = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=10), seed=1)
    full: list = []
    fit(make_ppo_trainer(dataset, whole, tmp_path), total_steps=12, save_freq=1, log=full)
    dataset.check_fed(12)  # the last step was fed although fit returns before on_batch_end
    assert [s for s, _ in full] == list(range(1, 13))
    fresh = schedsim.make_scheduler("beta", pool=schedsim.PromptPool(n=10), seed=77)
    rest: list = []
    resumed = make_ppo_trainer(
        dataset, fresh, tmp_path, resume_mode="resume_path", resume_from_path=str(tmp_path / f"global_step_{resume_at}")
    )
    fit(resumed, total_steps=12, save_freq=100, log=rest)
    assert rest == full[resume_at:]
    assert fresh.state_dict()["counters"] == whole.state_dict()["counters"]


def test_loss_weights_and_mixed_reduction_reach_the_advantages(dataset, tmp_path, actor_spy) -> None:
    spec = "beta:mode=weight,alpha=2,beta=1,floor=0,weight_norm=none"
    for name, expected in [
        (spec, lambda p: p**2 * (1 - p)),  # p^alpha (1-p)^beta per group
        ("uniform-mixed", lambda p: np.full_like(p, len(p) / max(int(((p > 0) & (p < 1)).sum()), 1))),
    ]:
        actor_spy.clear()
        scheduler = schedsim.make_scheduler(name, pool=schedsim.PromptPool(n=10), seed=2)
        trainer = make_ppo_trainer(dataset, scheduler, tmp_path / name.split(":")[0])
        checked = 0
        for step, batch_dict in enumerate(trainer.train_dataloader, start=1):
            batch, _ = rollout(batch_dict, step)
            plain = batch.batch["advantages"][:, 0].clone()
            p = batch.batch["token_level_scores"].sum(-1).view(-1, ROLLOUT_N).mean(-1).numpy().astype(float)
            output = trainer._update_actor(batch)
            np.testing.assert_allclose(
                actor_spy[-1].numpy(), plain.numpy() * np.repeat(expected(p), ROLLOUT_N), rtol=1e-6, atol=1e-7
            )
            checked += int(plain.abs().sum() > 0)
            assert "sched/selected" in output.meta_info["metrics"] and "actor/pg_loss" in output.meta_info["metrics"]
        assert checked  # some batch had non-zero advantages


def test_v1_trainer_and_worker_processes_are_refused_with_the_fix(dataset) -> None:
    with pytest.raises(schedsim.SchedsimError, match=r"trainer\.use_v1=True.*accepted: trainer\.use_v1=False"):
        check_verl_config(OmegaConf.create({"trainer": {"use_v1": True}, "data": {"dataloader_num_workers": 0}}))
    with pytest.raises(schedsim.SchedsimError, match="dataloader_num_workers=2; accepted: 0"):
        check_verl_config(OmegaConf.create({"trainer": {"use_v1": False}, "data": {"dataloader_num_workers": 2}}))
    check_verl_config(OmegaConf.create({"trainer": {"use_v1": False}, "data": {"dataloader_num_workers": 0}}))
    bare = object.__new__(SchedSimRayPPOTrainer)
    bare.train_dataset = dataset
    with pytest.raises(schedsim.SchedsimError, match="not an attached SchedSimRLHFDataset"):
        bare._check_wiring()

"""The verl adapter against verl's real DataProto and RLHFDataset classes (verl 0.9, CPU)."""

from __future__ import annotations

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

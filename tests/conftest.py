from __future__ import annotations

import numpy as np
import pytest

import schedsim


@pytest.fixture
def pool() -> schedsim.PromptPool:
    return schedsim.PromptPool(n=200, category=np.arange(200) % 5)


def builtin_kwargs(name: str, n: int) -> dict:
    """Trainer-side signals a registered scheduler needs to run in tests (paced: a log Z table)."""
    if name == "paced":
        rng = np.random.default_rng(0)
        table = schedsim.LogZTable(n)
        table.update(np.arange(n), rng.uniform(0, 20, n))  # p-hat = 0.05 * log Z spans [0, 1]
        return {"log_z": table}
    return {}

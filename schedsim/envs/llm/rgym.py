"""Problems from reasoning-gym (a registry package of procedural reasoning tasks), its difficulty levels as categories.

``data=reasoning-gym:TASK[+TASK...]`` builds, for each task and each level ``0 .. rg_levels-1`` of the task's
curriculum (clamped to its highest level), ``rg_per_level`` problems with that level's dataset configuration; the
category of a problem is ``TASK:L<level>`` (SEC's arms). The verifier is reasoning-gym's own ``score_answer`` on the
extracted answer (the text inside ``<answer>...</answer>`` when present, else the last non-empty line, or with
``rg_extract=number`` the last number — a [choice] for numeric tasks whose model answers in sentences), counted a
success when the score is at least ``rg_threshold`` (1.0 by default: reasoning-gym gives 1.0 to a correct
answer; some tasks give partial credit below it). Generation is seeded by ``data_seed``.

References:
    reasoning-gym (open-thought/reasoning-gym), the ``reasoning-gym`` package, version 0.1.x.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from schedsim.core.errors import SchedsimError, accepted
from schedsim.envs.llm.data import _NUMBER, Problems

PREFIX = "reasoning-gym:"
#: appended to each question [choice]: a short model must be told to answer tersely for its answer to be found
INSTRUCTION = "\nGive only the final answer."
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def is_rgym(data: str | None) -> bool:
    return bool(data) and str(data).startswith(PREFIX)


EXTRACTS = ("line", "number")


def extract_answer(completion: str, how: str = "line") -> str:
    """The text inside ``<answer>...</answer>`` if present, else the last non-empty line (``how="line"``) or the
    last number in the completion (``how="number"``, for numeric tasks: "The answer is: 12." gives "12")."""
    found = _ANSWER.findall(completion)
    if found:
        return found[-1].strip()
    if how == "number":
        numbers = _NUMBER.findall(completion)
        return numbers[-1].replace(",", "").rstrip(".") if numbers else ""
    lines = [line.strip() for line in completion.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check_rgym_spec(spec: str) -> list[str]:
    """The task names of a ``reasoning-gym:`` data spec, or SchedsimError (package missing, unknown task, no
    curriculum); cheap: nothing is generated."""
    try:
        from reasoning_gym import factory
    except ImportError:
        raise SchedsimError(
            "data=reasoning-gym:... needs the reasoning-gym package; pip install 'schedsim[rgym]'"
        ) from None
    tasks = [t.strip() for t in spec[len(PREFIX) :].split("+") if t.strip()]
    if not tasks:
        raise SchedsimError(f"data {spec!r} names no task; accepted: reasoning-gym:TASK[+TASK...]")
    for task in tasks:
        if task not in factory.DATASETS:
            raise SchedsimError(f"unknown reasoning-gym task {task!r}; accepted: {accepted(sorted(factory.DATASETS))}")
        if not factory.has_curriculum(task):
            raise SchedsimError(
                f"reasoning-gym task {task!r} has no curriculum (difficulty levels); accepted: one of "
                f"{accepted(sorted(factory.CURRICULA))}"
            )
    return tasks


def load_rgym(
    spec: str, *, per_level: int, levels: int, seed: int, threshold: float, extract: str = "line"
) -> tuple[Problems, list[Callable[[str], float]]]:
    """Problems and one scorer per problem (completion text -> 0.0 or 1.0) from a ``reasoning-gym:`` data spec."""
    from reasoning_gym import factory

    tasks = check_rgym_spec(spec)
    prompts: list[str] = []
    answers: list[str] = []
    ids: list[str] = []
    cats: list[str] = []
    scorers: list[Callable[[str], float]] = []
    for t, task in enumerate(tasks):
        curriculum = factory.create_curriculum(task)
        top = _max_level(curriculum)
        for level in range(levels):
            curriculum.set_global_level(min(level, top))
            config = curriculum.generate_configuration({"seed": seed * 10_007 + t * 101 + level, "size": per_level})
            dataset = factory.create_dataset(task, **dataclasses.asdict(config))
            for k, entry in enumerate(dataset):
                prompts.append(str(entry["question"]) + INSTRUCTION)
                answers.append(str(entry["answer"]))
                ids.append(f"{task}:L{level}:{k}")
                cats.append(f"{task}:L{level}")
                scorers.append(_scorer(dataset, entry, threshold, extract))
    names = sorted(set(cats), key=cats.index)
    codes = {c: i for i, c in enumerate(names)}
    problems = Problems(ids, prompts, answers, np.array([codes[c] for c in cats], dtype=np.int64), names)
    return problems, scorers


def _max_level(curriculum: Any) -> int:
    """Highest global level valid for every attribute of the curriculum (the fewest levels, minus one)."""
    sizes = [len(getattr(a, "levels", [0])) for a in curriculum.attributes.values()]
    return min(sizes, default=1) - 1


def _scorer(dataset: Any, entry: dict[str, Any], threshold: float, extract: str) -> Callable[[str], float]:
    def score(completion: str) -> float:
        try:
            value = dataset.score_answer(answer=extract_answer(completion, extract), entry=entry)
        except Exception:  # a task's scorer may reject malformed text; that is a wrong answer
            return 0.0
        return float(value is not None and value >= threshold)

    return score

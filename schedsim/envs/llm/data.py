"""Problem files for the real-LLM mode (JSONL) and answer verifiers."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schedsim.core.errors import SchedsimError, accepted

VERIFIERS = ("numeric", "exact", "math-verify")
_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|-?\.\d+")


@dataclass(frozen=True)
class Problems:
    """Loaded problems: ids, prompts, answers (strings) and integer category codes (0 when none given)."""

    ids: list[str]
    prompts: list[str]
    answers: list[str]
    category: np.ndarray
    category_names: list[str]

    def __len__(self) -> int:
        return len(self.prompts)


def load_jsonl(path: str | Path) -> Problems:
    """Read ``{"prompt": str, "answer": str|number, "id"?: any, "category"?: any}`` lines; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise SchedsimError(f"data file {str(path)!r} does not exist; accepted: a JSONL file of problems")
    ids, prompts, answers, cats = [], [], [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SchedsimError(f"cannot read {str(path)!r}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SchedsimError(
                f"{path}:{number}: malformed JSON ({exc.msg}); accepted: one JSON object per line"
            ) from None
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise SchedsimError(f"{path}:{number}: no 'prompt' string; accepted fields: prompt, answer, id, category")
        if row.get("answer") is None or str(row["answer"]).strip() == "":
            raise SchedsimError(f"{path}:{number}: problem without an 'answer'; every problem needs one to verify")
        ids.append(str(row.get("id", len(ids))))
        prompts.append(row["prompt"])
        answers.append(str(row["answer"]).strip())
        cats.append(str(row.get("category", "")))
    if not prompts:
        raise SchedsimError(f"{path} holds no problems")
    if len(set(ids)) != len(ids):
        raise SchedsimError(f"{path}: repeated 'id' values; accepted: unique ids (or none)")
    names = sorted(set(cats))
    codes = {c: i for i, c in enumerate(names)}
    return Problems(ids, prompts, answers, np.array([codes[c] for c in cats], dtype=np.int64), names)


def _last_number(text: str) -> float | None:
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def verify(completion: str, answer: str, kind: str = "numeric") -> float:
    """Binary reward. ``numeric``: the last number in the completion equals the answer (rel. tol. 1e-6);
    ``exact``: the stripped completion's first line equals the answer; ``math-verify``: the ``math-verify``
    package's parse-and-verify (must be installed)."""
    if kind == "numeric":
        got, want = _last_number(completion), _last_number(answer)
        return float(got is not None and want is not None and math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9))
    if kind == "exact":
        first = completion.strip().splitlines()[0].strip() if completion.strip() else ""
        return float(first == answer.strip())
    if kind == "math-verify":
        try:
            from math_verify import parse
            from math_verify import verify as mv_verify
        except ImportError:
            raise SchedsimError(
                "verifier='math-verify' needs the math-verify package; pip install math-verify"
            ) from None
        return float(bool(mv_verify(parse(answer), parse(completion))))
    raise SchedsimError(f"verifier={kind!r} is not accepted; accepted: {accepted(VERIFIERS)}")

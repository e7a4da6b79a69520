"""Write the arithmetic problem file used for the real-model figures: four difficulty levels, seeded.

Levels (the ``category`` field, SEC's arms): ``L0`` a + b with one-digit numbers, ``L1`` a + b with a two-digit and a
one-digit number, ``L2`` a + b with two-digit numbers, ``L3`` a x b with a two-digit and a one-digit number. Prompt:
"What is <expr>? Reply with the number only." (numeric verifier: the last number of the completion).

    python analysis/llm_arith_data.py [--per-level 40] [--seed 0] [--out analysis/data/arith_levels.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LEVELS = {
    "L0": (lambda r: (r.integers(1, 10), r.integers(1, 10)), "+"),
    "L1": (lambda r: (r.integers(10, 100), r.integers(1, 10)), "+"),
    "L2": (lambda r: (r.integers(10, 100), r.integers(10, 100)), "+"),
    "L3": (lambda r: (r.integers(10, 100), r.integers(2, 10)), "*"),
}


def problems(per_level: int, seed: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    rows = []
    for level, (draw, op) in LEVELS.items():
        for k in range(per_level):
            a, b = (int(x) for x in draw(rng))
            answer = a + b if op == "+" else a * b
            symbol = "+" if op == "+" else "x"
            rows.append(
                {
                    "id": f"{level}-{k}",
                    "prompt": f"What is {a} {symbol} {b}? Reply with the number only.",
                    "answer": str(answer),
                    "category": level,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-level", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "arith_levels.jsonl")
    a = parser.parse_args()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("".join(json.dumps(row) + "\n" for row in problems(a.per_level, a.seed)))
    print(f"wrote {a.out} ({4 * a.per_level} problems)")


if __name__ == "__main__":
    main()

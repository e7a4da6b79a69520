from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "schedsim"
GLOBAL_RNG = re.compile(
    r"np\.random\.(seed|rand|randn|randint|random|choice|shuffle|permutation|uniform|normal|binomial|default_rng)\(|^\s*import random\b|\brandom\.(random|seed|choice|shuffle)\(",
    re.M,
)


def test_no_global_rng_in_library() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {m.group(0)}"
        for path in PACKAGE.rglob("*.py")
        for m in GLOBAL_RNG.finditer(path.read_text())
    ]
    assert offenders == []


def test_import_does_not_import_torch() -> None:
    code = "import sys, schedsim, schedsim.checks, schedsim.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_names() -> None:
    import schedsim

    for name in ("PromptPool", "Feedback", "make_scheduler", "Scheduler", "SchedsimError"):
        assert name in schedsim.__all__
    from schedsim.checks import check_scheduler  # noqa: F401

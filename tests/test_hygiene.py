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


def test_the_project_cites_only_files_it_contains() -> None:
    """Every relative link in README.md and docs/ resolves, and no file cites the design notes it does not ship."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    broken = [
        (page.name, m.group(1))
        for page in pages
        for m in re.finditer(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
        if not m.group(1).startswith(("http://", "https://")) and not (page.parent / m.group(1)).exists()
    ]
    assert broken == []
    files = [p for d in ("schedsim", "notebooks", "analysis", "docs", "tests") for p in (root / d).rglob("*")]
    files = [p for p in [*files, root / "README.md"] if p.suffix in (".py", ".md", ".ipynb") and p.is_file()]
    pattern = re.compile("reference/(theory|schedulers|integrations|arith)|DESIGN" + r"\.md")
    assert [str(p.relative_to(root)) for p in files if pattern.search(p.read_text(errors="ignore"))] == []

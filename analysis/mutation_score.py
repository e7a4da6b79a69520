"""Kill score per module from the last mutmut run (run from the repository root after `make mutation`).

    python analysis/mutation_score.py [--survivors] [--equivalents analysis/mutation_equivalents.md]

Reads ``mutmut results --all true`` and prints, per module, how many mutants were killed, timed out, survived or
had no covering test, how many survivors are listed as equivalent in the equivalents file, and two scores:

- ``raw``: killed / (killed + timeout + survived), every survivor counted against the suite;
- ``score``: (killed + timeout) / (killed + timeout + survived - listed), a timeout being a kill by mutmut's own
  count and a listed survivor set aside (the issue's measure; the target is at least 90 %).

The equivalents file lists each survivor judged equivalent under a ``## <module>`` heading, as mutmut's short name
(``Class.method_N`` or ``function_N``; a bare ``_N`` continues the last named function). Only list items under
``## schedsim...`` headings count. ``--survivors`` prints the surviving mutants that are *not* listed (the gaps) and
the listed names that no longer survive (stale entries), so the file can be kept honest.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

TOKEN = re.compile(r"`([^`]+)`")
NAMED = re.compile(r"(?:(?P<cls>[A-Za-z_]\w*)\.)?(?P<func>[A-Za-z_]\w*?)_(?P<n>\d+)")
BARE = re.compile(r"_(?P<n>\d+)")


def results() -> list[tuple[str, str]]:
    """``(mutant name, status)`` for every mutant mutmut knows, checked or not."""
    exe = shutil.which("mutmut") or str(Path(sys.executable).with_name("mutmut"))
    out = subprocess.run([exe, "results", "--all", "true"], capture_output=True, text=True, check=True).stdout
    pairs = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            pairs.append((name, status))
    return pairs


def module_of(name: str) -> str:
    """``schedsim.rules.kernels.x_beta_kernel__mutmut_3`` -> ``schedsim.rules.kernels``."""
    return name.split(".x_")[0].split(".xǁ")[0]


def mangled(cls: str | None, func: str, n: str) -> str:
    """mutmut's suffix of a short name: ``Class.method_3`` -> ``xǁClassǁmethod__mutmut_3``."""
    return f"xǁ{cls}ǁ{func}__mutmut_{n}" if cls else f"x_{func}__mutmut_{n}"


def listed_equivalents(text: str, names: list[str]) -> tuple[set[str], list[str]]:
    """Full mutant names listed in the equivalents ``text``, resolved against mutmut's ``names``.

    Returns (resolved names, short names under a module heading that match no known mutant). A short name
    resolves to the one known name that starts with the heading's module and ends with its mangled suffix.
    """
    by_suffix: dict[str, list[str]] = collections.defaultdict(list)
    for name in names:
        by_suffix[name.rpartition(".")[2]].append(name)
    found: set[str] = set()
    unknown: list[str] = []
    module = None
    last: tuple[str | None, str] | None = None  # (class, function) of the last named mutant
    cls_ctx: str | None = None  # the class a method named without one belongs to (heading or last named)
    in_item = False

    def resolve(cls: str | None, func: str, n: str) -> str | None:
        hits = [name for name in by_suffix.get(mangled(cls, func, n), []) if name.startswith(module + ".")]
        return hits[0] if len(hits) == 1 else None

    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            module = heading.split()[0] if heading.startswith("schedsim") else None
            default = TOKEN.search(heading)
            word = default.group(1) if module and default and default.group(1).isidentifier() else None
            cls_ctx = word if word and word[0].isupper() else None
            last = (None, word) if word and not cls_ctx else None
            in_item = False
            continue
        if module is None:
            continue
        if line.startswith("- "):
            in_item = True
        elif not line.startswith("  "):
            in_item = False
        if not in_item:
            continue
        for token in TOKEN.findall(line):
            named, bare = NAMED.fullmatch(token), BARE.fullmatch(token)
            if bare and last is not None:
                tries = [(last[0], last[1], bare.group("n"))]
            elif named and not token[0].isdigit():
                cls, func, n = named.group("cls"), named.group("func"), named.group("n")
                tries = [(cls, func, n)] if cls else [(None, func, n), (cls_ctx, func, n)]
            else:
                continue
            for cls, func, n in tries:
                hit = resolve(cls, func, n)
                if hit:
                    found.add(hit)
                    last = (cls, func)
                    cls_ctx = cls or cls_ctx
                    break
            else:
                unknown.append(f"{module}: {token}")
    return found, unknown


def table(pairs: list[tuple[str, str]], listed: set[str]) -> dict[str, collections.Counter]:
    """Per module: counts of each status, plus ``listed`` (survivors set aside as equivalent)."""
    out: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, status in pairs:
        if status == "not checked":
            continue
        out[module_of(name)][status] += 1
        if status == "survived" and name in listed:
            out[module_of(name)]["listed"] += 1
    return out


def scores(c: collections.Counter) -> tuple[float, float]:
    """(raw, score) of one module's counts (see the module docstring); NaN when nothing was checked."""
    checked = c["killed"] + c["survived"] + c["timeout"]
    raw = c["killed"] / checked if checked else float("nan")
    rest = checked - c["listed"]
    return raw, ((c["killed"] + c["timeout"]) / rest if rest else float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list unlisted survivors and stale listed names")
    parser.add_argument("--equivalents", type=Path, default=Path("analysis/mutation_equivalents.md"))
    args = parser.parse_args()
    pairs = results()
    text = args.equivalents.read_text(encoding="utf-8") if args.equivalents.exists() else ""
    listed, unknown = listed_equivalents(text, [name for name, _ in pairs])
    counts = table(pairs, listed)
    head = f"{'module':40s} {'killed':>7s} {'timeout':>8s} {'survived':>9s} {'listed':>7s} {'no tests':>9s}"
    print(f"{head} {'raw':>6s} {'score':>6s}")
    total: collections.Counter = collections.Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        raw, score = scores(c)
        print(
            f"{module:40s} {c['killed']:7d} {c['timeout']:8d} {c['survived']:9d} {c['listed']:7d} "
            f"{c['no tests']:9d} {raw:6.1%} {score:6.1%}"
        )
    raw, score = scores(total)
    print(
        f"{'all checked':40s} {total['killed']:7d} {total['timeout']:8d} {total['survived']:9d} "
        f"{total['listed']:7d} {total['no tests']:9d} {raw:6.1%} {score:6.1%}"
    )
    if args.survivors:
        status = dict(pairs)
        gaps = sorted(name for name, s in pairs if s == "survived" and name not in listed)
        stale = sorted(name for name in listed if status.get(name) not in ("survived", "not checked"))
        print("\n".join(["", f"surviving mutants not listed as equivalent ({len(gaps)}):", *gaps]))
        print("\n".join(["", f"listed as equivalent but no longer surviving ({len(stale)}):", *stale]))
        print("\n".join(["", f"listed names matching no mutant ({len(unknown)}):", *unknown]))


if __name__ == "__main__":
    main()

"""A sweep: scheduler and environment specs whose values list alternatives with ``|``, run as one comparison per world.

``--schedulers "gaussian:sigma=0.2|0.35|0.5,uniform" --env "bandit:default|hard-tail"`` expands into the specs
``gaussian:sigma=0.2``, ``gaussian:sigma=0.35``, ``gaussian:sigma=0.5``, ``uniform`` and the worlds
``bandit:default``, ``bandit:hard-tail`` (several keys with alternatives give their Cartesian product). Each world
is an ordinary ``compare`` run directory under ``<out>/worlds/``, so everything that reads a run directory reads it;
``<out>/sweep.json`` lists the worlds, and the sweep's tables carry an ``env`` column.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from schedsim.core.errors import SpecError
from schedsim.runner.config import RunConfig
from schedsim.runner.store import RunStore, StoreError

SWEEP_FILE = "sweep.json"


def expand_alternatives(spec: str, *, what: str = "spec") -> list[str]:
    """Every spec that ``spec``'s ``|`` alternatives describe, in order (the last key varies fastest).

    ``name|other:key=a|b,key2=c`` -> ``name:key=a,key2=c``, ``name:key=b,key2=c``, ``other:key=a,key2=c``, ...
    """
    head, colon, rest = spec.partition(":")
    heads = [h.strip() for h in head.split("|")]
    options: list[list[str]] = []
    for part in rest.split(",") if colon else []:
        key, eq, value = part.partition("=")
        if eq:
            options.append([f"{key.strip()}={v.strip()}" for v in value.split("|")])
        else:
            options.append([v.strip() for v in part.split("|")])
    if any(not h for h in heads) or any(not v or v.endswith("=") for opts in options for v in opts):
        raise SpecError(f"{what} {spec!r} has an empty alternative; accepted: values separated by '|', e.g. a|b")
    out = []
    for h in heads:
        for combo in itertools.product(*options):
            out.append(h + (":" + ",".join(combo) if colon else ""))
    return out


def world_slug(env: str) -> str:
    """Directory name of a world: the env spec made filesystem-safe, plus a short hash (distinct specs stay apart)."""
    readable = re.sub(r"[^A-Za-z0-9_.=-]+", "_", env.replace(":", "__").replace(",", "_"))[:60]
    return f"{readable}-{hashlib.sha256(env.encode()).hexdigest()[:6]}"


@dataclass(frozen=True)
class SweepConfig:
    """Every expanded scheduler spec x every expanded world x every seed, on one budget.

    Args:
        schedulers: scheduler specs, each may list alternatives with ``|``.
        envs: environment specs, each may list alternatives with ``|``.
        Other fields: as for :class:`~schedsim.runner.config.RunConfig` (defaults resolved per world).

    Every world's :class:`RunConfig` is built (so validated) at construction, before anything is written.
    """

    schedulers: tuple[str, ...]
    envs: tuple[str, ...]
    seeds: int = 5
    budget: int | None = None
    batch: int | None = None
    group: int | None = None
    eval_every: int | None = None
    target: float | None = None
    baseline: str | None = None
    runs: tuple[RunConfig, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        specs = [s for spec in self.schedulers for s in expand_alternatives(spec, what="scheduler spec")]
        worlds = [w for env in self.envs for w in expand_alternatives(env, what="environment spec")]
        if not worlds:
            raise SpecError("no environment given; accepted: one or more environment specs")
        if len(set(worlds)) != len(worlds):
            raise SpecError(f"a world is listed twice in {worlds}; accepted: distinct environment specs")
        runs = tuple(
            RunConfig(
                schedulers=tuple(specs),
                env=world,
                seeds=self.seeds,
                budget=self.budget,
                batch=self.batch,
                group=self.group,
                eval_every=self.eval_every,
                target=self.target,
                baseline=self.baseline,
            )
            for world in worlds
        )
        object.__setattr__(self, "runs", runs)

    def digest(self) -> str:
        """Short hash naming this sweep (the default run directory)."""
        blob = json.dumps([r.to_dict() for r in self.runs], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]


class SweepStore:
    """The directory of a sweep: ``sweep.json`` and one run directory per world under ``worlds/``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / SWEEP_FILE

    def world(self, env: str) -> RunStore:
        return RunStore(self.root / "worlds" / world_slug(env))

    def plan(self, config: SweepConfig) -> list[tuple[RunConfig, RunStore]]:
        """(world configuration, its run directory) pairs; nothing is written."""
        return [(run, self.world(run.env)) for run in config.runs]

    def write_manifest(self, config: SweepConfig) -> None:
        """Record the worlds of the latest command (after validation, with the run directories opened)."""
        worlds = [{"env": run.env, "dir": str(Path("worlds") / world_slug(run.env))} for run in config.runs]
        text = json.dumps({"worlds": worlds, "schedulers": list(config.runs[0].schedulers)}, indent=2)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.manifest_path)

    def worlds(self) -> list[tuple[str, RunStore]]:
        """(env spec, run directory) of every world of the sweep, in order."""
        try:
            data = json.loads(self.manifest_path.read_text())
            return [(w["env"], RunStore(self.root / w["dir"])) for w in data["worlds"]]
        except FileNotFoundError:
            raise StoreError(f"{str(self.root)!r} is not a sweep directory: no {SWEEP_FILE}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"corrupt {self.manifest_path} ({exc}); the world directories are intact: delete {SWEEP_FILE} and "
                "re-run the sweep command to resume"
            ) from None


def is_sweep(path: str | Path) -> bool:
    return (Path(path) / SWEEP_FILE).exists()


def expand_run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories, with each sweep directory replaced by its worlds' run directories."""
    out: list[Path] = []
    for path in paths:
        out.extend(store.root for _, store in SweepStore(path).worlds()) if is_sweep(path) else out.append(path)
    return out

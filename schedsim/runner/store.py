"""A run directory: ``config.json``, one Parquet table per unit (written atomically), summary and figures.

Every unit file is addressed by a fingerprint of everything that determines its result (the resolved environment,
the scheduler spec, the seed, budget, batch, group, evaluation schedule and the unit-table schema version); the
fingerprint is part of the file name and stored in the table, and a file whose fingerprint differs is never
reused. So re-running a command resumes (finished units are read back, never redone), adding schedulers or seeds
to a directory runs only the missing units, and a changed budget recomputes every unit, whatever ``config.json``
says. ``config.json`` records the configuration of the latest command; ``report`` analyses its units.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO

import pandas as pd

from schedsim.core.errors import SchedsimError
from schedsim.runner.config import RunConfig


class StoreError(SchedsimError):
    """An unusable run directory: unwritable, a different configuration, or corrupt files."""


#: version of the unit table's schema and of the loop's semantics; bump it when a change alters unit results
SCHEMA_VERSION = 3
#: prefix of wall-clock columns: measurements of the machine, excluded from result comparisons
TIME_PREFIX = "time_"


def result_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The result columns of a unit or summary table: everything but the ``time_`` (wall-clock) columns.

    These are bit-identical for the same configuration and seed, whatever the worker count or backend.
    """
    return table[[c for c in table.columns if not str(c).startswith(TIME_PREFIX)]]


def unit_name(spec: str, seed: int) -> str:
    """Readable part of a unit's file stem: the spec made filesystem-safe, plus the seed."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec.replace(":", "__").replace(",", "_")) + f"__seed{seed}"


def unit_fingerprint(config: RunConfig, spec: str, seed: int) -> str:
    """Hash of everything that determines a unit's result (16 hex digits)."""
    resolved = config.to_dict()
    env_name = config.env.partition(":")[0].strip()
    key = {
        "env": [env_name, {k: v for k, v in resolved["env_resolved"].items() if k != "preset"}],
        "scheduler": spec,
        "seed": int(seed),
        **{k: resolved[k] for k in ("budget", "batch", "group", "eval_every")},
        "schema": SCHEMA_VERSION,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RunStore:
    """The files of one comparison under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.units_dir = self.root / "units"

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    def open_for(self, config: RunConfig) -> None:
        """Create the directory (or reuse it) for ``config`` and record it as the directory's configuration.

        Call only after ``config`` is fully validated: nothing is written before. Units of earlier
        configurations stay on disk and are reused wherever their fingerprint matches.
        """
        try:
            self.units_dir.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"cannot write to run directory {str(self.root)!r}: {exc.strerror}") from None
        for stale in self.units_dir.glob(".tmp-*"):  # writes cut short by a killed run (we hold the lock)
            stale.unlink(missing_ok=True)
        self._atomic_write_text(self.config_path, json.dumps(config.to_dict(), indent=2, sort_keys=True))

    def lock(self) -> IO[str]:
        """Hold the directory's run lock (released when the returned handle is closed or the process dies).

        Two processes never run units into one directory at once; the second gets a StoreError at once.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / ".lock", "a+")  # the caller owns the handle: held until closed
        except OSError as exc:
            raise StoreError(f"cannot write to run directory {str(self.root)!r}: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreError(
                f"run directory {str(self.root)!r} is in use by another schedsim process; "
                "accepted: wait for it to finish, or another --out"
            ) from None
        return handle

    def read_config(self) -> RunConfig:
        try:
            data = json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{str(self.root)!r} is not a run directory: no config.json") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(
                f"corrupt {self.config_path} ({exc}); the unit files are intact: delete config.json and re-run "
                "the command to resume"
            ) from None
        try:
            return RunConfig.from_dict(data)
        except SchedsimError as exc:  # valid JSON, but not a configuration this version accepts
            raise StoreError(
                f"{self.config_path} is not a configuration this version accepts ({exc}); the unit files are "
                "intact: delete config.json and re-run the command to resume"
            ) from None

    def unit_path(self, config: RunConfig, spec: str, seed: int) -> Path:
        """The unit's file: readable name plus the fingerprint of what determines it."""
        return self.units_dir / f"{unit_name(spec, seed)}__{unit_fingerprint(config, spec, seed)}.parquet"

    def is_done(self, config: RunConfig, spec: str, seed: int) -> bool:
        """True when the unit's file exists, is readable and carries the expected fingerprint."""
        path = self.unit_path(config, spec, seed)
        if not path.exists():
            return False
        try:
            stored = pd.read_parquet(path, columns=["fingerprint"])["fingerprint"]
        except Exception:  # damaged or foreign file: the unit is redone and the file atomically replaced
            return False
        return bool((stored == unit_fingerprint(config, spec, seed)).all())

    def write_unit(self, config: RunConfig, spec: str, seed: int, table: pd.DataFrame) -> Path:
        """Write a finished unit atomically (temporary file, then rename), its fingerprint in a column."""
        path = self.unit_path(config, spec, seed)
        table = table.assign(fingerprint=unit_fingerprint(config, spec, seed))
        fd, tmp = tempfile.mkstemp(dir=self.units_dir, prefix=".tmp-", suffix=".parquet")
        os.close(fd)
        try:
            table.to_parquet(tmp, index=False)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def read_units(self, config: RunConfig | None = None) -> pd.DataFrame:
        """All finished units of ``config`` (default: the stored one), concatenated; StoreError if one is corrupt.

        A file whose stored fingerprint differs from the one its configuration asks for is not used.
        """
        config = config or self.read_config()
        tables = []
        for spec, seed in config.units():
            path = self.unit_path(config, spec, seed)
            if not path.exists():
                continue
            try:
                table = pd.read_parquet(path)
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise StoreError(
                    f"corrupt unit file {str(path)!r} ({type(exc).__name__}); delete it and re-run"
                ) from None
            if "fingerprint" in table and (table["fingerprint"] == unit_fingerprint(config, spec, seed)).all():
                tables.append(table.drop(columns="fingerprint"))
        if not tables:
            raise StoreError(f"run directory {str(self.root)!r} has no finished unit yet")
        return pd.concat(tables, ignore_index=True)

    def _atomic_write_text(self, path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)

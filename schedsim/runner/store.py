"""A run directory: ``config.json``, one Parquet table per unit (written atomically), summary and figures.

Re-running the same configuration on the same directory resumes: finished units are read back, never redone.
A directory holding a different configuration is refused, so results are never mixed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from schedsim.core.errors import SchedsimError
from schedsim.runner.config import RunConfig


class StoreError(SchedsimError):
    """An unusable run directory: unwritable, a different configuration, or corrupt files."""


def unit_name(spec: str, seed: int) -> str:
    """File stem of a unit: the spec made filesystem-safe, plus the seed."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec.replace(":", "__").replace(",", "_")) + f"__seed{seed}"


class RunStore:
    """The files of one comparison under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.units_dir = self.root / "units"

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    def open_for(self, config: RunConfig) -> None:
        """Create the directory for ``config``, or check that an existing one holds the same configuration."""
        try:
            self.units_dir.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"cannot write to run directory {str(self.root)!r}: {exc.strerror}") from None
        wanted = config.to_dict()
        if self.config_path.exists():
            stored = self.read_config().to_dict()
            if stored != wanted:
                diff = sorted(k for k in wanted if stored.get(k) != wanted.get(k))
                raise StoreError(
                    f"run directory {str(self.root)!r} holds a different configuration (differs in {diff}); "
                    "accepted: the same command to resume, or another --out"
                )
        else:
            self._atomic_write_text(self.config_path, json.dumps(wanted, indent=2, sort_keys=True))

    def read_config(self) -> RunConfig:
        try:
            data = json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise StoreError(f"{str(self.root)!r} is not a run directory: no config.json") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"corrupt {self.config_path}: {exc}") from None
        return RunConfig.from_dict(data)

    def unit_path(self, spec: str, seed: int) -> Path:
        return self.units_dir / f"{unit_name(spec, seed)}.parquet"

    def is_done(self, spec: str, seed: int) -> bool:
        return self.unit_path(spec, seed).exists()

    def write_unit(self, spec: str, seed: int, table: pd.DataFrame) -> Path:
        """Write a finished unit atomically: a temporary file in the same directory, then rename."""
        path = self.unit_path(spec, seed)
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

    def read_units(self) -> pd.DataFrame:
        """All finished units of the stored configuration, concatenated (StoreError on a corrupt file)."""
        config = self.read_config()
        tables = []
        for spec, seed in config.units():
            path = self.unit_path(spec, seed)
            if not path.exists():
                continue
            try:
                tables.append(pd.read_parquet(path))
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise StoreError(
                    f"corrupt unit file {str(path)!r} ({type(exc).__name__}); delete it and re-run"
                ) from None
        if not tables:
            raise StoreError(f"run directory {str(self.root)!r} has no finished unit yet")
        return pd.concat(tables, ignore_index=True)

    def _atomic_write_text(self, path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)

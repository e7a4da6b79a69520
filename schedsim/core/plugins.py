"""Loading user code: installed plugins (entry points) and modules named on the command line (``--import``).

A package makes its schedulers and environments available to every schedsim command by declaring entry points
in its ``pyproject.toml``::

    [project.entry-points."schedsim.schedulers"]
    mysched = "mypkg.mysched"          # a module whose import calls schedsim.register(...)

    [project.entry-points."schedsim.envs"]
    myenv = "mypkg.myenv"              # a module whose import calls schedsim.register_env(...)

They are loaded once, the first time schedsim lists its schedulers or meets an unknown environment name. Code
that is not installed is imported with ``schedsim --import MODULE`` (a module name or a ``.py`` path; repeatable).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from schedsim.core.errors import SchedsimError

GROUPS = ("schedsim.schedulers", "schedsim.envs")
_loaded = False


class PluginError(SchedsimError):
    """A plugin or ``--import`` module that cannot be loaded."""


def load_plugins() -> None:
    """Import every installed ``schedsim.schedulers`` / ``schedsim.envs`` entry point (once per process)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for group in GROUPS:
        for entry in importlib.metadata.entry_points(group=group):
            try:
                entry.load()
            except Exception as exc:  # a broken plugin must not break schedsim; say which one and why
                raise PluginError(
                    f"plugin {entry.name!r} ({entry.value}, entry point group {group}) failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from None


def import_user_module(target: str) -> ModuleType:
    """Import ``target``: a dotted module name (searched from the current directory too) or a ``.py`` file path."""
    path = Path(target)
    try:
        if target.endswith(".py"):
            if not path.is_file():
                raise PluginError(f"--import {target!r}: no such file; accepted: a module name or an existing .py file")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)  # type: ignore[union-attr]
            return module
        if str(Path.cwd()) not in sys.path and "" not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(target)
    except PluginError:
        raise
    except ModuleNotFoundError as exc:
        raise PluginError(
            f"--import {target!r}: module {exc.name!r} not found; accepted: an importable module name (from the "
            "current directory or installed) or a .py file path"
        ) from None
    except SchedsimError as exc:
        raise PluginError(f"--import {target!r}: {exc}") from None
    except Exception as exc:
        raise PluginError(f"--import {target!r} failed: {type(exc).__name__}: {exc}") from None

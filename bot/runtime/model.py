"""The trained Rasa model, cached outside the checkout by a hash of everything it is built from."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bot.runtime import paths
from crm_bridge.settings import PROJECT_ROOT, Settings

# nlu/ code that only changes how the server runs (speed fixes), never what is trained.
RUNTIME_ONLY = frozenset({"nlu/runtime.py"})


def training_inputs(root: Path = PROJECT_ROOT) -> Iterator[Path]:
    """Files that change the model: config, domain, training data, nlu/ components, Rasa pins."""
    yield root / "config.yml"
    for folder, pattern in (
        ("domain", "*.yml"),
        ("nlu", "*.yml"),
        ("nlu", "*.py"),
        ("nlu", "*.txt"),
    ):
        for path in sorted((root / folder).rglob(pattern)):
            relative = path.relative_to(root)
            if "__pycache__" in path.parts or "tests" in relative.parts:
                continue
            if relative.as_posix() not in RUNTIME_ONLY:
                yield path
    yield root / "requirements" / "rasa.lock"


def model_hash(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for path in training_inputs(root):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def model_path(settings: Settings, root: Path = PROJECT_ROOT) -> Path:
    return settings.model_cache_dir / f"dealer-assistant-{model_hash(root)}.tar.gz"


def rasa_process_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Rasa processes: the checkout importable (nlu/), telemetry off, TF quiet."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra or {})
    return env


def ensure_model(settings: Settings, force: bool = False) -> tuple[Path, bool]:
    """The model for the current inputs, training it if it is missing. Returns (path, trained)."""
    target = model_path(settings)
    if target.exists() and not force:
        return target, False
    settings.model_cache_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.model_cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be training the same model
        if target.exists() and not force:
            return target, False
        work = settings.model_cache_dir / f".training-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        try:
            _train(work, target.name.removesuffix(".tar.gz"), settings)
            os.replace(work / target.name, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target, True


def _train(out: Path, name: str, settings: Settings) -> None:
    if not paths.RASA_BIN.exists():
        raise SystemExit(f"{paths.RASA_BIN} is missing: run `make setup` to create the Rasa env")
    argv = [
        str(paths.RASA_BIN), "train",
        "--config", str(paths.CONFIG),
        "--domain", str(paths.DOMAIN),
        "--data", str(paths.TRAINING_DATA),
        "--out", str(out),
        "--fixed-model-name", name,
    ]  # fmt: skip
    cache = settings.model_cache_dir.parent / "rasa-cache"
    env = rasa_process_env({"RASA_CACHE_DIRECTORY": str(cache)})
    result = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, check=False)
    if result.returncode != 0:
        sys.stderr.write("rasa train failed; see its output above\n")
        raise SystemExit(result.returncode)

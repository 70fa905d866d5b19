"""The model cache key: stable for unchanged inputs, different when any input changes."""

import shutil
from pathlib import Path

import pytest

from bot.runtime import model
from crm_bridge.settings import PROJECT_ROOT
from tests.conftest import make_settings


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "config.yml", root)
    shutil.copytree(PROJECT_ROOT / "domain", root / "domain")
    shutil.copytree(
        PROJECT_ROOT / "nlu", root / "nlu", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / "requirements").mkdir()
    shutil.copy(PROJECT_ROOT / "requirements" / "rasa.lock", root / "requirements")
    return root


def test_hash_is_stable_and_matches_the_checkout(tree: Path) -> None:
    assert model.model_hash(tree) == model.model_hash(tree) == model.model_hash(PROJECT_ROOT)


@pytest.mark.parametrize(
    "relative",
    ["config.yml", "domain/core.yml", "nlu/data/rules.yml", "requirements/rasa.lock"],
)
def test_hash_changes_with_each_input(tree: Path, relative: str) -> None:
    before = model.model_hash(tree)
    with (tree / relative).open("a") as handle:
        handle.write("\n# changed\n")
    assert model.model_hash(tree) != before


def test_new_training_file_and_component_change_the_hash(tree: Path) -> None:
    before = model.model_hash(tree)
    (tree / "nlu" / "data" / "extra.yml").write_text('version: "3.1"\n')
    after_data = model.model_hash(tree)
    assert after_data != before
    (tree / "nlu" / "component.py").write_text("X = 1\n")
    assert model.model_hash(tree) != after_data


def test_unrelated_files_do_not_retrain(tree: Path) -> None:
    before = model.model_hash(tree)
    (tree / "README.md").write_text("docs")
    (tree / "nlu" / "tests").mkdir(exist_ok=True)
    (tree / "nlu" / "tests" / "test_x.py").write_text("def test(): pass\n")
    assert model.model_hash(tree) == before


def test_server_speed_fixes_do_not_retrain(tree: Path) -> None:
    before = model.model_hash(tree)
    with (tree / "nlu" / "runtime.py").open("a") as handle:
        handle.write("\n# another speed fix\n")
    assert model.model_hash(tree) == before
    with (tree / "nlu" / "tokenizer.py").open("a") as handle:
        handle.write("\n# a tokenizer change\n")
    assert model.model_hash(tree) != before


def test_cached_model_is_not_retrained(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model_cache_dir=tmp_path / "models")
    target = model.model_path(settings)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"cached")
    path, trained = model.ensure_model(settings)
    assert (path, trained) == (target, False)
    assert target.read_bytes() == b"cached"
    assert PROJECT_ROOT not in target.parents  # cached outside the checkout

"""Runs in the Rasa environment: the training data and domain are valid, as `rasa data validate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.validator import Validator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> Validator:
    importer = TrainingDataImporter.load_from_config(
        config_path=str(ROOT / "config.yml"),
        domain_path=str(ROOT / "domain"),
        training_data_paths=[str(ROOT / "nlu" / "data")],
    )
    return Validator.from_importer(importer)


def test_domain_is_valid(validator: Validator) -> None:
    assert validator.verify_domain_validity()
    assert validator.verify_slot_mappings()
    assert validator.verify_form_slots()


def test_intents_and_examples(validator: Validator) -> None:
    assert validator.verify_intents(ignore_warnings=False)
    assert validator.verify_intents_in_stories(ignore_warnings=False)
    assert validator.verify_example_repetition_in_intents(ignore_warnings=False)


def test_stories_and_rules_agree(validator: Validator) -> None:
    assert validator.verify_story_structure(ignore_warnings=False, max_history=5)
    # Responses uttered by custom actions are not in stories: see the test below.
    assert validator.verify_utterances_in_stories(ignore_warnings=True)
    assert validator.verify_actions_in_stories_rules()
    assert validator.verify_forms_in_stories_rules()


def test_every_response_speaks_both_languages(validator: Validator) -> None:
    for name, variations in validator.domain.responses.items():
        english = [v for v in variations if v.get("condition")]
        default = [v for v in variations if not v.get("condition")]
        assert english, f"{name} has no English variation"
        assert default, f"{name} has no Chinese default"
        for variation in english:
            assert variation["condition"] == [{"type": "slot", "name": "language", "value": "en"}]


def test_rasa_data_validate_is_clean() -> None:
    """The exact command: warnings count as failures."""
    import os
    import subprocess
    import sys

    rasa = Path(sys.executable).parent / "rasa"
    result = subprocess.run(
        [str(rasa), "data", "validate", "--domain", "domain", "--data", "nlu/data",
         "--config", "config.yml", "--fail-on-warnings"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_responses_are_used_by_stories_rules_or_actions(validator: Validator) -> None:
    used_in_stories = {
        step.action_name
        for story in validator.story_graph.story_steps
        for step in story.events
        if getattr(step, "action_name", None)
    }
    actions_source = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "actions").rglob("*.py")
    )
    asked_by_forms = {
        name
        for form_name, form in validator.domain.forms.items()
        for slot in form.get("required_slots", [])
        for name in (f"utter_ask_{slot}", f"utter_ask_{form_name}_{slot}")
    }
    unused = [
        name
        for name in validator.domain.responses
        if name not in used_in_stories | asked_by_forms and f'"{name}"' not in actions_source
    ]
    assert unused == []

"""The Rasa server's speed fix: action responses validated as strictly as before."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from nlu.runtime import reuse_action_response_validator
from nlu.tokenizer import MixedTokenizer


def test_building_the_tokenizer_installs_the_kept_validator() -> None:
    MixedTokenizer(MixedTokenizer.get_default_config())
    reuse_action_response_validator()
    action = RemoteAction("action_answer_price", None)
    valid = {"events": [{"event": "slot", "name": "budget", "value": 300000}],
             "responses": [{"response": "utter_price", "model": "Q5L"}]}  # fmt: skip
    assert action._validate_action_result(valid) is True
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list"})

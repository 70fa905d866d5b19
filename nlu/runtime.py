"""A speed fix for the Rasa server, applied when the model's first component is built.

Rasa 3.6 checks every action server response with ``jsonschema.validate(response, schema)``,
which first checks the large, constant response schema against the JSON Schema meta-schema and
then builds a validator: 20-35 ms of the server's only event loop per custom action call, two or
three calls per message (measured with py-spy under load, docs/benchmarks.md). Here the schema is
checked once and the validator kept; responses are validated exactly as before, and an invalid one
raises the same error with the same message.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _action_response_validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema import ValidationError, exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    error = exceptions.best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    if isinstance(error, ValidationError):
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
    raise error


@functools.cache
def reuse_action_response_validator() -> None:
    """Make Rasa's RemoteAction validate with the kept validator (once per process)."""
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result

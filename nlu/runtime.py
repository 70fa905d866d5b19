"""Speed fixes for the Rasa server, applied when the model's first component is built.

They change how the server runs, never what it answers or what the model learns (so this file is
not among the model's training inputs, bot/model.py). Measured under load in docs/benchmarks.md.

1. The action server response validator is built once. Rasa 3.6 checks every action server
   response with ``jsonschema.validate(response, schema)``, which first checks the large, constant
   response schema against the JSON Schema meta-schema and then builds a validator: 20-35 ms of
   the server's only event loop per custom action call, two or three calls per message (py-spy
   under load). Here the schema is checked once and the validator kept; responses are validated
   exactly as before, and an invalid one raises the same error with the same message.
2. Calls to the action server reuse one HTTP session and its kept-alive connections. Rasa opens a
   new aiohttp session, and so a new TCP connection, for every call (two or three per message).
3. Events are read back from the tracker store by a table of event classes. Rasa looks each
   event's class up by walking all subclasses of ``Event`` (about 30 µs an event, every event of
   the conversation on every message).
4. A tracker's dialogue states are computed once per prediction. Every policy (memoization, rules
   twice, TED) replays the whole conversation into states on its own; the replay with the same
   settings gives the same states, so each policy gets a copy of the first one's.
5. TED runs only when its prediction can win. The ensemble takes the prediction with the highest
   (confidence, policy priority); when the rule or memoization policy predicts an action with
   confidence 1.0, TED (priority 1, softmax confidences of at most 1.0) cannot win, yet Rasa runs
   its featurization and TensorFlow inference anyway, the largest share of the server's time per
   message. TED's prediction is made when the ensemble needs it; the action chosen, its policy and
   confidence are exactly as before. Not for a TED trained on end-to-end stories (whose predictions
   from text outrank the others), nor after an action was rejected (the ensemble then reads every
   policy's probabilities).
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


class _KeptSession:
    """``async with endpoint.session()`` on a session that stays open for the next call."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *_: object) -> None:
        return None


# One open session per event loop and endpoint configuration (headers, credentials).
_sessions: dict[tuple[int, str, str], Any] = {}


def _kept_session(self: Any) -> _KeptSession:
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    loop = asyncio.get_running_loop()
    key = (id(loop), repr(sorted((self.headers or {}).items())), repr(self.basic_auth))
    session = _sessions.get(key)
    if session is None or session.closed or getattr(session, "_loop", loop) is not loop:
        auth = None
        if self.basic_auth:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            # a connection idle this long is closed here before the server (Sanic: 120 s) would
            connector=aiohttp.TCPConnector(keepalive_timeout=15),
        )
        _sessions[key] = session
    return _KeptSession(session)


def _resolve_event_class(type_name: str, default: type[Any] | None = None) -> type[Any] | None:
    found = _event_classes().get(type_name)
    if found is None:  # not in the table (a class imported later): Rasa's own search
        resolved: type[Any] | None = _rasa_resolve_by_type(type_name, default)
        return resolved
    return found


@functools.cache
def _event_classes() -> dict[str, type[Any]]:
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    table: dict[str, type[Any]] = {}
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        table.setdefault(cls.type_name, cls)  # the first match, as Rasa's search returns
    return table


_rasa_resolve_by_type: Any = None
_rasa_states_for_tracker_history: Any = None
# Per tracker (by id, checked by a weak reference): the events it had and the states computed.
_states: dict[int, tuple[Any, tuple[Any, ...], dict[tuple[Any, ...], list[Any]]]] = {}
_STATES_KEPT = 256


def _states_for_tracker_history(
    self: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[Any]:
    import weakref

    events = tracker.events
    version = (id(self), len(events), id(events[-1]) if events else None)
    entry = _states.get(id(tracker))
    if entry is None or entry[0]() is not tracker or entry[1] != version:
        if len(_states) >= _STATES_KEPT:
            _states.clear()
        entry = (weakref.ref(tracker), version, {})
        _states[id(tracker)] = entry
    key = (omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data))
    found = entry[2].get(key)
    if found is None:
        found = _rasa_states_for_tracker_history(
            self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
        entry[2][key] = found
    # Policies edit the user part of the last state (text or intent): each gets its own copy.
    return [{part: dict(features) for part, features in state.items()} for state in found]


class _DeferredPrediction:
    """TED's prediction, made on first use of anything that depends on its output."""

    is_end_to_end_prediction = False  # only TED models without end-to-end training are deferred
    is_no_user_prediction = False
    events: list[Any] = []  # noqa: RUF012 - read only; TED adds events to end-to-end predictions

    def __init__(self, predict: Any, policy_name: str, policy_priority: int) -> None:
        self._predict = predict
        self._made: Any = None
        self.policy_name = policy_name
        self.policy_priority = policy_priority

    @property
    def made(self) -> bool:
        return self._made is not None

    def prediction(self) -> Any:
        if self._made is None:
            self._made = self._predict()
            self._predict = None
        return self._made

    def __getattr__(self, name: str) -> Any:  # probabilities, max_confidence, diagnostic_data, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.prediction(), name)


_rasa_ted_predict: Any = None
_rasa_pick_best_policy: Any = None


def _ted_predict_action_probabilities(
    self: Any, tracker: Any, domain: Any, *args: Any, **kwargs: Any
) -> Any:
    from rasa.shared.nlu.constants import TEXT
    from rasa.utils.tensorflow.constants import MODEL_CONFIDENCE, SOFTMAX

    if (
        self.model is None
        or self.only_e2e
        or TEXT in self.fake_features
        or self.config.get(MODEL_CONFIDENCE) != SOFTMAX
    ):
        return _rasa_ted_predict(self, tracker, domain, *args, **kwargs)
    return _DeferredPrediction(
        lambda: _rasa_ted_predict(self, tracker, domain, *args, **kwargs),
        self.__class__.__name__,
        self.priority,
    )


def _pick_best_policy(predictions: list[Any]) -> Any:
    deferred = [p for p in predictions if isinstance(p, _DeferredPrediction)]
    others = [p for p in predictions if not isinstance(p, _DeferredPrediction)]
    if deferred and others:
        best = _rasa_pick_best_policy(others)
        # A deferred prediction is neither "no user" nor end to end, and its confidence is at most
        # 1.0: when the best of the others is (1.0, higher priority) or outranks it by kind, it
        # cannot win, and the events it would add are none.
        outranked = (
            best.is_no_user_prediction
            or best.is_end_to_end_prediction
            or (
                best.max_confidence >= 1.0
                and all(best.policy_priority > p.policy_priority for p in deferred)
            )
        )
        if outranked:
            return best
    return _rasa_pick_best_policy(
        [p.prediction() if isinstance(p, _DeferredPrediction) else p for p in predictions]
    )


def _best_policy_prediction(predictions: list[Any], tracker: Any, domain: Any) -> Any:
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected

    kinds = (ActionExecuted, ActionExecutionRejected)
    last_action = next((e for e in reversed(tracker.events) if isinstance(e, kinds)), None)
    if isinstance(last_action, ActionExecutionRejected):
        # The rejected action's confidence is set to 0.0 in every prediction: make them all.
        predictions = [
            p.prediction() if isinstance(p, _DeferredPrediction) else p for p in predictions
        ]
    return _rasa_best_policy_prediction(predictions, tracker, domain)


_rasa_best_policy_prediction: Any = None


@functools.cache
def apply_server_fixes() -> None:
    """Apply the fixes above to Rasa's classes (once per process)."""
    global _rasa_resolve_by_type, _rasa_states_for_tracker_history, _rasa_ted_predict
    global _rasa_pick_best_policy, _rasa_best_policy_prediction
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    RemoteAction._validate_action_result = _validate_action_result
    EndpointConfig.session = _kept_session
    _rasa_resolve_by_type = Event.resolve_by_type
    Event.resolve_by_type = staticmethod(_resolve_event_class)
    _rasa_states_for_tracker_history = Domain.states_for_tracker_history
    Domain.states_for_tracker_history = _states_for_tracker_history
    _rasa_ted_predict = TEDPolicy.predict_action_probabilities
    TEDPolicy.predict_action_probabilities = _ted_predict_action_probabilities
    _rasa_pick_best_policy = DefaultPolicyPredictionEnsemble._pick_best_policy
    DefaultPolicyPredictionEnsemble._pick_best_policy = staticmethod(_pick_best_policy)
    _rasa_best_policy_prediction = DefaultPolicyPredictionEnsemble._best_policy_prediction
    DefaultPolicyPredictionEnsemble._best_policy_prediction = staticmethod(_best_policy_prediction)

"""The Rasa server's speed fixes: the same behaviour as Rasa's own code, only cheaper."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import rasa.shared.utils.common
from aiohttp import web
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

from nlu.runtime import apply_server_fixes
from nlu.tokenizer import MixedTokenizer


@pytest.fixture(scope="module", autouse=True)
def fixes_applied() -> None:
    """Building the pipeline's first component applies the fixes, as the server does."""
    MixedTokenizer(MixedTokenizer.get_default_config())
    apply_server_fixes()


def test_action_responses_are_validated_as_strictly_as_before() -> None:
    action = RemoteAction("action_answer_price", None)
    valid = {"events": [{"event": "slot", "name": "budget", "value": 300000}],
             "responses": [{"response": "utter_price", "model": "Q5L"}]}  # fmt: skip
    assert action._validate_action_result(valid) is True
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list"})


def test_every_event_type_resolves_to_the_class_rasa_finds() -> None:
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        found = Event.resolve_by_type(cls.type_name)
        expected = next(
            c for c in rasa.shared.utils.common.all_subclasses(Event)
            if c.type_name == cls.type_name
        )  # fmt: skip
        assert found is expected
    assert Event.resolve_by_type("no such event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no such event")
    assert Event.resolve_by_type("topic") is None  # Rasa's backwards compatibility


def test_events_read_back_from_their_json() -> None:
    events = [UserUttered("你好", {"name": "greet", "confidence": 0.9}), SlotSet("language", "zh"),
              ActionExecuted("action_listen")]  # fmt: skip
    assert [Event.from_parameters(e.as_dict()) for e in events] == events


def test_action_calls_reuse_one_connection() -> None:
    """Three calls to the action endpoint: one TCP connection, each answer read in full."""

    async def scenario() -> tuple[list[object], int]:
        peers: set[object] = set()

        async def webhook(request: web.Request) -> web.Response:
            peers.add(request.transport.get_extra_info("peername") if request.transport else None)
            body = await request.json()
            return web.json_response({"events": [], "responses": [], "echo": body["n"]})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # asyncio's or uvloop's Server: both have sockets
        port = server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        try:
            answers = [
                (await endpoint.request(json={"n": n}, method="post"))["echo"] for n in range(3)
            ]
        finally:
            async with endpoint.session() as session:
                await session.close()
            await runner.cleanup()
        return answers, len(peers)

    answers, connections = asyncio.run(scenario())
    assert answers == [0, 1, 2]
    assert connections == 1


def test_dialogue_states_are_the_ones_rasa_computes_and_each_caller_owns_its_copy() -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from nlu import runtime

    domain = Domain.load("domain")
    events = [ActionExecuted("action_listen"),
              UserUttered("想试驾Q5L", {"name": "request_test_drive", "confidence": 0.9},
                          [{"entity": "car_model", "value": "Q5L", "start": 3, "end": 6}]),
              SlotSet("car_models", ["Q5L"]), ActionExecuted("action_start_test_drive"),
              ActionExecuted("action_listen")]  # fmt: skip
    tracker = DialogueStateTracker.from_events("s1", events, domain.slots)
    rasa_own = runtime._rasa_states_for_tracker_history
    for ignore in (False, True):
        expected = rasa_own(domain, tracker, ignore_rule_only_turns=ignore)
        first = tracker.past_states(domain, ignore_rule_only_turns=ignore)
        assert first == expected
        first[-1].clear()  # a policy editing its states does not change the next one's
        assert tracker.past_states(domain, ignore_rule_only_turns=ignore) == expected
    tracker.update(UserUttered("明天下午三点", {"name": "inform", "confidence": 0.9}))
    assert tracker.past_states(domain) == rasa_own(domain, tracker)  # a new event: new states


# Policy priorities as Rasa sets them: rules 6, memoization 3, TED 1.
RULES, MEMO, TED = ("RulePolicy", 6), ("MemoizationPolicy", 3), ("TEDPolicy", 1)


def _prediction(policy: tuple[str, int], probabilities: list[float], **flags: Any) -> Any:
    from rasa.core.policies.policy import PolicyPrediction

    return PolicyPrediction(probabilities, policy[0], policy[1], **flags)


def _deferred(probabilities: list[float], made: list[str]) -> Any:
    """TED's prediction as the fix defers it; `made` records whether it was computed."""
    from nlu import runtime

    def predict() -> Any:
        made.append("TED")
        return _prediction(TED, probabilities)

    return runtime._DeferredPrediction(predict, *TED)


def _pick(predictions: list[Any], events: list[Event] | None = None) -> Any:
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_dict({"actions": ["action_a", "action_b"]})
    tracker = DialogueStateTracker.from_events("s", events or [ActionExecuted("action_listen")])
    return DefaultPolicyPredictionEnsemble().combine_predictions(predictions, tracker, domain)


def _as_rasa_picks(predictions: list[Any], events: list[Event] | None = None) -> Any:
    """The same predictions made eagerly, through Rasa's own code."""
    from nlu import runtime

    made = [
        p.prediction() if isinstance(p, runtime._DeferredPrediction) else p for p in predictions
    ]
    with pytest.MonkeyPatch.context() as patch:
        from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble

        patch.setattr(DefaultPolicyPredictionEnsemble, "_pick_best_policy",
                      staticmethod(runtime._rasa_pick_best_policy))  # fmt: skip
        patch.setattr(DefaultPolicyPredictionEnsemble, "_best_policy_prediction",
                      staticmethod(runtime._rasa_best_policy_prediction))  # fmt: skip
        return _pick(made, events)


def test_ted_is_not_run_when_a_rule_has_decided() -> None:
    n = 7  # domain.num_actions for two custom actions plus the default ones is more; any length
    rule = [0.0] * n
    rule[2] = 1.0
    made: list[str] = []
    chosen = _pick([_prediction(MEMO, [0.0] * n), _prediction(RULES, rule),
                    _deferred([0.9] + [0.1 / (n - 1)] * (n - 1), made)])  # fmt: skip
    assert made == []
    assert (chosen.policy_name, chosen.max_confidence_index) == ("RulePolicy", 2)


def test_ted_runs_when_no_rule_applies_and_its_answer_wins() -> None:
    n = 7
    fallback = [0.0] * n
    fallback[1] = 0.3  # the rule policy's core fallback when no rule applies
    ted = [0.05] * n
    ted[4] = 0.7
    made: list[str] = []
    predictions = [_prediction(MEMO, [0.0] * n), _prediction(RULES, fallback), _deferred(ted, made)]
    chosen = _pick(predictions)
    assert made == ["TED"]
    assert (chosen.policy_name, chosen.max_confidence_index) == ("TEDPolicy", 4)
    assert chosen == _as_rasa_picks(predictions)


def test_after_a_rejected_action_every_prediction_is_made() -> None:
    from rasa.shared.core.events import ActionExecutionRejected

    n = 7
    rule = [0.0] * n
    rule[3] = 1.0
    made: list[str] = []
    rejected = [ActionExecuted("action_listen"), ActionExecutionRejected("action_session_start")]
    predictions = [_prediction(RULES, rule), _deferred([1.0 / n] * n, made)]
    _pick(predictions, rejected)
    assert made == ["TED"]


def test_the_choice_is_rasa_s_own_on_random_predictions() -> None:
    """Random predictions of the three policies, deferred TED or not: the same winner."""
    import random

    rng = random.Random(11)  # noqa: S311 - test data
    n = 6
    skipped = 0
    for _ in range(400):
        predictions = []
        for policy in (MEMO, RULES):
            probabilities = [0.0] * n
            if rng.random() < 0.6:
                probabilities[rng.randrange(n)] = rng.choice([1.0, 0.3, rng.random()])
            predictions.append(_prediction(policy, probabilities,
                                           is_no_user_prediction=rng.random() < 0.1))  # fmt: skip
        weights = [rng.random() for _ in range(n)]
        weights[rng.randrange(n)] += rng.choice([0.0, 5.0, 50.0])
        ted = [w / sum(weights) for w in weights]
        expected = _as_rasa_picks([*predictions, _prediction(TED, ted)])
        made: list[str] = []
        assert _pick([*predictions, _deferred(ted, made)]) == expected
        skipped += not made
    assert 100 < skipped < 400  # both paths were taken

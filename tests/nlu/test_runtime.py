"""The Rasa server's speed fixes: the same behaviour as Rasa's own code, only cheaper."""

from __future__ import annotations

import asyncio

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
        port = site._server.sockets[0].getsockname()[1]
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

"""The input channels (channels/): the REST token and the per-sender rate limit, on a real Sanic
server with the channels loaded from credentials.yml and registered by Rasa's own code. Only the
agent behind them is a stand-in, which records what reaches it and answers through the channel."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import socketio
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage, register
from rasa.core.run import create_http_input_channels
from sanic import Sanic

from channels.limits import SLOW_DOWN, SenderLimiter
from channels.phone import PhoneInput
from channels.phone_calls import PhoneOutput, proactive_request, transfer_to
from channels.phone_guard import twilio_signature
from channels.rest import GuardedRestInput
from channels.socketio import SESSION_REFUSED, LimitedSocketIOInput
from channels.webchat_sessions import SessionSigner

CREDENTIALS = Path(__file__).resolve().parents[2] / "credentials.yml"
TOKEN = "s3cret-token-of-the-rest-channel"
WEB_KEY = "key-of-the-web-chat-session-ids-0123456789"
T = TypeVar("T")


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """As sanic-testing does: several apps in one process (Sanic rewrites its methods at start)."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@dataclass
class RecordingAgent:
    """Stands in for Rasa's agent (``app.ctx.agent``): records messages and echoes them."""

    received: list[UserMessage] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    def texts_of(self, sender: str) -> list[str]:
        return [m.text for m in self.received if m.sender_id == sender]


@dataclass
class Server:
    url: str
    agent: RecordingAgent
    app: Any  # a Sanic app (sanic 21.12 here; the app env type-checks with a later one)


def loaded_channels(monkeypatch: pytest.MonkeyPatch, **environ: str | None) -> list[InputChannel]:
    """The channels as Rasa builds them from credentials.yml, with ``environ`` in the env."""
    for name, value in environ.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return list(create_http_input_channels(None, str(CREDENTIALS)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(channels: list[InputChannel]) -> AsyncIterator[Server]:
    """A Sanic server on a free loopback port, ``channels`` registered as Rasa registers them."""
    app = Sanic(f"channels_{uuid.uuid4().hex}", configure_logging=False)
    agent = RecordingAgent()
    app.ctx.agent = agent
    register(channels, app, "/webhooks/")
    port = free_port()  # Sanic takes port 0 for its default, 8000
    server: Any = await app.create_server("127.0.0.1", port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield Server(f"http://127.0.0.1:{port}", agent, app)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


async def post(
    http: aiohttp.ClientSession,
    url: str,
    sender: str,
    text: str,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with http.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        headers=headers or {},
    ) as response:
        return response.status, await response.json()


def test_credentials_load_the_channels_under_rasa_names_and_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channels = loaded_channels(monkeypatch, DA_REST_TOKEN=TOKEN, DA_SENDER_MESSAGES_PER_MINUTE="12")
    rest, web, phone = channels
    assert isinstance(phone, PhoneInput)
    assert phone.name() == "phone"
    assert isinstance(rest, GuardedRestInput)
    assert isinstance(web, LimitedSocketIOInput)
    assert (rest.name(), web.name()) == ("rest", "socketio")
    assert rest.token == TOKEN
    # Rasa's socket.io settings from the file are kept.
    assert (web.user_message_evt, web.bot_message_evt) == ("user_uttered", "bot_uttered")
    assert web.session_persistence is True
    assert web.metadata_key == "customData"
    assert web.socketio_path == "/socket.io"
    for channel in (rest, web):
        allowances = [(i.amount, i.get_expiry()) for i in channel.limiter.allowances]
        assert allowances == [(12, 60), (6, 10)]  # a minute's and a burst's

    async def scenario() -> set[str]:
        async with serving(channels) as server:
            return {route.path for route in server.app.router.routes}

    paths = run(scenario)
    assert {"webhooks/rest/webhook", "webhooks/rest", "socket.io", "webhooks/socketio"} <= paths
    assert {"webhooks/phone/webhook", "webhooks/phone/status"} <= paths


def test_with_a_token_every_message_needs_it_in_the_authorization_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channels = loaded_channels(monkeypatch, DA_REST_TOKEN=TOKEN)

    async def scenario() -> tuple[list[tuple[int, Any]], tuple[int, Any], int, RecordingAgent]:
        async with serving(channels) as server, aiohttp.ClientSession() as http:
            refused = [
                await post(http, server.url, "intruder", "hi", headers)
                for headers in (
                    {},
                    {"Authorization": "Bearer guessed"},
                    {"Authorization": f"Bearer {TOKEN}x"},
                    {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN},
                    {"X-Token": TOKEN},
                )
            ]
            # The token in the URL is never accepted (URLs end up in logs).
            async with http.post(
                f"{server.url}/webhooks/rest/webhook?token={TOKEN}",
                json={"sender": "intruder", "message": "hi"},
            ) as response:
                refused.append((response.status, await response.json()))
            accepted = await post(
                http, server.url, "buyer", "你好", {"Authorization": f"bearer  {TOKEN}"}
            )
            async with http.get(f"{server.url}/webhooks/rest/") as health:
                return refused, accepted, health.status, server.agent

    refused, accepted, health, agent = run(scenario)
    for status, body in refused:
        assert status == 401
        assert body["error"] == "unauthorized"
    assert accepted == (200, [{"recipient_id": "buyer", "text": "echo: 你好"}])
    assert health == 200  # the health check carries no message and stays open
    assert [(m.sender_id, m.text, m.input_channel) for m in agent.received] == [
        ("buyer", "你好", "rest")
    ]


def test_without_a_token_configured_none_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    channels = loaded_channels(monkeypatch, DA_REST_TOKEN=None)
    assert isinstance(channels[0], GuardedRestInput)
    assert channels[0].token is None

    async def scenario() -> tuple[int, Any]:
        async with serving(channels) as server, aiohttp.ClientSession() as http:
            return await post(http, server.url, "buyer", "hello")

    assert run(scenario) == (200, [{"recipient_id": "buyer", "text": "echo: hello"}])


def test_a_flooding_rest_sender_is_slowed_down_while_another_is_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 4 a minute: 2 in any ten seconds.
    channels = loaded_channels(monkeypatch, DA_REST_TOKEN=TOKEN, DA_SENDER_MESSAGES_PER_MINUTE="4")
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def scenario() -> tuple[list[tuple[int, Any]], tuple[int, Any], RecordingAgent]:
        async with serving(channels) as server, aiohttp.ClientSession() as http:
            floods = [post(http, server.url, "flooder", f"m{n}", auth) for n in range(8)]
            *flooded, other = await asyncio.gather(
                *floods, post(http, server.url, "buyer", "你好", auth)
            )
            return flooded, other, server.agent

    flooded, other, agent = run(scenario)
    slow_down = (200, [{"recipient_id": "flooder", "text": SLOW_DOWN}])
    assert sum(reply == slow_down for reply in flooded) == 6
    echoed = [reply for reply in flooded if reply != slow_down]
    assert len(echoed) == 2
    assert all(status == 200 and body[0]["text"].startswith("echo: m") for status, body in echoed)
    assert other == (200, [{"recipient_id": "buyer", "text": "echo: 你好"}])
    # The excess never reached the agent.
    assert len(agent.texts_of("flooder")) == 2
    assert agent.texts_of("buyer") == ["你好"]
    assert "请稍等" in SLOW_DOWN
    assert "please wait" in SLOW_DOWN


def test_the_allowance_frees_again_as_the_window_moves() -> None:
    limiter = SenderLimiter(RateLimitItemPerSecond(2, 1))
    assert [limiter.allow("flooder") for _ in range(3)] == [True, True, False]
    assert limiter.allow("other")  # each sender has its own allowance
    time.sleep(1.1)
    assert [limiter.allow("flooder") for _ in range(3)] == [True, True, False]


def test_a_burst_spends_only_half_of_the_minute() -> None:
    limiter = SenderLimiter.per_minute(5)
    assert [limiter.allow("quick") for _ in range(4)] == [True, True, True, False]
    with pytest.raises(ValueError, match="DA_SENDER_MESSAGES_PER_MINUTE"):
        SenderLimiter.from_environment({"DA_SENDER_MESSAGES_PER_MINUTE": "many"})
    with pytest.raises(ValueError, match="at least 1"):
        SenderLimiter.from_environment({"DA_SENDER_MESSAGES_PER_MINUTE": "0"})
    default = SenderLimiter.from_environment({})
    assert [(i.amount, i.get_expiry()) for i in default.allowances] == [(20, 60), (10, 10)]


def test_the_socketio_callback_answers_a_flooding_sender_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The web chat's callback, as the channel wraps it: real messages, a collecting output."""
    channel = LimitedSocketIOInput(limiter=SenderLimiter(RateLimitItemPerMinute(2)))
    agent = RecordingAgent()
    guarded = channel.limiter.guard(agent.handle_message, channel.name())

    async def say(sender: str, text: str) -> list[dict[str, Any]]:
        output = CollectingOutputChannel()
        await guarded(UserMessage(text, output, sender, input_channel="socketio"))
        messages: list[dict[str, Any]] = output.messages
        return messages

    async def scenario() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
        flooded = [await say("session-a", f"m{n}") for n in range(4)]
        return flooded, await say("session-b", "你好")

    flooded, other = run(scenario)
    assert flooded == [
        [{"recipient_id": "session-a", "text": "echo: m0"}],
        [{"recipient_id": "session-a", "text": "echo: m1"}],
        [{"recipient_id": "session-a", "text": SLOW_DOWN}],
        [{"recipient_id": "session-a", "text": SLOW_DOWN}],
    ]
    assert other == [{"recipient_id": "session-b", "text": "echo: 你好"}]
    assert agent.texts_of("session-a") == ["m0", "m1"]
    # Logged once a minute per sender, without its id (it may be personal data).
    notices = [r.getMessage() for r in caplog.records if r.name == "channels.limits"]
    assert notices == ["a sender on the socketio channel is over its allowance; asked to slow down"]


def test_a_flooding_web_chat_session_gets_the_slow_down_as_a_bot_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over socket.io, as the web chat widget talks (session persistence, user_uttered)."""
    channels = loaded_channels(
        monkeypatch, DA_SENDER_MESSAGES_PER_MINUTE="2", DA_WEBCHAT_SESSION_KEY=WEB_KEY
    )
    session = SessionSigner(WEB_KEY.encode()).issue()  # as the gateway hands it to the page

    async def scenario() -> tuple[list[dict[str, Any]], RecordingAgent]:
        async with serving(channels) as server:
            client = socketio.AsyncClient()
            said: list[dict[str, Any]] = []
            all_said = asyncio.Event()

            def bot_uttered(data: dict[str, Any]) -> None:
                said.append(data)
                if len(said) == 3:
                    all_said.set()

            client.on("bot_uttered", bot_uttered)
            # Polling: this python-engineio's websocket client does not fit Rasa's aiohttp.
            await client.connect(server.url, socketio_path="/socket.io", transports=["polling"])
            try:
                await client.emit("session_request", {"session_id": session})
                await asyncio.sleep(0.2)  # the session joins its room
                for n in range(3):
                    await client.emit("user_uttered", {"message": f"m{n}", "session_id": session})
                await asyncio.wait_for(all_said.wait(), 10)
                await asyncio.sleep(0.2)  # and nothing more comes
            finally:
                await client.disconnect()
            return said, server.agent

    said, agent = run(scenario)
    # 2 a minute: 1 in any ten seconds.
    assert said == [{"text": "echo: m0"}, {"text": SLOW_DOWN}, {"text": SLOW_DOWN}]
    assert [(m.text, m.input_channel) for m in agent.received] == [("m0", "socketio")]


@dataclass
class WebClient:
    """A socket.io client as the web chat widget talks: session_request, then user_uttered."""

    client: Any
    confirmed: list[str] = field(default_factory=list)
    said: list[dict[str, Any]] = field(default_factory=list)

    async def request(self, session_id: str | None) -> str:
        before = len(self.confirmed)
        await self.client.emit("session_request", {"session_id": session_id})
        for _ in range(100):
            if len(self.confirmed) > before:
                return self.confirmed[-1]
            await asyncio.sleep(0.05)
        raise AssertionError("no session_confirm")

    async def say(self, text: str, session_id: object) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": session_id})


@asynccontextmanager
async def web_client(url: str) -> AsyncIterator[WebClient]:
    web = WebClient(socketio.AsyncClient())
    web.client.on("session_confirm", web.confirmed.append)
    web.client.on("bot_uttered", web.said.append)
    await web.client.connect(url, socketio_path="/socket.io", transports=["polling"])
    try:
        yield web
    finally:
        await web.client.disconnect()


def test_the_web_chat_accepts_only_session_ids_the_dealership_signed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forged, truncated, foreign or missing session id never joins nor reaches a conversation."""
    channels = loaded_channels(monkeypatch, DA_WEBCHAT_SESSION_KEY=WEB_KEY, DA_REST_TOKEN=None)
    signer = SessionSigner(WEB_KEY.encode())
    victim_id = signer.issue()  # the gateway gave it to someone else's browser
    guesses: list[str | None] = [
        "web-1",
        victim_id[:-1],
        victim_id[:-1] + ("0" if victim_id[-1] != "0" else "1"),
        SessionSigner(b"another-key-of-the-same-length-0123").issue(),
        None,
    ]

    async def scenario() -> dict[str, Any]:
        async with (
            serving(channels) as server,
            web_client(server.url) as victim,
            web_client(server.url) as intruder,
        ):
            kept = await victim.request(victim_id)
            await victim.say("我想试驾Q5L", victim_id)
            replaced = [await intruder.request(guess) for guess in guesses]
            # Messages on ids it was not confirmed: the victim's (valid, but not its own), the
            # forged ones; then one on the fresh id it was given, which is its own conversation.
            await intruder.say("偷看", victim_id)
            for guess in guesses:
                await intruder.say("伪造", guess)
            await intruder.say("你好", replaced[-1])
            await asyncio.sleep(0.5)
            return {
                "kept": kept,
                "replaced": replaced,
                "agent": server.agent,
                "victim_heard": list(victim.said),
                "intruder_heard": list(intruder.said),
            }

    result = run(scenario)
    assert result["kept"] == victim_id  # a signed id is confirmed as it is
    replaced = result["replaced"]
    assert all(signer.valid(fresh) for fresh in replaced)  # fresh signed ones instead
    assert not set(replaced) & {victim_id, *[g for g in guesses if g]}
    assert len(set(replaced)) == len(guesses)
    agent: RecordingAgent = result["agent"]
    assert [(m.sender_id, m.text) for m in agent.received] == [
        (victim_id, "我想试驾Q5L"),
        (replaced[-1], "你好"),
    ]
    assert result["victim_heard"] == [{"text": "echo: 我想试驾Q5L"}]  # nothing of the intruder
    refused = {"text": SESSION_REFUSED}
    assert result["intruder_heard"] == [refused] * (1 + len(guesses)) + [{"text": "echo: 你好"}]
    assert "请刷新页面" in SESSION_REFUSED
    assert "reload the page" in SESSION_REFUSED


def test_without_the_key_rasa_signs_sessions_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    channels = loaded_channels(monkeypatch, DA_WEBCHAT_SESSION_KEY=None, DA_REST_TOKEN=None)
    web = next(c for c in channels if isinstance(c, LimitedSocketIOInput))

    async def scenario() -> tuple[str, list[UserMessage]]:
        async with serving(channels) as server, web_client(server.url) as browser:
            session = await browser.request(None)
            await browser.say("hello", session)
            await asyncio.sleep(0.3)
            return session, server.agent.received

    session, received = run(scenario)
    assert web.signer.valid(session)
    assert [(m.sender_id, m.text) for m in received] == [(session, "hello")]


@asynccontextmanager
async def sanic_serving(app: Any) -> AsyncIterator[str]:
    """``app`` on a free loopback port; its base URL."""
    port = free_port()
    server: Any = await app.create_server("127.0.0.1", port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


@asynccontextmanager
async def gateway_saying(handled_by: str, seen: list[dict[str, Any]]) -> AsyncIterator[str]:
    """A stand-in for the gateway: records the relay checks (answering ``handled_by``) and the
    call outcomes the phone channel hands over."""
    app = Sanic(f"gateway_{uuid.uuid4().hex}", configure_logging=False)

    @app.post("/internal/relay/inbound")
    async def inbound(request: Any) -> Any:
        from sanic.response import json as answer

        if request.headers.get("Authorization") != "Bearer relay-token":
            return answer({"error": "forbidden"}, status=403)
        seen.append(request.json)
        return answer({"handled_by": handled_by})

    @app.post("/internal/phone/calls")
    async def calls(request: Any) -> Any:
        from sanic.response import json as answer

        if request.headers.get("Authorization") != "Bearer relay-token":
            return answer({"error": "forbidden"}, status=403)
        seen.append(request.json)
        return answer({"status": request.json["status"]})

    async with sanic_serving(app) as url:
        yield url


@pytest.mark.parametrize(
    ("handled_by", "reaches_rasa"), [("consultant", False), ("assistant", True)]
)
def test_a_conversation_a_consultant_handles_does_not_reach_the_assistant(
    monkeypatch: pytest.MonkeyPatch, handled_by: str, reaches_rasa: bool
) -> None:
    async def scenario() -> tuple[list[str], list[dict[str, Any]], Any]:
        seen: list[dict[str, Any]] = []
        async with gateway_saying(handled_by, seen) as gateway:
            channels = loaded_channels(
                monkeypatch, DA_REST_TOKEN=None, DA_GATEWAY_URL=gateway,
                DA_RELAY_TOKEN="relay-token",
            )  # fmt: skip
            async with serving(channels) as server, aiohttp.ClientSession() as http:
                status, replies = await post(http, server.url, "rest-7", "有人在吗")
                assert status == 200
                return server.agent.texts_of("rest-7"), seen, replies

    reached, seen, replies = run(scenario)
    assert seen == [{"sender_id": "rest-7", "text": "有人在吗", "channel": "rest"}]
    assert reached == (["有人在吗"] if reaches_rasa else [])
    assert replies == (
        [{"recipient_id": "rest-7", "text": "echo: 有人在吗"}] if reaches_rasa else []
    )


def test_without_the_gateway_the_assistant_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> list[str]:
        channels = loaded_channels(
            monkeypatch, DA_REST_TOKEN=None, DA_GATEWAY_URL=f"http://127.0.0.1:{free_port()}",
            DA_RELAY_TOKEN="relay-token",
        )  # fmt: skip
        async with serving(channels) as server, aiohttp.ClientSession() as http:
            await post(http, server.url, "rest-8", "你好")
            return server.agent.texts_of("rest-8")

    assert run(scenario) == ["你好"]


# --- the phone channel's calls -----------------------------------------------------------------

PHONE_TOKEN = "phone-auth-token"
PUBLIC = "https://dealer.example.com"


def test_call_outcomes_are_handed_to_the_gateway_under_the_customers_conversation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caller, customer = "+8613911112222", "+8613833334444"
    inbound = {
        "CallSid": "CA" + "a" * 32,
        "CallStatus": "completed",
        "CallDuration": "42",
        "Direction": "inbound",
        "From": caller,
        "To": "+862150001234",
    }
    placed = {"CallSid": "CA" + "b" * 32, "CallStatus": "no-answer", "CallDuration": "0",
              "Direction": "outbound-api", "From": "+862150001234", "To": customer}  # fmt: skip

    async def scenario() -> tuple[list[int], list[dict[str, Any]]]:
        seen: list[dict[str, Any]] = []
        async with gateway_saying("assistant", seen) as gateway:
            channels = loaded_channels(
                monkeypatch, TWILIO_AUTH_TOKEN=PHONE_TOKEN, PHONE_PUBLIC_URL=PUBLIC,
                DA_GATEWAY_URL=gateway, DA_RELAY_TOKEN="relay-token",
            )  # fmt: skip
            async with serving(channels) as server, aiohttp.ClientSession() as http:
                statuses = []
                for params in (inbound, placed, {**placed, "CallStatus": "busy"}):
                    url = "/webhooks/phone/status"
                    signature = twilio_signature(PHONE_TOKEN, PUBLIC + url, params)
                    async with http.post(
                        server.url + url, data=params, headers={"X-Twilio-Signature": signature}
                    ) as response:
                        statuses.append(response.status)
                async with http.post(server.url + url, data=inbound) as forged:
                    statuses.append(forged.status)
                return statuses, seen

    statuses, seen = run(scenario)
    assert statuses == [204, 204, 204, 403]
    assert seen == [
        {"call_sid": inbound["CallSid"], "sender_id": f"phone:{caller}", "status": "completed",
         "direction": "inbound", "duration": "42"},
        {"call_sid": placed["CallSid"], "sender_id": f"phone:{customer}", "status": "no-answer",
         "direction": "outbound-api", "duration": "0"},
        {"call_sid": placed["CallSid"], "sender_id": f"phone:{customer}", "status": "busy",
         "direction": "outbound-api", "duration": "0"},
    ]  # fmt: skip


def test_a_placed_call_names_only_the_proactive_actions_and_their_slots() -> None:
    slots = json.dumps({"proactive_ref": "survey:3:d1", "survey_id": "3", "name": "x"})
    assert proactive_request({"proactive": ["action_start_survey"], "slots": [slots]}) == (
        "action_start_survey",
        {"proactive_ref": "survey:3:d1", "survey_id": "3"},
    )
    assert proactive_request({"proactive": ["action_erase_personal_data"]}) is None
    assert proactive_request({"proactive": ["action_start_survey"], "slots": ["{not json"]}) is None
    assert proactive_request({}) is None


def test_a_transfer_is_kept_for_the_call_and_other_custom_payloads_are_not() -> None:
    async def scenario() -> list[dict[str, Any]]:
        output = PhoneOutput()
        await output.send_custom_json("phone:+8613800138000", {"dial": "+862150001234"})
        await output.send_custom_json("phone:+8613800138000", {"card": {"title": "x"}})
        await output.send_image_url("phone:+8613800138000", "https://example.com/a.jpg")
        messages: list[dict[str, Any]] = output.messages
        return messages

    messages = run(scenario)
    assert [m.get("custom") for m in messages] == [{"dial": "+862150001234"}]
    assert transfer_to(messages) == "+862150001234"
    assert transfer_to([{"text": "你好"}]) is None

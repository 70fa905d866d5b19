"""The phone channel: Twilio Voice webhooks at ``/webhooks/phone/webhook`` (Rasa environment).

Rasa's own Twilio Voice channel (``rasa.core.channels.twilio_voice``) with the doors and the
manners a dealership's phone line needs:

- **Signed requests only.** Every POST must carry a valid ``X-Twilio-Signature`` for the URL
  Twilio called (``PHONE_PUBLIC_URL`` — or ``PUBLIC_BASE_URL`` — plus the path, since a proxy
  changes scheme and host; by default the request's own URL) and its form parameters, checked
  with Twilio's ``RequestValidator`` and ``TWILIO_AUTH_TOKEN``. A forged, unsigned or replayed
  request (the same signature, call and parameters seen in the last 15 minutes) gets 403 and
  never reaches Rasa. Without ``TWILIO_AUTH_TOKEN`` every request gets 403: the channel cannot
  tell Twilio from anyone else, and a 403 shows up in Twilio's debugger as the misconfiguration
  it is, where a ``<Reject>`` would look like a line that is merely busy.
- **Two languages.** Chinese (zh-CN) by default or as ``PHONE_LANGUAGE`` says; English (en-US)
  when the caller speaks English or presses 9 (offered in the greeting). Rasa gets the language
  and the caller's number as message metadata: ``{"language": "zh"|"en", "caller": "+86…"}``.
- **Phone manners.** No markup in speech; buttons become keypad options remembered per call, so
  a key sends that button's payload; prices, times and phone numbers read well
  (``channels/phone_speech.py``). Silence gets a short reprompt, two silences in a row a polite
  goodbye and ``<Hangup>``; the assistant's goodbye ends the call too.
- **Status callbacks** (``/webhooks/phone/status``, signed too) are handed to the gateway,
  which records them on the conversation; an ended call is forgotten here.
- **Calls the dealership places** (surveys, reminders) and **transfers** to the showroom:
  ``channels/phone_calls.py``.

The sender id is ``phone:<customer's number>`` (E.164: ``From`` of a call in, ``To`` of a call
placed by the dealership): a customer who calls back continues their conversation. A call with a
withheld number is ``phone:<CallSid>``. A caller's number reaches the actions as the ``caller``
metadata; a signed call's number is the caller's own, so the actions offer it as the contact
phone and count it as verified.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.twilio_voice import TwilioVoiceInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import (
    Gather,
    VoiceResponse,
)

from channels.limits import OnNewMessage
from channels.phone_calls import (
    CallReports,
    PhoneOutput,
    proactive_request,
    run_proactive,
    transfer_to,
)
from channels.phone_guard import Call, CallMemory, ReplayCache
from channels.phone_speech import (
    LANGUAGE_KEY,
    LOCALES,
    PROMPTS,
    Language,
    as_language,
    keyed_in,
    options_sentence,
    other_language,
    speech_language,
    spoken_turn,
    written_language,
)

logger = logging.getLogger(__name__)

TOKEN_VARIABLE: Final = "TWILIO_AUTH_TOKEN"  # noqa: S105 - a variable name
PUBLIC_URL_VARIABLES: Final = ("PHONE_PUBLIC_URL", "PUBLIC_BASE_URL")
LANGUAGE_VARIABLE: Final = "PHONE_LANGUAGE"
GREETING: Final = "/greet"
END_RESPONSES: Final = frozenset({"utter_goodbye"})
ENDED_STATUSES: Final = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
SILENCES_BEFORE_HANGUP: Final = 2
VOICES: Final[Mapping[Language, str]] = {"zh": "Polly.Zhiyu", "en": "Polly.Joanna"}
_E164: Final = re.compile(r"\+[1-9]\d{6,14}")
_SORRY: Final[Mapping[Language, str]] = {
    "zh": "抱歉，系统暂时出了点问题，请您稍后再说一遍。",
    "en": "Sorry, something went wrong on our side. Please say that again in a moment.",
}


class PhoneInput(TwilioVoiceInput):
    """The Twilio Voice channel under the name "phone" (URL prefix ``/webhooks/phone``)."""

    @classmethod
    def name(cls) -> str:
        return "phone"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> PhoneInput:
        """Voices and speech settings from ``credentials.yml``; the token, the public URL and
        the dealer's language from the environment (no secret in the credentials file)."""
        settings = credentials or {}
        public_url = next((os.environ[v] for v in PUBLIC_URL_VARIABLES if os.environ.get(v)), None)
        return cls(
            auth_token=os.environ.get(TOKEN_VARIABLE) or None,
            public_url=public_url,
            language=as_language(os.environ.get(LANGUAGE_VARIABLE) or settings.get("language")),
            voices={
                "zh": str(settings.get("zh_voice") or VOICES["zh"]),
                "en": str(settings.get("en_voice") or VOICES["en"]),
            },
            speech_timeout=str(settings.get("speech_timeout") or "auto"),
            speech_model=str(settings.get("speech_model") or "default"),
        )

    def __init__(
        self,
        auth_token: str | None,
        public_url: str | None = None,
        language: Language = "zh",
        voices: Mapping[Language, str] | None = None,
        speech_timeout: str = "auto",
        speech_model: str = "default",
        replays: ReplayCache | None = None,
        calls: CallMemory | None = None,
        reports: CallReports | None = None,
    ) -> None:
        # Not TwilioVoiceInput.__init__: its list of voices has no Chinese one.
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.public_url = public_url.rstrip("/") if public_url else None
        self.language: Language = language
        self.voices: Mapping[Language, str] = voices or VOICES
        self.assistant_voice = self.voices[language]
        self.initial_prompt = GREETING
        self.reprompt_fallback_phrase = PROMPTS["reprompt"][language]
        self.speech_timeout = speech_timeout
        self.speech_model = speech_model
        self.enhanced = "false"
        self.replays = replays or ReplayCache()
        self.calls = calls or CallMemory()
        self.reports = reports or CallReports.from_environment()
        if self.validator is None:
            logger.warning("phone channel: %s is not set, every call is refused", TOKEN_VARIABLE)

    # -- the doors ---------------------------------------------------------------------------

    def called_url(self, request: Request) -> str:
        """The URL Twilio called (and signed): the public base, if configured, plus the path."""
        if self.public_url is None:
            return str(request.url)
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.public_url}{request.path}{query}"

    def verified(self, request: Request) -> dict[str, str] | None:
        """The form parameters of a genuine, first-seen Twilio request; None otherwise."""
        if self.validator is None:
            return None
        signature = request.headers.get("X-Twilio-Signature", "")
        form: Mapping[str, Any] = request.form or {}
        params = {key: str(form.get(key, "")) for key in form}
        url = self.called_url(request)
        if not signature or not self.validator.validate(url, params, signature):
            logger.info("phone channel: a request without a valid signature was refused")
            return None
        if not self.replays.first_time(signature, url, params):
            logger.info("phone channel: a replayed request was refused")
            return None
        return params

    # -- the routes --------------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        phone = Blueprint("phone_webhook", __name__)

        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def receive(request: Request) -> HTTPResponse:
            params = self.verified(request)
            if params is None:
                return response.text("forbidden", status=403)
            if not params.get("CallSid"):
                return response.text("CallSid missing", status=400)
            twiml = await self.answer(request, params, on_new_message)
            return response.text(str(twiml), content_type="text/xml")

        async def status(request: Request) -> HTTPResponse:
            params = self.verified(request)
            if params is None:
                return response.text("forbidden", status=403)
            await self.record_status(params)
            return response.empty()

        phone.add_route(health, "/", methods=["GET"])
        phone.add_route(receive, "/webhook", methods=["POST"])
        phone.add_route(status, "/status", methods=["POST"])
        return phone

    async def record_status(self, params: Mapping[str, str]) -> None:
        """Hand a status callback to the gateway and log it (no caller number); an ended call
        is forgotten."""
        call_sid, call_status = params.get("CallSid", ""), params.get("CallStatus", "")
        logger.info(
            "phone call %s: %s (duration %ss)",
            call_sid,
            call_status or "unknown",
            params.get("CallDuration") or "-",
        )
        if call_status in ENDED_STATUSES and call_sid:
            self.calls.end(call_sid)
        if call_sid:
            await self.reports.report(params, sender_id(params))

    # -- a turn of the call ------------------------------------------------------------------

    async def answer(
        self, request: Request, params: Mapping[str, str], on_new_message: OnNewMessage
    ) -> VoiceResponse:
        """The TwiML for one webhook request of a call."""
        call_sid = params["CallSid"]
        speech = (params.get("SpeechResult") or "").strip()
        digits = (params.get("Digits") or "").strip()
        call = self.calls.get(call_sid)
        if call is None:
            call = self.calls.start(call_sid, self.language)
            placed = proactive_request(request.args)
            if placed is not None:  # the dealership's call, answered: say what it is for
                return await self.proactive(request, params, call, *placed)
            if not speech and not digits:  # the call was just answered
                return await self.turn(request, params, call, on_new_message, GREETING, True)
        call.turns += 1
        self.calls.touch(call_sid, call)
        if digits or speech:
            call.silences = 0
        if digits == LANGUAGE_KEY and call.option(LANGUAGE_KEY) is None:
            call.language = other_language(call.language)
            return await self.turn(request, params, call, on_new_message, GREETING, True)
        if digits:
            option = call.option(digits)
            text = option.payload if option else digits
        elif speech:
            call.language = speech_language(speech) or call.language
            text = speech
        else:
            return self.silence(request, call_sid, call)
        return await self.turn(request, params, call, on_new_message, text, False)

    def silence(self, request: Request, call_sid: str, call: Call) -> VoiceResponse:
        """A short reprompt (with the keypad options still open); after two silences in a row,
        a goodbye and ``<Hangup>``. Nothing reaches Rasa."""
        call.silences += 1
        if call.silences >= SILENCES_BEFORE_HANGUP:
            self.calls.end(call_sid)
            return self.twiml(request, call, [PROMPTS["goodbye"][call.language]], hangup=True)
        reprompt = [PROMPTS["reprompt"][call.language]]
        offer = options_sentence(call.options, call.language)
        return self.twiml(request, call, [*reprompt, offer] if offer else reprompt)

    async def turn(
        self,
        request: Request,
        params: Mapping[str, str],
        call: Call,
        on_new_message: OnNewMessage,
        text: str,
        greeting: bool,
    ) -> VoiceResponse:
        """Send ``text`` to Rasa and speak its answer."""
        collector = PhoneOutput()
        caller = params.get("From", "")
        metadata: dict[str, Any] = {"language": call.language}
        if _E164.fullmatch(caller) and not outbound(params):
            metadata["caller"] = caller
        message = UserMessage(
            text,
            collector,
            sender_id(params),
            input_channel=self.name(),
            metadata=metadata,
        )
        try:
            await on_new_message(message)
        except Exception as error:  # the caller hears an apology, not Twilio's error message
            # The error's type only: its text may quote what the caller said.
            logger.error("phone channel: Rasa failed on a message (%s)", type(error).__name__)
            return self.twiml(request, call, [_SORRY[call.language]])
        return self.speak(request, params, call, collector.messages, greeting)

    async def proactive(
        self,
        request: Request,
        params: Mapping[str, str],
        call: Call,
        action: str,
        slots: Mapping[str, str],
    ) -> VoiceResponse:
        """The first words of a call the dealership placed: what its action says."""
        collector = PhoneOutput()
        try:
            await run_proactive(request.app.ctx.agent, sender_id(params), action, slots, collector)
        except Exception as error:
            logger.error("phone channel: a placed call's action failed (%s)", type(error).__name__)
            return self.twiml(request, call, [_SORRY[call.language]], hangup=True)
        return self.speak(request, params, call, collector.messages, False)

    def speak(
        self,
        request: Request,
        params: Mapping[str, str],
        call: Call,
        messages: list[dict[str, Any]],
        greeting: bool,
    ) -> VoiceResponse:
        """A bot turn as TwiML: spoken, with its keypad options; a goodbye hangs up, a
        transfer dials the showroom."""
        call.language = _reply_language(messages) or call.language
        sentences, options = spoken_turn(messages, call.language)
        call.options = options
        number = transfer_to(messages)
        if number is not None:
            self.calls.end(params["CallSid"])
            return self.twiml(request, call, sentences, dial=number)
        if any(m.get("utter_action") in END_RESPONSES for m in messages):
            self.calls.end(params["CallSid"])
            return self.twiml(request, call, sentences, hangup=True)
        return self.twiml(request, call, sentences, offer_language=greeting)

    def twiml(
        self,
        request: Request,
        call: Call,
        sentences: list[str],
        *,
        hangup: bool = False,
        offer_language: bool = False,
        dial: str | None = None,
    ) -> VoiceResponse:
        """``<Say>`` the sentences inside a ``<Gather>`` (the caller may answer or press a key
        while they are spoken), or ``<Say>`` them and ``<Hangup>`` (or ``<Dial>`` a number)."""
        language = call.language
        voice = {"voice": self.voices[language], "language": LOCALES[language]}
        twiml = VoiceResponse()
        if hangup or dial:
            for sentence in sentences:
                twiml.say(sentence, **voice)
            if dial:
                twiml.dial(dial, timeout=25)
            twiml.hangup()
            return twiml
        attributes: dict[str, Any] = {
            "input": "speech dtmf",
            "action": self.next_url(request),
            "method": "POST",
            "actionOnEmptyResult": True,
            "language": LOCALES[language],
            "speechTimeout": self.speech_timeout,
            "speechModel": self.speech_model,
            "timeout": 5,
        }
        if call.options and not keyed_in(call.options):
            attributes["numDigits"] = 1  # an option is one key: Twilio posts it at once
        elif call.options:
            attributes["finishOnKey"] = "#"  # a score keyed in: 1, 0, #
        gather = Gather(**attributes)
        for sentence in sentences:
            gather.say(sentence, **voice)
        if offer_language:
            other = other_language(language)
            offer = PROMPTS["language_offer"][language]
            gather.say(offer, voice=self.voices[other], language=LOCALES[other])
        twiml.append(gather)
        return twiml

    def next_url(self, request: Request) -> str:
        """Where the next request of the call goes: this webhook, with a fresh nonce, so that
        no two genuine requests are alike (the replay check relies on it)."""
        path = f"/webhooks/{self.name()}/webhook?n={quote(secrets.token_urlsafe(12))}"
        return f"{self.public_url}{path}" if self.public_url else path


def outbound(params: Mapping[str, str]) -> bool:
    """Whether the dealership placed the call (the customer is ``To``)."""
    return params.get("Direction", "").startswith("outbound")


def sender_id(params: Mapping[str, str]) -> str:
    """``phone:<customer's number>`` for a customer with a number, so that calling back
    continues the conversation; ``phone:<CallSid>`` when the number is withheld."""
    caller = params.get("To" if outbound(params) else "From", "")
    return f"phone:{caller}" if _E164.fullmatch(caller) else f"phone:{params['CallSid']}"


def _reply_language(messages: list[dict[str, Any]]) -> Language | None:
    """The language Rasa answered in (its language slot decides), read from the replies."""
    return written_language(" ".join(str(m.get("text") or "") for m in messages))

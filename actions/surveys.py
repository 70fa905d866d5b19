"""The survey conversation (回访): started by the scheduler, a personal link or the customer,
asked question by question in ``survey_form``, answers saved as they come.

The form's one slot, ``survey_answer``, has a custom mapping: ``extract_survey_answer`` reads the
answer to the current question (buttons, "非常满意", "8分", "meh", a comment). What answers
nothing and is another request (a price question, "later", opting out) is not extracted, so the
form steps aside, the rules answer it, and the survey goes on (survey_rules.yml). An answer that
fits nothing is asked again once with the buttons, then the question is skipped. Wording comes
from the survey configuration (config/surveys.yml); the domain has the surrounding responses.
"""

from __future__ import annotations

import json
from typing import Any, Final

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.base import DatabaseAction, Services, conversation_channel, entity_values, language_of
from actions.handoff import excerpt, hand_off
from actions.slots import printable
from crm_bridge import tickets
from crm_bridge.models import Survey
from crm_bridge.surveys import links, scores
from crm_bridge.surveys import service as surveys
from crm_bridge.surveys.config import SCALE_RANGE, SurveyConfig, cached

FORM: Final = "survey_form"
SLOT: Final = "survey_answer"
# Asked outside a customer turn, the proactive message names itself here (bot/jobs/proactive.py
# checks for it before sending again).
DONE_SLOT: Final = "proactive_done"
# Requests that pause the survey for their answer (the rules in survey_rules.yml), when the
# message gives no score.
STEP_ASIDE: Final = frozenset({
    "ask_models", "ask_price", "ask_model_info", "ask_feature", "compare_models", "ask_stock",
    "ask_promotion", "ask_dealer_info", "ask_financing", "ask_trade_in", "bot_challenge",
    "request_test_drive", "reschedule_test_drive", "cancel_test_drive", "request_human",
    "request_callback", "opt_out", "delete_my_data", "goodbye", "greet", "thank", "start_survey",
})  # fmt: skip
# On the comment question, these are "nothing to add".
NOTHING: Final = frozenset({
    "没有", "没有了", "无", "没", "没了", "暂时没有", "没什么", "没啥", "没有意见", "都挺好", "no",
    "nope", "nothing", "none", "no thanks", "no thank you", "nothing else", "n/a", "all good",
})  # fmt: skip
SATISFACTION_BUTTONS: Final = {
    "zh": ["非常满意", "满意", "一般", "不满意", "非常不满意"],
    "en": ["Very satisfied", "Satisfied", "Neutral", "Dissatisfied", "Very dissatisfied"],
}
SKIP_BUTTON: Final = {"zh": "没有了", "en": "Nothing to add"}
# Why a personal link was refused (crm_bridge.surveys.links.LinkRefused.reason), as said.
LINK_REFUSED: Final = {
    "unknown": "utter_survey_link_unknown",
    "used": "utter_survey_link_used",
    "expired": "utter_survey_link_expired",
    "finished": "utter_survey_link_finished",
}
# The question a low score was about, as the complaint's cause.
CAUSES: Final = {"consultant": "consultant", "delivery": "delivery", "car": "car",
                 "test_drive": "service"}  # fmt: skip


def config_of(services: Services) -> SurveyConfig:
    return cached(services.settings.survey_config_path)


def buttons(scale: str, language: str) -> list[dict[str, str]]:
    """Score buttons (payloads carry the number, so no understanding is needed)."""
    if scale == "satisfaction":
        titles = SATISFACTION_BUTTONS["en" if language == "en" else "zh"]
        return [
            {"title": f"{5 - i} {title}", "payload": "/inform" + json.dumps({"rating": 5 - i})}
            for i, title in enumerate(titles)
        ]
    if scale == "recommend":
        low, high = SCALE_RANGE["recommend"]
        return [
            {"title": str(n), "payload": "/inform" + json.dumps({"rating": n})}
            for n in range(high, low - 1, -1)
        ]
    return [{"title": SKIP_BUTTON["en" if language == "en" else "zh"], "payload": "/deny"}]


def ask(
    dispatcher: CollectingDispatcher,
    session: Session,
    config: SurveyConfig,
    survey: Survey,
    language: str,
) -> str | None:
    """Say the survey's current question with its buttons; its id, or None when all are done."""
    question = surveys.current_question(survey, config)
    if question is None:
        return None
    spec = config.questions[question]
    about = surveys.context(session, survey, language)
    text = spec.text.get(language).format(model=about.model, consultant=about.consultant)
    if survey.retries:
        dispatcher.utter_message(response="utter_survey_unclear")
    dispatcher.utter_message(text=text, buttons=buttons(spec.scale, language))
    return question


def _intro(
    config: SurveyConfig, session: Session, survey: Survey, language: str, services: Services
) -> str:
    about = surveys.context(session, survey, language)
    settings = services.settings  # the name the assistant introduces itself by (DEALER_NAME)
    dealer = settings.dealer_name_en if language == "en" else settings.dealer_name
    intro = config.kinds[survey.kind].intro.get(language)
    return intro.format(model=about.model, consultant=about.consultant, dealer=dealer)


class ActionStartSurvey(DatabaseAction):
    """Open the survey: sent by the scheduler (``survey_id`` set beforehand), its reminder,
    a personal link (``/start_survey{"survey_token": ...}``), or the customer asking to go on."""

    def name(self) -> str:
        return "action_start_survey"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        config = config_of(self.services)
        ref = tracker.get_slot("proactive_ref")
        wanted = tracker.get_slot("survey_id")
        tokens = [t for t in entity_values(tracker, "survey_token") if isinstance(t, str)]
        # Sent by the scheduler: a ref this conversation has not run yet (the customer asking
        # to go on later finds the old ref in the slot, already marked done).
        proactive = (
            ref is not None
            and str(ref).startswith("survey:")
            and tracker.get_slot(DONE_SLOT) != ref
        )
        now = self.services.clock()
        language = language_of(tracker)

        def open_it(session: Session) -> tuple[str, list[str]]:
            survey: Survey | None = None
            if proactive and wanted is not None:
                survey = session.get(Survey, int(wanted))
            elif tokens:
                try:
                    survey = links.redeem(
                        session, tokens[0], sender_id=tracker.sender_id,
                        channel=conversation_channel(tracker), language=language, now=now,
                    )  # fmt: skip
                except links.LinkRefused as refused:
                    return f"link_{refused.reason}", []
            else:
                survey = surveys.open_survey(session, tracker.sender_id)
            if survey is None or survey.completed_at or survey.closed_at:
                return "none", []
            said = CollectingDispatcher()
            lead_in = _intro(config, session, survey, survey.language or language, self.services)
            if str(ref).endswith(":reminder"):
                said.utter_message(response="utter_survey_reminder")
            elif not survey.answers:
                said.utter_message(text=lead_in)
            else:
                said.utter_message(response="utter_survey_resume")
            spoken = survey.language or language
            # Outside a customer turn the question is asked here; in one, survey_form asks it.
            question = ask(said, session, config, survey, spoken) if proactive else "form"
            for message in said.messages:
                dispatcher.messages.append(message)
            return ("asked" if question else "none"), [str(survey.id), spoken]

        outcome, ids = await self.services.in_transaction(open_it)
        if outcome.startswith("link_"):
            dispatcher.utter_message(response=LINK_REFUSED[outcome.removeprefix("link_")])
            return []
        if outcome == "none":
            if not proactive:
                dispatcher.utter_message(response="utter_survey_none")
            return [SlotSet(DONE_SLOT, ref)] if proactive else []
        events: list[EventType] = [SlotSet("survey_id", ids[0]), SlotSet(SLOT, None)]
        if tracker.get_slot("language") is None:
            events.append(SlotSet("language", ids[1]))
        if proactive:
            events += [ActiveLoop(FORM), SlotSet("requested_slot", SLOT), SlotSet(DONE_SLOT, ref)]
            # Sent from outside a customer turn: the conversation now waits for the answer.
            events.append(ActionExecuted("action_listen"))
        return events


class ActionAskSurveyAnswer(DatabaseAction):
    """The survey form's question: the survey's next unanswered one."""

    def name(self) -> str:
        return "action_ask_survey_form_survey_answer"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        config = config_of(self.services)
        language = language_of(tracker)

        def question(session: Session) -> str | None:
            survey = _survey(session, tracker)
            return ask(dispatcher, session, config, survey, language) if survey else None

        if await self.services.in_transaction(question) is None:
            dispatcher.utter_message(response="utter_survey_thanks")
        return []


def _survey(session: Session, tracker: Tracker) -> Survey | None:
    wanted = tracker.get_slot("survey_id")
    survey = session.get(Survey, int(wanted)) if wanted is not None else None
    if survey is None or survey.sender_id != tracker.sender_id:
        survey = surveys.open_survey(session, tracker.sender_id)
    if survey is None or survey.completed_at or survey.closed_at:
        return None
    return survey


def read_answer(text: str, scale: str, rating: int | None, intent: str | None) -> str | None:
    """What the message answers: ``score:N``, ``text:...``, ``skip``, ``unclear``, or None
    when it answers nothing and is another request (the form steps aside)."""
    low, high = SCALE_RANGE.get(scale, (0, 10))
    if scale == "text":
        plain = text.strip().lower().strip(" .!。！~")
        if text.startswith("/") or plain in NOTHING:
            return "skip" if intent in ("deny", None) or plain in NOTHING else None
        if intent in STEP_ASIDE and intent not in ("thank",):
            return None
        return "text:" + text.strip()[:2000] if printable(text) else "unclear"
    if rating is not None and low <= rating <= high and text.startswith("/"):
        return f"score:{rating}"
    found = scores.score(text, scale) if printable(text) else None
    if found is not None:
        return f"score:{found}"
    if rating is not None and low <= rating <= high:
        return f"score:{rating}"
    if intent in STEP_ASIDE or intent == "deny":
        return None
    return "unclear"


class ValidateSurveyForm(FormValidationAction):
    """Reads and saves each answer; the form goes on until the survey's questions are done."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def name(self) -> str:
        return "validate_survey_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Nothing to ask when there is no open survey (a refused link): the form ends at once."""
        found = await self.services.in_transaction(lambda s: _survey(s, tracker) is not None)
        return domain_slots if found else []

    async def extract_survey_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.active_loop.get("name") != FORM or tracker.get_slot("requested_slot") != SLOT:
            return {}
        config = config_of(self.services)
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        ratings = [v for v in entity_values(tracker, "rating") if isinstance(v, int)]

        def scale(session: Session) -> str | None:
            survey = _survey(session, tracker)
            question = surveys.current_question(survey, config) if survey else None
            return config.questions[question].scale if question else None

        found = await self.services.in_transaction(scale)
        if found is None:
            return {}
        answer = read_answer(text, found, ratings[0] if ratings else None, intent)
        return {} if answer is None else {SLOT: answer}

    async def validate_survey_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        config = config_of(self.services)
        now = self.services.clock()
        answer = str(value or "")

        def save(session: Session) -> str:
            survey = _survey(session, tracker)
            question = surveys.current_question(survey, config) if survey else None
            if survey is None or question is None:
                return "done"
            if answer.startswith("score:"):
                stored: Any = int(answer.removeprefix("score:"))
            elif answer.startswith("text:"):
                stored = answer.removeprefix("text:")
            elif answer == "skip":
                stored = None
            elif surveys.retry(session, survey) < 2:
                return "again"
            else:
                stored = None  # asked twice: skipped, the survey goes on
            following = surveys.answer(session, survey, question, stored, now, config)
            return "next" if following else "done"

        step = await self.services.in_transaction(save)
        return {SLOT: "done" if step == "done" else None}


class ActionSurveyDone(DatabaseAction):
    """Thanks; a low score or a complaint opens a ticket and hands the customer to a person."""

    def name(self) -> str:
        return "action_survey_done"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        config = config_of(self.services)
        now = self.services.clock()
        wanted = tracker.get_slot("survey_id")
        language = language_of(tracker)

        def finish(session: Session) -> int | str | None:
            survey = session.get(Survey, int(wanted)) if wanted is not None else None
            if survey is None or survey.sender_id != tracker.sender_id:
                return "none"  # nothing was asked (a refused link said why)
            if not survey.complaint:
                return None
            lowest = _lowest(survey.answers or {}, config)
            ticket = tickets.open_ticket(
                session, source="survey", now=now, sender_id=tracker.sender_id,
                channel=survey.channel or conversation_channel(tracker),
                language=survey.language or language, customer_id=survey.customer_id,
                lead_id=survey.lead_id, survey_id=survey.id,
                summary=str((survey.answers or {}).get("comment") or "") or None,
                answers=dict(survey.answers or {}), excerpt=excerpt(tracker),
                cause=CAUSES.get(lowest or "", "other"),
            )  # fmt: skip
            return int(ticket.id)

        ticket_id = await self.services.in_transaction(finish)
        events: list[EventType] = [SlotSet("survey_id", None), SlotSet(SLOT, None)]
        if ticket_id == "none":
            return events
        if ticket_id is None:
            dispatcher.utter_message(response="utter_survey_thanks")
            return events
        dispatcher.utter_message(response="utter_survey_complaint", ticket=ticket_id)
        return events + await hand_off(
            self.services, dispatcher, tracker, "complaint", ticket_id=int(ticket_id)
        )


def _lowest(answers: dict[str, Any], config: SurveyConfig) -> str | None:
    """The question answered lowest for its scale (the likely cause of a complaint)."""
    scored = [
        (value / SCALE_RANGE[config.questions[q].scale][1], q)
        for q, value in answers.items()
        if q in config.questions and isinstance(value, int) and config.is_low(q, value)
    ]
    return min(scored)[1] if scored else None


class ActionPauseSurvey(DatabaseAction):
    """ "Later" / "不想填": the survey waits; what was answered is kept."""

    def name(self) -> str:
        return "action_pause_survey"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_survey_paused")
        return [SlotSet(SLOT, None)]

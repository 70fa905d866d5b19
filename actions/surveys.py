"""The short test-drive feedback survey: asked by the scheduler through the conversation, the
answer kept with the survey; a low score or a complaint is flagged for a manager."""

from __future__ import annotations

import json

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.base import DatabaseAction, entity_values
from actions.slots import printable
from crm_bridge.surveys import service as surveys

RATINGS = (10, 8, 6, 4, 2)


class ActionAskTestDriveFeedback(DatabaseAction):
    """ "How was your test drive of the Q5L?" with a score from 1 to 10."""

    def name(self) -> str:
        return "action_ask_test_drive_feedback"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        def model(session: Session) -> str | None:
            survey = surveys.open_survey(session, tracker.sender_id)
            return surveys.surveyed_model(session, survey) if survey is not None else None

        surveyed = await self.services.in_transaction(model)
        dispatcher.utter_message(
            response="utter_ask_test_drive_feedback",
            model=surveyed or "",
            buttons=[
                {"title": str(r), "payload": "/inform" + json.dumps({"rating": r})} for r in RATINGS
            ],
        )
        # Sent from outside a customer turn: the conversation now waits for the answer.
        return [ActionExecuted("action_listen")]


class ActionRecordTestDriveFeedback(DatabaseAction):
    """The score (and any words) go to the survey; low scores and complaints are flagged."""

    def name(self) -> str:
        return "action_record_test_drive_feedback"

    async def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ratings = [v for v in entity_values(tracker, "rating") if isinstance(v, int)]
        rating = next((r for r in ratings if 0 <= r <= 10), None)
        text = (tracker.latest_message.get("text") or "").strip()
        comment = None if text.startswith("/") or not printable(text) else text
        complained = (tracker.latest_message.get("intent") or {}).get("name") == "complain"
        now = self.services.clock()
        survey = await self.services.in_transaction(
            lambda s: surveys.record_answer(
                s, tracker.sender_id, rating=rating, comment=comment, complained=complained,
                now=now,
            )
        )  # fmt: skip
        if survey is None:
            dispatcher.utter_message(response="utter_ok_anything_else")
        elif survey.complaint:
            dispatcher.utter_message(response="utter_feedback_sorry")
        else:
            dispatcher.utter_message(response="utter_feedback_thanks")
        return []

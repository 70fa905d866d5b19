"""Every action of the assistant, built with its dependencies."""

from __future__ import annotations

from rasa_sdk import Action

from actions.base import Services
from actions.contact import ActionAskQualificationFormPhone, ActionAskTestDriveFormPhone
from actions.conversation import ValidateSlotMappings
from actions.dealership import (
    ActionAnswerDealerInfo,
    ActionAnswerFinancing,
    ActionAnswerPromotions,
    ActionAnswerTradeIn,
)
from actions.handoff import ActionHandBack, ActionHandOff, ActionRelayMessages
from actions.next_step import ActionAcceptOffer, ActionDeclineOffer
from actions.nudges import ActionNudge
from actions.privacy import ActionErasePersonalData, ActionOptOut
from actions.qualification import ActionSubmitQualification, ValidateQualificationForm
from actions.session import ActionSessionStart
from actions.surveys import (
    ActionAskSurveyAnswer,
    ActionPauseSurvey,
    ActionStartSurvey,
    ActionSurveyDone,
    ValidateSurveyForm,
)
from actions.test_drive import (
    ActionAskTdBooking,
    ActionAskTdConfirmed,
    ActionAskTdTime,
    ActionStartTestDrive,
    ActionSubmitCancel,
    ActionSubmitReschedule,
    ActionSubmitTestDrive,
    ActionTestDriveReminder,
    ValidateCancelForm,
    ValidateRescheduleForm,
    ValidateTestDriveForm,
)
from actions.vehicles import (
    ActionAnswerFeature,
    ActionAnswerModelInfo,
    ActionAnswerModels,
    ActionAnswerPrice,
    ActionAnswerStock,
    ActionCompareModels,
    ActionRouteStatement,
    ActionUnsure,
)
from actions.verification import ActionSubmitVerifyPhone, ValidateVerifyPhoneForm


def build_actions(services: Services) -> list[Action]:
    answers = (
        ActionAnswerModels, ActionAnswerPrice, ActionAnswerModelInfo, ActionAnswerPromotions,
        ActionAnswerDealerInfo, ActionAnswerFinancing, ActionAnswerTradeIn, ActionAnswerFeature,
        ActionAnswerStock, ActionCompareModels,
    )  # fmt: skip
    return [
        ActionSessionStart(services),
        ValidateSlotMappings(services),
        ValidateQualificationForm(services),
        ActionSubmitQualification(services),
        ActionHandOff(services),
        ActionRelayMessages(services),
        ActionHandBack(services),
        ActionOptOut(services),
        ActionErasePersonalData(services),
        ActionStartTestDrive(services),
        ActionRouteStatement(services),
        ActionUnsure(services),
        ActionAcceptOffer(),
        ActionAskQualificationFormPhone(),
        ActionAskTestDriveFormPhone(),
        ActionNudge(),
        ActionDeclineOffer(),
        *(
            action(services)
            for action in (
                ValidateTestDriveForm,
                ValidateRescheduleForm,
                ValidateCancelForm,
                ActionAskTdTime,
                ActionAskTdConfirmed,
                ActionAskTdBooking,
                ActionSubmitTestDrive,
                ActionSubmitReschedule,
                ActionSubmitCancel,
                ActionTestDriveReminder,
                ActionStartSurvey,
                ActionAskSurveyAnswer,
                ValidateSurveyForm,
                ActionSurveyDone,
                ActionPauseSurvey,
                ValidateVerifyPhoneForm,
                ActionSubmitVerifyPhone,
            )
        ),
        *(answer(services) for answer in answers),
    ]

"""Every action of the assistant, built with its dependencies."""

from __future__ import annotations

from rasa_sdk import Action

from actions.base import Services
from actions.conversation import ValidateSlotMappings
from actions.session import ActionSessionStart


def build_actions(services: Services) -> list[Action]:
    return [ActionSessionStart(services), ValidateSlotMappings(services)]

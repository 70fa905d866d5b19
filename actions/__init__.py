"""Custom actions served by rasa_sdk.

Thin: they translate between the conversation and crm_bridge.
"""

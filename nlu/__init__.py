"""Custom Rasa components (they run inside the Rasa server, Rasa environment only).

Nothing here imports from the app environment (actions, bot, crm_bridge).
"""

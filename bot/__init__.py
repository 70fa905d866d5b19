"""Everything that talks to the outside world besides Rasa's own channels.

The CLI, the launcher, the gateway (web chat page, later Telegram) and the scheduler.
"""

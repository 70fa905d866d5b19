"""Channels the gateway runs itself (Rasa runs the web chat, REST and phone channels)."""

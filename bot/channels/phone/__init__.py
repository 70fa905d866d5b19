"""The gateway's side of the phone channel: the calls the dealership places (surveys and
test-drive reminders for phone customers) and the call outcomes the phone channel in Rasa hands
over. The voice webhooks themselves are Rasa's (``channels/phone.py``)."""

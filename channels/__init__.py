"""Rasa input channels of the assistant (they run inside the Rasa server, Rasa environment only).

Rasa's REST and socket.io channels with the doors the product needs: a per-sender rate limit on
both and, whenever Rasa listens beyond loopback, a token on the REST channel. They keep Rasa's
names, so URLs and the input channel recorded in the tracker stay the same. ``credentials.yml``
names them by module path. Nothing here imports from the app environment.
"""

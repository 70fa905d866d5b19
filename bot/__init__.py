"""Everything that talks to the outside world besides Rasa's own channels: CLI, launcher, gateway."""

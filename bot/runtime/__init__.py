"""Running the assistant: the model cache, the Rasa configuration, the launcher."""

"""Surveys (回访): the configuration, the schedule per delivery and test drive, sending each once,
personal links, and the customer's answers question by question.

``config`` reads ``config/surveys.yml``; ``service`` holds what the scheduler and the actions do
with a session; ``scores`` turns "非常满意", "8分" or "meh" into scores; ``links`` the tokens.
"""

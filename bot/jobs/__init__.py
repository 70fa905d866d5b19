"""Scheduled work: the persistent scheduler and its jobs (reminders, notices, escalation)."""

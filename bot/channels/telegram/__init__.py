"""Telegram for customers and the sales team: one python-telegram-bot Application a process."""

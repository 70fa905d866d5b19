"""The dealership database: models, migrations and the functions that read and write it.

It knows nothing of Rasa or Telegram. Repository functions take a session and never commit;
callers open one transaction per action, handler or job (see :func:`crm_bridge.db.transaction`).
"""

"""The gateway: the web page, webhooks and health on port 8080, and the scheduler it runs."""

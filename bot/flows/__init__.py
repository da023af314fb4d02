"""Flows declared as data and the one engine that runs any of them; no Telegram imports."""

"""The Telegram adapter: handlers, what they reach, the outbox sender, ordering, limits."""

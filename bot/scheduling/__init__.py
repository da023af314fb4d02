"""Scheduling alone: the durable schedule, local time, queued notices, supervised loops."""

"""Wiring: the application factory (handlers in order, services) and `triobot run`."""

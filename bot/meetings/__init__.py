"""Trio meetings: convening, confirming, moving and cancelling them, and their calendar invites."""

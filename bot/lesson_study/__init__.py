"""Lesson study cycles: plan, teach, observe case pupils, review."""

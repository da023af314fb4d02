"""Weekly reflection prompts: their rounds, reminders and answers."""

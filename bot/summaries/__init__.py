"""Meeting summaries: agreeing one across the trio, and following up its actions."""

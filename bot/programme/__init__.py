"""The programme as the coordinator runs it: roster, term calendar, trios, status, demo."""

"""triobot: the Telegram adapter, flows and services."""

import os

# PTB 22 warns that media durations will become timedeltas; our handlers accept both, so
# opt in now and the change is a no-op when it comes.
os.environ.setdefault("PTB_TIMEDELTA", "1")

"""A strict in-process stand-in for the Telegram Bot API (see ``api.FakeTelegram``)."""

from .api import FakeTelegram
from .clock import FakeClock
from .driver import Conversation, SimPerson, reply_texts
from .html import check_telegram_html, visible_length
from .limits import Limits
from .request import StandInRequest
from .world import SentMessage

__all__ = [
    "Conversation",
    "FakeClock",
    "FakeTelegram",
    "Limits",
    "SentMessage",
    "SimPerson",
    "StandInRequest",
    "check_telegram_html",
    "reply_texts",
    "visible_length",
]

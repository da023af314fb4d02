"""Reading Bot API parameters the way Telegram does, and checking reply markup.

Parameters may arrive as Python values (PTB hands over ``RequestData.parameters``) or as the
strings an HTTP form carries (JSON-encoded objects, numbers as text); both are accepted.
"""

from __future__ import annotations

import json
from typing import Any

from .world import JSON, bad

JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "commands",
        "scope",
        "link_preview_options",
        "entities",
        "caption_entities",
        "allowed_updates",
    }
)
MAX_BUTTONS = 100
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "web_app",
    "login_url",
    "pay",
    "callback_game",
    "copy_text",
)


def decode_params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for key in JSON_PARAMS.intersection(out):
        value = out[key]
        if isinstance(value, str | bytes):
            try:
                out[key] = json.loads(value)
            except ValueError:
                if key == "reply_markup":
                    raise bad("can't parse reply keyboard markup JSON object") from None
                raise bad(f"can't parse {key} JSON object") from None
    return out


def get_int(params: dict[str, Any], key: str, default: int | None = None) -> int:
    value = params.get(key)
    if value is None:
        if default is not None:
            return default
        raise bad(f"{key} is empty" if key != "chat_id" else "chat_id is empty")
    if isinstance(value, bool):
        raise bad(f"invalid {key} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            if key == "chat_id":
                raise bad("chat not found") from None
            raise bad(f"invalid {key} specified") from None
    raise bad(f"invalid {key} specified")


def get_str(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def reply_to_id(params: dict[str, Any]) -> int | None:
    """PTB 22 sends ``reply_parameters``; older callers send ``reply_to_message_id``."""
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and "message_id" in reply:
        return get_int(reply, "message_id")
    if params.get("reply_to_message_id") is not None:
        return get_int(params, "reply_to_message_id")
    return None


def allow_without_reply(params: dict[str, Any]) -> bool:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and reply.get("allow_sending_without_reply"):
        return True
    return bool(params.get("allow_sending_without_reply"))


def check_reply_markup(markup: Any) -> JSON | None:
    """Validate like Telegram; returns the markup to store (None when absent)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _check_inline(markup["inline_keyboard"])
    elif "keyboard" in markup:
        _check_keyboard(markup["keyboard"])
    elif not ({"remove_keyboard", "force_reply"} & markup.keys()):
        raise bad("can't parse reply keyboard markup JSON object")
    return markup


def _rows(rows: Any, name: str) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad(f'field "{name}" of the {name.title()}Markup must be an Array of Arrays')
    return rows


def _check_inline(rows: Any) -> None:
    checked = _rows(rows, "inline_keyboard")
    if sum(len(row) for row in checked) > MAX_BUTTONS:
        raise bad("reply markup is too long")
    for row in checked:
        for button in row:
            if not isinstance(button, dict):
                raise bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                raise bad("BUTTON_TEXT_INVALID")
            if not any(key in button for key in _BUTTON_ACTIONS):
                raise bad("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not data or len(data.encode()) > 64:
                    raise bad("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
                    raise bad("BUTTON_URL_INVALID")


def _check_keyboard(rows: Any) -> None:
    for row in _rows(rows, "keyboard"):
        for button in row:
            text = button.get("text") if isinstance(button, dict) else button
            if not isinstance(text, str) or not text.strip():
                raise bad("BUTTON_TEXT_INVALID")

"""Compact, signed callback data: Telegram allows 64 bytes and button data is never trusted."""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_BYTES = 64
_MAC_CHARS = 11  # 66 bits of HMAC: forging one by trial is out of reach.


class ButtonSigner:
    """Signs `payload` strings (colon-separated fields) into callback data and verifies them."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("button key too short")
        self._key = key

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]

    def sign(self, *fields: str | int) -> str:
        payload = ":".join(str(f) for f in fields)
        data = f"{payload}~{self._mac(payload)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {payload!r}")
        return data

    def verify(self, data: str) -> list[str] | None:
        """The fields if the signature holds, else None (forged, truncated or foreign)."""
        payload, sep, mac = data.rpartition("~")
        if not sep or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        return payload.split(":")

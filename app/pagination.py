"""Opaque cursors for keyset pagination: lists return ``{items, total, next_cursor}``."""

from __future__ import annotations

import base64

from app.errors import InvalidInput


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this API returned; start again without it") from None

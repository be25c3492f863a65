"""The payload codec every duroxide language shares (docs/protocol.md):
a value that encodes to a JSON string is stored raw, without the quotes;
anything else as JSON text. Decoding tries JSON first and falls back to the
raw text. ``None`` is the empty payload."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from .errors import PayloadError

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_JSON_START = frozenset('{["tfn-')


def encode(value: Any, what: str = "value") -> str:
    """Encode a Python value as a payload string."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as e:
            raise PayloadError(f"cannot encode {what}: bytes are not UTF-8 ({e})") from None
    if isinstance(value, str):
        return str(value)
    try:
        text = _encoder.encode(value)
    except (TypeError, ValueError, RecursionError) as e:
        raise PayloadError(f"cannot encode {what}: {e}") from None
    return text


def decode(payload: Optional[str]) -> Any:
    """Decode a payload string into a Python value."""
    if not payload:
        return None
    c = payload[0]
    # Fast path: text that cannot start a JSON value is a raw string.
    if c not in _JSON_START and not c.isdigit() and not c.isspace():
        return payload
    try:
        return _decoder.decode(payload)
    except ValueError:
        return payload


def display_message(err: Optional[Dict[str, Any]]) -> str:
    """The text the engine shows for a recorded error (ErrorDetails)."""
    if not err:
        return ""
    cat = err.get("category")
    kind = err.get("kind")
    msg = err.get("message") or ""
    if cat == "application":
        if kind == "Cancelled":
            return "canceled: " + (err.get("reason") or "")
        if kind == "Panicked":
            return "orchestration panicked: " + msg
        return msg
    if cat == "infrastructure":
        return "infrastructure:%s: %s" % (err.get("operation") or "", msg)
    if cat == "configuration":
        if kind == "Nondeterminism":
            return "nondeterministic: " + msg
        return "configuration: " + msg
    if cat == "poison":
        return "poison: %s exceeded %d attempts (max %d): %s" % (
            err.get("resource") or "",
            err.get("attempt_count") or 0,
            err.get("max_attempts") or 0,
            msg,
        )
    return msg

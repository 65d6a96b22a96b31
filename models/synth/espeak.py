"""A ctypes binding to libespeak-ng: text -> 22050 Hz int16 speech + phoneme timings.

libespeak-ng keeps global state, so one process holds one synthesizer; `EspeakSynth` is a
process-wide singleton used from one thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np

ESPEAK_RATE_HZ = 22_050

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_CHARS_AUTO = 0
_ENDPAUSE = 0x1000
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_PARAM_WORDGAP = 7
_LIBRARY_NAMES = ("libespeak-ng.so.1", "libespeak-ng.so")


class EspeakError(RuntimeError):
    """libespeak-ng is missing or refused a request."""


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    ]


class _Event(ctypes.Structure):
    # Mirrors espeak_EVENT in speak_lib.h (API revision 12).
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Voice:
    """An espeak voice name (`en-us`, `en+f3`, `de`) and prosody settings."""

    name: str
    rate_wpm: int = 175
    pitch: int = 50  # 0-100
    pitch_range: int = 50  # 0-100
    word_gap_10ms: int = 0


@dataclass(frozen=True)
class Utterance:
    samples_22k: np.ndarray  # (S,) int16 at ESPEAK_RATE_HZ
    phonemes: list[tuple[str, float]]  # (espeak mnemonic, start_s), in time order


def _load_library() -> ctypes.CDLL:
    names = list(_LIBRARY_NAMES)
    found = ctypes.util.find_library("espeak-ng")
    if found:
        names.append(found)
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise EspeakError("libespeak-ng not found: install the Debian package libespeak-ng1")


class EspeakSynth:
    _instance: EspeakSynth | None = None

    def __init__(self) -> None:
        self._lib = _load_library()
        self._declare()
        rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 200, None, _INITIALIZE_PHONEME_EVENTS
        )
        if rate != ESPEAK_RATE_HZ:
            raise EspeakError(f"espeak_Initialize returned {rate}, expected {ESPEAK_RATE_HZ} Hz")
        self._chunks: list[np.ndarray] = []
        self._phonemes: list[tuple[str, float]] = []
        self._callback = _CALLBACK(self._on_audio)  # kept alive: C holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> EspeakSynth:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _declare(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int

    def _on_audio(self, wav: ctypes._Pointer, count: int, events: ctypes._Pointer) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_PHONEME:
                name = event.id.string.decode("utf-8", errors="replace")
                self._phonemes.append((name, event.audio_position / 1000.0))
            i += 1
        return 0  # 0 = continue synthesis

    def set_voice(self, voice: Voice) -> None:
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {voice.name!r}")
        for param, value in (
            (_PARAM_RATE, voice.rate_wpm),
            (_PARAM_PITCH, voice.pitch),
            (_PARAM_RANGE, voice.pitch_range),
            (_PARAM_VOLUME, 100),
            (_PARAM_WORDGAP, voice.word_gap_10ms),
        ):
            self._lib.espeak_SetParameter(param, int(value), 0)

    def synth(self, text: str, voice: Voice) -> Utterance:
        self.set_voice(voice)
        self._chunks, self._phonemes = [], []
        data = text.encode("utf-8")
        status = self._lib.espeak_Synth(
            data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_AUTO, None, None
        )
        if status != 0:
            raise EspeakError(f"espeak_Synth failed with status {status}")
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return Utterance(samples.astype(np.int16), sorted(self._phonemes, key=lambda p: p[1]))


def synthesize(text: str, voice: Voice) -> Utterance:
    """Speak `text` with `voice`: 22050 Hz int16 samples and (phoneme, start_s) timings."""
    return EspeakSynth.get().synth(text, voice)

"""Phoneme timings -> coarticulated mouth motion at 25 Hz.

Each espeak phoneme mnemonic maps to a viseme: a target for the mouth fields of the motion space.
Targets sit at phoneme centres and are blended with their neighbours by dominance functions
(Cohen & Massaro 1993): every segment pulls the mouth towards its target with a weight that decays
with distance from its centre, slower before the centre (anticipation) than after. Lip closures
(p, b, m) dominate strongly so the lips really meet; alveolars and velars dominate weakly and take
their jaw from the neighbouring vowels, as real speech does.

The jaw and the lip closure are built over the phrase, not per phoneme (issue 17: a mouth that
snapped shut between syllables looked like flapping): through a stretch of speech (pauses shorter
than PHRASE_GAP_S do not end it) the jaw holds open at the stretch's vowel level and moves only
part of the way to each vowel's own height (SYLLABLE_DEPTH) and towards the consonants' (their
JAW_PULL); stressed vowels open further, and louder stretches open further (phrase-level
loudness, not syllable spikes). The lips meet on bilabials through mouthClose (the rig closes the
lips as far as the jaw is open) and the jaw sinks only part-way; pauses close everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import motion_space

MOUTH_FIELDS: tuple[str, ...] = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
)  # fmt: skip
_FIELD_POS = {name: i for i, name in enumerate(MOUTH_FIELDS)}
_GRID_HZ = 200
_SILENCE_STEP_S = 0.08  # long silences get a closed-mouth target every 80 ms
_ANTICIPATION_S = 0.04  # the next target starts pulling this much earlier than it lets go
PHRASE_GAP_S = 0.15  # a pause at least this long closes the mouth; shorter ones are held open
SYLLABLE_DEPTH = 0.45  # how far the jaw moves from the phrase level to each vowel's own height
_PHRASE_RAMP_S = 0.045  # sigma of the jaw's opening into and closing out of a phrase
_JAW_SMOOTH_S = 0.035
_CLOSURE_SMOOTH_S = 0.012
MIN_CLOSURE_S = 0.07
_STRESS_GAIN = {"'": 1.2, ",": 1.08}  # espeak's primary / secondary stress marks
# How far a consonant pulls the held jaw towards its own (lower) jaw height.
JAW_PULL: dict[str, float] = {
    "p": 0.5, "b": 0.5, "m": 0.5, "f": 0.45, "v": 0.45, "s": 0.35, "z": 0.35, "S": 0.3,
    "Z": 0.3, "T": 0.2, "D": 0.2, "w": 0.3,
}  # fmt: skip
_DEFAULT_PULL = 0.15
_LIP_CLOSURES = {"p": 1.0, "b": 1.0, "m": 1.0, "f": 0.75, "v": 0.7}  # mouthClose share of jaw


@dataclass(frozen=True)
class Viseme:
    jaw: float = 0.0
    close: float = 0.0
    funnel: float = 0.0
    pucker: float = 0.0
    stretch: float = 0.0
    upper_up: float = 0.0
    lower_down: float = 0.0
    press: float = 0.0
    dominance: float = 1.0

    def vector(self) -> np.ndarray:
        values = (
            self.jaw, self.close, self.funnel, self.pucker, self.stretch, self.stretch,
            self.upper_up, self.upper_up, self.lower_down, self.lower_down, self.press, self.press,
        )  # fmt: skip
        return np.array(values, dtype=np.float32)


SILENCE = Viseme(dominance=1.5)
# Vowel qualities keyed by espeak's vowel letters (Kirshenbaum-like), across en/de/fr/es/it.
VOWELS: dict[str, Viseme] = {
    "a": Viseme(jaw=0.7, lower_down=0.35, upper_up=0.15),
    "A": Viseme(jaw=0.72, lower_down=0.35, upper_up=0.1, funnel=0.05),
    "V": Viseme(jaw=0.58, lower_down=0.3, upper_up=0.1),
    "0": Viseme(jaw=0.62, funnel=0.3, lower_down=0.25),
    "&": Viseme(jaw=0.55, stretch=0.2, lower_down=0.35, upper_up=0.15),
    "E": Viseme(jaw=0.48, stretch=0.25, lower_down=0.3, upper_up=0.1),
    "e": Viseme(jaw=0.32, stretch=0.35, lower_down=0.25, upper_up=0.1),
    "3": Viseme(jaw=0.35, funnel=0.1, lower_down=0.2),
    "@": Viseme(jaw=0.28, lower_down=0.15),
    "I": Viseme(jaw=0.2, stretch=0.4, lower_down=0.15, upper_up=0.1),
    "i": Viseme(jaw=0.15, stretch=0.55, lower_down=0.1, upper_up=0.15),
    "O": Viseme(jaw=0.45, funnel=0.45, pucker=0.15, lower_down=0.15),
    "o": Viseme(jaw=0.3, funnel=0.5, pucker=0.35),
    "U": Viseme(jaw=0.18, funnel=0.3, pucker=0.5),
    "u": Viseme(jaw=0.14, funnel=0.3, pucker=0.7),
    "y": Viseme(jaw=0.14, funnel=0.2, pucker=0.65),
    "Y": Viseme(jaw=0.25, funnel=0.3, pucker=0.45),
    "W": Viseme(jaw=0.35, funnel=0.35, pucker=0.3),
    "9": Viseme(jaw=0.4, funnel=0.35, pucker=0.2),
}
BILABIAL = Viseme(jaw=0.04, close=0.04, press=0.45, dominance=6.0)
CONSONANTS: dict[str, Viseme] = {
    "p": BILABIAL,
    "b": BILABIAL,
    "m": Viseme(jaw=0.04, close=0.04, press=0.3, dominance=6.0),
    "f": Viseme(jaw=0.08, upper_up=0.25, lower_down=0.0, press=0.1, dominance=6.0),
    "v": Viseme(jaw=0.08, upper_up=0.2, lower_down=0.0, press=0.05, dominance=6.0),
    "w": Viseme(jaw=0.1, funnel=0.4, pucker=0.75, dominance=2.5),
    "S": Viseme(jaw=0.12, funnel=0.55, pucker=0.3, upper_up=0.2, lower_down=0.1, dominance=2.0),
    "Z": Viseme(jaw=0.12, funnel=0.5, pucker=0.3, upper_up=0.15, lower_down=0.1, dominance=2.0),
    "r": Viseme(jaw=0.15, funnel=0.25, pucker=0.3, dominance=0.8),
    "T": Viseme(jaw=0.15, lower_down=0.15, dominance=1.2),
    "D": Viseme(jaw=0.15, lower_down=0.15, dominance=1.2),
    "s": Viseme(jaw=0.07, stretch=0.25, upper_up=0.1, lower_down=0.1, dominance=1.5),
    "z": Viseme(jaw=0.07, stretch=0.2, upper_up=0.1, lower_down=0.1, dominance=1.5),
    "t": Viseme(jaw=0.12, lower_down=0.1, dominance=0.6),
    "d": Viseme(jaw=0.12, lower_down=0.1, dominance=0.6),
    "n": Viseme(jaw=0.12, lower_down=0.05, dominance=0.6),
    "l": Viseme(jaw=0.18, lower_down=0.1, dominance=0.5),
    "j": Viseme(jaw=0.12, stretch=0.35, dominance=0.8),
    "k": Viseme(jaw=0.2, dominance=0.4),
    "g": Viseme(jaw=0.2, dominance=0.4),
    "N": Viseme(jaw=0.2, dominance=0.4),
    "x": Viseme(jaw=0.22, dominance=0.4),
    "h": Viseme(jaw=0.25, dominance=0.2),
    "C": Viseme(jaw=0.15, stretch=0.3, dominance=0.5),
    "?": Viseme(jaw=0.2, dominance=0.2),
}
_AFFRICATES = {"tS": "S", "dZ": "Z", "ts": "s", "dz": "z", "pf": "f"}
_MARKS = "'\",%=:#!-~/.;^*<>|"


def _base_symbol(phoneme: str) -> str:
    """The mnemonic without stress/length marks; digits are variant numbers except in front
    (espeak writes some vowels as digits: `0` for the vowel of "lot", `3:` for "nurse")."""
    stripped = "".join(ch for ch in phoneme if ch not in _MARKS)
    return stripped[:1] + "".join(ch for ch in stripped[1:] if not ch.isdigit())


def is_silence(phoneme: str) -> bool:
    return phoneme.startswith("_") or _base_symbol(phoneme) == ""


def visemes_for(phoneme: str) -> list[Viseme]:
    """The viseme(s) of one espeak mnemonic; a diphthong gives two (onset, offset)."""
    if is_silence(phoneme):
        return [SILENCE]
    base = _base_symbol(phoneme)
    if base in _AFFRICATES:
        return [CONSONANTS[_AFFRICATES[base]]]
    first = base[0]
    if first in VOWELS and first not in CONSONANTS:
        vowel_letters = [ch for ch in base if ch in VOWELS]
        out = [VOWELS[first]]
        if len(vowel_letters) > 1 and vowel_letters[-1] != first:
            out.append(VOWELS[vowel_letters[-1]])
        return out
    if first in CONSONANTS:
        return [CONSONANTS[first]]
    if first.lower() in CONSONANTS:
        return [CONSONANTS[first.lower()]]
    return [Viseme(jaw=0.2, dominance=0.5)]  # unknown: a neutral half-open shape


def _segments(
    phonemes: list[tuple[str, float]], duration_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Expand phonemes into (centre_s, half_width_s, dominance, target) control points."""
    centres, widths, dominances, targets = [], [], [], []
    bounds = [start for _, start in phonemes] + [duration_s]
    for (name, start), end in zip(phonemes, bounds[1:], strict=True):
        length = max(end - start, 0.02)
        shapes = visemes_for(name)
        if shapes[0] is SILENCE:
            count = max(1, int(length / _SILENCE_STEP_S))
            points = [start + length * (k + 0.5) / count for k in range(count)]
        else:
            points = [start + length * (k + 0.5) / len(shapes) for k in range(len(shapes))]
        for k, point in enumerate(points):
            shape = shapes[min(k, len(shapes) - 1)]
            centres.append(point)
            widths.append(min(max(0.5 * length / len(points), 0.02), 0.12))
            dominances.append(shape.dominance)
            targets.append(shape.vector())
    return (
        np.asarray(centres, np.float64),
        np.asarray(widths, np.float64),
        np.asarray(dominances, np.float64),
        np.stack(targets) if targets else np.zeros((0, len(MOUTH_FIELDS)), np.float32),
    )


def _blend(
    grid_s: np.ndarray, segments: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    centres, widths, dominances, targets = segments
    if len(centres) == 0:
        return np.zeros((len(grid_s), len(MOUTH_FIELDS)), np.float32)
    offset_s = grid_s[:, None] - centres[None, :]  # (G, N); negative = before the centre
    # Anticipation: the upcoming target starts pulling ~50 ms earlier than it lets go after.
    scale_s = np.where(offset_s < 0, widths[None, :] + _ANTICIPATION_S, widths[None, :] + 0.01)
    weight = dominances[None, :] * np.exp(-((offset_s / scale_s) ** 2))  # (G, N)
    weight += 1e-9
    blended: np.ndarray = (weight @ targets) / weight.sum(axis=1, keepdims=True)  # (G, F)
    return blended.astype(np.float32)


def _spans(phonemes: list[tuple[str, float]], duration_s: float) -> list[tuple[str, float, float]]:
    bounds = [start for _, start in phonemes] + [duration_s]
    return [(name, start, max(end, start)) for (name, start), end in
            zip(phonemes, bounds[1:], strict=True)]  # fmt: skip


def _gaussian_smooth(values: np.ndarray, sigma_s: float) -> np.ndarray:
    sigma = sigma_s * _GRID_HZ
    radius = max(1, int(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _phrase_jaw(spans: list[tuple[str, float, float]], grid_s: np.ndarray) -> tuple[
    np.ndarray, np.ndarray
]:  # fmt: skip
    """(jaw before loudness, lip-closure activation in [0, 1]) on the grid."""
    n = len(grid_s)
    speaking = np.zeros(n)
    vowel_t: list[float] = []
    vowel_jaw: list[float] = []
    pulls: list[tuple[float, float, float, float]] = []  # (start, end, pull, jaw)
    closure = np.zeros(n)
    for index, (name, start, end) in enumerate(spans):
        inside = (grid_s >= start) & (grid_s < end)
        if is_silence(name):
            if end - start < PHRASE_GAP_S and 0 < index < len(spans) - 1:
                speaking[inside] = 1.0  # a short pause inside a phrase is held open
            continue
        speaking[inside] = 1.0
        shapes = visemes_for(name)
        base = _base_symbol(name)
        first = base[:1]
        if first in VOWELS and first not in CONSONANTS:
            stress = max((g for mark, g in _STRESS_GAIN.items() if mark in name), default=1.0)
            for k, shape in enumerate(shapes):
                vowel_t.append(start + (end - start) * (k + 0.5) / len(shapes))
                vowel_jaw.append(shape.jaw * stress)
            continue
        key = _AFFRICATES.get(base, first if first in CONSONANTS else first.lower())
        pulls.append((start, end, JAW_PULL.get(key, _DEFAULT_PULL), shapes[0].jaw))
        if key in _LIP_CLOSURES:  # the lips stay together at least MIN_CLOSURE_S
            centre, half = 0.5 * (start + end), 0.5 * max(end - start, MIN_CLOSURE_S)
            span = (grid_s >= centre - half) & (grid_s < centre + half)
            closure[span] = np.maximum(closure[span], _LIP_CLOSURES[key])
    if not vowel_t:
        return np.zeros(n), np.zeros(n)
    # Speech stretches: each holds its vowels' mean height; vowels move it part of the way.
    vowel_curve = np.interp(grid_s, vowel_t, vowel_jaw)  # held through consonants
    stretch_level = np.zeros(n)
    edges = np.flatnonzero(np.diff(np.concatenate([[0.0], speaking, [0.0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        inside = [
            j
            for j, t in zip(vowel_jaw, vowel_t, strict=True)
            if grid_s[a] <= t < grid_s[b - 1] + 1e-9
        ]
        stretch_level[a:b] = np.mean(inside) if inside else 0.25
    jaw = stretch_level + SYLLABLE_DEPTH * (vowel_curve - stretch_level)
    for start, end, pull, target in pulls:
        inside = (grid_s >= start) & (grid_s < end)
        jaw[inside] -= pull * np.maximum(jaw[inside] - target, 0.0)
    jaw = _gaussian_smooth(jaw, _JAW_SMOOTH_S)
    held = _gaussian_smooth(speaking, _PHRASE_RAMP_S)
    return jaw * held, np.clip(_gaussian_smooth(closure, _CLOSURE_SMOOTH_S) * 1.3, 0.0, 1.0)


def mouth_track(
    phonemes: list[tuple[str, float]],
    num_frames: int,
    articulation_gain: float = 1.0,
    loudness_db: np.ndarray | None = None,
) -> np.ndarray:
    """Mouth fields (num_frames, len(MOUTH_FIELDS)) at 25 Hz from (phoneme, start_s) timings.

    `loudness_db` (num_frames,), the clean speech's frame level relative to its loudest frame,
    scales the jaw by the phrase's loudness (smoothed over ~0.3 s). Frame t covers
    [t, t + 1) / 25 s; its value is the mean of the curve over that span.
    """
    frame_s = 1.0 / motion_space.MOTION_RATE_HZ
    duration_s = num_frames * frame_s
    sub = _GRID_HZ // motion_space.MOTION_RATE_HZ
    grid_s = (np.arange(num_frames * sub) + 0.5) / _GRID_HZ
    blended = _blend(grid_s, _segments(phonemes, duration_s))  # (G, F): lip shapes
    jaw, closure = _phrase_jaw(_spans(phonemes, duration_s), grid_s)
    if loudness_db is not None:
        level = np.repeat(np.maximum(np.asarray(loudness_db, np.float64), -40.0), sub)[
            : len(grid_s)
        ]
        phrase_db = _gaussian_smooth(level, 0.15)
        jaw *= np.interp(phrase_db, [-30.0, -12.0, 0.0], [0.7, 1.0, 1.2])
    jaw *= articulation_gain * (1.0 - 0.45 * closure)  # the jaw sinks only part-way on a closure
    blended[:, _FIELD_POS["jawOpen"]] = jaw
    blended[:, _FIELD_POS["mouthClose"]] = np.maximum(
        blended[:, _FIELD_POS["mouthClose"]], closure * jaw
    )
    for name in (
        "mouthLowerDownLeft",
        "mouthLowerDownRight",
        "mouthUpperUpLeft",
        "mouthUpperUpRight",
    ):
        blended[:, _FIELD_POS[name]] *= 1.0 - closure
    for name in ("mouthLowerDownLeft", "mouthLowerDownRight"):
        blended[:, _FIELD_POS[name]] *= articulation_gain
    frames = blended.reshape(num_frames, sub, -1).mean(axis=1)  # (T, F)
    return np.clip(frames, 0.0, 1.0).astype(np.float32)


def write_mouth(motion: np.ndarray, mouth: np.ndarray) -> None:
    """Add (T, len(MOUTH_FIELDS)) mouth values into (T, MOTION_DIM) motion in place."""
    for k, name in enumerate(MOUTH_FIELDS):
        motion[:, motion_space.INDEX[name]] += mouth[:, k]

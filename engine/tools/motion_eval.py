"""Motion-model evaluation: metrics on 25 Hz motion and 16 kHz audio, and the printed table.

Definitions (they travel with the numbers into the model card):
- mouth opening = jawOpen + 0.5 * mean(mouthLowerDownLeft, mouthLowerDownRight).
- audio envelope = per-frame (640 samples) RMS in dB, floored 50 dB below the clip's loudest frame.
- lip sync = the largest Pearson r between opening[t + lag] and envelope[t] over lag in
  [-5, 5] frames, and that lag (positive: the mouth follows the sound).
- voice activity: a frame is speech when its level is within 35 dB of the loudest frame and 10 dB
  above the clip's 10th-percentile floor; silence frames are those at least 3 frames (120 ms) from
  any speech frame, so coarticulation into and out of speech is not counted.
- mouth closed = jawOpen < CLOSED_JAW_THRESHOLD (0.1).
- blink = an upward crossing of 0.5 by mean(eyeBlinkLeft, eyeBlinkRight).
- head motion = mean |per-frame change| of yaw, pitch, roll, in degrees (per frame, and the
  mean of the three axes per second).
- mouth distance (with a real video) = mean |generated - real| inner-lip gap in mouth widths,
  gap = JAW_GAP_PER_UNIT * jawOpen (the face rig's calibration).
- articulation (issue 17), on the motion's inner-lip gap / mouth width as the face rig draws it
  (`lip_gap`: JAW_GAP_PER_UNIT * (jawOpen - min(mouthClose, jawOpen)) + the lip shapes' share at the
  lip midline; on tracked video motion, where only jawOpen is read from the landmarks, this is the
  re-detected gap itself):
  speech = the audio's RMS envelope over 200 ms above 15 % of its 95th percentile, both above
  the clip's noise floor (power of its quietest 10 % of 40 ms frames, subtracted in power), so
  hiss or noise in the pauses is not counted as speech;
  shut = gap < SHUT_GAP (0.03 mouth widths);
  median opening in speech, share of speech frames shut, longest run of shut speech frames (s).
- phoneme-timed lip AUC (on espeak-ng speech, whose phoneme timings are known): the lip gap at
  the middle frame of each open vowel (a, A, V, 0, &, E, O: jaw target >= 0.45) against each
  bilabial (p, b, m), as P(vowel gap > bilabial gap), ties half.
- window-boundary smoothness = mean |change| across window boundaries / mean |change| elsewhere,
  |change| averaged over fields normalised by their range (1.0 = seams are invisible).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models import motion_space
from models.motion_data import AUDIO_RATE_HZ, SAMPLES_PER_MOTION_FRAME
from models.rig_calibration import JAW_GAP_PER_UNIT

FloatArray = NDArray[np.floating[Any]]
MAX_LAG_FRAMES = 5
CLOSED_JAW_THRESHOLD = 0.1
ENVELOPE_FLOOR_DB = -50.0
SILENCE_MARGIN_FRAMES = 3
SHUT_GAP = 0.03  # inner-lip gap / mouth width below which the lips count as shut
SPEECH_ENVELOPE_S = 0.2
SPEECH_ENVELOPE_FRACTION = 0.15  # of the envelope's 95th percentile
NOISE_FLOOR_PERCENTILE = 10  # of 40 ms frame power: the recording's noise floor
OPEN_VOWEL_JAW = 0.45  # phoneme-timed lip check: vowels whose jaw target is at least this
BILABIAL_JAW = 0.05  # and lip closures (p, b, m: mouthClose > 0, jaw target at most this)
# Inner-lip gap per unit of the lip shapes at the lip midline, in mouth widths: the rig moves the
# lower (upper) lip by 0.10 (0.08) mouth widths per unit, weighted 0.216 per side at the midline
# (models/rig_regions.py, mouth_bases).
_LOWER_DOWN_GAP = 2 * 0.216 * 0.10
_UPPER_UP_GAP = 2 * 0.216 * 0.08
_I = motion_space.INDEX


@dataclass(frozen=True)
class EvalControls:
    emotion: str = "neutral"
    emotion_intensity: float = 0.0
    gaze: tuple[float, float] = (0.0, 0.0)
    head_distance: float = 0.0


# (audio_16k, seed, controls) -> (T, MOTION_DIM) motion; the model side plugs in here.
MotionGenerator = Callable[[NDArray[np.float32], int, EvalControls], NDArray[np.float32]]


def mouth_opening(motion: FloatArray) -> NDArray[np.float64]:
    lower = 0.5 * (motion[:, _I["mouthLowerDownLeft"]] + motion[:, _I["mouthLowerDownRight"]])
    opening: NDArray[np.float64] = np.asarray(motion[:, _I["jawOpen"]] + 0.5 * lower, np.float64)
    return opening


def frame_level_db(audio_16k: FloatArray, num_frames: int | None = None) -> NDArray[np.float64]:
    """Per-motion-frame RMS in dB relative to the loudest frame, floored at ENVELOPE_FLOOR_DB."""
    frames = num_frames or -(-len(audio_16k) // SAMPLES_PER_MOTION_FRAME)
    padded = np.zeros(frames * SAMPLES_PER_MOTION_FRAME, np.float64)
    used = min(len(audio_16k), len(padded))
    padded[:used] = audio_16k[:used]
    rms = np.sqrt(np.mean(padded.reshape(frames, -1) ** 2, axis=1)) + 1e-10
    level: NDArray[np.float64] = np.maximum(20 * np.log10(rms / rms.max()), ENVELOPE_FLOOR_DB)
    return level


def pearson(x: FloatArray, y: FloatArray) -> float:
    x = np.asarray(x, np.float64) - np.mean(x)
    y = np.asarray(y, np.float64) - np.mean(y)
    denominator = float(np.sqrt(np.sum(x**2) * np.sum(y**2)))
    return float(np.sum(x * y) / denominator) if denominator > 0 else 0.0


def lagged_correlation(
    follower: FloatArray, leader: FloatArray, max_lag: int = MAX_LAG_FRAMES
) -> tuple[float, int]:
    """(max r, lag) of corr(follower[t + lag], leader[t]) over lag in [-max_lag, max_lag]."""
    n = min(len(follower), len(leader))
    best_r, best_lag = -2.0, 0
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            r = pearson(follower[lag:n], leader[: n - lag])
        else:
            r = pearson(follower[: n + lag], leader[-lag:n])
        if r > best_r:
            best_r, best_lag = r, lag
    return best_r, best_lag


def lip_sync(motion: FloatArray, audio_16k: FloatArray) -> tuple[float, int]:
    """(max Pearson r, lag in frames) between mouth opening and the audio envelope."""
    return lagged_correlation(mouth_opening(motion), frame_level_db(audio_16k, len(motion)))


def speech_frames(audio_16k: FloatArray, num_frames: int | None = None) -> NDArray[np.bool_]:
    level = frame_level_db(audio_16k, num_frames)
    threshold = min(max(-35.0, float(np.percentile(level, 10)) + 10.0), -15.0)
    speech: NDArray[np.bool_] = level > threshold
    return speech


def silence_frames(audio_16k: FloatArray, num_frames: int | None = None) -> NDArray[np.bool_]:
    """Frames at least SILENCE_MARGIN_FRAMES away from any speech frame."""
    speech = speech_frames(audio_16k, num_frames)
    near = speech.copy()
    for shift in range(1, SILENCE_MARGIN_FRAMES + 1):
        near[shift:] |= speech[:-shift]
        near[:-shift] |= speech[shift:]
    silent: NDArray[np.bool_] = ~near
    return silent


def closed_in_silence(motion: FloatArray, audio_16k: FloatArray) -> float | None:
    """Fraction of silence frames with jawOpen < CLOSED_JAW_THRESHOLD; None without silence."""
    silent = silence_frames(audio_16k, len(motion))
    if not silent.any():
        return None
    return float(np.mean(motion[silent, _I["jawOpen"]] < CLOSED_JAW_THRESHOLD))


def blink_rate_per_min(motion: FloatArray) -> float:
    blink = 0.5 * (motion[:, _I["eyeBlinkLeft"]] + motion[:, _I["eyeBlinkRight"]])
    onsets = int(np.count_nonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5)))
    minutes = len(motion) / motion_space.MOTION_RATE_HZ / 60.0
    return onsets / minutes if minutes > 0 else 0.0


def head_motion_deg(motion: FloatArray) -> NDArray[np.float64]:
    """(3,) mean |per-frame change| of yaw, pitch, roll in degrees."""
    if len(motion) < 2:
        return np.zeros(3)
    steps = np.abs(np.diff(np.asarray(motion[:, :3], np.float64), axis=0))
    mean_deg: NDArray[np.float64] = np.degrees(steps.mean(axis=0))
    return mean_deg


def head_speed_deg_s(motion: FloatArray) -> float:
    """Mean |per-frame change| of yaw, pitch and roll, averaged over the axes, in degrees / s."""
    return float(head_motion_deg(motion).mean()) * motion_space.MOTION_RATE_HZ


def mouth_agreement(generated: FloatArray, real: FloatArray) -> tuple[float, float]:
    """(Pearson r of mouth openings, mean inner-lip gap distance in mouth widths)."""
    n = min(len(generated), len(real))
    r = pearson(mouth_opening(generated[:n]), mouth_opening(real[:n]))
    gap_difference = JAW_GAP_PER_UNIT * np.abs(
        generated[:n, _I["jawOpen"]] - real[:n, _I["jawOpen"]]
    )
    return r, float(np.mean(gap_difference))


def lip_gap(motion: FloatArray) -> NDArray[np.float64]:
    """(T,) inner-lip gap in mouth widths at the lip midline, as the face rig draws the motion."""
    m = np.asarray(motion, np.float64)
    jaw = m[:, _I["jawOpen"]]
    close = np.minimum(m[:, _I["mouthClose"]], jaw)  # the rig's lips cannot pass each other
    lower = 0.5 * (m[:, _I["mouthLowerDownLeft"]] + m[:, _I["mouthLowerDownRight"]])
    upper = 0.5 * (m[:, _I["mouthUpperUpLeft"]] + m[:, _I["mouthUpperUpRight"]])
    gap = JAW_GAP_PER_UNIT * (jaw - close) + _LOWER_DOWN_GAP * lower + _UPPER_UP_GAP * upper
    out: NDArray[np.float64] = np.maximum(gap, 0.0)
    return out


def speech_envelope_frames(
    audio_16k: FloatArray, num_frames: int | None = None
) -> NDArray[np.bool_]:
    """(T,) speech frames: the RMS envelope over 200 ms above 15 % of its 95th percentile, both
    measured above the clip's noise floor (the power of its quietest 10 % of 40 ms frames,
    subtracted from the envelope's power).

    Without the floor, a pause under steady hiss or noise reads as speech once the noise is over
    15 % of the speech's level (a -35 dBFS recording with hiss at -66 dBFS: its pauses sat at
    21 % of the 95th percentile, and the closed mouth there counted as shut speech). On clean
    audio the floor is ~0 and the measure is the plain envelope rule. A clip whose loudest 5 %
    is not 3 dB above its floor (steady noise alone) has no speech.
    """
    frames = num_frames or -(-len(audio_16k) // SAMPLES_PER_MOTION_FRAME)
    padded = np.zeros(frames * SAMPLES_PER_MOTION_FRAME, np.float64)
    used = min(len(audio_16k), len(padded))
    padded[:used] = audio_16k[:used]
    power = np.mean(padded.reshape(frames, -1) ** 2, axis=1)
    # Frames past the audio's end (zero padding) are not part of the recording's floor.
    recorded = power[: max(1, -(-used // SAMPLES_PER_MOTION_FRAME))]
    noise_floor = float(np.percentile(recorded, NOISE_FLOOR_PERCENTILE))
    width = max(1, round(SPEECH_ENVELOPE_S * motion_space.MOTION_RATE_HZ))
    kernel = np.ones(width) / width
    smoothed = np.convolve(np.pad(power, (width // 2, (width - 1) // 2), mode="edge"),
                           kernel, mode="valid")  # fmt: skip
    envelope = np.sqrt(np.maximum(smoothed - noise_floor, 0.0))
    reference = float(np.percentile(envelope, 95))
    speech: NDArray[np.bool_] = envelope > SPEECH_ENVELOPE_FRACTION * reference
    if reference <= 0 or reference**2 < noise_floor:  # loudest 5 % < 3 dB over the floor
        speech[:] = False
    return speech


def longest_run(flags: NDArray[np.bool_]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


@dataclass(frozen=True)
class Articulation:
    median_opening: float  # inner-lip gap / mouth width, median over speech frames
    shut_share: float  # share of speech frames with gap < SHUT_GAP
    longest_shut_s: float  # longest run of consecutive shut speech frames
    speech_s: float  # seconds of speech the numbers cover


def articulation(motion: FloatArray, audio_16k: FloatArray) -> Articulation | None:
    """Issue 17's articulation measures; None when the audio has no speech frames."""
    speech = speech_envelope_frames(audio_16k, len(motion))
    if not speech.any():
        return None
    gap = lip_gap(motion)
    shut = gap < SHUT_GAP
    return Articulation(
        median_opening=float(np.median(gap[speech])),
        shut_share=float(np.mean(shut[speech])),
        longest_shut_s=longest_run(shut & speech) / motion_space.MOTION_RATE_HZ,
        speech_s=int(speech.sum()) / motion_space.MOTION_RATE_HZ,
    )


def rank_auc(positives: FloatArray, negatives: FloatArray) -> float:
    """P(positive > negative) over all pairs, ties counting half (the Mann-Whitney AUC)."""
    pos = np.asarray(positives, np.float64)[:, None]
    neg = np.asarray(negatives, np.float64)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def phoneme_lip_auc(
    motion: FloatArray, phonemes: list[tuple[str, float]], duration_s: float
) -> tuple[float, int, int] | None:
    """(AUC, open vowels, bilabials): how well the lip gap at each phoneme's middle frame ranks
    open vowels (jaw target >= OPEN_VOWEL_JAW in models/synth/mouth.py) above bilabials (p, b, m,
    whose lips meet); `phonemes` are espeak-ng's (mnemonic, start_s) timings of the audio the
    motion was made from. None without both kinds. Real speakers: >= 0.85 (issue 17)."""
    from models.synth.mouth import VOWELS, visemes_for

    gap = lip_gap(motion)
    open_gaps: list[float] = []
    closed_gaps: list[float] = []
    starts = [start for _, start in phonemes] + [duration_s]
    for (phoneme, start), end in zip(phonemes, starts[1:], strict=True):
        frame = int((start + end) / 2 * motion_space.MOTION_RATE_HZ)
        if end <= start or not 0 <= frame < len(gap):
            continue
        shape = visemes_for(phoneme)[0]
        if shape.close > 0 and shape.jaw <= BILABIAL_JAW:
            closed_gaps.append(float(gap[frame]))
        elif shape.jaw >= OPEN_VOWEL_JAW and shape in VOWELS.values():
            open_gaps.append(float(gap[frame]))
    if not open_gaps or not closed_gaps:
        return None
    return rank_auc(np.array(open_gaps), np.array(closed_gaps)), len(open_gaps), len(closed_gaps)


def boundary_smoothness(motion: FloatArray, window_frames: int, first_boundary: int = 0) -> float:
    """Mean normalised |change| across window seams over the mean elsewhere (1.0 = seamless).

    Seams are between frames t-1 and t for t = first_boundary + k * window_frames, t >= 1.
    """
    span = motion_space.HIGH - motion_space.LOW
    steps = np.abs(np.diff(np.asarray(motion, np.float64), axis=0)) / span  # (T-1, D)
    per_step = steps.mean(axis=1)  # step i is between frames i and i + 1
    seam = np.zeros(len(per_step), bool)
    starts = np.arange(first_boundary, len(motion), window_frames)
    seam[starts[starts >= 1] - 1] = True
    if not seam.any() or seam.all():
        return float("nan")
    elsewhere = float(per_step[~seam].mean())
    return float(per_step[seam].mean()) / elsewhere if elsewhere > 0 else float("nan")


def field_mean(motion: FloatArray, *names: str) -> float:
    return float(np.mean([motion[:, _I[name]].mean() for name in names]))


@dataclass(frozen=True)
class Row:
    metric: str
    generated: str
    real: str = "-"
    target: str = ""


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _quality_rows(motion: FloatArray, audio: FloatArray, real: FloatArray | None) -> list[Row]:
    r, lag = lip_sync(motion, audio)
    real_sync = lip_sync(real, audio) if real is not None else None
    head, real_head = head_motion_deg(motion), head_motion_deg(real) if real is not None else None
    rows = [
        Row("lip sync r (opening vs audio dB)", _fmt(r),
            _fmt(real_sync[0]) if real_sync else "-", "higher (HDTF clip: 0.11)"),
        Row("lip sync lag (frames, + = mouth late)", str(lag),
            str(real_sync[1]) if real_sync else "-", "-1..+1"),
        Row("mouth closed in silence (jawOpen<0.1)", _fmt(closed_in_silence(motion, audio)),
            _fmt(closed_in_silence(real, audio)) if real is not None else "-", ">= 0.90"),
        Row("blinks per minute", _fmt(blink_rate_per_min(motion), 1),
            _fmt(blink_rate_per_min(real), 1) if real is not None else "-", "8-30"),
        Row("head speed deg/s (mean of y/p/r)", _fmt(head_speed_deg_s(motion), 1),
            _fmt(head_speed_deg_s(real), 1) if real is not None else "-", "6-18"),
        Row("head |d pose| deg/frame (y/p/r)", "/".join(_fmt(v, 2) for v in head),
            "/".join(_fmt(v, 2) for v in real_head) if real_head is not None else "-",
            "within 50% of real"),
    ]  # fmt: skip
    rows += _articulation_rows(motion, audio, real)
    if real is not None:
        mouth_r, distance = mouth_agreement(motion, real)
        rows.append(Row("mouth opening r vs real video", _fmt(mouth_r), "-", "higher"))
        rows.append(Row("mouth gap distance (mouth widths)", _fmt(distance), "-", "lower"))
    return rows


def _articulation_rows(motion: FloatArray, audio: FloatArray, real: FloatArray | None) -> list[Row]:
    ours = articulation(motion, audio)
    theirs = articulation(real, audio) if real is not None else None

    def cell(value: Articulation | None, field: str, digits: int) -> str:
        return "-" if value is None else _fmt(getattr(value, field), digits)

    def real_cell(field: str, digits: int) -> str:
        return "-" if real is None else cell(theirs, field, digits)

    return [
        Row("median opening in speech (gap/width)", cell(ours, "median_opening", 3),
            real_cell("median_opening", 3), ">= 0.12"),
        Row("share of speech shut (gap<0.03)", cell(ours, "shut_share", 3),
            real_cell("shut_share", 3), "<= 0.30"),
        Row("longest shut run in speech (s)", cell(ours, "longest_shut_s", 2),
            real_cell("longest_shut_s", 2), "<= 0.5"),
    ]  # fmt: skip


def _behaviour_rows(audio: NDArray[np.float32], generate: MotionGenerator,
                    base: FloatArray, window_frames: int) -> list[Row]:  # fmt: skip
    neutral = EvalControls()
    again = generate(audio, 0, neutral)
    other_seed = generate(audio, 1, neutral)
    happy = generate(audio, 0, EvalControls(emotion="happy", emotion_intensity=1.0))
    gaze = generate(audio, 0, EvalControls(gaze=(0.5, 0.0)))
    near = generate(audio, 0, EvalControls(head_distance=0.2))
    seed_gap_deg = float(np.degrees(np.abs(other_seed[:, :3] - base[:, :3]).mean()))
    smile = ("mouthSmileLeft", "mouthSmileRight")
    smile_shift = field_mean(happy, *smile) - field_mean(base, *smile)
    gaze_shift = field_mean(gaze, "eyeLookX") - field_mean(base, "eyeLookX")
    scale_shift = field_mean(near, "scale") - field_mean(base, "scale")
    seams = boundary_smoothness(base, window_frames)
    return [
        Row("window seam / elsewhere |d|", _fmt(seams, 2), "-", f"<= 1.5 (W={window_frames})"),
        Row("seed 0 vs 1 head pose |diff| deg", _fmt(seed_gap_deg, 2), "-", "> 0.5"),
        Row("same seed max |diff|", _fmt(float(np.abs(again - base).max()), 6), "-", "0"),
        Row("happy: smile minus neutral", _fmt(smile_shift), "-", "> 0.1"),
        Row("gaze x=0.5: eyeLookX shift", _fmt(gaze_shift), "-", "~0.5"),
        Row("head distance 0.2: scale shift", _fmt(scale_shift), "-", "~0.2"),
    ]


def evaluate(audio_16k: NDArray[np.float32], generate: MotionGenerator, window_frames: int,
             real_motion: FloatArray | None = None) -> list[Row]:  # fmt: skip
    """The metrics table for one clip: quality at seed 0, then seeds and controls."""
    base = generate(audio_16k, 0, EvalControls())
    return _quality_rows(base, audio_16k, real_motion) + _behaviour_rows(
        audio_16k, generate, base, window_frames
    )


def format_table(rows: list[Row], title: str = "") -> str:
    header = Row("metric", "generated", "real video", "target")
    cells = [header, *rows]
    widths = [max(len(getattr(c, f)) for c in cells) for f in ("metric", "generated", "real")]
    lines = [title] if title else []
    for i, c in enumerate(cells):
        lines.append(f"{c.metric:<{widths[0]}}  {c.generated:>{widths[1]}}  "
                     f"{c.real:>{widths[2]}}  {c.target}")  # fmt: skip
        if i == 0:
            lines.append("-" * (sum(widths) + 4 + len("target") + 2))
    return "\n".join(lines)


def load_audio_16k(path: Path) -> NDArray[np.float32]:
    """Any audio file (or a video's audio track) as 16 kHz mono float32, read by the engine's
    one audio-file reader (libsndfile, else PyAV; unreadable files are an AudioError)."""
    from engine.stream.audio_input import read_audio_file

    samples, rate_hz = read_audio_file(path)  # (S, C)
    mono = samples.mean(axis=1)
    if rate_hz != AUDIO_RATE_HZ:
        import soxr

        mono = soxr.resample(mono, rate_hz, AUDIO_RATE_HZ)
    return np.asarray(mono, np.float32)


def espeak_clip(spec: str) -> tuple[NDArray[np.float32], list[tuple[str, float]]]:
    """ "LANG:TEXT" -> (16 kHz speech by espeak-ng's voice LANG, its (phoneme, start_s) timings).

    A bad spec or voice is an EngineError naming it."""
    from engine.errors import EngineError
    from models.synth.espeak import ESPEAK_RATE_HZ, EspeakError, Voice, synthesize

    lang, sep, text = spec.partition(":")
    if not sep or not lang.strip() or not text.strip():
        raise EngineError(f"--say wants LANG:TEXT (e.g. de:Guten Morgen), not {spec!r}",
                          reason="bad_arguments")  # fmt: skip
    try:
        utterance = synthesize(text, Voice(lang.strip()))
    except EspeakError as exc:
        raise EngineError(
            f"espeak-ng could not speak {spec!r}: {exc}", reason="bad_arguments"
        ) from exc
    if len(utterance.samples_22k) == 0:
        raise EngineError(f"espeak-ng made no audio for {spec!r}", reason="bad_arguments")
    import soxr

    audio = utterance.samples_22k.astype(np.float32) / 32768.0
    audio_16k = np.asarray(soxr.resample(audio, ESPEAK_RATE_HZ, AUDIO_RATE_HZ), np.float32)
    return audio_16k, utterance.phonemes


def summary_line(
    name: str | None, motion: FloatArray | None = None, audio_16k: FloatArray | None = None
) -> str:
    """One table line of a clip's measures (`name` None: the header)."""
    if name is None or motion is None or audio_16k is None:
        return (f"{'clip':<36} {'median open':>11} {'shut':>6} {'longest s':>9} "
                f"{'sync r':>7} {'lag':>4} {'closed sil':>10} {'blinks/min':>10} "
                f"{'head deg/s':>10}")  # fmt: skip
    values = articulation(motion, audio_16k)
    if values is None:
        return f"{name:<36} no speech found"
    r, lag = lip_sync(motion, audio_16k)
    closed = closed_in_silence(motion, audio_16k)
    return (f"{name:<36} {values.median_opening:>11.3f} {values.shut_share:>6.3f} "
            f"{values.longest_shut_s:>9.2f} {r:>7.3f} {lag:>4d} {_fmt(closed):>10} "
            f"{blink_rate_per_min(motion):>10.1f} {head_speed_deg_s(motion):>10.1f}")  # fmt: skip

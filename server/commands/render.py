"""`gioconda render IMAGE AUDIO -o OUT.mp4` (or `--text "..."`): a talking-face video file from a
portrait and speech, or from text the built-in voice says (engine.voice).

The render is the streaming engine fed from the file as fast as it goes (engine.stream.offline);
H.264 + AAC in MP4, deterministic for a seed (with an audio file), with a progress bar.
`--blendshapes OUT.csv|json` also writes the motion the video shows as an ARKit blendshape track
(without -o: only that, and no frame is decoded). Every frame carries the invisible watermark
(this server's id and a render id hashed from the request); the finished file gets a signed C2PA
manifest (server/provenance/manifest.py) and a row in the consent audit.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.avatar.store import DEFAULT_STORE_DIR

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from engine.avatar.prepared import PreparedAvatar
    from engine.contract import Controls, StreamOptions


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a talking-face MP4 from a portrait (or avatar id) and an audio file",
        description="IMAGE is a portrait image, a prepared .avatar.npz, or an avatar id from the "
        "avatar store (built-ins: astronaut, mona-lisa, ...). AUDIO is any length, any rate; "
        "or give --text and the built-in voice says it.",
    )
    parser.add_argument("image", help="portrait image, .avatar.npz, or avatar id")
    parser.add_argument(
        "audio", type=Path, nargs="?", help="speech audio (wav, flac, ogg, mp3, ...)"
    )
    parser.add_argument("--text", help="text for the built-in voice to say, instead of AUDIO")
    parser.add_argument(
        "--voice",
        default="auto",
        choices=("auto", "piper", "espeak"),
        help="built-in voice for --text (auto: Piper's neural voice, else espeak-ng)",
    )
    parser.add_argument("-o", "--output", type=Path, default=None, help="MP4 file to write")
    parser.add_argument(
        "--blendshapes",
        type=Path,
        default=None,
        help="also (or, without -o, only) write the ARKit blendshape track of the render, .csv or "
        ".json (docs/blendshapes.md); without -o no frame is decoded",
    )
    parser.add_argument(
        "--blendshapes-fps",
        type=int,
        default=None,
        choices=(25, 30, 40, 50, 60),
        help="rate of the blendshape track (default: the video's --fps)",
    )
    parser.add_argument("--fps", type=int, default=40, choices=(25, 30, 40, 50))
    add_control_arguments(parser)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("GIOCONDA_DATA_DIR", DEFAULT_STORE_DIR)),
        help="avatar store folder, for avatar ids (default: $GIOCONDA_DATA_DIR or %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    """The motion controls, seed, profile and weights (shared with `gioconda motion`)."""
    parser.add_argument("--emotion", default="neutral", help="neutral|happy|sad|angry|surprised")
    parser.add_argument("--emotion-intensity", type=float, default=0.0, help="0..1")
    parser.add_argument("--gaze", default="0,0", help="X,Y in -1..1 (+x right, +y down)")
    parser.add_argument("--head-distance", type=float, default=0.0, help="log scale, + closer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile",
        default="quality",
        help="motion profile (default quality: offline has no latency budget, and its long "
        "windows are also the cheapest per frame), balanced or low-latency",
    )
    parser.add_argument("--weights", type=Path, default=None, help="motion model checkpoint")


def controls_from(args: argparse.Namespace) -> Controls:
    """The controls asked for, validated (EngineError bad_control) before any work."""
    from engine.contract import Controls
    from engine.stream.options import validate_controls

    gaze_x, gaze_y = _parse_gaze(args.gaze)
    controls = Controls(
        emotion=args.emotion,
        emotion_intensity=args.emotion_intensity,
        gaze_x=gaze_x,
        gaze_y=gaze_y,
        head_distance=args.head_distance,
    )
    validate_controls(controls)
    return controls


def run(args: argparse.Namespace) -> int:
    import secrets

    from engine.contract import StreamOptions
    from engine.motion.blendshapes import check_path
    from engine.stream.audio_input import read_audio_file
    from engine.stream.engine import StreamEngine, validate_options
    from engine.stream.offline import BlendshapeOutput, render_samples
    from engine.voice.base import VOICE_RATE_HZ
    from engine.watermark.payload import STREAM_ID_BITS, WatermarkPayload
    from server.provenance.audit import AuditLog
    from server.provenance.identity import watermark_server_id
    from server.provenance.manifest import RenderProvenance, sign_mp4
    from server.provenance.signing import signing_identity
    from server.settings import ServerSettings

    settings = ServerSettings(data_dir=args.data_dir)

    if args.output is None and args.blendshapes is None:
        raise SystemExit("gioconda render: error: give -o OUT.mp4, --blendshapes OUT.csv, or both")
    blendshapes = None
    if args.blendshapes is not None:
        check_path(args.blendshapes)
        blendshapes = BlendshapeOutput(args.blendshapes, args.blendshapes_fps or args.fps)
    options = StreamOptions(
        avatar_id=str(args.image),
        profile=args.profile,
        fps=args.fps,
        seed=args.seed,
        controls=controls_from(args),
        outputs=("video",) if args.output is not None else ("blendshapes",),
    )
    validate_options(options)  # fail fast, before a portrait is prepared
    if (args.audio is None) == (args.text is None):
        raise SystemExit("gioconda render: error: give either AUDIO or --text, not both")
    if args.audio is not None and not args.audio.is_file():
        raise SystemExit(f"gioconda render: error: {args.audio}: no such file")
    speech = _say(args.text, args.voice) if args.text is not None else None
    payload = WatermarkPayload(
        watermark_server_id(settings.data_dir, settings.watermark_server_id),
        _render_id(args.image, args.audio, args.text, options, STREAM_ID_BITS),
    )
    options = replace(options, watermark=payload)
    avatar = _resolve_avatar(args.image, args.data_dir)
    avatar_id, consent_id = _consent(args.image, args.data_dir)
    # Made (first start) before the long render, so a key problem shows at once.
    identity = signing_identity(
        settings.data_dir, settings.c2pa_cert, settings.c2pa_key, settings.c2pa_alg
    )
    audit = AuditLog(settings.data_dir, settings.audit_retention_days)
    audit_id = f"render:{payload}:{secrets.token_hex(4)}"
    audit.start(audit_id, "render", avatar_id, consent_id, str(payload))
    engine = StreamEngine(threads=1, weights=args.weights)
    progress = not args.no_progress
    try:
        if speech is None:
            audio, rate_hz = read_audio_file(args.audio)  # (S, C)
        else:
            audio, rate_hz = speech[:, None], VOICE_RATE_HZ
        summary = render_samples(
            avatar,
            audio,
            rate_hz,
            args.output,
            options,
            engine=engine,
            progress=progress,
            blendshapes=blendshapes,
        )
    finally:
        engine.close()
    if args.output is not None:
        sign_mp4(args.output, RenderProvenance(avatar_id, consent_id, str(payload)), identity)
    audit.end(audit_id, "finished")
    written = " and ".join(str(p) for p in (args.output, args.blendshapes) if p is not None)
    print(
        f"wrote {written}: {summary.frames} frames at {args.fps} fps, {summary.audio_s:.2f} s "
        f"of audio in {summary.wall_s:.1f} s ({summary.speed:.2f}x real time)"
    )
    if args.output is not None:
        print(
            f"watermark {payload} (server {payload.server_id}, render {payload.stream_id}); "
            f"C2PA manifest signed (consent record {consent_id})"
        )
    return 0


def _say(text: str, voice_name: str) -> NDArray[np.float32]:
    """The text as 16 kHz speech, with the voice and its real-time factor printed."""
    import time

    from engine.voice.base import VOICE_RATE_HZ, synthesize_text
    from engine.voice.select import load_voice

    voice = load_voice(voice_name)
    start = time.perf_counter()
    speech = synthesize_text(voice, text)
    took_s = time.perf_counter() - start
    audio_s = len(speech) / VOICE_RATE_HZ
    print(
        f"{voice.name} said {len(text)} characters: {audio_s:.2f} s of speech in {took_s:.2f} s "
        f"(real-time factor {took_s / max(audio_s, 1e-9):.2f})"
    )
    return speech
def _render_id(
    image: str, audio: Path | None, text: str | None, options: StreamOptions, bits: int
) -> int:
    """The render's stream id: a hash of what is rendered (portrait, audio or text, options), so
    the same request renders the same frames (a seed's promise) and different ones are told
    apart."""
    digest = hashlib.sha256(audio.read_bytes() if audio is not None else (text or "").encode())
    portrait = Path(image)
    digest.update(portrait.read_bytes() if portrait.is_file() else image.encode())
    digest.update(repr(options).encode())
    return int.from_bytes(digest.digest()[:4], "big") & ((1 << bits) - 1)


def _consent(source: str, data_dir: Path) -> tuple[str, str]:
    """(avatar id, consent record id) for the manifest and the audit."""
    from engine.avatar.store import AvatarStore
    from server.provenance.audit import consent_record_id, file_consent_record_id

    path = Path(source)
    if path.is_file():
        return path.name, file_consent_record_id(path)
    return source, consent_record_id(AvatarStore(data_dir).get(source))


def _parse_gaze(text: str) -> tuple[float, float]:
    try:
        x, y = (float(part) for part in text.split(","))
    except ValueError:
        raise SystemExit(f"gioconda: error: --gaze expects X,Y, got {text!r}") from None
    return x, y


def _resolve_avatar(source: str, data_dir: Path) -> PreparedAvatar:
    """An image or .avatar.npz path, else an avatar id from the store (when it is available)."""
    from engine.avatar.source import load_avatar
    from engine.errors import AvatarError

    path = Path(source)
    if path.is_file():
        return load_avatar(path)
    try:
        from engine.avatar.store import AvatarStore
    except ImportError:
        raise AvatarError(f"{source}: no such file", "not_found") from None
    try:
        return AvatarStore(data_dir).load(source)
    except AvatarError as exc:
        if exc.reason == "not_found":  # say both things the argument could have been
            raise AvatarError(
                f"{source}: no such image file, and no avatar with that id in {data_dir}",
                "not_found",
            ) from None
        raise

"""`gioconda data extract`: a talking-face video becomes shards of 16 kHz audio + 25 Hz motion."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from engine.tools.video_extract import extract_video, track_video
from models import motion_space
from models.motion_data import SAMPLES_PER_MOTION_FRAME, load_shard

REPO = Path(__file__).resolve().parents[1]
PORTRAIT = REPO / "engine" / "assets" / "astronaut.png"
REAL_CLIP = REPO.parent / "shared" / "data" / "video" / "hdtf_katie_hill_000.mp4"


def _write_video(path: Path, fps: int, seconds: float, audio_rate_hz: int) -> None:
    """The astronaut portrait drifting a few pixels, with a stereo tone at `audio_rate_hz`."""
    portrait = np.asarray(Image.open(PORTRAIT).convert("RGB").resize((256, 256)))
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 256, 256, "yuv420p"
        audio = container.add_stream("aac", rate=audio_rate_hz, layout="stereo")
        for i in range(int(fps * seconds)):
            frame = np.roll(portrait, shift=i % 4, axis=1)
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        _write_tone(container, audio, audio_rate_hz, seconds)


def _write_tone(container: object, stream: object, rate_hz: int, seconds: float) -> None:
    time_s = np.arange(int(rate_hz * seconds)) / rate_hz
    tone = (0.3 * np.sin(2 * np.pi * 220 * time_s)).astype(np.float32)
    chunk = 1024
    for start in range(0, len(tone), chunk):
        samples = np.stack([tone[start : start + chunk]] * 2)  # (2, n) planar stereo
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        frame.sample_rate = rate_hz
        frame.pts = start
        frame.time_base = Fraction(1, rate_hz)
        for packet in stream.encode(frame):  # type: ignore[attr-defined]
            container.mux(packet)  # type: ignore[attr-defined]
    for packet in stream.encode(None):  # type: ignore[attr-defined]
        container.mux(packet)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def portrait_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "astronaut_30fps.mp4"
    _write_video(path, fps=30, seconds=1.2, audio_rate_hz=44_100)
    return path


def test_track_video_gives_16k_audio_and_25hz_motion(portrait_video: Path) -> None:
    track = track_video(portrait_video)
    assert abs(len(track.audio_16k) / 16_000 - 1.2) < 0.1
    assert len(track.motion) == -(-len(track.audio_16k) // SAMPLES_PER_MOTION_FRAME)
    assert track.motion.shape[1] == motion_space.MOTION_DIM
    assert track.tracked.all()
    assert abs(track.source_fps - 30.0) < 0.5
    assert np.isfinite(track.motion).all()
    # A still portrait: the head barely moves between frames.
    assert np.degrees(np.abs(np.diff(track.motion[:, :3], axis=0))).max() < 2.0


def test_extract_writes_valid_shards(portrait_video: Path, tmp_path: Path) -> None:
    paths = extract_video(portrait_video, tmp_path, max_clip_s=0.5)
    assert len(paths) == 3  # 1.2 s split into clips of at most 0.5 s
    shards = [load_shard(p) for p in paths]
    assert all(s.meta["source"] == "video" for s in shards)
    assert {"yaw", "jawOpen", "eyeBlinkLeft"} <= set(shards[0].meta["measured_fields"])
    total_samples = sum(len(s.audio_16k) for s in shards)
    assert abs(total_samples / 16_000 - 1.2) < 0.1
    assert max(np.abs(s.audio_16k).max() for s in shards) > 0.2 * 32767  # the tone survived


@pytest.mark.local_media
@pytest.mark.skipif(not REAL_CLIP.exists(), reason="local-only media clip not present")
def test_real_talking_face_clip_moves_the_mouth(tmp_path: Path) -> None:
    track = track_video(REAL_CLIP)
    jaw = track.motion[:, motion_space.INDEX["jawOpen"]]
    assert track.tracked.mean() > 0.95
    assert jaw.max() > 0.3 and jaw.min() < 0.1


def test_a_file_that_is_not_a_video_is_refused_clearly(tmp_path: Path) -> None:
    from engine.tools.video_extract import VideoExtractError

    not_video = tmp_path / "clip.npz"
    not_video.write_bytes(b"PK\x03\x04 not a video")
    with pytest.raises(VideoExtractError, match="not an audio or video file") as error:
        track_video(not_video)
    assert error.value.reason == "bad_media"
    with pytest.raises(VideoExtractError, match="no such file"):
        track_video(tmp_path / "missing.mp4")
